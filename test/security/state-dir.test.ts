/**
 * The state directory (journal and lock) is created 0700 and refused when another user could
 * change what it holds: writable by its group or by everyone, or owned by another user. Someone who
 * can write there could forge journal records that steer `ftr resume`, plant links, or remove the
 * lock under a live run. The refusal is one line with the fix, exit 2 (a setup error, like a bad
 * config). Reading the journal (`ftr status`, `serve`) is not refused: a monitor may read a
 * directory it does not own.
 */
import assert from "node:assert/strict";
import { chmodSync, chownSync, mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { acquireLock, openJournal, readJournal } from "../../src/rotation/journal.ts";
import { runCliProcess } from "../helpers/cli.ts";
import { STATE_ONLY_CONFIG } from "../helpers/world.ts";

const isRoot = process.getuid?.() === 0;

function world(mode: number, uid?: number) {
  const root = mkdtempSync(join(tmpdir(), "ftr-statedir-"));
  const state = join(root, "state");
  openJournal(state).close();
  chmodSync(state, mode);
  if (uid !== undefined) chownSync(state, uid, uid);
  const config = join(root, "ftr.yaml");
  writeFileSync(config, STATE_ONLY_CONFIG);
  return { state, config };
}

describe("the state directory", () => {
  it("is created 0700, with its parents, whatever the umask", () => {
    const root = mkdtempSync(join(tmpdir(), "ftr-statedir-"));
    const state = join(root, "a", "state");
    const previous = process.umask(0);
    try {
      acquireLock(state)();
    } finally {
      process.umask(previous);
    }
    assert.equal(statSync(state).mode & 0o777, 0o700);
  });

  for (const [mode, who] of [
    [0o777, "every user"],
    [0o770, "its group"],
    [0o1777, "every user"],
  ] as const) {
    it(`mode ${mode.toString(8)} is refused by the journal and the lock, naming the fix`, () => {
      const { state } = world(mode);
      const expected = new RegExp(`state directory .*state is writable by ${who} .*run chmod 700 `);
      assert.throws(() => openJournal(state), expected);
      assert.throws(() => acquireLock(state), expected);
      // A monitor still reads it.
      assert.deepEqual(readJournal(state), []);
    });
  }

  it("owned by another user is refused", { skip: isRoot ? false : "needs root to chown" }, () => {
    const { state } = world(0o700, 12345);
    const expected = /state directory .*state is owned by uid 12345, not by the user running ftr \(uid 0\)/;
    assert.throws(() => openJournal(state), expected);
    assert.throws(() => acquireLock(state), expected);
  });

  it("`ftr rotate` with a world-writable state directory: one line, exit 2, nothing else done", async () => {
    const { config } = world(0o777);
    const result = await runCliProcess(["rotate", "--config", config, "--yes"], {
      env: { FASTLY_API_TOKEN: "not-used", FASTLY_API_ENDPOINT: "http://127.0.0.1:9" },
    });
    assert.equal(result.code, 2, result.stderr);
    // The config's own warnings come first; the refusal is one error line.
    const errors = result.stderr.split("\n").filter((line) => line.startsWith("error"));
    assert.equal(errors.length, 1, result.stderr);
    assert.match(
      errors[0] ?? "",
      /^error: state directory .* is writable by every user \(mode 0777\); run chmod 700 /,
    );
  });
});
