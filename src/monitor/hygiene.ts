/**
 * Least privilege and hygiene for every automation token in the account, judged against the
 * config's `policy:` and, for a token an environment manages, against what that environment asks
 * for. Pure: `status` calls it per token; `check --all` and `serve` read the findings it makes.
 */
import type { EnvironmentConfig, PolicyConfig } from "../config/types.ts";
import type { AutomationToken, Service } from "../fastly/types.ts";
import { resolveServices } from "../plan/plan.ts";
import type { Finding } from "./status.ts";

const DAY_MS = 86_400_000;

/** The hygiene codes: what `check --all` fails on (at severity warning or worse) besides expiry. */
export const HYGIENE_CODES = [
  "never-expires",
  "over-max-lifetime",
  "unused",
  "never-used",
  "broader-than-config",
  "global-scope",
  "all-services",
  "creator-gone",
  "unmanaged",
] as const;

/** What the hygiene judgement needs besides the token. */
export interface HygieneContext {
  readonly now: Date;
  readonly policy: PolicyConfig;
  /** The facts come from the account's listing (last use and creators mean something). */
  readonly account: boolean;
  /** Ids of the users in the account now; undefined when they could not be listed. */
  readonly userIds?: ReadonlySet<string> | undefined;
  /** The account's services, to resolve an environment's selector. */
  readonly services: readonly Service[];
  /** The command that rotates `env` (with `--force` when nothing else would make it due). */
  readonly rotateCommand: (env: string, force: boolean) => string;
}

/** True when the token may use every service: `limit_services: false`, or (before 2026) no services. */
export function reachesAllServices(t: Pick<AutomationToken, "services" | "limitServices">): boolean {
  return t.limitServices === undefined ? t.services.length === 0 : !t.limitServices;
}

function days(ms: number): string {
  const d = Math.floor(ms / DAY_MS);
  return `${d} day${d === 1 ? "" : "s"}`;
}

/** The hygiene findings of one token (expiry itself is judged by `status`). */
export function hygieneFindings(
  t: AutomationToken,
  env: EnvironmentConfig | undefined,
  ctx: HygieneContext,
): Finding[] {
  const findings: Finding[] = [];
  const now = ctx.now.getTime();
  const rotate = env ? ctx.rotateCommand(env.name, true) : undefined;

  if (!t.expiresAt) {
    findings.push({
      code: "never-expires",
      severity: "warning",
      message: "never expires",
      fix: rotate
        ? `${rotate} (mints one expiring after token.expiresIn and revokes this one)`
        : "create a replacement with an expiry, move its consumer over, and revoke this one",
    });
  } else if (t.createdAt && t.expiresAt.getTime() - t.createdAt.getTime() > ctx.policy.maxLifetimeMs) {
    findings.push({
      code: "over-max-lifetime",
      severity: "warning",
      message: `lives ${days(t.expiresAt.getTime() - t.createdAt.getTime())}, longer than policy.maxLifetime (${days(ctx.policy.maxLifetimeMs)})`,
      fix: rotate
        ? `make token.expiresIn at most policy.maxLifetime, then ${rotate}`
        : "create a replacement expiring within policy.maxLifetime and revoke this one",
    });
  }

  // Last use and creators only mean something in the account's listing: the deployed-only report
  // learns of a token through a request made with it.
  if (ctx.account) {
    const unusedFix = (): string =>
      rotate
        ? `its consumer does not use it: check the consumer, or remove the environment and revoke the token`
        : `revoke it if nothing needs it (Fastly: Account > API tokens, or DELETE /tokens/${t.id})`;
    if (t.lastUsedAt) {
      const idle = now - t.lastUsedAt.getTime();
      if (idle > ctx.policy.unusedAfterMs) {
        findings.push({
          code: "unused",
          severity: "warning",
          message: `unused for ${days(idle)} (policy.unusedAfter ${days(ctx.policy.unusedAfterMs)})`,
          fix: unusedFix(),
        });
      }
    } else if (t.createdAt && now - t.createdAt.getTime() > ctx.policy.unusedAfterMs) {
      findings.push({
        code: "unused",
        severity: "warning",
        message: `never used in the ${days(now - t.createdAt.getTime())} since it was created (policy.unusedAfter ${days(ctx.policy.unusedAfterMs)})`,
        fix: unusedFix(),
      });
    } else {
      findings.push({ code: "never-used", severity: "info", message: "never used" });
    }
    if (ctx.userIds && t.creatorId && !ctx.userIds.has(t.creatorId)) {
      findings.push({
        code: "creator-gone",
        severity: "warning",
        message: `created by user ${t.creatorId}, who is no longer in the account`,
        fix: rotate
          ? `confirm who owns it now, then ${rotate}`
          : "confirm who owns it now; replace it with a token created by a current superuser and revoke this one",
      });
    }
  }

  if (env) {
    const broader = broaderThanConfig(t, env, ctx);
    if (broader.length > 0) {
      findings.push({
        code: "broader-than-config",
        severity: "warning",
        message: `broader than ${env.name}'s config: ${broader.join("; ")}`,
        fix: `${rotate ?? ""} (mints one exactly as configured and revokes this one)`.trim(),
      });
    }
  } else {
    if (t.scopes.includes("global")) {
      findings.push({
        code: "global-scope",
        severity: "warning",
        message: "has the `global` scope (can change configuration); prefer global:read",
        fix: "if its consumer only reads, replace it with a global:read token and revoke this one",
      });
    }
    if (reachesAllServices(t)) {
      findings.push({
        code: "all-services",
        severity: "warning",
        message: "may access all services",
        fix: "replace it with a token limited to the services its consumer needs (limit_services) and revoke this one",
      });
    }
    if (ctx.account) {
      findings.push({
        code: "unmanaged",
        severity: "info",
        message: "named by no environment in the config",
        fix: "add an environment with its token.name to rotate it with ftr, or revoke it if nothing uses it",
      });
    }
  }
  return findings;
}

/**
 * The ids of the services `env`'s selector picks from the context's services, undefined when it
 * cannot be resolved; worked out once an environment and context (every token an environment
 * names is judged against the same selection, and a listing can hold tens of thousands of services).
 */
function wantedServices(env: EnvironmentConfig, ctx: HygieneContext): Set<string> | undefined {
  let byEnv = wantedCache.get(ctx);
  if (byEnv === undefined) {
    byEnv = new Map();
    wantedCache.set(ctx, byEnv);
  }
  if (byEnv.has(env)) return byEnv.get(env);
  const wanted = resolveServices(env.token.services, ctx.services);
  const want = wanted.error ? undefined : new Set(wanted.matched.map((s) => s.id));
  byEnv.set(env, want);
  return want;
}

const wantedCache = new WeakMap<HygieneContext, Map<EnvironmentConfig, Set<string> | undefined>>();

/** How a managed token reaches further than its environment asks: services, scope, roles. */
function broaderThanConfig(t: AutomationToken, env: EnvironmentConfig, ctx: HygieneContext): string[] {
  const spec = env.token;
  const out: string[] = [];
  if (spec.services.kind !== "all") {
    const want = wantedServices(env, ctx);
    // An unresolvable selector is the plan's error to report, not a measure of breadth.
    if (want !== undefined) {
      if (reachesAllServices(t)) {
        out.push(`reaches every service, the config asks for ${want.size}`);
      } else {
        const extra = t.services.filter((id) => !want.has(id));
        if (extra.length > 0) out.push(`also reaches ${extra.join(", ")}`);
      }
    }
  }
  if (t.scopes.includes("global") && !spec.scopes.includes("global")) {
    out.push(`has the global scope, the config asks for ${spec.scope}`);
  }
  const want = new Set(spec.roles ?? [spec.role]);
  const have = t.roles ? t.roles.map((r) => r.name || r.id) : t.role ? [t.role] : [];
  const extra = have.filter((name) => !want.has(name));
  if (extra.length > 0)
    out.push(`has role${extra.length === 1 ? "" : "s"} ${extra.join(", ")} beyond the config's`);
  return out;
}
