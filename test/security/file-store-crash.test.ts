/**
 * A crash in the middle of a file-store write leaves the old content or the new, never a mix. A real
 * child process promotes a staged value; the store's `beforeRename` seam (passed through its
 * options, nothing a config can set) stops it once the new file is written and fsynced but not yet
 * renamed, and the test kills it with SIGKILL there. The old file is intact, byte for byte; a
 * repeated promote (what `ftr resume` does) then finishes the job.
 *
 * What makes this hold is the temp file and the rename, and the test proves it: at the kill point it
 * checks that the new content exists only in a temp file beside the target and that the target is
 * still the old file. A store writing in place (truncate, then write) fails here: either it never
 * reaches a point between writing and renaming (the seam is not called: "never reached"), or, at
 * that point, the target already holds the new or a partial document. Checked by hand with
 * `atomicWrite` changed to `writeFile(target, contents)`: the test fails on the first assertion.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { createFileSecretStore } from "../../src/adapters/file-secret/index.ts";
import { TSX_LOADER } from "../helpers/cli.ts";

const STORE_MODULE = fileURLToPath(new URL("../../src/adapters/file-secret/index.ts", import.meta.url));
const NEW = "QoU3neoxQQ6IPL8g7eRkkCjyWcwdNI7J";
const OLD = "X-srxc_zLpchro9ngNBVgyofN_jqQFJ2";

/**
 * Starts a process that stages NEW and promotes it, stopping (forever) at the seam; resolves with
 * what it reported there, or rejects if it ends without reaching it.
 */
function promoteUntilRename(options: { path: string; jsonKey?: string }) {
  const script = `
    const { createFileSecretStore } = await import(${JSON.stringify(STORE_MODULE)});
    const store = createFileSecretStore(${JSON.stringify(options)}, {
      beforeRename: async (temp, target) => {
        process.stdout.write(JSON.stringify({ temp, target }) + "\\n");
        await new Promise(() => setInterval(() => {}, 1000));
      },
    });
    await store.stage(${JSON.stringify(NEW)}, "run-1");
    await store.promote("run-1");
    process.stdout.write("finished\\n");
  `;
  const child = spawn(process.execPath, ["--import", TSX_LOADER, "--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  const atSeam = new Promise<{ temp: string; target: string }>((resolve, reject) => {
    createInterface({ input: child.stdout }).once("line", (line) => {
      if (line.startsWith("{")) resolve(JSON.parse(line) as { temp: string; target: string });
      else
        reject(
          new Error(`the store finished its write without ever being between write and rename (${line})`),
        );
    });
    void exited.then((code) =>
      reject(
        new Error(`the store never reached the point between write and rename (exit ${code}): ${stderr}`),
      ),
    );
  });
  return { child, atSeam, exited };
}

describe("a crash in the middle of a file-store write", { timeout: 120_000 }, () => {
  for (const [label, jsonKey, before, after] of [
    ["a whole-file secret", undefined, `${OLD}\n`, `${NEW}\n`],
    [
      "a key in a JSON document with other keys",
      "fastly-api-token",
      `{\n  "other": "kept",\n  "fastly-api-token": "${OLD}"\n}\n`,
      `{\n  "other": "kept",\n  "fastly-api-token": "${NEW}"\n}\n`,
    ],
  ] as const) {
    it(`${label}: killed between the write and the rename, the old file is intact; resume finishes`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "ftr-crash-"));
      const path = join(dir, "secret");
      writeFileSync(path, before, { mode: 0o640 });
      const options = jsonKey === undefined ? { path } : { path, jsonKey };
      const run = promoteUntilRename(options);
      try {
        const { temp, target } = await run.atSeam;

        // At the kill point the new document is whole and durable, but only in a temp file beside the
        // target; the target itself has not been touched.
        assert.equal(target, path);
        assert.equal(dirname(temp), dir, "the temp file is in the target's directory (rename stays atomic)");
        assert.notEqual(basename(temp), basename(path));
        assert.equal(readFileSync(temp, "utf8"), after, "the new document is complete before the rename");
        assert.equal(readFileSync(path, "utf8"), before, "the target is untouched until the rename");
      } finally {
        // Killed there, or on a failed check above (so no child outlives the test).
        run.child.kill("SIGKILL");
      }
      await run.exited;
      assert.equal(readFileSync(path, "utf8"), before, "after the crash: the old content, whole");
      assert.equal(await createFileSecretStore(options).read(), OLD);

      // What `ftr resume` does for a run that died in promote: promote again.
      const store = createFileSecretStore(options);
      await store.promote("run-1");
      assert.equal(readFileSync(path, "utf8"), after);
      assert.equal(await store.readPrevious(), OLD);
      // The dead process's temp file (it holds the new value) is removed by the write that succeeds.
      assert.deepEqual(readdirSync(dir).sort(), ["secret", "secret.previous"]);
    });
  }
});
