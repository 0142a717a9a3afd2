/**
 * The lock of a state directory: one holder, always.
 *
 * The lock file appears with its whole content at once: the record is written and fsynced to a
 * private temp file, then `link()`ed to `lock`, which fails with EEXIST atomically when the lock
 * exists. (Creating `lock` with O_EXCL and writing the PID afterwards leaves a moment when another
 * process reads an empty lock, calls it stale and takes it too.) `proper-lockfile` was the other
 * choice; it judges staleness by mtime, so a long reload or a suspended laptop would let a second
 * run in while the first lives, and a dead holder blocks until the timeout.
 *
 * A lock is stale only when its holder is gone: same host, and the PID is not alive, or it is alive
 * but started at another time (the PID was reused, e.g. PID 1 of a new container). A holder on
 * another host is never called stale: ftr cannot see its processes.
 *
 * Taking over a stale lock is itself a race (two processes see it stale, one removes it and takes
 * the lock, the other removes the new lock). So a stale lock is removed only by the process that
 * creates `lock.break-<id>` for that lock's unique id (again with `link()`), after checking that the
 * lock still holds that id. A breaker that dies in between leaves a marker naming a dead process,
 * which is broken the same way.
 */
import { createHash, randomBytes } from "node:crypto";
import {
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  linkSync,
  openSync,
  readFileSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { hostname } from "node:os";
import { basename, dirname, join } from "node:path";
import { onHardExit } from "../util/interrupt.ts";
import { formatTime } from "../util/time.ts";
import { checkStateDir, ensureStateDir, UnsafeStateDirError } from "./state-dir.ts";

/** What the lock file holds (JSON). */
export interface LockRecord {
  readonly v: 1;
  /** Unique per acquisition: tells this lock apart from a later one by the same PID. */
  readonly id: string;
  readonly pid: number;
  readonly host: string;
  /** When the lock was taken (ISO 8601). */
  readonly startedAt: string;
  /**
   * When the process started, as `<boot id>/<clock ticks since boot>` from /proc (Linux); absent
   * elsewhere, where only the PID is checked.
   */
  readonly processStart?: string;
  /** The run that holds the lock, when known. */
  readonly runId?: string;
}

/** What is known of whoever holds the lock. */
type Holder =
  | { readonly kind: "record"; readonly record: LockRecord; readonly raw: string }
  /** A lock written by an older version: the PID only. */
  | { readonly kind: "legacy"; readonly pid: number; readonly raw: string }
  | { readonly kind: "unreadable"; readonly raw: string };

/** Another run holds the state directory. */
export class LockedError extends Error {
  override readonly name = "LockedError";
  /** The lock file. */
  readonly path: string;
  /** The holder's PID (0 when the lock cannot be read). */
  readonly pid: number;
  /** The holder's host, when the lock says so. */
  readonly host?: string;
  constructor(path: string, message: string, pid: number, host?: string) {
    super(message);
    this.path = path;
    this.pid = pid;
    if (host !== undefined) this.host = host;
  }
}

/** Options of `acquireLock`. */
export interface LockOptions {
  /** Recorded in the lock, for the person who finds it. */
  readonly runId?: string;
  /**
   * Waits `ms` between two attempts on a lock another process may be breaking. Default: blocks the
   * thread that long (acquisition is synchronous).
   */
  readonly pause?: (ms: number) => void;
}

const ATTEMPTS = 50;

/** Ids of the locks this process holds: a lock naming this PID but not listed here is an earlier process's. */
const held = new Set<string>();

/**
 * Takes the lock of `stateDir` (creating the directory, 0700, and refusing an unsafe one), or throws
 * `LockedError` naming the live holder. Returns the function that releases it.
 */
export function acquireLock(stateDir: string, options: LockOptions = {}): () => void {
  ensureStateDir(stateDir);
  const path = lockPath(stateDir);
  const record: LockRecord = {
    v: 1,
    id: randomBytes(12).toString("hex"),
    pid: process.pid,
    host: hostname(),
    startedAt: new Date().toISOString(),
    ...optional("processStart", processStart(process.pid)),
    ...optional("runId", options.runId),
  };
  const temp = join(stateDir, `.lock.${record.id}.tmp`);
  const pause = options.pause ?? sleepSync;
  writeNew(temp, `${JSON.stringify(record)}\n`);
  try {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      if (tryLink(temp, path)) {
        held.add(record.id);
        // A second signal exits at once, without unwinding: the lock goes then too.
        const forget = onHardExit(() => release(path, record.id));
        return () => {
          forget();
          held.delete(record.id);
          release(path, record.id);
        };
      }
      const holder = readHolder(path);
      if (holder === undefined) continue; // released meanwhile: try again
      const refusal = refusalFor(path, holder);
      if (refusal) throw refusal;
      breakStale(path, holder, temp);
      // Another process may be breaking the same lock: let it finish before trying again.
      if (attempt > 0) pause(5 + Math.random() * 20);
    }
  } finally {
    unlinkQuietly(temp);
  }
  const holder = readHolder(path);
  throw (
    (holder && refusalFor(path, holder)) ??
    new LockedError(path, `could not take ${path}: other runs keep taking it; try again`, 0)
  );
}

/**
 * Throws `LockedError` when a live run (or one ftr cannot judge) holds the lock of `stateDir`, and
 * `UnsafeStateDirError` when the directory is unsafe; changes nothing. For a clear message before
 * any other check, since `acquireLock` is what actually excludes.
 */
export function assertUnlocked(stateDir: string): void {
  checkStateDir(stateDir);
  const path = lockPath(stateDir);
  const holder = readHolder(path);
  const refusal = holder && refusalFor(path, holder);
  if (refusal) throw refusal;
}

/** The lock file of a state directory. */
export function lockPath(stateDir: string): string {
  return join(stateDir, "lock");
}

/**
 * When the process `pid` started, as `<boot id>/<start time in clock ticks since boot>` (field 22
 * of /proc/<pid>/stat). Undefined off Linux or when /proc cannot be read.
 */
export function processStart(pid: number): string | undefined {
  if (process.platform !== "linux") return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 2 is the command name in parentheses and may itself hold spaces or parentheses.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = fields[22 - 3];
    const boot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    return ticks && /^\d+$/.test(ticks) ? `${boot}/${ticks}` : undefined;
  } catch {
    return undefined;
  }
}

/** The error to throw for a holder that is not gone, or undefined when the lock is stale. */
function refusalFor(path: string, holder: Holder): LockedError | undefined {
  if (holder.kind === "unreadable") {
    return new LockedError(
      path,
      `${path} is not a lock ftr can read; if no run is going on, remove it and run again`,
      0,
    );
  }
  if (holder.kind === "legacy") {
    // This process never wrote a PID-only lock: one naming our PID is an earlier process's.
    return holder.pid !== process.pid && isAlive(holder.pid)
      ? new LockedError(path, `another run (pid ${holder.pid}) is rotating; wait for it`, holder.pid)
      : undefined;
  }
  const { record } = holder;
  const started = formatTime(new Date(record.startedAt));
  if (record.host !== hostname()) {
    return new LockedError(
      path,
      `another run on host ${record.host} (pid ${record.pid}, started ${started}) holds ${path}; ftr cannot tell from here whether it still runs: wait for it, or remove the file once you know it has ended`,
      record.pid,
      record.host,
    );
  }
  if (!isAlive(record.pid)) return undefined;
  // Our own PID on a lock we do not hold: an earlier process had this PID (PID 1 of a replaced
  // container with the same hostname), which matters where there is no /proc to compare starts.
  if (record.pid === process.pid && !held.has(record.id)) return undefined;
  if (record.processStart !== undefined) {
    const now = processStart(record.pid);
    // The PID lives but belongs to another process: it was reused (a new container's PID 1...).
    if (now !== undefined && now !== record.processStart) return undefined;
  }
  return new LockedError(
    path,
    `another run (pid ${record.pid}, started ${started}) is rotating; wait for it`,
    record.pid,
    record.host,
  );
}

/**
 * Removes the stale lock `holder` from `path`, unless another process is already doing so. Only the
 * process that creates the marker for this lock's id removes it, and only while the lock still holds
 * that id, so a lock taken meanwhile by someone else is never removed.
 */
function breakStale(path: string, holder: Holder, ownTemp: string, depth = 0): void {
  const marker = `${path}.break-${identity(holder)}`;
  if (!tryLink(ownTemp, marker)) {
    const breaker = readHolder(marker);
    // A breaker died between creating its marker and removing it: break the marker first.
    if (breaker && depth < 3 && refusalFor(marker, breaker) === undefined) {
      breakStale(marker, breaker, ownTemp, depth + 1);
    }
    return;
  }
  try {
    const again = readHolder(path);
    if (again !== undefined && identity(again) === identity(holder)) unlinkSync(path);
  } finally {
    unlinkQuietly(marker);
  }
}

/** Releases the lock only if it is still this acquisition's. */
function release(path: string, id: string): void {
  try {
    const holder = readHolder(path);
    if (holder?.kind === "record" && holder.record.id === id) unlinkSync(path);
  } catch {
    // Already gone, or unreadable: nothing of ours to remove.
  }
}

/** What tells one lock apart from another at the same path. */
function identity(holder: Holder): string {
  // Hashed: it becomes part of a file name, and the record is not trusted to hold a safe one.
  const key = holder.kind === "record" ? `id:${holder.record.id}` : `raw:${holder.raw}`;
  return createHash("sha256").update(key).digest("hex").slice(0, 32);
}

/** The lock's holder, or undefined when there is no lock. Never follows a symbolic link. */
function readHolder(path: string): Holder | undefined {
  let raw: string;
  try {
    raw = readNoFollow(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  const text = raw.trim();
  if (/^\d+$/.test(text)) return { kind: "legacy", pid: Number(text), raw };
  try {
    const parsed: unknown = JSON.parse(text);
    if (isLockRecord(parsed)) return { kind: "record", record: parsed, raw };
  } catch {
    // Falls through to unreadable.
  }
  return { kind: "unreadable", raw };
}

function isLockRecord(value: unknown): value is LockRecord {
  if (typeof value !== "object" || value === null) return false;
  const r = value as Record<string, unknown>;
  return (
    r.v === 1 &&
    typeof r.id === "string" &&
    typeof r.pid === "number" &&
    Number.isInteger(r.pid) &&
    r.pid > 0 &&
    typeof r.host === "string" &&
    typeof r.startedAt === "string" &&
    (r.processStart === undefined || typeof r.processStart === "string")
  );
}

/**
 * Reads a file the way the state directory's files are read: never through a symbolic link, so a
 * link planted in place of the file is refused with a clear error instead of followed.
 */
export function readNoFollow(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    throw symlinkRefusal(path, error);
  }
  try {
    if (!fstatSync(fd).isFile()) throw new Error(`${path} is not a regular file; refusing to read it`);
    return readFileSync(fd, "utf8");
  } finally {
    closeSync(fd);
  }
}

/**
 * ELOOP from O_NOFOLLOW, said plainly as an unsafe state directory (one line, exit 2); any other
 * error unchanged.
 */
export function symlinkRefusal(path: string, error: unknown): unknown {
  if ((error as NodeJS.ErrnoException).code === "ELOOP") {
    return new UnsafeStateDirError(
      dirname(path),
      `holds a symbolic link at ${basename(path)}; ftr never follows links there: remove it`,
    );
  }
  return error;
}

/** Creates `path` (which must not exist, link or not) with `contents`, durably. */
function writeNew(path: string, contents: string): void {
  const fd = openSync(
    path,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o600,
  );
  try {
    writeSync(fd, contents);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** `link(from, to)`: true when made, false when `to` exists (atomically). */
function tryLink(from: string, to: string): boolean {
  try {
    linkSync(from, to);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone.
  }
}

/** Is there a process `pid` (one this user may not signal counts as alive)? */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return value === undefined ? {} : ({ [key]: value } as { [P in K]?: V });
}

/**
 * The live holder of the lock of `stateDir` as a `LockedError`, or undefined when nobody (alive)
 * holds it. Changes nothing; an unsafe directory throws `UnsafeStateDirError`.
 */
export function lockHolder(stateDir: string): LockedError | undefined {
  checkStateDir(stateDir);
  const path = lockPath(stateDir);
  const holder = readHolder(path);
  return (holder && refusalFor(path, holder)) || undefined;
}
