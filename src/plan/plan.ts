/**
 * The plan: a pure function of live state, config and time, returning plain data that `ftr plan
 * --json` prints and `ftr rotate` executes. No I/O here; `gather.ts` reads the live state.
 */
import type { Config, EnvironmentConfig, ServiceSelector } from "../config/types.ts";
import type { AutomationToken, Role, Service, TokenSelf } from "../fastly/types.ts";
import { compileNamePattern } from "../util/pattern.ts";
import { formatTime } from "../util/time.ts";
import { planSteps, type EnvironmentSteps } from "./steps.ts";

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
  /** The account's roles (`GET /roles`), read when an environment names `token.roles`. */
  readonly roles?: readonly Role[];
}

/** Why an environment is or is not rotated. */
export type Decision = "due" | "forced" | "missing" | "drifted" | "ok" | "error" | "unfinished";

/** A run the journal holds unfinished (a crash, a kill, a failed revoke): plain data. */
export interface UnfinishedRun {
  readonly runId: string;
  readonly environment: string;
  /** The last step journaled, and how it stood. */
  readonly step: string;
  readonly status: "begin" | "done" | "failed";
  /** When that last record was written (ISO 8601). */
  readonly at: string;
  /** True when that step failed because the run was stopped by a signal (Ctrl-C, SIGTERM), not by an error. */
  readonly interrupted?: boolean;
  /** True when a live run holds the lock now (it may be this very run, still going). */
  readonly running?: boolean;
  /** The token the run minted, once minted. */
  readonly newTokenId?: string;
  /** The token deployed before the run. */
  readonly deployedTokenId?: string;
  /**
   * The token the secret store holds by the journal: the new one once promoted (until a restore),
   * else the one deployed before; absent while that is unknown (promote or restore begun, not done).
   */
  readonly storeHolds?: string;
}

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

/** The plan for one environment: the Fastly side, and (`EnvironmentSteps`) the store, reload, verify and revoke steps. */
export interface EnvironmentPlan extends EnvironmentSteps {
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
  /** Runs left unfinished in the journal: each must be resumed before its environment is planned. */
  readonly unfinished: readonly UnfinishedRun[];
  /** The command that resumes them. */
  readonly resumeHint?: string;
  readonly environments: readonly EnvironmentPlan[];
}

/** Options of `makePlan`. */
export interface PlanOptions {
  readonly now: Date;
  /** Rotate even where nothing is due. */
  readonly force?: boolean;
  /** Only these environments (all when empty or absent). */
  readonly only?: readonly string[];
  /** Runs unfinished in the journal: their environments are planned as `unfinished`, nothing else. */
  readonly unfinished?: readonly UnfinishedRun[];
  /**
   * `rotate --due`: act only where the deployed token is within `rotateBefore` or refused by Fastly
   * (expired, revoked); every other decision is reported and left alone.
   */
  readonly dueOnly?: boolean;
  /** The `ftr resume` command line, for the reasons of unfinished environments. */
  readonly resumeHint?: string;
}

const DAY = 86_400_000;

/** Compute the plan. Pure: same inputs, same output. */
export function makePlan(state: LiveState, config: Config, options: PlanOptions): Plan {
  const selected = config.environments.filter(
    (env) => !options.only || options.only.length === 0 || options.only.includes(env.name),
  );
  const unfinished = (options.unfinished ?? []).filter((r) => selected.some((e) => e.name === r.environment));
  return {
    generatedAt: options.now.toISOString(),
    unfinished,
    ...(options.resumeHint ? { resumeHint: options.resumeHint } : {}),
    environments: selected.map((env) => withSteps(env, decide(env))),
  };
  function decide(env: EnvironmentConfig): FastlySide {
    const planned = planEnvironment(state, env, options);
    const run = unfinished.find((r) => r.environment === env.name);
    if (run) {
      return {
        ...planned,
        decision: "unfinished" as const,
        rotate: false,
        reasons: [unfinishedLine(run, options.resumeHint)],
        revoke: [],
      };
    }
    if (options.dueOnly && planned.rotate && !isDue(planned)) {
      return {
        ...planned,
        rotate: false,
        reasons: [
          ...planned.reasons,
          `not rotated by --due: only a deployed token within rotateBefore or refused by Fastly is; rotate it with \`ftr rotate --env ${env.name}\``,
        ],
      };
    }
    return planned;
  }
}

/** The plan of one environment before its steps are added. */
type FastlySide = Omit<EnvironmentPlan, keyof EnvironmentSteps>;

function withSteps(env: EnvironmentConfig, planned: FastlySide): EnvironmentPlan {
  return { ...planned, ...planSteps(env, planned) };
}

/** True when --due rotates the environment: its token is due, or the deployed value is refused. */
function isDue(plan: FastlySide): boolean {
  return plan.decision === "due" || (plan.decision === "missing" && plan.deployed.status === "dead");
}

/** One line naming an unfinished run and the command that finishes it. */
export function unfinishedLine(run: UnfinishedRun, resumeHint = "ftr resume"): string {
  const where = `${run.step}${run.status === "done" ? "" : ` (${run.status === "begin" ? "begun" : run.interrupted ? "interrupted" : "failed"})`}`;
  return run.running
    ? `run ${run.runId} of ${run.environment} is in progress at ${where} (lock held); wait for it`
    : `run ${run.runId} of ${run.environment} stopped at ${where} at ${formatTime(new Date(run.at))} and is unfinished; run \`${resumeHint}\``;
}

function planEnvironment(state: LiveState, env: EnvironmentConfig, options: PlanOptions): FastlySide {
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
  const roles = resolveRoles(spec.roles, state.roles);
  if (roles.error) errors.push(roles.error);
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
