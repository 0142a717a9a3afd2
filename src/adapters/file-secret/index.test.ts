import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { atomicWrite, create, createFileSecretStore, FileSecretError } from "./index.ts";

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
  it("refuses a file larger than a secret document, naming it, without reading it whole", async () => {
    const path = join(dir, "token");
    await writeFile(path, "x".repeat(1024 * 1024 + 1));
    const store = createFileSecretStore({ path });
    await assert.rejects(store.read(), (error: unknown) => {
      assert.ok(error instanceof FileSecretError, String(error));
      assert.ok(error.message.includes(path), error.message);
      assert.match(error.message, /a token or a small JSON document is expected: check the path/);
      assert.equal((error.cause as Error | undefined)?.name, "TooLargeError");
      return true;
    });
  });

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

describe("file secret store, edges", () => {
  it("reads a whole file minus one trailing newline (LF or CRLF), an empty file as no value", async () => {
    const path = join(dir, "token");
    const store = createFileSecretStore({ path });
    await writeFile(path, `${OLD}\r\n`);
    assert.equal(await store.read(), OLD);
    await writeFile(path, `a\nb\n`);
    assert.equal(await store.read(), "a\nb", "only the last line break goes");
    await writeFile(path, "");
    assert.equal(await store.read(), undefined);
    await writeFile(path, "\n");
    assert.equal(await store.read(), undefined);
  });

  it("a JSON file of blanks reads as no value and is replaced by a new object", async () => {
    const path = join(dir, "secret.json");
    await writeFile(path, "  \n");
    const store = createFileSecretStore({ path, jsonKey: "token" });
    assert.equal(await store.read(), undefined);
    await store.stage(NEW, "r1");
    await store.promote("r1");
    assert.equal(await readFile(path, "utf8"), `{\n  "token": "${NEW}"\n}\n`);
  });

  it("keeps a compact document compact, and tab or mixed indentation", async () => {
    const store = (path: string) => createFileSecretStore({ path, jsonKey: "token" });
    const cases: [string, string][] = [
      [`{"a":{\n  "b":1},"token":"${OLD}"}`, `{"a":{"b":1},"token":"${NEW}"}\n`],
      [`{ \n  "token": "${OLD}"\n}`, `{\n  "token": "${NEW}"\n}\n`],
      [`{\n\t"token": "${OLD}"\n}`, `{\n\t"token": "${NEW}"\n}\n`],
      [`{\n\t  "token": "${OLD}"\n}`, `{\n\t"token": "${NEW}"\n}\n`],
    ];
    for (const [i, [before, after]] of cases.entries()) {
      const path = join(dir, `s${i}.json`);
      await writeFile(path, before);
      await store(path).stage(NEW, "r1");
      await store(path).promote("r1");
      assert.equal(await readFile(path, "utf8"), after, JSON.stringify(before));
    }
  });

  it("says which: invalid JSON, or JSON that is not an object", async () => {
    const path = join(dir, "secret.json");
    const store = createFileSecretStore({ path, jsonKey: "token" });
    await writeFile(path, "{");
    await assert.rejects(store.read(), /is not valid JSON/);
    for (const contents of ["null", "[]", "42", `"${OLD}"`]) {
      await writeFile(path, contents);
      await assert.rejects(store.read(), (e: unknown) => {
        assert.ok(e instanceof FileSecretError, contents);
        assert.match(e.message, /is not a JSON object/);
        return true;
      });
    }
  });

  it("a pending file is refused unless it is {runId: string, document: string}", async () => {
    const path = join(dir, "token");
    const store = createFileSecretStore({ path });
    await writeFile(`${path}.pending`, "{");
    await assert.rejects(
      store.readStaged("r"),
      /not a pending version written by this tool \(invalid JSON\)/,
    );
    for (const bad of [
      "null",
      "7",
      `"r"`,
      `{"document":"x\\n"}`,
      `{"runId":"r"}`,
      `{"runId":1,"document":"x\\n"}`,
      `{"runId":"r","document":1}`,
    ]) {
      await writeFile(`${path}.pending`, bad);
      await assert.rejects(store.readStaged("r"), (e: unknown) => {
        assert.ok(e instanceof FileSecretError, bad);
        assert.equal(e.message, `${path}.pending: is not a pending version written by this tool`);
        return true;
      });
    }
    await writeFile(`${path}.pending`, `{"runId":"r","document":"x\\n"}`);
    assert.equal(await store.readStaged("r"), "x");
  });

  it("a pending version without a value is refused at promote", async () => {
    const path = join(dir, "token");
    await writeFile(path, `${OLD}\n`);
    await writeFile(`${path}.pending`, JSON.stringify({ runId: "r", document: "" }));
    await assert.rejects(createFileSecretStore({ path }).promote("r"), /\.pending: holds no value/);
    assert.equal(await readFile(path, "utf8"), `${OLD}\n`);
  });

  it("refuses an empty value; a line break is fine inside a JSON string", async () => {
    const path = join(dir, "secret.json");
    await assert.rejects(createFileSecretStore({ path: join(dir, "token") }).stage("", "r"), /empty value/);
    const store = createFileSecretStore({ path, jsonKey: "token" });
    await assert.rejects(store.stage("", "r"), /empty value/);
    await store.stage("a\nb", "r");
    assert.equal(await store.readStaged("r"), "a\nb");
  });

  it("read() of a path whose directory is missing says so; other open errors pass through", async () => {
    const missing = join(dir, "nope", "token");
    await assert.rejects(createFileSecretStore({ path: missing }).read(), (e: unknown) => {
      assert.ok(e instanceof FileSecretError);
      assert.equal(
        e.message,
        `${missing}: its directory ${join(dir, "nope")} does not exist; create it or fix secret.path`,
      );
      return true;
    });
    await writeFile(join(dir, "plain"), "x");
    const under = join(dir, "plain", "token");
    await assert.rejects(createFileSecretStore({ path: under }).read(), (e: unknown) => {
      assert.ok(!(e instanceof FileSecretError));
      assert.equal((e as NodeJS.ErrnoException).code, "ENOTDIR");
      return true;
    });
  });

  it("a link at .pending is refused with the ELOOP as its cause", async () => {
    const path = join(dir, "token");
    await writeFile(join(dir, "elsewhere"), JSON.stringify({ runId: "r", document: "x\n" }));
    await symlink(join(dir, "elsewhere"), `${path}.pending`);
    await assert.rejects(createFileSecretStore({ path }).readStaged("r"), (e: unknown) => {
      assert.ok(e instanceof FileSecretError);
      assert.equal((e.cause as NodeJS.ErrnoException).code, "ELOOP");
      return true;
    });
  });

  it("restorePrevious of a run staged over no file leaves nothing to restore, quietly", async () => {
    const path = join(dir, "token");
    const store = createFileSecretStore({ path });
    await store.stage(NEW, "run-1");
    await store.restorePrevious("run-1");
    assert.equal(await store.read(), undefined);
  });

  it("restorePrevious does not rewrite a file that already holds the previous document", async () => {
    const path = join(dir, "token");
    await writeFile(path, `${OLD}\n`);
    const store = createFileSecretStore({ path });
    await store.stage(NEW, "run-1");
    await store.promote("run-1");
    await store.restorePrevious("run-1");
    const inode = (await stat(path)).ino;
    await store.restorePrevious("run-1");
    assert.equal((await stat(path)).ino, inode, "not replaced again");
  });

  it("promote over a missing file fails when .previous cannot be removed", async () => {
    const path = join(dir, "token");
    const store = createFileSecretStore({ path });
    await store.stage(NEW, "run-1");
    await mkdir(`${path}.previous`);
    await assert.rejects(store.promote("run-1"), (e: unknown) => {
      assert.ok(["EISDIR", "EPERM"].includes(String((e as NodeJS.ErrnoException).code)));
      return true;
    });
    assert.equal(await store.read(), undefined);
  });

  it("removes temp files a dead writer left beside the target, and only those", async () => {
    const path = join(dir, "token");
    await writeFile(path, `${OLD}\n`);
    const leftovers = [".token.0123456789ab.tmp"];
    const kept = [
      ".token.0123456789abc.tmp",
      ".token.0123456789ab.tmpx",
      ".token.0123456789AB.tmp",
      ".token.123456789ab.tmp",
      ".other.0123456789ab.tmp",
      "x.token.0123456789ab.tmp",
    ];
    for (const name of [...leftovers, ...kept]) await writeFile(join(dir, name), "secret");
    const store = createFileSecretStore({ path });
    await store.stage(NEW, "run-1");
    await store.promote("run-1");
    const names = await readdir(dir);
    assert.ok(!names.includes(".token.0123456789ab.tmp"), "the leftover temp is removed");
    for (const name of kept) assert.ok(names.includes(name), `${name} is not a temp of token`);
  });

  it("a write that fails before the rename removes its temp file and leaves the target", async () => {
    const path = join(dir, "token");
    await writeFile(path, `${OLD}\n`);
    const store = createFileSecretStore(
      { path },
      { beforeRename: () => Promise.reject(new Error("stop here")) },
    );
    await store.stage(NEW, "run-1");
    await assert.rejects(store.promote("run-1"), /stop here/);
    assert.equal(await readFile(path, "utf8"), `${OLD}\n`);
    assert.deepEqual(
      (await readdir(dir)).filter((n) => n.endsWith(".tmp")),
      [],
    );
  });

  it("preflight: nothing to say about a plain file; a dangling link at path and links at its own files are", async () => {
    const path = join(dir, "token");
    await writeFile(path, `${OLD}\n`);
    assert.deepEqual(await createFileSecretStore({ path }).preflight?.(), []);
    const linked = join(dir, "linked");
    await symlink(join(dir, "gone"), linked);
    await symlink(join(dir, "gone"), `${linked}.pending`);
    const problems = (await createFileSecretStore({ path: linked }).preflight?.()) ?? [];
    assert.equal(problems.length, 2);
    assert.match(problems[0] ?? "", /linked\.pending is a symbolic link/);
    assert.match(problems[1] ?? "", /is a symbolic link to .*gone, which does not exist/);
  });

  it("preflight passes a link loop's error through", async () => {
    const path = join(dir, "a");
    await symlink(join(dir, "b"), path);
    await symlink(path, join(dir, "b"));
    await assert.rejects(createFileSecretStore({ path }).preflight?.() ?? Promise.resolve(), (e: unknown) => {
      assert.equal((e as NodeJS.ErrnoException).code, "ELOOP");
      return true;
    });
  });

  it("the registry's create() makes the same store", async () => {
    const path = join(dir, "token");
    await writeFile(path, `${OLD}\n`);
    assert.equal(await create({ path }).read(), OLD);
  });

  it(
    "closes every file it opens",
    { skip: process.platform === "linux" ? false : "counts /proc/self/fd" },
    async () => {
      const path = join(dir, "token");
      await writeFile(path, `${OLD}\n`);
      const store = createFileSecretStore({ path });
      const fds = async () => (await readdir("/proc/self/fd")).length;
      const before = await fds();
      await store.stage(NEW, "run-1");
      await store.readStaged("run-1");
      await store.promote("run-1");
      await store.read();
      await store.readPrevious();
      assert.equal(await fds(), before);
    },
  );
});

describe("file secret store, as a user that cannot keep the owner", () => {
  const canSwitch = process.geteuid?.() === 0 && typeof process.seteuid === "function";
  /** Runs `fn` with effective uid 12345 (the real uid stays root, so it can switch back). */
  const asUser = async <T>(fn: () => Promise<T>): Promise<T> => {
    process.seteuid?.(12345);
    try {
      return await fn();
    } finally {
      process.seteuid?.(0);
    }
  };

  it(
    "preflight names the owner or the group the new file could not keep; a write refuses before the rename",
    { skip: canSwitch ? false : "needs root, to switch the effective uid" },
    async () => {
      const { chmod, chown } = await import("node:fs/promises");
      await chmod(dir, 0o777);
      const path = join(dir, "token");
      await writeFile(path, `${OLD}\n`, { mode: 0o644 });
      await chown(path, 23456, 23456);
      const store = createFileSecretStore({ path });
      assert.deepEqual(await store.preflight?.(), [], "root can give the new file any owner");
      const problems = await asUser(async () => (await store.preflight?.()) ?? []);
      assert.deepEqual(problems, [
        `${path} is owned by uid 23456 and ftr runs as uid 12345: the new file could not keep that owner (and the consumer could lose access); run ftr as uid 23456 or as root`,
      ]);
      await asUser(() => store.stage(NEW, "run-1"));
      await assert.rejects(
        asUser(() => store.promote("run-1")),
        (e: unknown) => {
          assert.ok(e instanceof FileSecretError);
          assert.match(
            e.message,
            /is owned by uid 23456 and ftr runs as uid 12345.*; the file was left unchanged$/,
          );
          assert.equal((e.cause as NodeJS.ErrnoException).code, "EPERM");
          return true;
        },
      );
      assert.equal(await readFile(path, "utf8"), `${OLD}\n`);
      assert.equal(await readFile(`${path}.previous`, "utf8"), `${OLD}\n`);
      assert.deepEqual(
        (await readdir(dir)).filter((n) => n.endsWith(".tmp")),
        [],
        "temp file removed",
      );

      await chown(path, 12345, 34567);
      assert.deepEqual(await asUser(async () => (await store.preflight?.()) ?? []), [
        `${path} belongs to group 34567, which uid 12345 is not a member of: the new file could not keep that group; run ftr in that group or as root`,
      ]);
      await chown(path, 12345, 0);
      assert.deepEqual(await asUser(async () => (await store.preflight?.()) ?? []), []);
    },
  );
});
