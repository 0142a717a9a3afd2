/**
 * Where rotation state lives: the lock (one run per environment set at a time, wherever it runs) and
 * the journal (every step, durable before its side effect). Two backends implement it: a directory
 * on this machine (the default) and Kubernetes (a Lease and a Secret or ConfigMap), so that a
 * rotation run as a Job has state that outlives the Job.
 */
import type { Journal, JournalRecord } from "../journal.ts";

export type { Journal };

/** A held lock and its journal. */
export interface StateSession {
  readonly journal: Journal;
  /** Aborted when the lock is lost (a Lease taken over after it expired): the run must stop. */
  readonly lost: AbortSignal;
  /** Every journal record, as durable now (read under the lock: the truth for planning). */
  readJournal(): Promise<JournalRecord[]>;
  /** Flushes the journal and releases the lock. Never throws for a lock already gone. */
  release(): Promise<void>;
}

/** Who holds a lock, for the one line that names them. */
export interface LockHolder {
  /** "another run (pid 4242, started …) is rotating; wait for it" and the like. */
  readonly message: string;
}

/** One place where rotation state lives. */
export interface StateBackend {
  /** For messages: `state directory /srv/.ftr-state`, `Kubernetes Lease monitoring/ftr-state`. */
  readonly description: string;
  /**
   * Takes the lock, or throws `LockedError` naming the live holder. The journal can be read and
   * appended while the session is held.
   */
  acquire(options?: { readonly runId?: string; readonly signal?: AbortSignal }): Promise<StateSession>;
  /** Every journal record (reading takes no lock; a torn last record is ignored). */
  readJournal(): Promise<JournalRecord[]>;
  /** The live holder of the lock, or undefined when nobody (alive) holds it. Changes nothing. */
  holder(): Promise<LockHolder | undefined>;
}
