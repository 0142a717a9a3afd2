/**
 * `ftr status`: every automation token in the account with its expiry, last use, scope, services,
 * the environment that manages it, and what is wrong with it. `collectStatus` does the reading;
 * `buildStatus` is the pure part (facts in, report out), so `check` and `serve` reuse both.
 */
import { createSecretStore } from "../adapters/registry.ts";
import type { Config, EnvironmentConfig } from "../config/types.ts";
import { DEFAULT_ENDPOINT } from "../fastly/client.ts";
import { FastlyAuthError, FastlyForbiddenError, FastlyNotFoundError } from "../fastly/errors.ts";
import type { AccountUser, AutomationToken, FastlyClient, Service } from "../fastly/types.ts";
import { shellQuote } from "./check.ts";
import { hygieneFindings, reachesAllServices } from "./hygiene.ts";
import { deployedState } from "../plan/gather.ts";
import type { DeployedState, UnfinishedRun } from "../plan/plan.ts";

const DAY_MS = 86_400_000;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** The expiry window for tokens no environment manages. */
export const UNMANAGED_ROTATE_BEFORE_MS = 30 * DAY_MS;
/** A token unused for longer than this is reported (`policy.unusedAfter`'s default). */
export const UNUSED_AFTER_MS = 90 * DAY_MS;
/** The time-left bar spans this much when the token's environment does not say (a year). */
export const DEFAULT_LIFETIME_MS = 365 * DAY_MS;

/** What a finding is about; stable identifiers for `--json` consumers. */
export type FindingCode =
  | "expired"
  | "expiring"
  | "never-expires"
  | "never-used"
  | "unused"
  | "global-scope"
  | "all-services"
  | "broader-than-config"
  | "over-max-lifetime"
  | "creator-gone"
  | "unmanaged"
  | "leftover"
  | "deployed-dead"
  | "deployed-absent"
  | "deployed-unmanaged"
  | "deployed-unknown"
  /** A rotation run stopped part-way and is unfinished in the journal (monitor/unfinished.ts). */
  | "unfinished-run"
  | "deployed-write-only";

/** How much a finding matters: critical breaks a consumer now, warning needs action, info is hygiene. */
export type Severity = "critical" | "warning" | "info";

/** One thing worth knowing about a token or an environment. */
export interface Finding {
  readonly code: FindingCode;
  readonly severity: Severity;
  /** One line, for people. */
  readonly message: string;
  /** What to do about it, one line (a command where there is one). */
  readonly fix?: string;
}

/** One automation token as `status` reports it (never its value). */
export interface TokenStatus {
  readonly id: string;
  readonly name: string;
  /** Empty when unknown (deployed-only reports: `/tokens/self` does not say). */
  readonly role: string;
  readonly scopes: readonly string[];
  /** The services it is limited to, by name where the account lists them; empty with `allServices`. */
  readonly services: readonly { readonly id: string; readonly name?: string }[];
  /** True when the token may use every service in the account. */
  readonly allServices: boolean;
  /** Every role's name (2026 API); absent when the API does not say. */
  readonly roles?: readonly string[];
  /** Who created it (`creator_id`), when the API says. */
  readonly creatorId?: string;
  /** ISO 8601. */
  readonly createdAt?: string;
  /** ISO 8601; absent for a token that never expires. */
  readonly expiresAt?: string;
  /** Milliseconds until expiry (negative once expired). */
  readonly msLeft?: number;
  /** Whole days until expiry, rounded down (negative once expired). */
  readonly daysLeft?: number;
  /** Last use as Fastly recorded it before this report's own requests. */
  readonly lastUsed?: { readonly at: string; readonly userAgent?: string; readonly ip?: string };
  /** The configured environment whose `token.name` this token carries; absent: unmanaged. */
  readonly environment?: string;
  /** True when an environment's `token.name` names it (the others are listed apart). */
  readonly managed: boolean;
  /** Environments whose secret store holds this token now. */
  readonly deployedIn: readonly string[];
  /** Expiring within this long is reported: the environment's `rotateBefore`, else 30 days. */
  readonly rotateBeforeMs: number;
  /** The span of the time-left bar: the environment's token lifetime, else 365 days. */
  readonly lifetimeMs: number;
  readonly findings: readonly Finding[];
}

/** What an environment's secret store holds, identified. */
export type DeployedStatus =
  | {
      readonly status: "valid";
      readonly tokenId: string;
      readonly tokenName: string;
      /** The token carries the environment's `token.name`. */
      readonly managed: boolean;
      readonly expiresAt?: string;
    }
  | {
      readonly status: "absent" | "dead" | "unreadable" | "unknown" | "write-only";
      readonly reason?: string;
      /** The token the value was last known to be, when known (serve remembers it). */
      readonly tokenId?: string;
    };

/** One configured environment. */
export interface EnvironmentStatus {
  readonly name: string;
  readonly tokenName: string;
  readonly rotateBeforeMs: number;
  /** Ids of the account's tokens named `tokenName`, oldest first. */
  readonly managedTokenIds: readonly string[];
  readonly deployed: DeployedStatus;
  readonly findings: readonly Finding[];
}

/** The whole report: plain data, printed as a table or as JSON. */
export interface StatusReport {
  /** ISO 8601: the instant findings were judged at. */
  readonly generatedAt: string;
  /**
   * `account`: every automation token, from the listing. `deployed-only`: only the tokens the
   * environments' secret stores hold, identified with themselves (no account credential, or the
   * listing was refused).
   */
  readonly scope: "account" | "deployed-only";
  /** Why the report is deployed-only. */
  readonly limitation?: string;
  /**
   * The HTTP status (401, 403) with which Fastly refused the listing made with FASTLY_API_TOKEN.
   * Absent when no credential was given: that deployed-only mode is chosen, not a failure.
   */
  readonly credentialRefused?: number;
  /** Most urgent first: expired or dead, then by time left, never-expiring last. */
  readonly tokens: readonly TokenStatus[];
  readonly environments: readonly EnvironmentStatus[];
  /** Runs unfinished in the journal, when the caller looked (`withUnfinished`). */
  readonly unfinished?: readonly UnfinishedRun[];
  /** Finding counts by severity, over tokens and environments. */
  readonly summary: { readonly critical: number; readonly warning: number; readonly info: number };
}

/** The facts a report is computed from. */
export interface StatusFacts {
  /** The account's automation tokens, or undefined when they could not be listed. */
  readonly automationTokens?: readonly AutomationToken[];
  readonly services?: readonly Service[];
  /** The account's users now (`GET /customer/{id}/users`), when they could be listed. */
  readonly users?: readonly AccountUser[];
  /** Why the listing is missing. */
  readonly limitation?: string;
  /** The HTTP status of a refused listing. */
  readonly credentialRefused?: number;
  /** By environment name. */
  readonly deployed: Readonly<Record<string, DeployedState>>;
}

/** Options of {@link collectStatus}. */
export interface CollectStatusOptions {
  /** An account-wide client (a superuser's user token; sudo not needed). Without it: deployed-only. */
  readonly client?: FastlyClient | undefined;
  readonly config: Config;
  /**
   * The instant findings are judged at; a function is called once everything has been read, so it
   * can be the Fastly API's time (`client.apiNow`).
   */
  readonly now: Date | (() => Date);
  /** API base URL for the deployed tokens' own requests; default the client's, the config's, Fastly's. */
  readonly endpoint?: string | undefined;
  /** Plain http off loopback is allowed for those requests; default the client's, else the config's. */
  readonly allowInsecure?: boolean;
  /** Injected fetch for the deployed tokens' requests (tests). */
  readonly fetch?: typeof fetch;
  /** Stops the deployed tokens' requests and the stores' reads (SIGINT/SIGTERM). */
  readonly signal?: AbortSignal | undefined;
  /**
   * Identify an environment's deployed token; default: read its secret store and ask
   * `GET /tokens/self` with the value. `listed` is the account listing, when there is one.
   */
  readonly identify?: (
    env: EnvironmentConfig,
    listed: readonly AutomationToken[] | undefined,
  ) => Promise<DeployedState>;
  /** Fall back to a deployed-only report when the listing is refused (default true); else throw. */
  readonly fallback?: boolean;
}

/**
 * Read the account and the deployed tokens, then judge them. The listing comes first, so the
 * last-use data reported predates the `GET /tokens/self` requests made with the deployed values
 * (each of which Fastly records as a use). A listing refused with 401/403 falls back to a
 * deployed-only report; other API failures are thrown.
 */
export async function collectStatus(options: CollectStatusOptions): Promise<StatusReport> {
  const { client, config } = options;
  let automationTokens: AutomationToken[] | undefined;
  let services: Service[] | undefined;
  let users: AccountUser[] | undefined;
  let limitation: string | undefined;
  let credentialRefused: number | undefined;
  if (!client) {
    limitation = "FASTLY_API_TOKEN is not set: showing only the deployed tokens, identified with themselves";
  } else {
    try {
      [automationTokens, services] = await Promise.all([
        client.listAutomationTokens(),
        client.listServices(),
      ]);
      users = await accountUsers(client, automationTokens);
    } catch (error) {
      const refused = error instanceof FastlyAuthError || error instanceof FastlyForbiddenError;
      if (!refused || options.fallback === false) throw error;
      limitation = `FASTLY_API_TOKEN was refused (${error.status}) when listing the account: showing only the deployed tokens, identified with themselves`;
      credentialRefused = error.status;
      automationTokens = undefined;
      services = undefined;
    }
  }
  const endpoint = options.endpoint ?? client?.endpoint ?? config.fastly.endpoint ?? DEFAULT_ENDPOINT;
  const at = {
    endpoint,
    allowInsecure: options.allowInsecure ?? client?.allowInsecure ?? config.fastly.allowInsecure === true,
  };
  const identify =
    options.identify ??
    (async (env: EnvironmentConfig) =>
      deployedState(
        await createSecretStore(env.secret, options.signal ? { signal: options.signal } : {}),
        at,
        options.fetch,
        options.signal,
      ));
  const pairs = await Promise.all(
    config.environments.map(async (env) => [env.name, await identify(env, automationTokens)] as const),
  );
  return buildStatus(
    {
      ...(automationTokens ? { automationTokens } : {}),
      ...(services ? { services } : {}),
      ...(users ? { users } : {}),
      ...(limitation ? { limitation } : {}),
      ...(credentialRefused === undefined ? {} : { credentialRefused }),
      deployed: Object.fromEntries(pairs),
    },
    config,
    typeof options.now === "function" ? options.now() : options.now,
  );
}

/**
 * The account's users, to tell whether each token's creator is still there; the customer id comes
 * from the listing. Undefined when there is no token to ask about or the API will not say.
 */
async function accountUsers(
  client: FastlyClient,
  tokens: readonly AutomationToken[],
): Promise<AccountUser[] | undefined> {
  const customerId = tokens.find((t) => t.customerId)?.customerId;
  if (customerId === undefined || !tokens.some((t) => t.creatorId)) return undefined;
  try {
    return await client.listUsers(customerId);
  } catch (error) {
    // A user list refused or missing is a question unanswered, not a finding.
    if (error instanceof FastlyAuthError || error instanceof FastlyForbiddenError) return undefined;
    if (error instanceof FastlyNotFoundError) return undefined;
    throw error;
  }
}

/** Judge the facts. Pure: same inputs, same report. */
export function buildStatus(facts: StatusFacts, config: Config, now: Date): StatusReport {
  const account = facts.automationTokens !== undefined;
  const envByTokenName = new Map(config.environments.map((env) => [env.token.name, env]));

  // Without a listing, the deployed tokens (as `/tokens/self` describes them) are all there is.
  const tokens: readonly AutomationToken[] = account
    ? (facts.automationTokens ?? [])
    : deployedTokensAsListed(facts.deployed);
  // The names of the services the tokens are limited to: a listing may hold tens of thousands of
  // services, and only those are looked up.
  const serviceNames = new Map<string, string | undefined>();
  for (const t of tokens) for (const id of t.services) serviceNames.set(id, undefined);
  for (const s of facts.services ?? []) if (serviceNames.has(s.id)) serviceNames.set(s.id, s.name);

  const deployedIn = new Map<string, string[]>();
  for (const env of config.environments) {
    const d = facts.deployed[env.name];
    if (d?.status === "valid") deployedIn.set(d.token.id, [...(deployedIn.get(d.token.id) ?? []), env.name]);
  }

  const leftovers = leftoverIds(tokens, config, facts.deployed);
  const rotateCommand = (env: string, force: boolean): string =>
    `ftr rotate${config.configPath ? ` --config ${shellQuote(config.configPath)}` : ""} --env ${shellQuote(env)}${force ? " --force" : ""}`;
  const hygiene = {
    now,
    policy: config.policy,
    account,
    userIds: facts.users ? new Set(facts.users.map((u) => u.id)) : undefined,
    services: facts.services ?? [],
    rotateCommand,
  };

  const tokenStatuses = tokens.map((t): TokenStatus => {
    const env = envByTokenName.get(t.name);
    const rotateBeforeMs = env?.token.rotateBeforeMs ?? UNMANAGED_ROTATE_BEFORE_MS;
    const msLeft = t.expiresAt ? t.expiresAt.getTime() - now.getTime() : undefined;
    const findings: Finding[] = [];
    if (msLeft !== undefined && msLeft <= 0) {
      findings.push({
        code: "expired",
        severity: "critical",
        message: `expired ${ago(-msLeft)}`,
        fix: env ? rotateCommand(env.name, false) : "replace it by hand and revoke it",
      });
    } else if (msLeft !== undefined && msLeft <= rotateBeforeMs) {
      findings.push({
        code: "expiring",
        severity: "warning",
        message: `due: expires in ${span(msLeft)} (rotate before ${span(rotateBeforeMs)})`,
        fix: env
          ? rotateCommand(env.name, false)
          : "rotate it by hand, or add an environment for it to rotate it with ftr",
      });
    }
    findings.push(...hygieneFindings(t, env, hygiene));
    if (leftovers.has(t.id)) {
      findings.push({
        code: "leftover",
        severity: "warning",
        message: `leftover: another token is named "${t.name}" too${env ? `; \`ftr rotate --env ${env.name}\` revokes it` : ""}`,
        ...(env ? { fix: rotateCommand(env.name, true) } : {}),
      });
    }
    // Built field by field, in the order --json prints them: thousands of tokens, no spread copies.
    // Some required fields follow optional ones, so it is whole only at the end.
    const status: Mutable<Partial<TokenStatus>> = {
      id: t.id,
      name: t.name,
      role: t.role,
      scopes: t.scopes,
      services: t.services.map((id) => {
        const name = serviceNames.get(id);
        return name === undefined ? { id } : { id, name };
      }),
      allServices: reachesAllServices(t),
    };
    if (t.roles) status.roles = t.roles.map((r) => r.name || r.id);
    if (t.creatorId) status.creatorId = t.creatorId;
    if (t.createdAt) status.createdAt = t.createdAt.toISOString();
    if (t.expiresAt) status.expiresAt = t.expiresAt.toISOString();
    if (msLeft !== undefined) {
      status.msLeft = msLeft;
      status.daysLeft = Math.floor(msLeft / DAY_MS);
    }
    if (account && t.lastUsedAt) {
      const lastUsed: Mutable<NonNullable<TokenStatus["lastUsed"]>> = { at: t.lastUsedAt.toISOString() };
      if (t.userAgent) lastUsed.userAgent = t.userAgent;
      if (t.ip) lastUsed.ip = t.ip;
      status.lastUsed = lastUsed;
    }
    if (env) status.environment = env.name;
    status.managed = env !== undefined;
    status.deployedIn = deployedIn.get(t.id) ?? [];
    status.rotateBeforeMs = rotateBeforeMs;
    status.lifetimeMs = env?.token.expiresInMs ?? DEFAULT_LIFETIME_MS;
    status.findings = findings;
    return status as TokenStatus;
  });

  const environments = config.environments.map((env) =>
    environmentStatus(env, tokens, facts.deployed[env.name], account),
  );

  const summary = { critical: 0, warning: 0, info: 0 };
  for (const t of tokenStatuses) for (const f of t.findings) summary[f.severity]++;
  for (const e of environments) for (const f of e.findings) summary[f.severity]++;
  return {
    generatedAt: now.toISOString(),
    scope: account ? "account" : "deployed-only",
    ...(facts.limitation ? { limitation: facts.limitation } : {}),
    ...(facts.credentialRefused === undefined ? {} : { credentialRefused: facts.credentialRefused }),
    tokens: byUrgency(tokenStatuses),
    environments,
    summary,
  };
}

function environmentStatus(
  env: EnvironmentConfig,
  tokens: readonly AutomationToken[],
  deployed: DeployedState | undefined,
  account: boolean,
): EnvironmentStatus {
  const managed = tokens
    .filter((t) => t.name === env.token.name)
    .sort((a, b) => (a.createdAt?.getTime() ?? 0) - (b.createdAt?.getTime() ?? 0));
  const findings: Finding[] = [];
  let status: DeployedStatus;
  const d = deployed ?? { status: "unknown", reason: "not checked" };
  if (d.status === "valid") {
    const isManaged = d.token.name === env.token.name;
    status = {
      status: "valid",
      tokenId: d.token.id,
      tokenName: d.token.name,
      managed: isManaged,
      ...(d.token.expiresAt ? { expiresAt: d.token.expiresAt.toISOString() } : {}),
    };
    if (!isManaged) {
      findings.push({
        code: "deployed-unmanaged",
        severity: "warning",
        message: `the deployed token ${d.token.id} ("${d.token.name}") is not named "${env.token.name}"`,
      });
    }
  } else {
    status = {
      status: d.status,
      ...("reason" in d ? { reason: d.reason } : {}),
      ...("tokenId" in d && typeof d.tokenId === "string" ? { tokenId: d.tokenId } : {}),
    };
    if (d.status === "dead") {
      findings.push({
        code: "deployed-dead",
        severity: "critical",
        message: `the deployed token is refused by Fastly (${d.reason}): the consumer cannot authenticate`,
      });
    } else if (d.status === "absent") {
      findings.push({
        code: "deployed-absent",
        severity: "critical",
        message: "the secret store holds no token",
      });
    } else if (d.status === "write-only") {
      const newest = managed.at(-1);
      findings.push({
        code: "deployed-write-only",
        severity: "info",
        message: `${d.reason}: status cannot compare the deployed value${newest ? `; the newest token named "${env.token.name}", ${newest.id}, is taken to be the deployed one` : ""}`,
      });
    } else {
      findings.push({
        code: "deployed-unknown",
        severity: "warning",
        message: `cannot tell which token is deployed: ${d.reason}`,
      });
    }
  }
  if (account && managed.length > 1) {
    findings.push({
      code: "leftover",
      severity: "warning",
      message: `${managed.length} tokens are named "${env.token.name}"; the extra ones are leftovers`,
    });
  }
  return {
    name: env.name,
    tokenName: env.token.name,
    rotateBeforeMs: env.token.rotateBeforeMs,
    managedTokenIds: managed.map((t) => t.id),
    deployed: status,
    findings,
  };
}

/**
 * Tokens under a managed name that are not the one in use: every one but the deployed token, or
 * (when the deployed token is not among them) every one but the newest.
 */
function leftoverIds(
  tokens: readonly AutomationToken[],
  config: Config,
  deployed: Readonly<Record<string, DeployedState>>,
): Set<string> {
  const out = new Set<string>();
  for (const env of config.environments) {
    const managed = tokens.filter((t) => t.name === env.token.name);
    if (managed.length < 2) continue;
    const d = deployed[env.name];
    const keep =
      d?.status === "valid" && managed.some((t) => t.id === d.token.id)
        ? d.token.id
        : [...managed].sort((a, b) => (b.createdAt?.getTime() ?? 0) - (a.createdAt?.getTime() ?? 0))[0]?.id;
    for (const t of managed) if (t.id !== keep) out.add(t.id);
  }
  return out;
}

function deployedTokensAsListed(deployed: Readonly<Record<string, DeployedState>>): AutomationToken[] {
  const seen = new Map<string, AutomationToken>();
  for (const d of Object.values(deployed)) {
    if (d.status !== "valid" || seen.has(d.token.id)) continue;
    const t = d.token;
    seen.set(t.id, {
      id: t.id,
      name: t.name,
      role: "",
      scopes: t.scopes,
      services: t.services,
      ...(t.expiresAt ? { expiresAt: t.expiresAt } : {}),
      ...(t.createdAt ? { createdAt: t.createdAt } : {}),
    });
  }
  return [...seen.values()];
}

/**
 * `tokens` sorted most urgent first: by time left (expired ones, the only tokens with a critical
 * finding, have none left and come first); never-expiring last; then by name and id as
 * `localeCompare` orders them. Each token's key is worked out once, not at every comparison; the
 * collator `localeCompare` makes for each call is made once, and only when two tokens tie on time
 * left (making one costs `check`, which sorts a token or two, a noticeable part of its start-up).
 */
function byUrgency(tokens: readonly TokenStatus[]): TokenStatus[] {
  let collator: Intl.Collator | undefined;
  const collate = (x: string, y: string): number => (collator ??= new Intl.Collator()).compare(x, y);
  const keyed = tokens.map((t) => ({ t, left: t.msLeft ?? Number.POSITIVE_INFINITY }));
  keyed.sort((a, b) => a.left - b.left || collate(a.t.name, b.t.name) || collate(a.t.id, b.t.id));
  return keyed.map((k) => k.t);
}

/** "6 days", "3 hours", "12 minutes": the largest whole unit. */
export function span(ms: number): string {
  const abs = Math.abs(ms);
  const unit = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  if (abs >= DAY_MS) return unit(Math.floor(abs / DAY_MS), "day");
  if (abs >= 3_600_000) return unit(Math.floor(abs / 3_600_000), "hour");
  return unit(Math.max(0, Math.floor(abs / 60_000)), "minute");
}

function ago(ms: number): string {
  return `${span(ms)} ago`;
}
