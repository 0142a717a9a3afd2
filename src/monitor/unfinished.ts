/**
 * Unfinished runs on every monitoring surface. A run stopped part-way (a crash, `kill -9`, a failed
 * revoke) leaves a consumer, a secret and the account in between two tokens; until `ftr resume`
 * settles it, `status` shows it in both tables, `check` fails naming it, and `serve` exports it.
 */
import { unfinishedLine, type UnfinishedRun } from "../plan/plan.ts";
import type { EnvironmentStatus, Finding, StatusReport, TokenStatus } from "./status.ts";

/** `report` with the unfinished runs added: top level, and as findings of their environments and tokens. */
export function withUnfinished(
  report: StatusReport,
  runs: readonly UnfinishedRun[],
  resumeHint: string,
): StatusReport {
  if (runs.length === 0) return { ...report, unfinished: [] };
  const finding = (run: UnfinishedRun): Finding => ({
    code: "unfinished-run",
    severity: run.running ? "warning" : "critical",
    message: unfinishedLine(run, resumeHint),
  });
  const environments = report.environments.map((env): EnvironmentStatus => {
    const mine = runs.filter((r) => r.environment === env.name);
    return mine.length === 0 ? env : { ...env, findings: [...mine.map(finding), ...env.findings] };
  });
  const tokens = report.tokens.map((t): TokenStatus => {
    const mine = runs.filter((r) => r.newTokenId === t.id || r.deployedTokenId === t.id);
    return mine.length === 0 ? t : { ...t, findings: [...mine.map(finding), ...t.findings] };
  });
  // The summary counts findings over tokens and environments: each one added is counted.
  const added = [...environments.flatMap((e) => e.findings), ...tokens.flatMap((t) => t.findings)].filter(
    (f) => f.code === "unfinished-run",
  );
  const count = (severity: Finding["severity"]) => added.filter((f) => f.severity === severity).length;
  return {
    ...report,
    unfinished: runs,
    environments,
    tokens,
    summary: {
      critical: report.summary.critical + count("critical"),
      warning: report.summary.warning + count("warning"),
      info: report.summary.info,
    },
  };
}
