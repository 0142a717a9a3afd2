/**
 * The notification events, built from what a run reports. Only ids, times, outcomes and redacted
 * one-line messages go in: a token value never does.
 */
import type { NotificationEvent } from "../adapters/types.ts";
import type { EnvironmentResult } from "../rotation/steps.ts";

/** The command sending an event. */
export type EventSource = NotificationEvent["source"];

/** `run-started`: a run is about to change `environments`. */
export function runStartedEvent(
  source: EventSource,
  runId: string,
  at: Date,
  environments: readonly string[],
): NotificationEvent {
  return {
    version: 1,
    event: "run-started",
    at: at.toISOString(),
    source,
    runId,
    environments,
    summary: `ftr ${source} started run ${runId}: ${environments.join(", ") || "no environments"}`,
  };
}

/** What an environment event needs besides the result. */
export interface EnvironmentEventContext {
  readonly source: EventSource;
  readonly at: Date;
  /** Absolute path of the config, for the commands in `nextStep`. */
  readonly configPath?: string | undefined;
}

/**
 * The event for one environment's end: `environment-rotated`, `-rolled-back` or `-failed`; none
 * for an environment that was skipped or had nothing to do.
 */
export function environmentEvent(
  result: EnvironmentResult,
  ctx: EnvironmentEventContext,
): NotificationEvent | undefined {
  const { environment, outcome } = result;
  if (outcome === "skipped" || outcome === "nothing-to-do") return undefined;
  const config = ctx.configPath ?? "<config file>";
  const event =
    outcome === "rotated" || outcome === "kept-old"
      ? "environment-rotated"
      : outcome === "rolled-back"
        ? "environment-rolled-back"
        : "environment-failed";
  const tokens = {
    ...(result.deployedTokenId === undefined ? {} : { previousTokenId: result.deployedTokenId }),
    ...(result.newTokenId === undefined ? {} : { newTokenId: result.newTokenId }),
    ...(result.newTokenExpiresAt === undefined ? {} : { newTokenExpiresAt: result.newTokenExpiresAt }),
    revokedTokenIds: result.revoked,
  };
  const was = result.deployedTokenId ? ` (was ${result.deployedTokenId})` : "";
  let summary: string;
  let nextStep = outcome === "rolled-back" && ctx.source === "rollback" ? undefined : result.advice;
  if (outcome === "rotated") {
    summary = `${environment}: rotated to token ${result.newTokenId ?? "?"}${was}${result.newTokenExpiresAt ? `, expires ${result.newTokenExpiresAt}` : ""}`;
  } else if (outcome === "kept-old") {
    summary = `${environment}: rotated to token ${result.newTokenId ?? "?"}; the old token ${result.deployedTokenId ?? ""} is still valid (--keep-old)`;
    nextStep = `ftr rollback --config ${config} --env ${environment} undoes the rotation while the old token lives`;
  } else if (outcome === "rolled-back") {
    summary =
      ctx.source === "rollback"
        ? `${environment}: rolled back to token ${result.deployedTokenId ?? "?"}; ${result.newTokenId ?? "the new token"} revoked`
        : `${environment}: rotation failed and was rolled back${result.deployedTokenId ? ` to token ${result.deployedTokenId}` : ""}`;
  } else {
    summary = `${environment}: ${ctx.source === "rollback" ? "rollback" : "rotation"} failed`;
  }
  return {
    version: 1,
    event,
    at: ctx.at.toISOString(),
    source: ctx.source,
    runId: result.runId,
    environment,
    outcome,
    ...tokens,
    summary,
    ...(result.error === undefined ||
    outcome === "rotated" ||
    outcome === "kept-old" ||
    (outcome === "rolled-back" && ctx.source === "rollback")
      ? {}
      : { error: result.error }),
    ...(nextStep === undefined ? {} : { nextStep }),
  };
}

/** `run-finished`: every environment's outcome; `ok` as the command's exit code says. */
export function runFinishedEvent(
  source: EventSource,
  run: { readonly runId: string; readonly ok: boolean; readonly environments: readonly EnvironmentResult[] },
  at: Date,
): NotificationEvent {
  const results = run.environments.map((e) => ({
    environment: e.environment,
    outcome: e.outcome,
    ...(e.newTokenId === undefined ? {} : { newTokenId: e.newTokenId }),
    ...(e.error === undefined || e.outcome === "nothing-to-do" ? {} : { error: e.error }),
  }));
  const failed = run.environments.find((e) => e.advice !== undefined && !run.ok);
  return {
    version: 1,
    event: "run-finished",
    at: at.toISOString(),
    source,
    runId: run.runId,
    outcome: run.ok ? "ok" : "failed",
    summary: `ftr ${source} run ${run.runId} ${run.ok ? "finished" : "failed"}: ${results.map((r) => `${r.environment} ${r.outcome}`).join(", ") || "nothing done"}`,
    results,
    ...(failed?.advice === undefined ? {} : { nextStep: failed.advice }),
  };
}

/** What `token-expiring` tells. */
export interface ExpiringToken {
  readonly environment: string;
  readonly tokenId: string;
  readonly expiresAt: string;
  readonly msLeft: number;
}

/** `token-expiring`: a managed token entered its environment's rotateBefore window. */
export function tokenExpiringEvent(
  token: ExpiringToken,
  at: Date,
  configPath: string | undefined,
): NotificationEvent {
  const daysLeft = Math.floor(token.msLeft / 86_400_000);
  const when =
    token.msLeft <= 0
      ? "has expired"
      : daysLeft === 0
        ? "expires within a day"
        : `expires in ${daysLeft} days`;
  return {
    version: 1,
    event: "token-expiring",
    at: at.toISOString(),
    source: "serve",
    environment: token.environment,
    tokenId: token.tokenId,
    expiresAt: token.expiresAt,
    daysLeft,
    summary: `${token.environment}: token ${token.tokenId} ${when} (${token.expiresAt}); rotate it`,
    nextStep: `ftr rotate --config ${configPath ?? "<config file>"} --env ${token.environment}`,
  };
}

/** `run-unfinished`: a run stopped part-way and nobody resumed it (found by `serve`). */
export function runUnfinishedEvent(
  run: {
    readonly runId: string;
    readonly environment: string;
    readonly step: string;
    readonly status: string;
    readonly at: string;
  },
  at: Date,
  configPath: string | undefined,
): NotificationEvent {
  return {
    version: 1,
    event: "run-unfinished",
    at: at.toISOString(),
    source: "serve",
    runId: run.runId,
    environment: run.environment,
    step: run.step,
    stepStatus: run.status,
    summary: `${run.environment}: run ${run.runId} stopped at ${run.step} (${run.status}, ${run.at}) and is unfinished`,
    nextStep: `ftr resume --config ${configPath ?? "<config file>"}`,
  };
}

/** `approval-required`: `rotate --due` found `environment` due but left it for a person. */
export function approvalRequiredEvent(
  runId: string,
  environment: string,
  reason: string,
  at: Date,
  configPath: string | undefined,
): NotificationEvent {
  return {
    version: 1,
    event: "approval-required",
    at: at.toISOString(),
    source: "rotate",
    runId,
    environment,
    summary: `${environment}: due (${reason}) but needs approval; an unattended run does not rotate it`,
    nextStep: `ftr rotate --config ${configPath ?? "<config file>"} --env ${environment}`,
  };
}
