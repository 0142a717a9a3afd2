/**
 * Durations cannot overflow. Node's timers fire after 1 ms for any delay from 2^31 ms (about 24.9
 * days): `serve --interval 25d` refreshed without pause and an exec reload with `timeout: 25d`
 * "timed out" at once. A duration no date can hold (`99999999999999999999d`) validated and then
 * failed `plan` with "Invalid time value". Now: one bounded duration (at most 1000 years), refused
 * by `validate` naming the field, and long waits sleep in chunks.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createExecReloader } from "../../src/adapters/exec-reload/index.ts";
import { loadConfig } from "../../src/config/index.ts";
import { demoCredentials, demoSeed } from "../../src/emulator/index.ts";
import { createFastlyClient } from "../../src/fastly/index.ts";
import { startServe } from "../../src/monitor/serve.ts";
import { memoryLogger } from "../../src/util/log.ts";
import { runCli } from "../helpers/cli.ts";
import { demoFileEnvironment, fileConfig, world, type World } from "../helpers/world.ts";

const DAY = 86_400_000;

describe("security: durations that no timer or date can hold", () => {
  let w: World<"fastly">;

  before(async () => {
    w = await world({ dir: "ftr-durations-", fastly: demoSeed });
  });
  after(() => w.close());

  it("validate refuses expiresIn: 99999999999999999999d, naming the field (exit 2)", async () => {
    await w.writeFileConfig(
      [demoFileEnvironment("integration")],
      "defaults: { token: { expiresIn: 99999999999999999999d, rotateBefore: 30d } }",
    );
    for (const command of ["validate", "plan"]) {
      const { code, stdout, stderr } = await runCli([command, "--config", "ftr.yaml"], {
        cwd: w.dir,
        env: { FASTLY_API_TOKEN: demoCredentials.superuser.token },
      });
      assert.equal(code, 2, `${command}: ${stdout}${stderr}`);
      assert.match(
        stdout + stderr,
        /defaults\.token\.expiresIn: invalid duration "99999999999999999999d": it is longer than 1000 years/,
      );
      assert.doesNotMatch(stdout + stderr, /Invalid time value|unexpected failure/);
    }
  });

  it("validate refuses a reload timeout past the bound, naming the field", async () => {
    const text = fileConfig(w.emulator.url, [demoFileEnvironment("integration")]).replace(
      "    verify:",
      '    reload: [{ type: exec, command: ["true"], timeout: 9999999999999w }]\n    verify:',
    );
    await w.writeConfig(text, "long.yaml");
    const { code, stdout } = await runCli(["validate", "--config", "long.yaml"], { cwd: w.dir });
    assert.equal(code, 2, stdout);
    assert.match(stdout, /environments\[0\]\.reload\[0\]\.timeout: invalid duration "9999999999999w"/);
  });

  it("serve --interval and check --within past the bound are refused in one line (exit 2)", async () => {
    await w.writeConfig(fileConfig(w.emulator.url, [demoFileEnvironment("integration")]), "ok.yaml");
    for (const argv of [
      ["serve", "--config", "ok.yaml", "--listen", "127.0.0.1:0", "--interval", "99999999999999999999d"],
      ["check", "--config", "ok.yaml", "--within", "99999999999999999999d"],
    ]) {
      const { code, stderr } = await runCli(argv, { cwd: w.dir });
      assert.equal(code, 2, stderr);
      assert.match(stderr, /longer than 1000 years/);
      assert.equal(stderr.trim().split("\n").length, 1, stderr);
    }
  });

  it("an exec reload with timeout: 25d waits for its command rather than timing out at once", async () => {
    const reloader = createExecReloader({
      command: [process.execPath, "-e", "setTimeout(() => {}, 300)"],
      timeoutMs: 25 * DAY,
    });
    await reloader.run({ environment: "integration", runId: "r", log: memoryLogger() });
  });

  it("serve with a 30-day interval refreshes once, not in a loop", async () => {
    const path = await w.writeFileConfig([demoFileEnvironment("integration")]);
    const { config } = await loadConfig(path);
    const client = createFastlyClient({ token: demoCredentials.superuser.token, endpoint: w.emulator.url });
    await w.admin.reset();
    const handle = await startServe({ config, client, listen: "127.0.0.1:0", intervalMs: 30 * DAY });
    try {
      const first = await handle.refresh();
      assert.ok(first.ok, first.errors.join("; "));
      const listings = async (): Promise<number> =>
        (await w.admin.requests()).filter((r) => r.path.startsWith("/automation-tokens")).length;
      assert.equal(await listings(), 1);
      // Each answer takes longer than the 1 ms an overflowed timer waits: a loop would show here.
      for (let i = 0; i < 20; i++) assert.equal((await fetch(`${handle.url}/healthz`)).status, 200);
      assert.equal(await listings(), 1, "no refresh before the interval has passed");
    } finally {
      await handle.close();
    }
  });
});
