/**
 * The plan: a pure function of live state, config and time, returning plain data that `ftr plan
 * --json` prints and `ftr rotate` executes. No I/O here; `gather.ts` reads the live state.
 */
import type { Config, EnvironmentConfig, ServiceSelector } from "../config/types.ts";
import type { AutomationToken, Service, TokenSelf } from "../fastly/types.ts";
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
  | { readonly status: "unknown"; readonly reason: string }
  /** The store cannot be read back (a GitHub Actions secret, a sensitive Terraform variable). */
  | { readonly status: "write-only"; readonly reason: string };

/** Everything the plan needs to know about the world. */
export interface LiveState {
  readonly automationTokens: readonly AutomationToken[];
  readonly services: readonly Service[];
  /** By environment name. */
  readonly deployed: Readonly<Record<string, DeployedState>>;
  /** By environment name: why its secret store cannot be written safely (see `SecretStore.preflight`). */
  readonly storeProblems?: Readonly<Record<string, readonly string[]>>;
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
    | {
        readonly status: "absent" | "unreadable" | "dead" | "unknown" | "write-only";
        readonly reason?: string;
        /** `write-only`: the newest token named `token.name`, taken to be the deployed one. */
        readonly assumedTokenId?: string;
      };
  /**
   * What people must know before the run: for a store that cannot be read back, that a failure
   * after the write cannot be undone.
   */
  readonly notes?: readonly string[];
  /** Services the selector resolves to. */
  readonly services: readonly { readonly id: string; readonly name: string }[];
  /** The token `rotate` would create. */
  readonly create: {
    readonly name: string;
    readonly role: string;
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
  const notes: string[] = [];

  if (services.error) errors.push(services.error);
  errors.push(...(state.storeProblems?.[env.name] ?? []));
  const wantServices = services.matched.map((s) => s.id).sort();

  const deployedToken = deployedState.status === "valid" ? deployedState.token : undefined;
  const deployedManaged = deployedToken ? managed.find((t) => t.id === deployedToken.id) : undefined;
  const deployedAutomation = deployedToken
    ? state.automationTokens.find((t) => t.id === deployedToken.id)
    : undefined;

  // A store that cannot be read back: the newest managed token is taken to be the deployed one.
  const assumed =
    deployedState.status === "write-only"
      ? [...managed].sort((a, b) => (b.createdAt?.getTime() ?? 0) - (a.createdAt?.getTime() ?? 0))[0]
      : undefined;
  if (deployedState.status === "write-only") {
    notes.push(
      `${deployedState.reason}: the old value cannot be restored, so if anything fails after the new token is written, the new token stays deployed, the old token(s) stay valid and the run is left unfinished for you (fix the consumer, then \`ftr resume\` verifies again); old tokens are revoked only after the verifiers prove the new one in use`,
    );
  }

  let decision: Decision;
  if (errors.length > 0) {
    decision = "error";
  } else if (deployedState.status === "unknown" || deployedState.status === "unreadable") {
    decision = "error";
    errors.push(`cannot tell which token is deployed: ${deployedState.reason}`);
  } else if (deployedState.status === "write-only") {
    if (!assumed) {
      decision = "missing";
      reasons.push(`no token named "${spec.name}" exists, so the store holds none of ours`);
    } else if (assumed.expiresAt && assumed.expiresAt.getTime() - now.getTime() <= spec.rotateBeforeMs) {
      decision = "due";
      reasons.push(
        `the newest token named "${spec.name}", ${assumed.id}, taken to be the deployed one, expires ${formatTime(assumed.expiresAt)} (${daysLeft(assumed.expiresAt, now)}), within the rotateBefore window of ${Math.round(spec.rotateBeforeMs / DAY)} days`,
      );
    } else if (options.force) {
      decision = "forced";
      reasons.push("--force");
    } else {
      decision = "ok";
      reasons.push(
        `the newest token named "${spec.name}", ${assumed.id}, taken to be the deployed one, ${assumed.expiresAt ? `is valid until ${formatTime(assumed.expiresAt)} (${daysLeft(assumed.expiresAt, now)})` : "never expires"}`,
      );
    }
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
  const leftovers = managed.filter((t) => t.id !== (deployedToken?.id ?? assumed?.id));
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
    deployed: describeDeployed(deployedState, deployedManaged !== undefined, assumed?.id),
    ...(notes.length > 0 ? { notes } : {}),
    services: services.matched.map((s) => ({ id: s.id, name: s.name })),
    create: {
      name: spec.name,
      role: spec.role,
      scope: spec.scope,
      services: wantServices,
      expiresAt: formatTime(new Date(now.getTime() + spec.expiresInMs)),
      tlsAccess: spec.tlsAccess,
    },
    revoke,
  };
}

function describeDeployed(
  state: DeployedState,
  managed: boolean,
  assumedTokenId: string | undefined,
): EnvironmentPlan["deployed"] {
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
    case "write-only":
      return { status: state.status, reason: state.reason, ...(assumedTokenId ? { assumedTokenId } : {}) };
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
  if (automation && automation.role !== "" && automation.role !== spec.role) {
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
