/**
 * The lock in one process, on states that races between processes leave on disk, crafted by the
 * test: a stale lock kept by a live breaker's marker (every attempt, and the pause between two,
 * seen through the `pause` option), the taker's own temp file removed between two attempts, chains
 * of dead breakers' markers as deep as it breaks and one deeper, and the descriptors each read and
 * write opens. The racing processes themselves are in test/security/lock.test.ts.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { acquireLock, LockedError, lockHolder, lockPath } from "./lock.ts";

const stateDir = () => mkdtempSync(join(tmpdir(), "ftr-lock-attempts-"));

/** A PID above any pid_max: certainly not alive. */
const DEAD = 999_999_999;
const STALE = `${DEAD}\n`;

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

/** The marker a breaker of `holder` creates beside `path`: the hash of the record's id, or of a PID-only lock's text. */
function markerOf(path: string, holder: { id: string } | { raw: string }): string {
  const key = "id" in holder ? `id:${holder.id}` : `raw:${holder.raw}`;
  return `${path}.break-${createHash("sha256").update(key).digest("hex").slice(0, 32)}`;
}

/**
 * A stale PID-only lock in `dir`, and `depth` markers of breakers that died before removing theirs,
 * each breaking the one before (the first breaks the lock). Returns the markers' paths.
 */
function deadChain(dir: string, depth: number): string[] {
  writeFileSync(lockPath(dir), STALE);
  const markers: string[] = [];
  let marker = markerOf(lockPath(dir), { raw: STALE });
  for (let i = 1; i <= depth; i++) {
    writeFileSync(marker, record({ pid: DEAD, id: `dead-breaker-${i}` }));
    markers.push(marker);
    marker = markerOf(marker, { id: `dead-breaker-${i}` });
  }
  return markers;
}

const givesUp = (error: unknown): boolean => {
  assert.ok(error instanceof LockedError, String(error));
  assert.match(error.message, /^could not take .*lock: other runs keep taking it; try again$/);
  assert.equal(error.pid, 0);
  return true;
};

test("a stale lock a live breaker is breaking: 50 attempts, a pause of 5 to 25 ms between two, then it gives up", () => {
  const dir = stateDir();
  writeFileSync(lockPath(dir), STALE);
  const marker = markerOf(lockPath(dir), { raw: STALE });
  writeFileSync(marker, record({ pid: process.ppid, id: "live-breaker" }));
  const pauses: number[] = [];
  assert.throws(() => acquireLock(dir, { pause: (ms) => pauses.push(ms) }), givesUp);
  // No pause before the second attempt's link, and none after the last attempt.
  assert.equal(pauses.length, 49, "one pause between each two of the 50 attempts");
  assert.ok(
    pauses.every((ms) => ms >= 5 && ms < 25),
    `each pause from 5 to 25 ms: ${pauses.join(",")}`,
  );
  // Spread so that two takers do not keep meeting (random: 49 draws all within 1 ms cannot happen).
  assert.ok(Math.max(...pauses) - Math.min(...pauses) > 1, pauses.join(","));
  assert.equal(readFileSync(lockPath(dir), "utf8"), STALE);
  assert.match(readFileSync(marker, "utf8"), /live-breaker/);
  assert.deepEqual(readdirSync(dir).sort(), [marker.slice(dir.length + 1), "lock"].sort());
});

test("its own temp file removed between two attempts: the link's error is thrown, not taken for a held lock", () => {
  const dir = stateDir();
  writeFileSync(lockPath(dir), STALE);
  writeFileSync(markerOf(lockPath(dir), { raw: STALE }), record({ pid: process.ppid, id: "live-breaker" }));
  let pauses = 0;
  assert.throws(
    () =>
      acquireLock(dir, {
        pause: () => {
          pauses += 1;
          // A clean-up of the state directory removes the taker's record meanwhile.
          for (const name of readdirSync(dir)) if (name.startsWith(".lock.")) unlinkSync(join(dir, name));
        },
      }),
    (error: NodeJS.ErrnoException) => {
      assert.equal(error.code, "ENOENT", String(error));
      assert.equal(error.syscall, "link");
      return true;
    },
  );
  assert.equal(pauses, 1, "the next attempt's link failed");
  assert.equal(readFileSync(lockPath(dir), "utf8"), STALE);
});

test("three chained dead breakers' markers are broken one a time, deepest first, and the lock taken", () => {
  const dir = stateDir();
  const markers = deadChain(dir, 3);
  const pauses: number[] = [];
  const release = acquireLock(dir, { pause: (ms) => pauses.push(ms) });
  assert.match(readFileSync(lockPath(dir), "utf8"), new RegExp(`"pid":${process.pid},`));
  // One attempt per marker and one for the lock, then the link: pauses after the 2nd, 3rd and 4th.
  assert.equal(pauses.length, 3);
  assert.deepEqual(readdirSync(dir), ["lock"], `${markers.length} markers gone`);
  release();
  assert.deepEqual(readdirSync(dir), []);
});

test("four chained dead breakers' markers are deeper than it breaks: it gives up and leaves them", () => {
  const dir = stateDir();
  const markers = deadChain(dir, 4);
  const pauses: number[] = [];
  assert.throws(() => acquireLock(dir, { pause: (ms) => pauses.push(ms) }), givesUp);
  assert.equal(pauses.length, 49);
  assert.equal(readFileSync(lockPath(dir), "utf8"), STALE);
  for (const [i, marker] of markers.entries()) {
    assert.match(readFileSync(marker, "utf8"), new RegExp(`dead-breaker-${i + 1}`));
  }
  assert.deepEqual(readdirSync(dir).length, 5, "the lock and its four markers, no temp file");
});

test(
  "taking, reading and releasing the lock closes every descriptor it opens (serve reads it on every scrape)",
  { skip: process.platform !== "linux" && "counts /proc/self/fd (Linux)" },
  () => {
    const dir = stateDir();
    const open = () => readdirSync("/proc/self/fd").length;
    const before = open();
    for (let i = 0; i < 50; i++) {
      const release = acquireLock(dir);
      assert.ok(lockHolder(dir) instanceof LockedError);
      release();
      assert.equal(lockHolder(dir), undefined);
    }
    const grown = open() - before;
    // 50 rounds of a write and three reads: a leak would show as hundreds.
    assert.ok(grown < 10, `${grown} descriptors more than before`);
  },
);
