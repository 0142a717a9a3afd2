/**
 * The plan: a pure function of live state, config and time, returning plain data that `ftr plan
 * --json` prints and `ftr rotate` executes. No I/O here; `gather.ts` reads the live state.
 */
import type { Config, EnvironmentConfig, ServiceSelector } from "../config/types.ts";
import type { AutomationToken, Role, Service, TokenSelf } from "../fastly/types.ts";
import { compileNamePattern } from "../util/pattern.ts";
import { formatTime } from "../util/time.ts";

/** What the secret store holds for one environment, and what Fastly says of it. */
export type DeployedState =
  /** The store holds no value. */
  | { readonly status: "absent" }
  /** The store could not be read. */
  | { readonly status: "unreadable"; readonly reason: string }
  /** The value is a live token. */
  | { readonly status: "valid"; readonly token: TokenSelf }
  /** Fastly refuses the value (revoked or expired). */
  | { readonly status: "dead"; readonly reason: string }
  /** Fastly could not be asked (network, 5xx). */
  | { readonly status: "unknown"; readonly reason: string };

/** Everything the plan needs to know about the world. */
export interface LiveState {
  readonly automationTokens: readonly AutomationToken[];
  readonly services: readonly Service[];
  /** By environment name. */
  readonly deployed: Readonly<Record<string, DeployedState>>;
  /** By environment name: why its secret store cannot be written safely (see `SecretStore.preflight`). */
  readonly storeProblems?: Readonly<Record<string, readonly string[]>>;
  /** The account's roles (`GET /roles`), read when an environment names `token.roles`. */
  readonly roles?: readonly Role[];
}

/** Why an environment is or is not rotated. */
export type Decision = "due" | "forced" | "missing" | "drifted" | "ok" | "error";

/** A token as the plan reports it (never a value). */
export interface PlannedToken {
  readonly id: string;
  readonly name: string;
  readonly role: string;
  readonly scopes: readonly string[];
  readonly services: readonly string[];
  readonly expiresAt?: string;
  readonly lastUsedAt?: string;
  readonly createdAt?: string;
}

/** The plan for one environment. */
export interface EnvironmentPlan {
  readonly environment: string;
  readonly decision: Decision;
  /** True when `rotate` would act on this environment. */
  readonly rotate: boolean;
  /** One line each, for people. */
  readonly reasons: readonly string[];
  /** Problems that stop this environment (e.g. the selector matches no service). */
  readonly errors: readonly string[];
  readonly tokenName: string;
  /** Automation tokens named `token.name`. */
  readonly managedTokens: readonly PlannedToken[];
  /** The token the consumer holds now. */
  readonly deployed:
    | {
        readonly status: "valid";
        readonly tokenId: string;
        readonly managed: boolean;
        readonly expiresAt?: string;
      }
    | { readonly status: "absent" | "unreadable" | "dead" | "unknown"; readonly reason?: string };
  /** Services the selector resolves to. */
  readonly services: readonly { readonly id: string; readonly name: string }[];
  /** The token `rotate` would create. */
  readonly create: {
    readonly name: string;
    readonly role: string;
    /** Role ids, resolved from `token.roles` (absent when the config names none). */
    readonly roles?: readonly string[];
    readonly workspaces?: readonly string[];
    readonly scope: string;
    readonly services: readonly string[];
    readonly expiresAt: string;
    readonly tlsAccess: boolean;
  };
  /** Token ids `rotate` would revoke once the new token is verified in use. */
  readonly revoke: readonly string[];
}

/** The plan for a whole run. */
export interface Plan {
  readonly generatedAt: string;
  readonly environments: readonly EnvironmentPlan[];
}

/** Options of `makePlan`. */
export interface PlanOptions {
  readonly now: Date;
  /** Rotate even where nothing is due. */
  readonly force?: boolean;
  /** Only these environments (all when empty or absent). */
  readonly only?: readonly string[];
}

const DAY = 86_400_000;

/** Compute the plan. Pure: same inputs, same output. */
export function makePlan(state: LiveState, config: Config, options: PlanOptions): Plan {
  const selected = config.environments.filter(
    (env) => !options.only || options.only.length === 0 || options.only.includes(env.name),
  );
  return {
    generatedAt: options.now.toISOString(),
    environments: selected.map((env) => planEnvironment(state, env, options)),
  };
}

function planEnvironment(state: LiveState, env: EnvironmentConfig, options: PlanOptions): EnvironmentPlan {
  const { now } = options;
  const spec = env.token;
  const managed = state.automationTokens.filter((t) => t.name === spec.name);
  const deployedState = state.deployed[env.name] ?? { status: "absent" };
  const services = resolveServices(spec.services, state.services);
  const errors: string[] = [];
  const reasons: string[] = [];

  if (services.error) errors.push(services.error);
  errors.push(...(state.storeProblems?.[env.name] ?? []));
  const roles = resolveRoles(spec.roles, state.roles);
  if (roles.error) errors.push(roles.error);
  const wantServices = services.matched.map((s) => s.id).sort();

  const deployedToken = deployedState.status === "valid" ? deployedState.token : undefined;
  const deployedManaged = deployedToken ? managed.find((t) => t.id === deployedToken.id) : undefined;
  const deployedAutomation = deployedToken
    ? state.automationTokens.find((t) => t.id === deployedToken.id)
    : undefined;

  let decision: Decision;
  if (errors.length > 0) {
    decision = "error";
  } else if (deployedState.status === "unknown" || deployedState.status === "unreadable") {
    decision = "error";
    errors.push(`cannot tell which token is deployed: ${deployedState.reason}`);
  } else if (!deployedToken) {
    decision = "missing";
    reasons.push(
      deployedState.status === "absent"
        ? "the secret store holds no token"
        : `the deployed token is refused by Fastly (${deployedState.status === "dead" ? deployedState.reason : "unknown"})`,
    );
  } else {
    const drift = driftOf(deployedToken, deployedAutomation, env, wantServices);
    if (!deployedManaged) {
      decision = "drifted";
      reasons.push(`the deployed token ${deployedToken.id} is not named "${spec.name}"`);
    } else if (drift.length > 0) {
      decision = "drifted";
      reasons.push(...drift);
    } else if (
      deployedToken.expiresAt &&
      deployedToken.expiresAt.getTime() - now.getTime() <= spec.rotateBeforeMs
    ) {
      decision = "due";
      reasons.push(
        `the deployed token ${deployedToken.id} expires ${formatTime(deployedToken.expiresAt)} (${daysLeft(deployedToken.expiresAt, now)}), within the rotateBefore window of ${Math.round(spec.rotateBeforeMs / DAY)} days`,
      );
    } else if (options.force) {
      decision = "forced";
      reasons.push("--force");
    } else {
      decision = "ok";
      reasons.push(
        deployedToken.expiresAt
          ? `the deployed token ${deployedToken.id} is valid until ${formatTime(deployedToken.expiresAt)} (${daysLeft(deployedToken.expiresAt, now)})`
          : `the deployed token ${deployedToken.id} never expires`,
      );
    }
  }
  const leftovers = managed.filter((t) => t.id !== deployedToken?.id);
  if (leftovers.length > 0) {
    reasons.push(
      `${leftovers.length} other token(s) named "${spec.name}" (${leftovers.map((t) => t.id).join(", ")}) will be revoked by the next rotation`,
    );
  }

  const revoke = [
    ...managed.map((t) => t.id),
    // The deployed token is revoked too when it is an automation token of the account, even if
    // misnamed: it is this environment's credential being replaced.
    ...(deployedAutomation && !deployedManaged ? [deployedAutomation.id] : []),
  ];

  return {
    environment: env.name,
    decision,
    rotate: decision !== "ok" && decision !== "error",
    reasons,
    errors,
    tokenName: spec.name,
    managedTokens: managed.map(plannedToken),
    deployed: describeDeployed(deployedState, deployedManaged !== undefined),
    services: services.matched.map((s) => ({ id: s.id, name: s.name })),
    create: {
      name: spec.name,
      role: spec.role,
      ...(roles.ids ? { roles: roles.ids } : {}),
      ...(spec.workspaces ? { workspaces: spec.workspaces } : {}),
      scope: spec.scope,
      services: wantServices,
      expiresAt: formatTime(new Date(now.getTime() + spec.expiresInMs)),
      tlsAccess: spec.tlsAccess,
    },
    revoke,
  };
}

function describeDeployed(state: DeployedState, managed: boolean): EnvironmentPlan["deployed"] {
  switch (state.status) {
    case "valid":
      return {
        status: "valid",
        tokenId: state.token.id,
        managed,
        ...(state.token.expiresAt ? { expiresAt: state.token.expiresAt.toISOString() } : {}),
      };
    case "absent":
      return { status: "absent" };
    default:
      return { status: state.status, reason: state.reason };
  }
}

/** How the deployed token differs from what the config asks for. */
function driftOf(
  token: TokenSelf,
  automation: AutomationToken | undefined,
  env: EnvironmentConfig,
  wantServices: readonly string[],
): string[] {
  const drift: string[] = [];
  const spec = env.token;
  const haveScopes = [...token.scopes].sort().join(" ");
  const wantScopes = [...spec.scopes].sort().join(" ");
  if (haveScopes !== wantScopes) drift.push(`scope is "${haveScopes}", config asks for "${wantScopes}"`);
  if (spec.roles && automation?.roles) {
    const have = automation.roles.map((r) => r.name).sort();
    const want = [...spec.roles].sort();
    if (have.join(",") !== want.join(",")) {
      drift.push(`roles are [${have.join(", ")}], config asks for [${want.join(", ")}]`);
    }
  } else if (!spec.roles && automation && automation.role !== "" && automation.role !== spec.role) {
    drift.push(`role is "${automation.role}", config asks for "${spec.role}"`);
  }
  const haveServices = [...token.services].sort();
  if (haveServices.join(",") !== [...wantServices].join(",")) {
    const missing = wantServices.filter((s) => !haveServices.includes(s));
    const extra = haveServices.filter((s) => !wantServices.includes(s));
    const parts = [
      ...(missing.length ? [`lacks ${missing.join(", ")}`] : []),
      ...(extra.length ? [`also has ${extra.join(", ")}`] : []),
      ...(haveServices.length === 0 && wantServices.length > 0 ? ["has access to all services"] : []),
    ];
    drift.push(`services differ from the selector (${parts.join("; ")})`);
  }
  return drift;
}

/**
 * `token.roles` names as the account's role ids, or an error naming the unknown ones and listing
 * the roles that exist.
 */
export function resolveRoles(
  names: readonly string[] | undefined,
  roles: readonly Role[] | undefined,
): { ids?: string[]; error?: string } {
  if (names === undefined) return {};
  if (roles === undefined) return { error: "token.roles is set but the account's roles were not read" };
  const ids = names.map((name) => roles.find((r) => r.name === name || r.id === name)?.id);
  const unknown = names.filter((_, i) => ids[i] === undefined);
  if (unknown.length > 0) {
    return {
      error: `unknown role ${unknown.map((n) => `"${n}"`).join(", ")} in token.roles: the account's roles are ${roles.map((r) => r.name).join(", ") || "(none)"}`,
    };
  }
  return { ids: ids.filter((id): id is string => id !== undefined) };
}

/** The services a selector picks, or an error when it picks none. */
export function resolveServices(
  selector: ServiceSelector,
  services: readonly Service[],
): { matched: Service[]; error?: string } {
  if (selector.kind === "all") return { matched: [] };
  if (selector.kind === "ids") {
    const matched = selector.ids.map((id) => services.find((s) => s.id === id));
    const unknown = selector.ids.filter((_, i) => matched[i] === undefined);
    const found = matched.filter((s): s is Service => s !== undefined);
    return unknown.length > 0
      ? { matched: found, error: `services ${unknown.join(", ")} do not exist in the account` }
      : { matched: found };
  }
  const re = compileNamePattern(selector.pattern);
  const matched = services.filter((s) => re.test(s.name)).sort((a, b) => a.name.localeCompare(b.name));
  return matched.length === 0
    ? {
        matched,
        error: `no service name matches /${selector.pattern}/ (${services.length} services in the account)`,
      }
    : { matched };
}

function plannedToken(t: AutomationToken): PlannedToken {
  return {
    id: t.id,
    name: t.name,
    role: t.role,
    scopes: t.scopes,
    services: t.services,
    ...(t.expiresAt ? { expiresAt: t.expiresAt.toISOString() } : {}),
    ...(t.lastUsedAt ? { lastUsedAt: t.lastUsedAt.toISOString() } : {}),
    ...(t.createdAt ? { createdAt: t.createdAt.toISOString() } : {}),
  };
}

/** "in 12 days" / "3 days ago". */
export function daysLeft(at: Date, now: Date): string {
  const days = (at.getTime() - now.getTime()) / DAY;
  if (days >= 0) return days < 1 ? "in less than a day" : `in ${Math.floor(days)} days`;
  return -days < 1 ? "less than a day ago" : `${Math.floor(-days)} days ago`;
}
