/**
 * The lock in one process, the cases `lock.test.ts` leaves out: which acquisitions this process
 * holds (and forgets on release), the holder's host on each refusal, the hard-exit clean-up, the
 * state directory checked before the lock is read, and PID-only locks that are not numbers.
 */
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { runHardExitCleanups } from "../util/interrupt.ts";
import { acquireLock, assertUnlocked, LockedError, lockHolder, lockPath } from "./lock.ts";
import { UnsafeStateDirError } from "./state-dir.ts";

const stateDir = () => mkdtempSync(join(tmpdir(), "ftr-lock-holder-"));

test("an acquisition is this process's until released: its record, written back after, is an earlier one's", () => {
  const dir = stateDir();
  const release = acquireLock(dir);
  const content = readFileSync(lockPath(dir), "utf8");
  const holder = lockHolder(dir);
  assert.ok(holder instanceof LockedError);
  assert.equal(holder.pid, process.pid);
  assert.equal(holder.host, hostname());
  release();
  writeFileSync(lockPath(dir), content);
  assert.equal(lockHolder(dir), undefined);
  assertUnlocked(dir);
  acquireLock(dir)();
});

test("a PID-only refusal names no host", () => {
  const dir = stateDir();
  writeFileSync(lockPath(dir), `${process.ppid}\n`);
  const legacy = lockHolder(dir);
  assert.ok(legacy instanceof LockedError);
  assert.equal(legacy.host, undefined);
  assert.equal(legacy.name, "LockedError");
  assert.equal(legacy.path, lockPath(dir));
});

test("what is not a whole number is no PID-only lock", () => {
  for (const content of ["12abc", "abc12", "1 2", "0x1F"]) {
    const dir = stateDir();
    writeFileSync(lockPath(dir), content);
    assert.throws(() => assertUnlocked(dir), /is not a lock ftr can read/, content);
  }
});

test("a hard exit releases the lock; a released one's clean-up leaves the next lock alone", () => {
  const dir = stateDir();
  acquireLock(dir);
  runHardExitCleanups();
  assert.deepEqual(readdirSync(dir), []);
  const first = acquireLock(dir);
  first();
  const second = acquireLock(dir);
  runHardExitCleanups();
  assert.deepEqual(readdirSync(dir), []);
  second();
});

test("the state directory is made private, and one others may write is refused before the lock is read", () => {
  const dir = join(stateDir(), "new");
  acquireLock(dir)();
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  const open = stateDir();
  writeFileSync(lockPath(open), `${process.ppid}\n`);
  chmodSync(open, 0o777);
  assert.throws(() => assertUnlocked(open), UnsafeStateDirError);
  assert.throws(() => lockHolder(open), UnsafeStateDirError);
  assert.throws(() => acquireLock(open), UnsafeStateDirError);
});
