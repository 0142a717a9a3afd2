/**
 * Sudo lasts five minutes on Fastly's clock. A rotation that outlives it (slow restarts, long
 * verification) must obtain sudo again before the next mint instead of failing. Here the first
 * environment's reload moves the emulator's clock six minutes on, so sudo has lapsed by the time
 * the second environment mints.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  assertNoSecrets,
  assertSettled,
  startRotationEnv,
  type RotationEnv,
} from "./helpers/rotation-env.ts";

describe("sudo lapsing in the middle of a run", () => {
  let h: RotationEnv;
  before(async () => {
    h = await startRotationEnv({ environments: ["integration", "staging"] });
  });
  after(async () => {
    await h?.close();
  });

  it("obtains sudo again and rotates both environments", async () => {
    const doc = h.config();
    const advance = `const r = await fetch(process.argv[1] + "/__emulator/clock", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ advance: "6m" }) }); process.exit(r.ok ? 0 : 1);`;
    const integration = doc.environments.find((e) => e.name === "integration")!;
    (integration.reload as unknown[]).push({
      type: "exec",
      command: [process.execPath, "--input-type=module", "-e", advance, h.emulator.url],
      timeout: "10s",
    });
    await h.writeConfig(doc);
    const { code, stdout, stderr } = await h.runCli(["rotate", "--config", h.configPath, "--yes"]);
    assert.equal(code, 0, stdout + stderr);
    const sudos = (await h.toolRequests()).filter((r) => r.method === "POST" && r.path === "/sudo");
    assert.ok(sudos.length >= 2, `sudo was obtained again (${sudos.length} POST /sudo)`);
    for (const env of h.environments) await assertSettled(h, env);
    assert.deepEqual(await h.consumerRefusals(), []);
  });

  it("printed no token value or password anywhere", () => {
    assertNoSecrets(h.collectOutput(), h.knownSecrets());
  });
});
