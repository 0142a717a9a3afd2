import assert from "node:assert/strict";
import { beforeTimer } from "../../../test/helpers/wait.ts";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { ExecSecretError, createExecSecretStore } from "./index.ts";

const NEW = "QoU3neoxQQ6IPL8g7eRkkCjyWcwdNI7J";
const OLD = "X-srxc_zLpchro9ngNBVgyofN_jqQFJ2";

let dir: string;
let file: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "ftr-exec-secret-"));
  file = join(dir, "secret");
  await writeFile(file, `${OLD}\n`);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

// The commands see the file path through the environment, not through the value.
const store = (extra: { read?: boolean; write?: string[]; timeoutMs?: number } = {}) =>
  createExecSecretStore({
    write: extra.write ?? ["sh", "-c", 'cat > "$SECRET_FILE"'],
    ...(extra.read === false ? {} : { read: ["sh", "-c", 'cat "$SECRET_FILE"'] }),
    timeoutMs: extra.timeoutMs ?? 60_000,
    env: { SECRET_FILE: file },
  });

describe("exec secret store", () => {
  it("reads (trimmed), stages in memory, promotes through stdin, restores the previous", async () => {
    const s = store();
    assert.equal(s.durableStaging, false);
    assert.equal(await s.read(), OLD);
    await s.stage(NEW, "r1");
    assert.equal(await s.readStaged("r1"), NEW);
    assert.equal(await s.readStaged("r2"), undefined);
    assert.equal(await readFile(file, "utf8"), `${OLD}\n`);
    await s.promote("r1");
    assert.equal(await readFile(file, "utf8"), NEW);
    assert.equal(await s.readPrevious(), OLD);
    assert.equal(await s.readStaged("r1"), undefined);
    await s.restorePrevious("r1");
    assert.equal(await s.read(), OLD);
  });

  it("passes the value on stdin only, never in argv or the environment", async () => {
    const seen = join(dir, "seen");
    const s = createExecSecretStore({
      write: ["sh", "-c", 'echo "args:$*" > "$SEEN"; env >> "$SEEN"; cat > "$SECRET_FILE"', "sh", "arg"],
      timeoutMs: 60_000,
      env: { SECRET_FILE: file, SEEN: seen },
    });
    await s.stage(NEW, "r1");
    await s.promote("r1");
    assert.equal(await readFile(file, "utf8"), NEW);
    const observed = await readFile(seen, "utf8");
    assert.ok(!observed.includes(NEW));
    assert.match(observed, /^args:arg$/m);
  });

  it("without a read command: read is undefined and rollback says it needs one", async () => {
    const s = store({ read: false });
    assert.equal(await s.read(), undefined);
    await s.stage(NEW, "r1");
    await s.promote("r1");
    assert.equal(await s.readPrevious(), undefined);
    await assert.rejects(s.restorePrevious("r1"), /rollback needs a `read` command/);
  });

  it("reports exit code and the last stderr line with the value redacted", async () => {
    const s = store({ write: ["sh", "-c", 'v=$(cat); echo "noise" >&2; echo "bad token $v" >&2; exit 3'] });
    await s.stage(NEW, "r1");
    await assert.rejects(s.promote("r1"), (error: unknown) => {
      assert.ok(error instanceof ExecSecretError);
      assert.equal(error.exitCode, 3);
      assert.match(error.message, /exited with code 3: bad token \[REDACTED\]$/);
      assert.ok(!error.message.includes(NEW));
      return true;
    });
  });

  it("times out", async () => {
    const s = store({ write: ["sh", "-c", "sleep 600"], timeoutMs: 200 });
    await s.stage(NEW, "r1");
    // Before the command's own 600 s sleep ends: it was killed, not waited for.
    await beforeTimer(600_000, "the command's sleep", () =>
      assert.rejects(s.promote("r1"), /timed out after 200ms/),
    );
  });

  it("promote without stage fails clearly; a repeated promote keeps the previous", async () => {
    const s = store();
    await assert.rejects(s.promote("r1"), /nothing staged for run r1/);
    await s.stage(NEW, "r1");
    await s.promote("r1");
    await s.stage(NEW, "r1");
    await s.promote("r1");
    assert.equal(await s.readPrevious(), OLD);
  });
});
