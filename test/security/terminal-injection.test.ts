/**
 * A hostile name in the account cannot forge what a superuser reads: a service named with ESC, CR
 * and a newline that spell out a fake `revoke: nothing` line, and a token named with an OSC
 * sequence, are printed with their control characters escaped by `plan`, `status` and `check`;
 * `--json` still carries the names exactly.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { main } from "../../src/cli/main.ts";
import { demoCredentials } from "../../src/emulator/index.ts";
import { captureIO } from "../helpers/cli.ts";
import { demoFileEnvironment, demoSeedWith, seedToken, world, type World } from "../helpers/world.ts";

const { superuser } = demoCredentials;
const HOSTILE_SERVICE = "integration\x1b[2K\r  revoke:   nothing (after the new token is verified in use)\n";
const HOSTILE_TOKEN = "ci\x1b]0;owned\x07 deploy\u202e";
const HOSTILE_VALUE = "terminal-injection-ci-token-00001";

/** True when `text` holds a raw control character a terminal would act on. */
function hasRawControl(text: string): boolean {
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/.test(text);
}

describe("security: terminal injection through names in the account", () => {
  let w: World<"fastly">;
  const run = async (args: string[]) => {
    const io = captureIO({ env: { FASTLY_API_TOKEN: superuser.token }, cwd: w.dir });
    const code = await main([...args, "--config", "ftr.yaml"], io);
    return { code, out: io.out(), err: io.err() };
  };

  before(async () => {
    w = await world({
      dir: "ftr-injection-",
      fastly: demoSeedWith({
        services: [{ name: HOSTILE_SERVICE, version: 1, createdAt: "-1d" }],
        automationTokens: [seedToken(HOSTILE_TOKEN, HOSTILE_VALUE)],
      }),
    });
    await w.writeFileConfig(
      [demoFileEnvironment("integration")],
      "defaults: { token: { expiresIn: 365d, rotateBefore: 30d } }",
    );
  });

  after(() => w.close());

  it("plan shows the hostile service name escaped, and no forged revoke line", async () => {
    const { code, out, err } = await run(["plan"]);
    assert.equal(code, 0, err);
    assert.ok(!hasRawControl(out), `raw control characters in:\n${JSON.stringify(out)}`);
    assert.ok(out.includes("integration\\x1b[2K\\r  revoke:   nothing"), out);
    const revokeLines = out.split("\n").filter((l) => /^\s*revoke:/.test(l));
    assert.equal(revokeLines.length, 1, out);
    assert.doesNotMatch(revokeLines[0] ?? "", /revoke:\s+nothing/);
  });

  it("plan --json holds the original names", async () => {
    const { code, out } = await run(["plan", "--json"]);
    assert.equal(code, 0);
    const plan = JSON.parse(out) as { environments: { services: { name: string }[] }[] };
    assert.ok(plan.environments[0]?.services.some((s) => s.name === HOSTILE_SERVICE));
  });

  it("status shows the hostile token name escaped; --json holds it", async () => {
    const { code, out, err } = await run(["status"]);
    assert.equal(code, 0, err);
    assert.ok(!hasRawControl(out), `raw control characters in:\n${JSON.stringify(out)}`);
    assert.ok(!hasRawControl(err), `raw control characters in:\n${JSON.stringify(err)}`);
    assert.ok(out.includes("ci\\x1b]0;owned\\x07 deploy\\u202e"), out);
    const json = await run(["status", "--json"]);
    const report = JSON.parse(json.out) as { tokens: { name: string }[] };
    assert.ok(report.tokens.some((t) => t.name === HOSTILE_TOKEN));
  });

  it("check --all names the hostile token escaped; --json holds it", async () => {
    const { code, out, err } = await run(["check", "--all"]);
    assert.equal(code, 1, err);
    assert.ok(!hasRawControl(out + err), `raw control characters in:\n${JSON.stringify(out + err)}`);
    assert.ok(out.includes("ci\\x1b]0;owned\\x07 deploy\\u202e"), out);
    const json = await run(["check", "--all", "--json"]);
    const result = JSON.parse(json.out) as { findings: { tokenName?: string }[] };
    assert.ok(result.findings.some((f) => f.tokenName === HOSTILE_TOKEN));
  });
});
