/**
 * The lock in one process, against real files: each kind of holder (a record, a PID-only lock of an
 * older version, an unreadable file, another host), which ones are stale, the marker that lets one
 * process break a stale lock, release, and the read that never follows a link. The races between
 * processes are in test/security/lock.test.ts.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  acquireLock,
  assertUnlocked,
  isAlive,
  LockedError,
  lockHolder,
  lockPath,
  processStart,
  readNoFollow,
  symlinkRefusal,
} from "./lock.ts";
import { UnsafeStateDirError } from "./state-dir.ts";

const stateDir = () => mkdtempSync(join(tmpdir(), "ftr-lock-unit-"));

/** A PID above any pid_max: certainly not alive. */
const DEAD = 999_999_999;

function record(fields: Record<string, unknown>): string {
  return `${JSON.stringify({
    v: 1,
    id: "other-id",
    pid: process.ppid,
    host: hostname(),
    startedAt: "2026-11-29T10:00:00.000Z",
    ...fields,
  })}\n`;
}

/** The marker a breaker of the lock holding `raw` (not a record) creates, as the design names it. */
function markerNames(raw: string): string[] {
  return [`lock.break-${createHash("sha256").update(`raw:${raw}`).digest("hex").slice(0, 32)}`];
}

function lockedBy(pattern: RegExp, pid?: number) {
  return (error: unknown) => {
    assert.ok(error instanceof LockedError, String(error));
    assert.match(error.message, pattern);
    if (pid !== undefined) assert.equal(error.pid, pid);
    return true;
  };
}

test("a free lock is taken with a complete record, 0600, and released; nothing else is left", () => {
  const dir = stateDir();
  const release = acquireLock(dir, { runId: "20261129T100000Z-abc" });
  const held = JSON.parse(readFileSync(lockPath(dir), "utf8")) as Record<string, unknown>;
  assert.equal(held.v, 1);
  assert.equal(held.pid, process.pid);
  assert.equal(held.host, hostname());
  assert.equal(held.runId, "20261129T100000Z-abc");
  assert.match(String(held.id), /^[0-9a-f]{24}$/);
  assert.ok(Math.abs(Date.parse(String(held.startedAt)) - Date.now()) < 24 * 3600_000);
  if (process.platform === "linux") assert.equal(held.processStart, processStart(process.pid));
  assert.deepEqual(readdirSync(dir), ["lock"]);
  // Held by this process: a second acquisition in it is refused too.
  assert.throws(
    () => acquireLock(dir),
    lockedBy(/another run \(pid \d+, started .*\) is rotating/, process.pid),
  );
  assert.throws(() => assertUnlocked(dir), LockedError);
  assert.ok(lockHolder(dir) instanceof LockedError);
  release();
  assert.deepEqual(readdirSync(dir), []);
  assert.equal(lockHolder(dir), undefined);
  assertUnlocked(dir);
  // Without a run id, none is recorded.
  const again = acquireLock(dir);
  assert.equal("runId" in JSON.parse(readFileSync(lockPath(dir), "utf8")), false);
  again();
});

test("release removes only this acquisition's lock", () => {
  const dir = stateDir();
  const release = acquireLock(dir);
  // The lock was replaced meanwhile (broken as stale by someone who then took it).
  writeFileSync(lockPath(dir), record({ id: "someone-else" }));
  release();
  assert.match(readFileSync(lockPath(dir), "utf8"), /someone-else/);
  // A legacy or unreadable lock in its place is left too.
  for (const content of [`${process.pid}\n`, "garbage"]) {
    const dir2 = stateDir();
    const release2 = acquireLock(dir2);
    writeFileSync(lockPath(dir2), content);
    release2();
    assert.equal(readFileSync(lockPath(dir2), "utf8"), content);
  }
  // Already gone: release is quiet.
  const dir3 = stateDir();
  const release3 = acquireLock(dir3);
  release3();
  release3();
});

test("a live holder on this host blocks, named with its pid and start; the lock is untouched", () => {
  const dir = stateDir();
  const content = record({ pid: process.ppid });
  writeFileSync(lockPath(dir), content);
  const refusal = lockedBy(
    /^another run \(pid \d+, started 2026-11-29T10:00:00Z\) is rotating; wait for it$/,
    process.ppid,
  );
  assert.throws(() => acquireLock(dir), refusal);
  assert.throws(() => assertUnlocked(dir), refusal);
  const holder = lockHolder(dir);
  assert.ok(holder instanceof LockedError);
  assert.equal(holder.host, hostname());
  assert.equal(holder.path, lockPath(dir));
  assert.equal(readFileSync(lockPath(dir), "utf8"), content);
  assert.deepEqual(readdirSync(dir), ["lock"]);
});

test("a holder on another host is never called stale, even with a dead PID", () => {
  const dir = stateDir();
  writeFileSync(lockPath(dir), record({ pid: DEAD, host: "elsewhere.example" }));
  const refusal = lockedBy(
    /^another run on host elsewhere\.example \(pid 999999999, started 2026-11-29T10:00:00Z\) holds .*lock; ftr cannot tell/,
    DEAD,
  );
  assert.throws(() => acquireLock(dir), refusal);
  const holder = lockHolder(dir);
  assert.equal(holder?.host, "elsewhere.example");
  assert.match(readFileSync(lockPath(dir), "utf8"), /elsewhere/);
});

test("a dead holder's lock is stale: taken over, and no marker or temp file is left", () => {
  for (const content of [record({ pid: DEAD }), `${DEAD}\n`, record({ pid: DEAD, processStart: "boot/1" })]) {
    const dir = stateDir();
    writeFileSync(lockPath(dir), content);
    assert.equal(lockHolder(dir), undefined);
    assertUnlocked(dir);
    const release = acquireLock(dir);
    assert.match(readFileSync(lockPath(dir), "utf8"), new RegExp(`"pid":${process.pid},`));
    assert.deepEqual(readdirSync(dir), ["lock"]);
    release();
    assert.deepEqual(readdirSync(dir), []);
  }
});

test("a PID-only lock of a live process blocks; one naming this process is an earlier one's", () => {
  const dir = stateDir();
  writeFileSync(lockPath(dir), ` ${process.ppid}\n`);
  assert.throws(
    () => acquireLock(dir),
    lockedBy(new RegExp(`^another run \\(pid ${process.ppid}\\) is rotating; wait for it$`), process.ppid),
  );
  assert.equal(lockHolder(dir)?.pid, process.ppid);
  writeFileSync(lockPath(dir), `${process.pid}`);
  assert.equal(lockHolder(dir), undefined);
  acquireLock(dir)();
});

test("a record naming this process's PID that this process does not hold is an earlier one's", () => {
  const dir = stateDir();
  writeFileSync(lockPath(dir), record({ pid: process.pid, id: "earlier" }));
  assert.equal(lockHolder(dir), undefined);
  const release = acquireLock(dir);
  assert.doesNotMatch(readFileSync(lockPath(dir), "utf8"), /earlier/);
  release();
});

test(
  "a live PID with another start time was reused; the same start, or none recorded, blocks",
  { skip: process.platform !== "linux" && "reads /proc (Linux)" },
  () => {
    const start = processStart(process.ppid);
    assert.ok(start);
    const dir = stateDir();
    writeFileSync(lockPath(dir), record({ processStart: start }));
    assert.throws(() => acquireLock(dir), LockedError);
    writeFileSync(lockPath(dir), record({}));
    assert.throws(() => acquireLock(dir), LockedError);
    writeFileSync(lockPath(dir), record({ processStart: `${start}0` }));
    assert.equal(lockHolder(dir), undefined);
    acquireLock(dir)();
  },
);

test("a lock ftr cannot read blocks with advice, and is never removed", () => {
  const values = [
    "",
    "not json",
    "null",
    "[]",
    "42.5",
    "-3",
    JSON.stringify({ v: 2, id: "x", pid: process.ppid, host: hostname(), startedAt: "x" }),
    JSON.stringify({ v: 1, pid: process.ppid, host: hostname(), startedAt: "x" }),
    JSON.stringify({ v: 1, id: "x", pid: String(process.ppid), host: hostname(), startedAt: "x" }),
    JSON.stringify({ v: 1, id: "x", pid: 1.5, host: hostname(), startedAt: "x" }),
    JSON.stringify({ v: 1, id: "x", pid: 0, host: hostname(), startedAt: "x" }),
    JSON.stringify({ v: 1, id: "x", pid: -1, host: hostname(), startedAt: "x" }),
    JSON.stringify({ v: 1, id: "x", pid: DEAD, host: 7, startedAt: "x" }),
    JSON.stringify({ v: 1, id: "x", pid: DEAD, host: hostname(), startedAt: 1 }),
    JSON.stringify({ v: 1, id: "x", pid: DEAD, host: hostname(), startedAt: "x", processStart: 5 }),
  ];
  for (const content of values) {
    const dir = stateDir();
    writeFileSync(lockPath(dir), content);
    const refusal = lockedBy(
      /is not a lock ftr can read; if no run is going on, remove it and run again$/,
      0,
    );
    assert.throws(() => acquireLock(dir), refusal, content);
    assert.throws(() => assertUnlocked(dir), refusal, content);
    assert.equal(readFileSync(lockPath(dir), "utf8"), content);
    assert.deepEqual(readdirSync(dir), ["lock"], content);
  }
});

test("a breaker that died leaves a marker naming it, which is broken in turn", () => {
  // A stale lock, and the marker of a breaker that died before removing it (a hard link of that
  // breaker's own lock record): taken all the same.
  const dir2 = stateDir();
  writeFileSync(lockPath(dir2), `${DEAD}\n`);
  const dead = join(dir2, "dead-breaker");
  writeFileSync(dead, record({ pid: DEAD, id: "dead-breaker" }));
  for (const name of markerNames(`${DEAD}\n`)) linkSync(dead, join(dir2, name));
  const release = acquireLock(dir2);
  assert.match(readFileSync(lockPath(dir2), "utf8"), new RegExp(`"pid":${process.pid},`));
  release();
  assert.deepEqual(
    readdirSync(dir2).filter((n) => n.startsWith("lock")),
    [],
  );
});

test("a live breaker's marker keeps the stale lock: the taker gives up, naming no holder", () => {
  const dir = stateDir();
  writeFileSync(lockPath(dir), `${DEAD}\n`);
  const live = join(dir, "live-breaker");
  writeFileSync(live, record({ pid: process.ppid, id: "live-breaker" }));
  for (const name of markerNames(`${DEAD}\n`)) linkSync(live, join(dir, name));
  assert.throws(
    () => acquireLock(dir),
    lockedBy(/^could not take .*lock: other runs keep taking it; try again$/, 0),
  );
  assert.equal(readFileSync(lockPath(dir), "utf8"), `${DEAD}\n`);
  assert.equal(existsSync(live), true);
  assert.deepEqual(
    readdirSync(dir).filter((n) => n.startsWith(".lock.")),
    [],
  );
});

test("the lock is read without following a link, and only when it is a regular file", () => {
  const dir = stateDir();
  writeFileSync(join(dir, "target"), `${process.ppid}\n`);
  symlinkSync(join(dir, "target"), lockPath(dir));
  assert.throws(
    () => acquireLock(dir),
    (error: unknown) =>
      error instanceof UnsafeStateDirError &&
      /holds a symbolic link at lock; ftr never follows links there: remove it/.test(error.message),
  );
  assert.throws(() => readNoFollow(lockPath(dir)), UnsafeStateDirError);
  const dir2 = stateDir();
  mkdirSync(lockPath(dir2));
  assert.throws(() => readNoFollow(lockPath(dir2)), /is not a regular file; refusing to read it/);
  assert.throws(() => assertUnlocked(dir2), /is not a regular file/);
  // Other errors pass through unchanged.
  const missing = new Error("gone") as NodeJS.ErrnoException;
  missing.code = "ENOENT";
  assert.equal(symlinkRefusal("/x/lock", missing), missing);
  assert.throws(() => readNoFollow(join(dir2, "absent")), { code: "ENOENT" });
});

test("isAlive: this process is, a PID above pid_max is not, one this user may not signal is", () => {
  assert.equal(isAlive(process.pid), true);
  assert.equal(isAlive(DEAD), false);
  if (process.getuid?.() !== 0) assert.equal(isAlive(1), true);
});

test(
  "processStart reads /proc: the boot id and the start in ticks; none for a missing PID",
  { skip: process.platform !== "linux" && "reads /proc (Linux)" },
  () => {
    const boot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    const stat = readFileSync(`/proc/${process.pid}/stat`, "utf8");
    const ticks = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
    assert.equal(processStart(process.pid), `${boot}/${ticks}`);
    assert.equal(processStart(DEAD), undefined);
  },
);
