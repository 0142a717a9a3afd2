/**
 * The default state backend: a directory on this machine (created 0700, refused when others can
 * change it) holding `lock` (rotation/lock.ts) and `journal.jsonl` (rotation/journal.ts).
 */
import { openJournal, readJournal } from "../journal.ts";
import { acquireLock, lockHolder } from "../lock.ts";
import type { StateBackend, StateSession } from "./types.ts";

/** Rotation state in `dir`. */
export function directoryState(dir: string, now: () => Date = () => new Date()): StateBackend {
  return {
    description: `state directory ${dir}`,
    acquire(options = {}) {
      const release = acquireLock(dir, options.runId === undefined ? {} : { runId: options.runId });
      let journal;
      try {
        journal = openJournal(dir, now);
      } catch (error) {
        release();
        throw error;
      }
      const opened = journal;
      let released = false;
      const session: StateSession = {
        journal: opened,
        // A directory lock is never taken from a live holder.
        lost: new AbortController().signal,
        readJournal: () => Promise.resolve(readJournal(dir)),
        release() {
          if (released) return Promise.resolve();
          released = true;
          try {
            opened.close();
          } finally {
            release();
          }
          return Promise.resolve();
        },
      };
      return Promise.resolve(session);
    },
    readJournal: () => Promise.resolve(readJournal(dir)),
    holder() {
      const locked = lockHolder(dir);
      return Promise.resolve(locked ? { message: locked.message } : undefined);
    },
  };
}
