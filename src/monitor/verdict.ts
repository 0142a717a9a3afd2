/**
 * One verdict per environment, the same wherever it is shown: `status`'s environment table,
 * `check` (its JSON, and what makes it fail) and `serve` (`fastly_token_rotator_environment_state`).
 * Computed from a status report alone, so every command judges an environment by the same facts:
 * a run left unfinished first, then the deployed token (refused, absent, unknown, expired, due within
 * `rotateBefore`), then anything else worth attention.
 */
import type { UnfinishedRun } from "../plan/index.ts";
import { span, type EnvironmentStatus, type Severity, type StatusReport } from "./status.ts";

/** The verdict's states, worst first. */
export const VERDICT_STATES = [
  "unfinished",
  "dead",
  "absent",
  "expired",
  "unknown",
  "due",
  "running",
  "attention",
  "ok",
] as const;

/** What an environment needs. */
export type VerdictState = (typeof VERDICT_STATES)[number];

/** One environment's verdict. */
export interface EnvironmentVerdict {
  readonly environment: string;
  readonly state: VerdictState;
  /** Undefined for `ok`. */
  readonly severity?: Severity;
  /** One line for people: why. */
  readonly message: string;
  /** True when `check` fails for it (with its default window). */
  readonly failing: boolean;
}

/** The verdict of every environment of `report`, in config order. */
export function environmentVerdicts(
  report: StatusReport,
  unfinished: readonly UnfinishedRun[] = report.unfinished ?? [],
): EnvironmentVerdict[] {
  return report.environments.map((env) => environmentVerdict(env, report, unfinished));
}

function environmentVerdict(
  env: EnvironmentStatus,
  report: StatusReport,
  unfinished: readonly UnfinishedRun[],
): EnvironmentVerdict {
  const make = (
    state: VerdictState,
    severity: Severity | undefined,
    message: string,
  ): EnvironmentVerdict => ({
    environment: env.name,
    state,
    ...(severity ? { severity } : {}),
    message,
    failing: severity === "critical" || (state !== "running" && state !== "attention" && state !== "ok"),
  });
  const run = unfinished.find((r) => r.environment === env.name);
  if (run && run.running !== true) {
    // The line that names the fix (`ftr resume …`), as every surface words it, when the report has it.
    const said = env.findings.find((f) => f.code === "unfinished-run")?.message;
    return make(
      "unfinished",
      "critical",
      said ?? `run ${run.runId} stopped at ${run.step} and is unfinished`,
    );
  }
  const d = env.deployed;
  if (d.status === "dead") {
    return make("dead", "critical", `the deployed token is refused by Fastly (${d.reason ?? "dead"})`);
  }
  if (d.status === "absent") return make("absent", "critical", "the secret store holds no token");
  if (d.status !== "valid") {
    return make("unknown", "warning", `cannot tell which token is deployed: ${d.reason ?? d.status}`);
  }
  if (d.expiresAt !== undefined) {
    const msLeft = Date.parse(d.expiresAt) - Date.parse(report.generatedAt);
    if (msLeft <= 0) return make("expired", "critical", `the deployed token ${d.tokenId} has expired`);
    if (msLeft <= env.rotateBeforeMs) {
      return make(
        "due",
        "warning",
        `due: the deployed token ${d.tokenId} expires in ${span(msLeft)} (rotate before ${span(env.rotateBeforeMs)})`,
      );
    }
  }
  if (run) return make("running", "warning", `run ${run.runId} is in progress at ${run.step}`);
  const other = env.findings.filter((f) => f.code !== "unfinished-run");
  if (other.length > 0) {
    return make("attention", "warning", other.map((f) => f.message).join("; "));
  }
  return make("ok", undefined, "ok");
}
