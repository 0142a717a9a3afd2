/**
 * One verdict per environment: `status` (its environment table and `--json`), `check` (what makes
 * it fail, and `environments` in `--json`) and `serve` (`fastly_token_rotator_environment_state`)
 * say the same thing of the same environment. The demo account's staging token expires in 18
 * days: with `rotateBefore: 30d` it is due everywhere (the token table used to say due while the
 * environment table said ok); with `rotateBefore: 7d` it is ok everywhere.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { loadConfig } from "../src/config/index.ts";
import { demoCredentials } from "../src/emulator/index.ts";
import { createFastlyClient } from "../src/fastly/index.ts";
import { startServe } from "../src/monitor/index.ts";
import type { EnvironmentVerdict } from "../src/monitor/verdict.ts";
import { runCli } from "./helpers/cli.ts";
import { demoFileEnvironment, demoSeedWith, world, type World } from "./helpers/world.ts";

describe("one verdict per environment in status, check and serve", () => {
  let w: World<"fastly">;
  const env = { FASTLY_API_TOKEN: demoCredentials.superuser.token };
  const cli = (args: string[]) => runCli([...args, "--config", "ftr.yaml"], { env, cwd: w.dir });

  before(async () => {
    w = await world({ dir: "ftr-verdict-", fastly: demoSeedWith({}) });
  });
  after(() => w?.close());

  const verdictsEverywhere = async () => {
    const status = await cli(["status", "--json"]);
    assert.equal(status.code, 0, status.stderr);
    const fromStatus = (JSON.parse(status.stdout) as { verdicts: EnvironmentVerdict[] }).verdicts;
    const check = await cli(["check", "--json"]);
    const fromCheck = (JSON.parse(check.stdout) as { environments: EnvironmentVerdict[] }).environments;
    const human = await cli(["status"]);
    const { config } = await loadConfig(`${w.dir}/ftr.yaml`);
    const client = createFastlyClient({ token: env.FASTLY_API_TOKEN, endpoint: w.emulator.url });
    const handle = await startServe({ config, client, listen: "127.0.0.1:0", intervalMs: 3_600_000 });
    let metrics: string;
    try {
      await handle.refresh();
      metrics = await (await fetch(`${handle.url}/metrics`)).text();
    } finally {
      await handle.close();
    }
    return { fromStatus, fromCheck, checkCode: check.code, human: human.stdout, metrics };
  };

  for (const [rotateBefore, want] of [
    ["30d", "due"],
    ["7d", "ok"],
  ] as const) {
    it(`rotateBefore ${rotateBefore}: staging is ${want} in every view`, async () => {
      await w.writeFileConfig(
        [demoFileEnvironment("staging")],
        `defaults: { token: { expiresIn: 365d, rotateBefore: ${rotateBefore} } }`,
      );
      const { fromStatus, fromCheck, checkCode, human, metrics } = await verdictsEverywhere();
      assert.deepEqual(
        fromStatus.map((v) => [v.environment, v.state]),
        [["staging", want]],
      );
      assert.deepEqual(fromCheck, fromStatus);
      assert.equal(checkCode, want === "due" ? 1 : 0, "check fails exactly when the verdict fails");
      assert.equal(fromStatus[0]?.failing, want === "due");
      // The environment table's row carries the verdict.
      const row = human.split("\n").find((l) => l.startsWith("staging "));
      assert.ok(row, human);
      assert.match(row, new RegExp(`^staging\\s+${want}\\b`));
      if (want === "due") assert.match(row, /expires in 1\d days/);
      // serve exports the same state, and only it.
      const states = [...metrics.matchAll(/fastly_token_rotator_environment_state\{([^}]*)\} 1/g)].map(
        (m) => m[1],
      );
      assert.deepEqual(states, [`environment="staging",state="${want}"`]);
    });
  }
});
