/**
 * Symbolic links. The consumer's secret path may be a link (configuration management often makes
 * one): it is written through, atomically in the target's directory, and stays a link. ftr's own
 * files (`.pending`, `.previous`, the journal, the lock) are opened with O_NOFOLLOW: a link planted
 * there by someone who can write the directory fails with a clear error, and the file it points to
 * (the "victim") is neither written nor read into the secret.
 */
import assert from "node:assert/strict";
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { createFileSecretStore } from "../../src/adapters/file-secret/index.ts";
import { acquireLock, openJournal } from "../../src/rotation/journal.ts";

const NEW = "QoU3neoxQQ6IPL8g7eRkkCjyWcwdNI7J";
const OLD = "X-srxc_zLpchro9ngNBVgyofN_jqQFJ2";
const VICTIM = "root:$6$only-root-may-read-this$:19000:0:99999:7:::\n";

const dir = () => mkdtempSync(join(tmpdir(), "ftr-links-"));

/** A file another user cares about, and the link to it planted at `at`. */
function plant(at: string): string {
  const victim = join(dir(), "shadow");
  writeFileSync(victim, VICTIM, { mode: 0o600 });
  symlinkSync(victim, at);
  return victim;
}

describe("the secret path is a symbolic link: written through", () => {
  it("promote and rollback replace the target in its own directory; the link stays, pointing there", async () => {
    const root = dir();
    mkdirSync(join(root, "managed"));
    mkdirSync(join(root, "app"));
    const target = join(root, "managed", "token");
    const path = join(root, "app", "token");
    writeFileSync(target, `${OLD}\n`);
    chmodSync(target, 0o640);
    symlinkSync("../managed/token", path);
    const store = createFileSecretStore({ path });
    assert.equal(await store.read(), OLD);

    await store.stage(NEW, "run-1");
    await store.promote("run-1");
    assert.ok(lstatSync(path).isSymbolicLink(), "the path is still a link");
    assert.equal(readlinkSync(path), "../managed/token");
    assert.equal(readFileSync(target, "utf8"), `${NEW}\n`);
    assert.equal(statSync(target).mode & 0o777, 0o640);
    assert.deepEqual(readdirSync(join(root, "managed")), ["token"], "no temp file left by the target");
    assert.deepEqual(readdirSync(join(root, "app")).sort(), ["token", "token.previous"]);

    await store.restorePrevious("run-1");
    assert.ok(lstatSync(path).isSymbolicLink());
    assert.equal(readFileSync(target, "utf8"), `${OLD}\n`);
  });

  it("a link to nothing is reported by preflight and refused by promote, and stays as it was", async () => {
    const root = dir();
    const path = join(root, "token");
    symlinkSync(join(root, "missing", "token"), path);
    const store = createFileSecretStore({ path });
    assert.equal(typeof store.preflight, "function", "the store checks before the plan");
    const problems = (await store.preflight?.()) ?? [];
    assert.match(problems.join("\n"), /is a symbolic link to .*missing\/token, which does not exist/);
    await store.stage(NEW, "run-1");
    await assert.rejects(store.promote("run-1"), /which does not exist/);
    assert.ok(lstatSync(path).isSymbolicLink());
  });
});

describe("links planted where ftr keeps its own files are refused, never followed", () => {
  it("`.pending`: stage fails naming the link; the victim is untouched; preflight reports it", async () => {
    const root = dir();
    const path = join(root, "token");
    writeFileSync(path, `${OLD}\n`);
    const victim = plant(`${path}.pending`);
    const store = createFileSecretStore({ path });
    assert.match(((await store.preflight?.()) ?? []).join("\n"), /token\.pending is a symbolic link/);
    await assert.rejects(store.stage(NEW, "run-1"), /token\.pending: is a symbolic link/);
    assert.equal(readFileSync(victim, "utf8"), VICTIM);
    assert.ok(lstatSync(`${path}.pending`).isSymbolicLink(), "left for the operator to see");
  });

  it("`.previous`: promote fails naming the link, and a rollback never copies the victim into the secret", async () => {
    const root = dir();
    const path = join(root, "token");
    writeFileSync(path, `${OLD}\n`);
    const victim = plant(`${path}.previous`);
    const store = createFileSecretStore({ path });
    await store.stage(NEW, "run-1");
    await assert.rejects(store.promote("run-1"), /token\.previous: is a symbolic link/);
    assert.equal(readFileSync(path, "utf8"), `${OLD}\n`, "nothing promoted");
    await assert.rejects(store.readPrevious(), /is a symbolic link/);
    await assert.rejects(store.restorePrevious("run-0"), /is a symbolic link/);
    assert.doesNotMatch(readFileSync(path, "utf8"), /only-root/);
    assert.equal(readFileSync(victim, "utf8"), VICTIM);
  });

  it("the journal: opening it fails naming the link; nothing is appended to the victim", () => {
    const state = dir();
    const victim = plant(join(state, "journal.jsonl"));
    assert.throws(
      () => openJournal(state),
      /state directory .* holds a symbolic link at journal\.jsonl; .*remove it/,
    );
    assert.equal(readFileSync(victim, "utf8"), VICTIM);
  });

  it("the lock: taking it fails naming the link; the victim is untouched", () => {
    const state = dir();
    const victim = plant(join(state, "lock"));
    assert.throws(() => acquireLock(state), /state directory .* holds a symbolic link at lock; .*remove it/);
    assert.equal(readFileSync(victim, "utf8"), VICTIM);
    assert.ok(lstatSync(join(state, "lock")).isSymbolicLink());
  });
});
