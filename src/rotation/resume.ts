/**
 * `resume` finishes or rolls back every environment whose run stopped part-way (a crash, `kill -9`,
 * a lost network); `rollbackLast` undoes the last completed rotation of one environment while its
 * old token still lives.
 */
import type { EnvironmentConfig } from "../config/types.ts";
import { FastlyNotFoundError } from "../fastly/errors.ts";
import { runStates, type Journal, type JournalRecord, type RunState } from "./journal.ts";
import {
  adaptersFor,
  EnvironmentRun,
  finishResult,
  newRunId,
  resumeHint,
  runClock,
  runNotices,
  type RotationResult,
  type RunContext,
  type SudoKeeper,
  withState,
} from "./rotate.ts";
import { describe, type EnvironmentResult } from "./steps.ts";
import { registerSecret } from "../util/redact.ts";
import { nothingWritten } from "../adapters/support/store.ts";
import { unfinishedRunsOf } from "./unfinished.ts";

// The journal's reader for the monitors lives in unfinished.ts (it loads without the protocol).
export {
  describeUnfinished,
  isInterrupted,
  storeHolds,
  unfinishedIn,
  unfinishedRuns,
  unfinishedRunsOf,
} from "./unfinished.ts";

/** Continue or roll back every unfinished environment run in the journal (read under the lock). */
export async function resume(ctx: RunContext): Promise<RotationResult> {
  return withState(ctx, undefined, async (held, session) =>
    resumeHeld(held, session.journal, unfinishedRunsOf(await session.readJournal())),
  );
}

async function resumeHeld(ctx: RunContext, journal: Journal, runs: RunState[]): Promise<RotationResult> {
  const { now } = runClock(ctx);
  const startedAt = now().toISOString();
  const results: EnvironmentResult[] = [];
  const notices = runNotices(ctx, "resume", runs[0]?.runId ?? "none");
  try {
    const sudo: SudoKeeper = { ensure: () => Promise.resolve(), invalidate: () => {} };
    if (runs.length > 0) notices.started(runs.map((r) => r.environment));
    for (const run of runs) {
      if (ctx.signal?.aborted) {
        results.push({
          environment: run.environment,
          outcome: "interrupted",
          runId: run.runId,
          revoked: [],
          steps: [],
          error: `not resumed: ${describe(ctx.signal.reason)}`,
          advice: "Run `ftr resume` again",
        });
        continue;
      }
      const env = ctx.config.environments.find((e) => e.name === run.environment);
      if (!env) {
        results.push({
          environment: run.environment,
          outcome: "failed",
          runId: run.runId,
          revoked: [],
          steps: [],
          error: `run ${run.runId} of environment "${run.environment}" is unfinished, but the config no longer has that environment`,
          advice: "Restore the environment in the config and run `ftr resume` again",
        });
        continue;
      }
      const result = await continueRun(ctx, env, run, journal, sudo);
      results.push(result);
      notices.environment(result);
    }
  } catch (error) {
    await notices.flush();
    throw error;
  }
  await journal.flush();
  const result = finishResult(results[0]?.runId ?? "none", startedAt, now, results);
  // Resume succeeds when every run reached a consistent end: rotated, or rolled back.
  return notices.finished({
    ...result,
    ok: results.every(
      (e) => e.outcome === "rotated" || e.outcome === "rolled-back" || e.outcome === "kept-old",
    ),
  });
}

/** Pick up one run from its last durable step. */
async function continueRun(
  ctx: RunContext,
  env: EnvironmentConfig,
  run: RunState,
  journal: Journal,
  sudo: SudoKeeper,
): Promise<EnvironmentResult> {
  const r = new EnvironmentRun({
    ctx,
    env,
    runId: run.runId,
    journal,
    sudo,
    adapters: await adaptersFor(ctx, env),
    tokens: {
      newTokenId: run.newTokenId,
      deployedTokenId: run.deployedTokenId,
      oldTokenIds: run.oldTokenIds,
      tokenName: run.tokenName ?? env.token.name,
    },
  });
  const done = run.done;
  const began = (step: string) => run.records.some((x) => x.step === step);
  // A store that cannot be read back is rolled back only when its write changed nothing.
  const writeOnly = r.store.readBack === false;
  // An `ftr rollback` run never promotes, but its restore may have begun: it always restores.
  const promoted = (done.has("promote") || began("promote") || run.rollbackOf !== undefined) && !writeOnly;

  if (began("rollback") || run.rollbackOf !== undefined) {
    return r.rollback(new Error("an interrupted rollback was resumed"), promoted, run.last.step);
  }

  if (!done.has("mint")) {
    // The create may have happened without its answer being journaled: then it is found and revoked.
    return r.abandonMint(began("mint") && run.mintBeganAt ? new Date(run.mintBeganAt) : undefined);
  }

  if (!done.has("stage")) {
    const staged = began("stage") ? await r.store.readStaged(run.runId) : undefined;
    registerSecret(staged);
    if (staged === undefined) {
      // The value lived only in memory: the token is unusable, so it is revoked.
      return r.rollback(
        new Error("the run was interrupted before the new token was stored"),
        false,
        run.last.step,
      );
    }
  }

  try {
    // A write to a store that cannot be read back, begun and never answered: its value was only in
    // memory, so it cannot be written again; whether it landed, the verifiers tell.
    if (!done.has("promote") && !(writeOnly && began("promote"))) await r.promote();
  } catch (error) {
    return r.rollback(error, !nothingWritten(error), "promote");
  }

  if (!done.has("verify")) {
    try {
      // Reload again: whether the consumer restarted before the crash is unknown.
      await r.reloadAndVerify();
    } catch (error) {
      return writeOnly
        ? r.leaveForPerson(error, !done.has("promote") && began("promote"))
        : r.rollback(error, true, "verify");
    }
  }
  return r.revokeAndProve();
}

/** What `rollbackLast` did: the result of the rollback run, and the run it undid. */
export interface RollbackResult extends RotationResult {
  /** The rotation run that was undone (or that the rollback tried to undo). */
  readonly rollbackOf: string;
}

/** Options of `rollbackLast`. */
export interface RollbackOptions extends RunContext {
  readonly environment: string;
}

/**
 * Undo the last completed rotation of one environment: restore the previous secret, reload, check
 * the old token is in use again, revoke the new one. Only while the old token still lives.
 */
export async function rollbackLast(options: RollbackOptions): Promise<RollbackResult> {
  const env = options.config.environments.find((e) => e.name === options.environment);
  if (!env) throw new RollbackError(`no environment named "${options.environment}" in the config`);
  // The lock first: the journal read and the checks below hold only while nobody else can write.
  return withState(options, undefined, async (held, session) =>
    rollbackHeld({ ...options, ...held }, env, session.journal, await session.readJournal()),
  );
}

async function rollbackHeld(
  options: RollbackOptions,
  env: EnvironmentConfig,
  journal: Journal,
  records: readonly JournalRecord[],
): Promise<RollbackResult> {
  const { now } = runClock(options);
  const startedAt = now().toISOString();
  const runs = runStates(records).filter((r) => r.environment === env.name);
  const unfinished = runs.filter((r) => !r.finished);
  if (unfinished.length > 0) {
    throw new RollbackError(
      `run ${unfinished[0]?.runId ?? ""} of ${env.name} is unfinished (stopped at ${unfinished[0]?.last.step ?? "?"}); run \`${resumeHint(options.config)}\` first`,
    );
  }
  const last = [...runs].reverse().find((r) => r.outcome === "rotated" || r.outcome === "kept-old");
  if (!last?.newTokenId)
    throw new RollbackError(`the journal has no completed rotation of ${env.name} to undo`);
  const undone = runs.find((r) => r.rollbackOf === last.runId && r.outcome === "rolled-back");
  if (undone) {
    throw new AlreadyRolledBack(
      `the last rotation of ${env.name} (run ${last.runId}) was already undone by run ${undone.runId}; nothing to roll back`,
    );
  }
  const adapters = await adaptersFor(options, env);
  if (adapters.store.readBack === false) {
    throw new RollbackError(
      `${adapters.store.description} cannot be read back, so the value before run ${last.runId} was never known and cannot be put back; rotate again instead (ftr rotate --force --env ${env.name})`,
    );
  }
  if (!last.deployedTokenId) {
    throw new RollbackError(`the last rotation of ${env.name} had no previous token to go back to`);
  }
  try {
    await options.client.getAutomationToken(last.deployedTokenId);
  } catch (error) {
    if (error instanceof FastlyNotFoundError) {
      throw new RollbackError(
        `the previous token ${last.deployedTokenId} of ${env.name} was revoked, so there is nothing to go back to; rotate again instead (ftr rotate --force --env ${env.name})`,
      );
    }
    throw error;
  }
  const runId = newRunId(now());
  const notices = runNotices(options, "rollback", runId);
  let outcome: RollbackResult;
  try {
    const r = new EnvironmentRun({
      ctx: options,
      env,
      runId,
      journal,
      sudo: { ensure: () => Promise.resolve(), invalidate: () => {} },
      adapters,
      tokens: {
        newTokenId: last.newTokenId,
        deployedTokenId: last.deployedTokenId,
        // A rollback revokes no old token: the token it takes out of use is the new one, which
        // its own steps name (rollback-verify, revoke-new).
        oldTokenIds: [],
        tokenName: last.tokenName ?? env.token.name,
      },
    });
    notices.started([env.name]);
    r.startRollbackOf(last.runId);
    const cause = new Error(`requested rollback of run ${last.runId}`);
    const undone = await r.rollback(cause, true);
    // Here a rollback is the success: no "failed" step to report and no cause to fix. When it
    // fails, say what failed, without the "start failed (requested rollback…)" a rotation's
    // rollback would begin with.
    const { error, advice: _advice, ...rolledBack } = undone;
    const prefix = `start failed (${cause.message}); `;
    const result =
      undone.outcome === "rolled-back"
        ? rolledBack
        : error?.startsWith(prefix)
          ? {
              ...undone,
              error: error
                .slice(prefix.length)
                .replace(/^the rollback then failed too/, "the rollback failed"),
            }
          : undone;
    notices.environment(result);
    outcome = {
      ...finishResult(r.runId, startedAt, now, [result]),
      ok: result.outcome === "rolled-back",
      rollbackOf: last.runId,
    };
  } catch (error) {
    await notices.flush();
    throw error;
  }
  await journal.flush();
  return notices.finished(outcome);
}

/** `rollback` cannot be done; the message says why and what to do instead. */
export class RollbackError extends Error {
  override readonly name: string = "RollbackError";
}

/** The rotation was undone already: a repeated `ftr rollback` has nothing to do (not a failure). */
export class AlreadyRolledBack extends RollbackError {
  override readonly name = "AlreadyRolledBack";
}

/** What `abandonRun` marked finished. */
export interface AbandonedRun {
  readonly runId: string;
  readonly environment: string;
  readonly newTokenId?: string;
  readonly oldTokenIds: readonly string[];
}

/**
 * Journal each of `runs` as finished (outcome `failed`, abandoned) without acting: for a run ftr
 * cannot settle by itself, once a person has. Nothing is revoked or restored. The caller holds the
 * lock and flushes the journal.
 */
export function abandonRun(journal: Journal, runs: readonly RunState[]): AbandonedRun[] {
  return runs.map((run) => {
    journal.append({
      runId: run.runId,
      environment: run.environment,
      step: "finish",
      status: "done",
      outcome: "failed",
      detail: `abandoned with ftr resume --abandon at ${run.last.step} (${run.last.status}): nothing was revoked or restored`,
    });
    return {
      runId: run.runId,
      environment: run.environment,
      ...(run.newTokenId ? { newTokenId: run.newTokenId } : {}),
      oldTokenIds: run.oldTokenIds,
    };
  });
}
