import assert from "node:assert/strict";
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { atomicWrite, createFileSecretStore } from "./index.ts";

const NEW = "QoU3neoxQQ6IPL8g7eRkkCjyWcwdNI7J";
const OLD = "X-srxc_zLpchro9ngNBVgyofN_jqQFJ2";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "ftr-file-secret-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const mode = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;

describe("file secret store, whole file", () => {
  it("reads undefined when missing, trims one trailing newline", async () => {
    const path = join(dir, "token");
    const store = createFileSecretStore({ path });
    assert.equal(await store.read(), undefined);
    await writeFile(path, `${OLD}\n`);
    assert.equal(await store.read(), OLD);
    assert.equal(store.durableStaging, true);
    assert.equal(store.description, `file ${path}`);
  });

  it("stages, promotes with a trailing newline keeping the file's mode, keeps previous (0600), restores", async () => {
    const path = join(dir, "token");
    await writeFile(path, `${OLD}\n`, { mode: 0o644 });
    const store = createFileSecretStore({ path });
    await store.stage(NEW, "run-1");
    assert.equal(await store.read(), OLD, "stage leaves the current value alone");
    assert.equal(await store.readStaged("run-1"), NEW);
    assert.equal(await store.readStaged("run-2"), undefined);
    assert.equal(await mode(`${path}.pending`), 0o600);

    await store.promote("run-1");
    assert.equal(await readFile(path, "utf8"), `${NEW}\n`);
    assert.equal(await mode(path), 0o644, "the consumer's file keeps its mode");
    assert.equal(await readFile(`${path}.previous`, "utf8"), `${OLD}\n`);
    assert.equal(await mode(`${path}.previous`), 0o600);
    assert.equal(await store.readPrevious(), OLD);
    assert.equal(await store.readStaged("run-1"), undefined);

    await store.promote("run-1"); // idempotent
    assert.equal(await store.read(), NEW);
    assert.equal(await store.readPrevious(), OLD);

    await store.restorePrevious("run-1");
    assert.equal(await store.read(), OLD);
    await store.restorePrevious("run-1"); // idempotent
    assert.equal(await store.read(), OLD);
    assert.deepEqual((await readdir(dir)).sort(), ["token", "token.previous"], "no temp files left");
  });

  it("creates the file on promote when it did not exist", async () => {
    const path = join(dir, "token");
    const store = createFileSecretStore({ path });
    await store.stage(NEW, "run-1");
    await store.promote("run-1");
    assert.equal(await store.read(), NEW);
    assert.equal(await store.readPrevious(), undefined);
    await assert.rejects(store.restorePrevious("run-1"), /no previous version/);
  });

  it("refuses values with line breaks and promote without stage", async () => {
    const store = createFileSecretStore({ path: join(dir, "token") });
    await assert.rejects(store.stage("a\nb", "r"), /line break/);
    await assert.rejects(store.promote("r"), /nothing staged for run r/);
  });

  it("discardStaged drops only its own run's pending version", async () => {
    const path = join(dir, "token");
    const store = createFileSecretStore({ path });
    await store.stage(NEW, "run-1");
    await store.discardStaged("run-2");
    assert.equal(await store.readStaged("run-1"), NEW);
    await store.discardStaged("run-1");
    await store.discardStaged("run-1");
    assert.equal(await store.readStaged("run-1"), undefined);
    await assert.rejects(store.promote("run-1"), /nothing staged/);
  });

  it("promote refuses another run's pending version", async () => {
    const path = join(dir, "token");
    await writeFile(path, `${OLD}\n`);
    const store = createFileSecretStore({ path });
    await store.stage(NEW, "run-1");
    await assert.rejects(store.promote("run-2"), /run run-1, not run-2/);
    assert.equal(await store.read(), OLD);
  });
});

describe("file secret store, jsonKey", () => {
  it("changes only its key and keeps the rest and the indentation", async () => {
    const path = join(dir, "secret.json");
    const original = `{\n    "other": "keep",\n    "fastly-api-token": "${OLD}",\n    "n": 1\n}\n`;
    await writeFile(path, original);
    const store = createFileSecretStore({ path, jsonKey: "fastly-api-token" });
    assert.equal(store.description, `file ${path}#fastly-api-token`);
    assert.equal(await store.read(), OLD);
    await store.stage(NEW, "r1");
    await store.promote("r1");
    assert.equal(
      await readFile(path, "utf8"),
      `{\n    "other": "keep",\n    "fastly-api-token": "${NEW}",\n    "n": 1\n}\n`,
    );
    assert.equal(await readFile(`${path}.previous`, "utf8"), original);
    await store.restorePrevious("r1");
    assert.equal(await readFile(path, "utf8"), original);
  });

  it("keeps edits made to other keys between stage and promote", async () => {
    const path = join(dir, "secret.json");
    await writeFile(path, JSON.stringify({ token: OLD, a: 1 }));
    const store = createFileSecretStore({ path, jsonKey: "token" });
    await store.stage(NEW, "r1");
    await writeFile(path, JSON.stringify({ token: OLD, a: 2 }));
    await store.promote("r1");
    assert.deepEqual(JSON.parse(await readFile(path, "utf8")), { token: NEW, a: 2 });
  });

  it("adds the key to an object without it, and creates a new file as an object", async () => {
    const path = join(dir, "secret.json");
    await writeFile(path, `{"a":1}`);
    const store = createFileSecretStore({ path, jsonKey: "token" });
    assert.equal(await store.read(), undefined);
    await store.stage(NEW, "r1");
    await store.promote("r1");
    assert.deepEqual(JSON.parse(await readFile(path, "utf8")), { a: 1, token: NEW });

    const fresh = join(dir, "fresh.json");
    const freshStore = createFileSecretStore({ path: fresh, jsonKey: "token" });
    await freshStore.stage(NEW, "r1");
    await freshStore.promote("r1");
    assert.deepEqual(JSON.parse(await readFile(fresh, "utf8")), { token: NEW });
  });

  it("refuses a file that is not a JSON object, without quoting it", async () => {
    const path = join(dir, "secret.json");
    for (const contents of [`${OLD}\n`, `["${OLD}"]`, "null"]) {
      await writeFile(path, contents);
      const store = createFileSecretStore({ path, jsonKey: "token" });
      await assert.rejects(store.stage(NEW, "r1"), (error: Error) => {
        assert.match(error.message, /refusing to overwrite/);
        assert.ok(!error.message.includes(OLD) && !error.message.includes(NEW));
        return true;
      });
      await assert.rejects(store.read(), /not (valid JSON|a JSON object)/);
      assert.equal(await readFile(path, "utf8"), contents, "left untouched");
    }
  });

  it("refuses a key holding a non-string", async () => {
    const path = join(dir, "secret.json");
    await writeFile(path, `{"token": 5}`);
    await assert.rejects(createFileSecretStore({ path, jsonKey: "token" }).read(), /not a string/);
  });
});

describe("file secret store, crash recovery", () => {
  const setup = async () => {
    const path = join(dir, "token");
    await writeFile(path, `${OLD}\n`);
    const store = createFileSecretStore({ path });
    await store.stage(NEW, "run-1");
    return { path, store };
  };

  it("crash after writing .previous, before replacing the file: promote again", async () => {
    const { path, store } = await setup();
    await atomicWrite(`${path}.previous`, `${OLD}\n`);
    await store.promote("run-1");
    assert.equal(await store.read(), NEW);
    assert.equal(await store.readPrevious(), OLD);
  });

  it("crash after replacing the file, before removing pending: promote keeps the true previous", async () => {
    const { path, store } = await setup();
    await atomicWrite(`${path}.previous`, `${OLD}\n`);
    await atomicWrite(path, `${NEW}\n`);
    await store.promote("run-1");
    assert.equal(await store.read(), NEW);
    assert.equal(await store.readPrevious(), OLD, "previous not overwritten with the new value");
    assert.equal(await store.readStaged("run-1"), undefined);
  });

  it("restorePrevious before promote replaced the value keeps the current one, not a stale .previous", async () => {
    const { path, store } = await setup();
    await atomicWrite(`${path}.previous`, "stale-from-an-older-rotation\n");
    await store.restorePrevious("run-1");
    assert.equal(await store.read(), OLD);
  });

  it("restorePrevious after a crash mid-promote (file replaced, pending left) restores", async () => {
    const { path, store } = await setup();
    await atomicWrite(`${path}.previous`, `${OLD}\n`);
    await atomicWrite(path, `${NEW}\n`);
    await store.restorePrevious("run-1");
    assert.equal(await store.read(), OLD);
  });

  it("a stale .previous is removed when promote creates the file", async () => {
    const path = join(dir, "token");
    await writeFile(`${path}.previous`, "stale\n");
    const store = createFileSecretStore({ path });
    await store.stage(NEW, "run-1");
    await store.promote("run-1");
    assert.equal(await store.readPrevious(), undefined);
  });

  it("a corrupt pending file is reported without its contents", async () => {
    const path = join(dir, "token");
    await writeFile(`${path}.pending`, `${NEW}`);
    const store = createFileSecretStore({ path });
    await assert.rejects(store.readStaged("r"), (error: Error) => {
      assert.match(error.message, /not a pending version/);
      assert.ok(!error.message.includes(NEW));
      return true;
    });
  });
});

describe("file secret store, empty file", () => {
  it("reads an empty JSON file as no value and fills it on promote", async () => {
    const path = join(dir, "secret.json");
    await writeFile(path, "");
    const store = createFileSecretStore({ path, jsonKey: "token" });
    assert.equal(await store.read(), undefined);
    await store.stage(NEW, "r1");
    await store.promote("r1");
    assert.deepEqual(JSON.parse(await readFile(path, "utf8")), { token: NEW });
  });
});
