/**
 * The runs a journal holds unfinished, as every surface reports them (`status`, `check`, `serve`,
 * `resume`, `rotate`'s refusal). Only the journal's reader: `check` and `status` load this without
 * the rotation protocol (rotate.ts, resume.ts).
 */
import { readJournal, runStates, type JournalRecord, type RunState } from "./journal.ts";
import type { UnfinishedRun } from "../plan/plan.ts";
import type { StateBackend } from "./state/types.ts";

/** Runs of a state directory's journal that never reached `finish`, oldest first. */
export function unfinishedRuns(stateDir: string): RunState[] {
  return unfinishedRunsOf(readJournal(stateDir));
}

/** Runs that never reached `finish`, oldest first. */
export function unfinishedRunsOf(records: readonly JournalRecord[]): RunState[] {
  return runStates(records).filter((run) => !run.finished);
}

/** Unfinished runs as plain data; `running` when a live run holds the lock (it may be that run). */
export function describeUnfinished(runs: readonly RunState[], running = false): UnfinishedRun[] {
  return runs.map((run) => ({
    runId: run.runId,
    environment: run.environment,
    step: run.last.step,
    status: run.last.status,
    at: run.last.at,
    ...(isInterrupted(run.last) ? { interrupted: true } : {}),
    ...(running ? { running: true } : {}),
    ...(run.newTokenId ? { newTokenId: run.newTokenId } : {}),
    ...(run.deployedTokenId ? { deployedTokenId: run.deployedTokenId } : {}),
    ...optionalHolds(storeHolds(run)),
  }));
}

/** A step journaled `failed` because a signal stopped the run (its detail starts "interrupted by"). */
export function isInterrupted(record: { readonly status: string; readonly detail?: string }): boolean {
  return record.status === "failed" && (record.detail ?? "").startsWith("interrupted by ");
}

function optionalHolds(id: string | undefined): { storeHolds?: string } {
  return id === undefined ? {} : { storeHolds: id };
}

/** Which token the secret store holds, by the journal of an unfinished run (see `UnfinishedRun`). */
export function storeHolds(run: RunState): string | undefined {
  const begun = (step: string) => run.records.some((r) => r.step === step && r.status === "begin");
  if (run.done.has("restore")) return run.deployedTokenId;
  if (begun("restore")) return undefined;
  if (run.done.has("promote")) return run.newTokenId;
  if (begun("promote")) return undefined;
  return run.deployedTokenId;
}

/**
 * What every surface reports: the unfinished runs of a state backend, marked `running` when a live
 * run holds its lock. Reads only.
 */
export async function unfinishedIn(backend: StateBackend): Promise<UnfinishedRun[]> {
  const runs = unfinishedRunsOf(await backend.readJournal());
  if (runs.length === 0) return [];
  // A monitor may read state it cannot judge the lock of (another user's directory): not running.
  const holder = await backend.holder().catch(() => undefined);
  return describeUnfinished(runs, holder !== undefined);
}
