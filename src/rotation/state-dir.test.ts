/** The state directory's creation and checks, in the process (test/security/state-dir.test.ts drives the CLI). */
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { checkStateDir, ensureStateDir, UnsafeStateDirError } from "./state-dir.ts";

const base = () => mkdtempSync(join(tmpdir(), "ftr-state-dir-"));

test("a new state directory is 0700 even under a umask that would take the owner's bits", () => {
  const dir = join(base(), "state");
  const old = process.umask(0o277);
  try {
    ensureStateDir(dir);
  } finally {
    process.umask(old);
  }
  assert.equal(statSync(dir).mode & 0o777, 0o700);
});

test("checkStateDir: a missing directory is fine, a file is not a directory, other errors pass", () => {
  const root = base();
  checkStateDir(join(root, "missing"));
  writeFileSync(join(root, "file"), "");
  assert.throws(
    () => checkStateDir(join(root, "file")),
    (e: unknown) => {
      assert.ok(e instanceof UnsafeStateDirError);
      assert.equal(e.message, `state directory ${join(root, "file")} is not a directory`);
      assert.equal(e.path, join(root, "file"));
      return true;
    },
  );
  assert.throws(() => checkStateDir(join(root, "file", "sub")), { code: "ENOTDIR" });
});

test("group- and world-writable directories are refused, saying which", () => {
  const root = base();
  const group = join(root, "g");
  mkdirSync(group, { mode: 0o700 });
  chmodSync(group, 0o770);
  assert.throws(() => checkStateDir(group), /is writable by its group \(mode 0770\); run chmod 700/);
  chmodSync(group, 0o707);
  assert.throws(() => checkStateDir(group), /is writable by every user \(mode 0707\)/);
  chmodSync(group, 0o755);
  checkStateDir(group);
});
