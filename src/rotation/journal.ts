/**
 * The journal: append-only JSON lines in the state directory, each flushed to disk (fsync) before
 * the side effect it announces, so after a crash or `kill -9` the last durable step of every
 * environment is known. It holds run ids, environments, steps, token ids and times; never a value.
 */
import { closeSync, constants, fsyncSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { redact } from "../util/redact.ts";
import { readNoFollow, symlinkRefusal } from "./lock.ts";
import { ensureStateDir } from "./state-dir.ts";

/** The steps of the protocol, in order, then the rollback steps. */
export type Step =
  | "start"
  | "mint"
  | "test"
  | "stage"
  | "promote"
  | "reload"
  | "verify"
  | "revoke"
  | "prove"
  | "rollback"
  | "restore"
  | "rollback-reload"
  | "rollback-verify"
  | "revoke-new"
  | "finish";

/** begin: about to act; done: acted; failed: the act failed (detail says why). */
export type StepStatus = "begin" | "done" | "failed";

/** How an environment's run ended. */
export type Outcome = "rotated" | "rolled-back" | "failed" | "kept-old" | "awaiting-approval";

/** One journal line. */
export interface JournalRecord {
  readonly v: 1;
  readonly runId: string;
  readonly environment: string;
  readonly step: Step;
  readonly status: StepStatus;
  readonly at: string;
  /** The token being introduced by this run. */
  readonly newTokenId?: string;
  /** The token deployed before this run. */
  readonly deployedTokenId?: string;
  /** Tokens this run revokes once the new one is verified. */
  readonly oldTokenIds?: readonly string[];
  /** With `finish`. */
  readonly outcome?: Outcome;
  /** The token name being minted (with `mint begin`, to find a token whose creation answer was lost). */
  readonly tokenName?: string;
  /** With the `start` of an `ftr rollback` run: the run whose rotation it undoes. */
  readonly rollbackOf?: string;
  /** One line, for people; redacted. */
  readonly detail?: string;
}

/** The journal file of a state directory. */
export function journalPath(stateDir: string): string {
  return join(stateDir, "journal.jsonl");
}

/**
 * An open journal. `append` returns the record as stored; a record is durable once a later `flush`
 * resolves (the directory journal fsyncs in `append` already; a remote one writes in `flush`).
 */
export interface Journal {
  /** Where the journal is, for messages. */
  readonly path: string;
  append(record: Omit<JournalRecord, "v" | "at"> & { at?: string }): JournalRecord;
  /** Resolves once every record appended so far is durable; rejects when it cannot be made so. */
  flush(): Promise<void>;
}

/** The directory journal: durable at each `append`; closed by its owner. */
export interface FileJournal extends Journal {
  close(): void;
}

/**
 * Open (creating) the journal of `stateDir` for appending. The directory is created 0700 and refused
 * when unsafe (`UnsafeStateDirError`); a symbolic link in place of the journal is refused, never
 * followed.
 */
export function openJournal(stateDir: string, now: () => Date = () => new Date()): FileJournal {
  ensureStateDir(stateDir);
  const path = journalPath(stateDir);
  let fd: number;
  try {
    fd = openSync(
      path,
      constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW,
      0o600,
    );
  } catch (error) {
    throw symlinkRefusal(path, error);
  }
  return {
    path,
    append(record) {
      const full: JournalRecord = {
        v: 1,
        ...record,
        at: record.at ?? now().toISOString(),
        ...(record.detail === undefined ? {} : { detail: redact(record.detail) }),
      };
      writeSync(fd, JSON.stringify(full) + "\n");
      fsyncSync(fd);
      return full;
    },
    flush() {
      return Promise.resolve();
    },
    close() {
      closeSync(fd);
    },
  };
}

/** Every record of the journal of `stateDir`; a torn last line (crash mid-write) is ignored. */
export function readJournal(stateDir: string): JournalRecord[] {
  return parseJournal(readJournalText(stateDir));
}

/** The journal file's text, `""` when there is none. */
function readJournalText(stateDir: string): string {
  // Reading is not refused in an unsafe directory (a monitor may read a directory it does not own);
  // every command that writes checks it first.
  const path = journalPath(stateDir);
  let text: string;
  try {
    text = readNoFollow(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return "";
    throw error;
  }
  return text;
}

/** JSON lines to records; a torn line (a crash mid-write) and anything not a record are ignored. */
export function parseJournal(text: string): JournalRecord[] {
  const records: JournalRecord[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    try {
      const parsed = JSON.parse(line) as JournalRecord;
      if (parsed.v === 1 && typeof parsed.runId === "string") records.push(parsed);
    } catch {
      // A line cut short by a crash: the step it announced never began.
    }
  }
  return records;
}

/** The records of one environment's run, grouped. */
export interface RunState {
  readonly runId: string;
  readonly environment: string;
  readonly records: readonly JournalRecord[];
  /** The last record. */
  readonly last: JournalRecord;
  readonly finished: boolean;
  readonly outcome?: Outcome;
  readonly newTokenId?: string;
  readonly deployedTokenId?: string;
  readonly oldTokenIds: readonly string[];
  readonly tokenName?: string;
  /** Steps with a `done` record. */
  readonly done: ReadonlySet<Step>;
  /** When `mint` began. */
  readonly mintBeganAt?: string;
  /** When `promote` was done. */
  readonly promotedAt?: string;
  /** For an `ftr rollback` run: the run it undoes. */
  readonly rollbackOf?: string;
}

/** Group records into per-environment runs, in journal order. */
export function runStates(records: readonly JournalRecord[]): RunState[] {
  const byKey = new Map<string, [JournalRecord, ...JournalRecord[]]>();
  for (const r of records) {
    const key = `${r.runId}\u0000${r.environment}`;
    const list = byKey.get(key);
    if (list) list.push(r);
    else byKey.set(key, [r]);
  }
  return [...byKey.values()].map((list) => {
    const [first] = list;
    const last = list[list.length - 1] ?? first;
    const pick = <K extends keyof JournalRecord>(key: K): JournalRecord[K] | undefined => {
      for (let i = list.length - 1; i >= 0; i--) {
        const value = list[i]?.[key];
        if (value !== undefined) return value;
      }
      return undefined;
    };
    const finish = list.find((r) => r.step === "finish");
    const newTokenId = pick("newTokenId");
    const deployedTokenId = pick("deployedTokenId");
    const tokenName = pick("tokenName");
    const outcome = finish?.outcome;
    const mintBeganAt = list.find((r) => r.step === "mint" && r.status === "begin")?.at;
    const promotedAt = list.find((r) => r.step === "promote" && r.status === "done")?.at;
    const rollbackOf = pick("rollbackOf");
    return {
      runId: first.runId,
      environment: first.environment,
      records: list,
      last,
      finished: finish !== undefined,
      oldTokenIds: pick("oldTokenIds") ?? [],
      done: new Set(list.filter((r) => r.status === "done").map((r) => r.step)),
      ...(outcome ? { outcome } : {}),
      ...(newTokenId ? { newTokenId } : {}),
      ...(deployedTokenId ? { deployedTokenId } : {}),
      ...(tokenName ? { tokenName } : {}),
      ...(mintBeganAt ? { mintBeganAt } : {}),
      ...(promotedAt ? { promotedAt } : {}),
      ...(rollbackOf ? { rollbackOf } : {}),
    };
  });
}

/** The last finished run per environment (for `serve`'s last-rotation metric and `rollback`). */
export function lastRotations(stateDir: string): LastRotation[] {
  return lastRotationsOf(readJournal(stateDir));
}

/** How an environment's last finished run ended. */
export interface LastRotation {
  readonly environment: string;
  readonly runId: string;
  readonly outcome: Outcome;
  readonly at: string;
  readonly newTokenId?: string;
}

/** The last finished run per environment, from records. */
export function lastRotationsOf(records: readonly JournalRecord[]): LastRotation[] {
  const latest = new Map<
    string,
    { environment: string; runId: string; outcome: Outcome; at: string; newTokenId?: string }
  >();
  for (const run of runStates(records)) {
    // An environment left for approval was not rotated: it is no rotation's result.
    if (!run.finished || !run.outcome || run.outcome === "awaiting-approval") continue;
    latest.set(run.environment, {
      environment: run.environment,
      runId: run.runId,
      outcome: run.outcome,
      at: run.last.at,
      ...(run.newTokenId ? { newTokenId: run.newTokenId } : {}),
    });
  }
  return [...latest.values()];
}

export { acquireLock, assertUnlocked, LockedError, type LockOptions } from "./lock.ts";
export { UnsafeStateDirError } from "./state-dir.ts";

/**
 * Environments an unattended run left for approval, and when, that no run has rotated (or tried to)
 * since: the newest finished run of the environment is the one that left it.
 */
export function awaitingApprovalOf(
  records: readonly JournalRecord[],
): { environment: string; at: string; runId: string }[] {
  const latest = new Map<string, RunState>();
  for (const run of runStates(records)) if (run.finished) latest.set(run.environment, run);
  return [...latest.values()]
    .filter((r) => r.outcome === "awaiting-approval")
    .map((r) => ({ environment: r.environment, at: r.last.at, runId: r.runId }));
}
