import assert from "node:assert/strict";
import { beforeTimer } from "../../../test/helpers/wait.ts";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { afterEach, beforeEach, describe, it } from "node:test";
import { memoryLogger } from "../../util/log.ts";
import { ExecReloadError, createExecReloader } from "./index.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "ftr-exec-reload-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

// A killed orphan may linger as a zombie when PID 1 does not reap: that counts as dead.
const isAlive = async (pid: number): Promise<boolean> => {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    return !/^\d+ \(.*\) [ZX]/.test(stat);
  } catch {
    return false;
  }
};

describe("exec reloader", () => {
  it("runs with FTR_ENVIRONMENT, FTR_RUN_ID, extra env and cwd; no Fastly credential; logs output", async () => {
    const saved = process.env.FASTLY_API_TOKEN;
    process.env.FASTLY_API_TOKEN = "superuser-token-value";
    try {
      const log = memoryLogger();
      const reloader = createExecReloader({
        command: ["sh", "-c", "env > env.txt; pwd; echo to-stderr >&2"],
        timeoutMs: 60_000,
        cwd: dir,
        env: { EXTRA: "yes" },
      });
      assert.equal(reloader.description, "exec sh -c env > env.txt; pwd; echo to-stderr >&2");
      await reloader.run({ environment: "staging", runId: "run-7", log });
      const env = await readFile(join(dir, "env.txt"), "utf8");
      assert.match(env, /^FTR_ENVIRONMENT=staging$/m);
      assert.match(env, /^FTR_RUN_ID=run-7$/m);
      assert.match(env, /^EXTRA=yes$/m);
      assert.doesNotMatch(env, /FASTLY_API_TOKEN|superuser-token-value/);
      assert.deepEqual(
        log.lines.map((l) => [l.level, l.message]),
        [
          ["debug", dir],
          ["debug", "to-stderr"],
        ],
      );
    } finally {
      if (saved === undefined) delete process.env.FASTLY_API_TOKEN;
      else process.env.FASTLY_API_TOKEN = saved;
    }
  });

  it("throws with exit code and the last stderr lines", async () => {
    const reloader = createExecReloader({
      command: ["sh", "-c", "echo one >&2; echo two >&2; echo three >&2; echo four >&2; exit 4"],
      timeoutMs: 60_000,
    });
    await assert.rejects(reloader.run({ environment: "e", runId: "r", log: memoryLogger() }), (error) => {
      assert.ok(error instanceof ExecReloadError);
      assert.equal(error.exitCode, 4);
      assert.match(error.message, /exited with code 4: two \| three \| four$/);
      return true;
    });
  });

  it("kills the whole process group on timeout", async () => {
    const pidFile = join(dir, "child.pid");
    const reloader = createExecReloader({
      // The grandchild would outlive a kill of the shell alone.
      command: ["sh", "-c", `sleep 600 & echo $! > ${pidFile}; wait`],
      timeoutMs: 300,
    });
    // Before the grandchild's own 600 s sleep ends: the kill did not wait for it.
    await beforeTimer(600_000, "the grandchild's sleep", () =>
      assert.rejects(reloader.run({ environment: "e", runId: "r", log: memoryLogger() }), (error) => {
        assert.ok(error instanceof ExecReloadError);
        assert.equal(error.timedOut, true);
        assert.match(error.message, /timed out after 300ms/);
        return true;
      }),
    );
    const grandchild = Number(await readFile(pidFile, "utf8"));
    // The SIGKILL is sent; the kernel reaps the grandchild soon after. Wait for that, not a time.
    const deadline = Date.now() + 60_000;
    while ((await isAlive(grandchild)) && Date.now() < deadline) await delay(20);
    assert.equal(await isAlive(grandchild), false);
  });

  it("stops when the run is interrupted", async () => {
    const controller = new AbortController();
    const reloader = createExecReloader({ command: ["sleep", "600"], timeoutMs: 300_000 });
    setTimeout(() => controller.abort(), 100);
    await assert.rejects(
      reloader.run({ environment: "e", runId: "r", log: memoryLogger(), signal: controller.signal }),
      /was interrupted/,
    );
  });

  it("says when the command cannot be started", async () => {
    const reloader = createExecReloader({ command: [join(dir, "missing")], timeoutMs: 60_000 });
    await assert.rejects(reloader.run({ environment: "e", runId: "r", log: memoryLogger() }), /ENOENT/);
  });
});
