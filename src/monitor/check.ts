/**
 * `ftr check`: the cron/CI question "does anything need a rotation now?" answered from a status
 * report. Per environment it looks at the token the consumer actually holds (the deployed one);
 * leftovers under a managed name are reported by `status`, not here, so a rotation run with
 * `--keep-old` does not keep the check failing until the old token expires.
 */
import type { DeployedStatus, EnvironmentStatus, FindingCode, StatusReport, TokenStatus } from "./status.ts";
import { HYGIENE_CODES } from "./hygiene.ts";
import { environmentVerdicts, type EnvironmentVerdict } from "./verdict.ts";

/** Options of {@link checkReport}. */
export interface CheckOptions {
  /** One window for every token; default each environment's `rotateBefore` (30 days for unmanaged). */
  readonly withinMs?: number;
  /** Also check tokens no environment manages (every automation token in the account). */
  readonly all?: boolean;
  /** The config path as the user wrote it, for the fix command. */
  readonly configPath: string;
}

/** Why a check failed. */
export type CheckReason =
  "expiring" | "expired" | "dead" | "absent" | "unknown" | "refused" | "unfinished" | "hygiene";

/** One problem `check` reports. */
export interface CheckFinding {
  /** The managing environment; absent for an unmanaged token (`--all`). */
  readonly environment?: string;
  readonly tokenId?: string;
  readonly tokenName?: string;
  readonly reason: CheckReason;
  /** ISO 8601 expiry, when known. */
  readonly expiresAt?: string;
  /** One line for people, including the fix. */
  readonly message: string;
  /** The command that fixes it, when there is one. */
  readonly fix?: string;
  /** `unfinished`: the run and the step it stopped at. */
  readonly runId?: string;
  readonly step?: string;
  /** For `hygiene`: the status finding's code (`unused`, `broader-than-config`, ...). */
  readonly code?: FindingCode;
}

/** The check's outcome; `ok` is false when there is at least one finding. */
export interface CheckResult {
  readonly ok: boolean;
  readonly checkedAt: string;
  readonly findings: readonly CheckFinding[];
  /** How many tokens were looked at. */
  readonly checkedTokens: number;
  /** The soonest expiry among the checked tokens that are fine. */
  readonly next?: { readonly tokenId: string; readonly environment?: string; readonly expiresAt: string };
  readonly scope: StatusReport["scope"];
  /** Each environment's verdict, the one `status` and `serve` give (verdict.ts). */
  readonly environments: readonly EnvironmentVerdict[];
}

/** Quote an argument for a POSIX shell when it needs it. */
export function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

function days(ms: number): string {
  const d = Math.floor(Math.abs(ms) / 86_400_000);
  if (d === 0) return "less than a day";
  return `${d} day${d === 1 ? "" : "s"}`;
}

function selfDescribed(
  d: Extract<DeployedStatus, { status: "valid" }>,
  env: EnvironmentStatus,
  at: string,
): TokenStatus {
  return {
    id: d.tokenId,
    name: d.tokenName,
    role: "",
    scopes: [],
    services: [],
    allServices: false,
    ...(d.expiresAt ? { expiresAt: d.expiresAt, msLeft: Date.parse(d.expiresAt) - Date.parse(at) } : {}),
    environment: env.name,
    managed: d.managed,
    deployedIn: [env.name],
    rotateBeforeMs: env.rotateBeforeMs,
    lifetimeMs: 0,
    findings: [],
  };
}

/** Judge a status report against the window. Pure. */
export function checkReport(report: StatusReport, options: CheckOptions): CheckResult {
  const findings: CheckFinding[] = [];
  const checked = new Map<string, TokenStatus>();
  const byId = new Map(report.tokens.map((t) => [t.id, t]));
  const fixFor = (env: string) =>
    `ftr rotate --config ${shellQuote(options.configPath)} --env ${shellQuote(env)}`;

  const judge = (
    t: TokenStatus,
    environment: string | undefined,
    rotateBeforeMs = t.rotateBeforeMs,
  ): void => {
    if (checked.has(t.id)) return;
    checked.set(t.id, t);
    if (t.msLeft === undefined) return;
    const window = options.withinMs ?? rotateBeforeMs;
    if (t.msLeft > window) return;
    const expired = t.msLeft <= 0;
    const fix = environment ? fixFor(environment) : undefined;
    const when = `${t.expiresAt?.slice(0, 10) ?? "?"} (${expired ? `${days(t.msLeft)} ago` : `in ${days(t.msLeft)}`})`;
    findings.push({
      ...(environment ? { environment } : {}),
      tokenId: t.id,
      tokenName: t.name,
      reason: expired ? "expired" : "expiring",
      ...(t.expiresAt ? { expiresAt: t.expiresAt } : {}),
      message:
        `${environment ?? "unmanaged"}: token ${t.id} ${expired ? "expired" : "expires"} ${when}` +
        (expired ? "" : `, within ${days(window)}`) +
        (fix
          ? `; fix: ${fix}`
          : `; "${t.name}" is not in the config: rotate it by hand or add an environment for it`),
      ...(fix ? { fix } : {}),
    });
  };

  if (report.credentialRefused !== undefined) {
    // A credential given and refused (revoked, expired, mistyped) is a failure, or a cron job would
    // report OK on the deployed tokens alone until the day nobody can list the account.
    const status = report.credentialRefused;
    findings.push({
      reason: "refused",
      message: `FASTLY_API_TOKEN was refused by Fastly (${status}${status === 403 ? ": not a superuser's user token?" : ": revoked, expired or mistyped?"}); fix: export a valid user token of a superuser, or unset FASTLY_API_TOKEN to check the deployed tokens only`,
    });
  }
  // A run stopped part-way comes first: until it is resumed, nothing else about its environment is settled.
  for (const run of report.unfinished ?? []) {
    if (run.running) continue; // a live run holds the lock: it is still going, not stopped
    const fix = `ftr resume --config ${shellQuote(options.configPath)}`;
    findings.push({
      environment: run.environment,
      reason: "unfinished",
      runId: run.runId,
      step: run.step,
      message: `${run.environment}: run ${run.runId} stopped at ${run.step}${run.status === "done" ? "" : ` (${run.status === "begin" ? "begun" : run.interrupted ? "interrupted" : "failed"})`} at ${run.at.replace(/\.\d{3}Z$/, "Z")} and is unfinished; fix: ${fix}`,
      fix,
    });
  }
  for (const env of report.environments) {
    const d = env.deployed;
    const fix = fixFor(env.name);
    if (d.status === "valid") {
      // A deployed token missing from the listing (a user token, say) is judged from what it said
      // about itself.
      const listed = byId.get(d.tokenId) ?? selfDescribed(d, env, report.generatedAt);
      judge(listed, env.name, env.rotateBeforeMs);
      continue;
    }
    if (d.status === "write-only" && report.scope === "account") {
      // The store cannot be read back: the newest token of the managed name is taken to be the
      // deployed one, and judged as such.
      const newest = env.managedTokenIds.at(-1);
      const t = newest === undefined ? undefined : byId.get(newest);
      if (t) judge(t, env.name, env.rotateBeforeMs);
      else {
        findings.push({
          environment: env.name,
          reason: "absent",
          message: `${env.name}: no token named "${env.tokenName}" exists, so the secret store holds none of ours; fix: ${fix}`,
          fix,
        });
      }
      continue;
    }
    if (d.status === "dead" || d.status === "absent") {
      findings.push({
        environment: env.name,
        ...(d.tokenId ? { tokenId: d.tokenId } : {}),
        reason: d.status,
        message:
          d.status === "dead"
            ? `${env.name}: the deployed token${d.tokenId ? ` ${d.tokenId}` : ""} is refused by Fastly (${d.reason ?? "dead"}); fix: ${fix}`
            : `${env.name}: the secret store holds no token; fix: ${fix}`,
        fix,
      });
      continue;
    }
    // The store could not be read or Fastly could not be asked: judge what the name tells.
    findings.push({
      environment: env.name,
      reason: "unknown",
      message: `${env.name}: cannot tell which token is deployed (${d.reason ?? d.status}); run \`ftr status --config ${shellQuote(options.configPath)}\``,
    });
    for (const id of env.managedTokenIds) {
      const t = byId.get(id);
      if (t) judge(t, env.name);
    }
  }
  if (options.all) {
    for (const t of report.tokens) judge(t, t.environment);
    // Least privilege and hygiene, every token in the account: a warning or worse fails the check.
    const hygiene = new Set<string>(HYGIENE_CODES);
    for (const t of report.tokens) {
      for (const f of t.findings) {
        if (!hygiene.has(f.code) || f.severity === "info") continue;
        findings.push({
          ...(t.environment ? { environment: t.environment } : {}),
          tokenId: t.id,
          tokenName: t.name,
          reason: "hygiene",
          code: f.code,
          ...(t.expiresAt ? { expiresAt: t.expiresAt } : {}),
          message: `${t.environment ?? "unmanaged"}: token ${t.id} ("${t.name}") ${f.message}${f.fix ? `; fix: ${f.fix}` : ""}`,
          ...(f.fix ? { fix: f.fix } : {}),
        });
      }
    }
  }

  const fine = [...checked.values()]
    .filter(
      (t) =>
        t.msLeft !== undefined &&
        t.expiresAt !== undefined &&
        !findings.some((f) => f.tokenId === t.id && f.reason !== "hygiene"),
    )
    .sort((a, b) => (a.msLeft ?? 0) - (b.msLeft ?? 0))[0];
  return {
    ok: findings.length === 0,
    checkedAt: report.generatedAt,
    findings,
    checkedTokens: checked.size,
    ...(fine?.expiresAt
      ? {
          next: {
            tokenId: fine.id,
            ...(fine.environment ? { environment: fine.environment } : {}),
            expiresAt: fine.expiresAt,
          },
        }
      : {}),
    scope: report.scope,
    environments: environmentVerdicts(report),
  };
}
