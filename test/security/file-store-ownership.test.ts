/**
 * The file store keeps the consumer's access to its secret: the new file has the owner, group and
 * mode of the one it replaces (promote and rollback alike), and where ftr cannot give it that owner
 * (it does not run as root or as the owner), `ftr plan` says why and `ftr rotate` refuses before
 * any write. Other users are simulated with chown to arbitrary ids; a non-root ftr runs in a child
 * process with its privileges dropped (setpriv).
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { after, before, describe, it } from "node:test";
import { createFileSecretStore } from "../../src/adapters/file-secret/index.ts";
import {
  createEmulator,
  createEmulatorAdmin,
  demoCredentials,
  demoSeed,
  type RunningEmulator,
} from "../../src/emulator/index.ts";
import { CLI_BIN, CLI_NODE_ARGS, TSX_LOADER } from "../helpers/cli.ts";

const { superuser, exporterTokens } = demoCredentials;
const NEW = "QoU3neoxQQ6IPL8g7eRkkCjyWcwdNI7J";
const OLD = "X-srxc_zLpchro9ngNBVgyofN_jqQFJ2";

const isRoot = process.getuid?.() === 0;
const skip = isRoot ? false : "needs root, to give files to other users (CI runs as root)";

/** uid, gid and permission bits of a file. */
const owner = (path: string) => {
  const st = statSync(path);
  return { uid: st.uid, gid: st.gid, mode: st.mode & 0o7777 };
};

const REPO = fileURLToPath(new URL("../../", import.meta.url));

/** Whether `uid` (no groups) can read `path`: every directory above it must let it through. */
function readableBy(uid: number, path: string): boolean {
  const args = [`--reuid=${uid}`, `--regid=${uid}`, "--clear-groups", "test", "-r", path];
  return spawnSync("setpriv", args).status === 0;
}

/**
 * The packages the CLI loads from node_modules to run the commands below from source under tsx:
 * the runtime dependencies and tsx, with everything they depend on (installed ones only). The AWS
 * SDK and the Kubernetes client are left out: only their adapters load them, and these tests use
 * the file store.
 */
function packagesToCopy(): string[] {
  const manifest = (name: string) =>
    JSON.parse(readFileSync(join(REPO, "node_modules", name, "package.json"), "utf8")) as {
      dependencies?: Record<string, string>;
      optionalDependencies?: Record<string, string>;
    };
  const own = manifest("..") as { dependencies: Record<string, string> };
  const wanted = [...Object.keys(own.dependencies), "tsx"].filter(
    (name) => !/^@aws-sdk\/|^@smithy\/|^@kubernetes\//.test(name),
  );
  const found = new Set<string>();
  while (wanted.length > 0) {
    const name = wanted.pop()!;
    if (found.has(name) || !existsSync(join(REPO, "node_modules", name, "package.json"))) continue;
    found.add(name);
    const m = manifest(name);
    wanted.push(...Object.keys({ ...m.dependencies, ...m.optionalDependencies }));
  }
  return [...found];
}

/**
 * `node` arguments that run the CLI as `uid`. In place when that uid can read the checkout; from a
 * clone under a directory it cannot enter (a 0700 home, `mktemp -d`), the sources and the packages
 * the CLI needs are copied to a directory it can read, made once per run.
 */
let cliArgsFor: readonly string[] | undefined;
let copied: string | undefined;
after(() => {
  if (copied) rmSync(copied, { recursive: true, force: true });
});
function cliArgsAs(uid: number): readonly string[] {
  if (cliArgsFor) return cliArgsFor;
  const loader = fileURLToPath(TSX_LOADER);
  if (readableBy(uid, CLI_BIN) && readableBy(uid, loader)) return (cliArgsFor = CLI_NODE_ARGS);
  const copy = mkdtempSync(join(tmpdir(), "ftr-as-other-uid-"));
  chmodSync(copy, 0o755);
  for (const entry of ["package.json", "tsconfig.json", "src"]) {
    cpSync(join(REPO, entry), join(copy, entry), { recursive: true });
  }
  for (const name of packagesToCopy()) {
    cpSync(join(REPO, "node_modules", name), join(copy, "node_modules", name), {
      recursive: true,
      dereference: true,
    });
  }
  spawnSync("chmod", ["-R", "a+rX", copy]);
  copied = copy;
  return (cliArgsFor = [
    "--import",
    // node_modules may be a link to another checkout's: the loader's path from node_modules on.
    pathToFileURL(join(copy, loader.slice(loader.lastIndexOf("/node_modules/") + 1))).href,
    join(copy, relative(REPO, CLI_BIN)),
  ]);
}

/** Runs `ftr args` as uid/gid 12345 with no supplementary groups. */
function ftrAs(uid: number, args: readonly string[], env: Record<string, string>, stdin = "") {
  const child = spawn(
    "setpriv",
    [`--reuid=${uid}`, `--regid=${uid}`, "--clear-groups", process.execPath, ...cliArgsAs(uid), ...args],
    {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", NO_COLOR: "1", ...env },
      stdio: "pipe",
      // A working directory that uid can enter (the checkout's may not be).
      cwd: tmpdir(),
    },
  );
  child.stdin.end(stdin);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once("close", (code) => resolve({ code, stdout, stderr })),
  );
}

describe("file store: owner, group and mode", { skip }, () => {
  const dir = () => mkdtempSync(join(tmpdir(), "ftr-owner-"));

  for (const [label, uid, gid, mode] of [
    ["12345:12345 0600 (the consumer's own user)", 12345, 12345, 0o600],
    ["root:exporter 0640 (read through a group)", 0, 4242, 0o640],
  ] as const) {
    it(`a file ${label} keeps them through promote and rollback`, async () => {
      const path = join(dir(), "token");
      writeFileSync(path, `${OLD}\n`);
      chownSync(path, uid, gid);
      chmodSync(path, mode);
      const store = createFileSecretStore({ path });
      await store.stage(NEW, "run-1");
      await store.promote("run-1");
      assert.equal(readFileSync(path, "utf8"), `${NEW}\n`);
      assert.deepEqual(owner(path), { uid, gid, mode });
      await store.restorePrevious("run-1");
      assert.equal(readFileSync(path, "utf8"), `${OLD}\n`);
      assert.deepEqual(owner(path), { uid, gid, mode });
      // ftr's own copy of the old value stays private to ftr.
      assert.deepEqual(owner(`${path}.previous`), { uid: 0, gid: 0, mode: 0o600 });
    });
  }

  it("a JSON document owned by another user keeps owner and mode, and its other keys", async () => {
    const path = join(dir(), "secrets.json");
    writeFileSync(path, `{\n  "other": "kept",\n  "fastly-api-token": "${OLD}"\n}\n`);
    chownSync(path, 12345, 23456);
    chmodSync(path, 0o440);
    const store = createFileSecretStore({ path, jsonKey: "fastly-api-token" });
    await store.stage(NEW, "run-1");
    await store.promote("run-1");
    assert.deepEqual(JSON.parse(readFileSync(path, "utf8")), { other: "kept", "fastly-api-token": NEW });
    assert.deepEqual(owner(path), { uid: 12345, gid: 23456, mode: 0o440 });
  });

  const hasSetpriv = spawnSync("setpriv", ["--version"]).status === 0;
  describe(
    "ftr running as a user that cannot keep the owner",
    {
      skip: hasSetpriv ? false : "needs setpriv (util-linux) to drop privileges",
    },
    () => {
      let emulator: RunningEmulator;
      before(async () => {
        emulator = await createEmulator({ seed: demoSeed });
      });
      after(async () => {
        await emulator.close();
      });

      /** A world the unprivileged uid 12345 can use, whose secret file belongs to uid 23456. */
      function world() {
        const root = dir();
        chmodSync(root, 0o755);
        chownSync(root, 12345, 12345);
        const token = join(root, "token");
        writeFileSync(token, `${exporterTokens.staging.token}\n`);
        chownSync(token, 23456, 23456);
        chmodSync(token, 0o644);
        const config = join(root, "ftr.yaml");
        writeFileSync(
          config,
          `version: 1
fastly: { endpoint: "${emulator.url}" }
environments:
  - name: staging
    token: { name: "${exporterTokens.staging.name}", services: { nameMatches: "[Ss]taging" } }
    secret: { type: file, path: ./token }
`,
        );
        chmodSync(config, 0o644);
        return { root, token, config };
      }

      it("`ftr plan` reports the environment as an error and says why (exit 1)", async () => {
        const { config } = world();
        const result = await ftrAs(12345, ["plan", "--config", config], {
          FASTLY_API_TOKEN: superuser.token,
        });
        assert.equal(result.code, 1, result.stdout + result.stderr);
        assert.match(
          result.stdout + result.stderr,
          /token is owned by uid 23456 and ftr runs as uid 12345: the new file could not keep that owner.*run ftr as uid 23456 or as root/s,
        );
      });

      it("`ftr rotate --force` refuses before any write (exit 2): no token minted, the file untouched", async () => {
        const { root, token, config } = world();
        const before = readFileSync(token, "utf8");
        const result = await ftrAs(
          12345,
          ["rotate", "--config", config, "--force", "--yes", "--password-stdin"],
          { FASTLY_API_TOKEN: superuser.token },
          superuser.password,
        );
        assert.equal(result.code, 2, result.stdout + result.stderr);
        assert.match(result.stderr, /cannot rotate: staging: .*owned by uid 23456/);
        assert.equal(readFileSync(token, "utf8"), before);
        assert.deepEqual(owner(token), { uid: 23456, gid: 23456, mode: 0o644 });
        assert.deepEqual(
          readdirSync(root).filter((f) => f.startsWith("token")),
          ["token"],
          "no pending, previous or temp file",
        );
        const writes = (await createEmulatorAdmin(emulator.url).requests()).filter((r) => r.method !== "GET");
        assert.deepEqual(
          writes.map((r) => `${r.method} ${r.path}`),
          [],
          "no request that writes (not even /sudo)",
        );
      });
    },
  );
});
