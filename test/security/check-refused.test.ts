/**
 * A monitoring credential that Fastly refuses does not pass unnoticed: with FASTLY_API_TOKEN set and
 * refused (a typo, revoked, expired), `check` exits 1 with one line saying so and how to fix it.
 * Without FASTLY_API_TOKEN, the documented deployed-tokens-only mode still answers OK.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { demoSeed } from "../../src/emulator/index.ts";
import { runCli } from "../helpers/cli.ts";
import { demoFileEnvironment, world, type World } from "../helpers/world.ts";

describe("security: check with a refused credential", () => {
  let w: World<"fastly">;

  before(async () => {
    w = await world({ dir: "ftr-check-refused-", fastly: demoSeed });
    await w.writeFileConfig(
      [demoFileEnvironment("integration")],
      "defaults: { token: { expiresIn: 365d, rotateBefore: 2d } }",
    );
  });

  after(() => w.close());

  it("FASTLY_API_TOKEN=typo ftr check --all exits 1 and says the credential was refused", async () => {
    const { code, stdout, stderr } = await runCli(["check", "--all", "--config", "ftr.yaml"], {
      cwd: w.dir,
      env: { FASTLY_API_TOKEN: "typo" },
    });
    assert.equal(code, 1, stdout + stderr);
    const lines = stdout.split("\n").filter((l) => l.includes("FASTLY_API_TOKEN was refused by Fastly (401"));
    assert.equal(lines.length, 1, stdout);
    assert.match(lines[0] ?? "", /^FAIL .*; fix: export a valid user token of a superuser/);
    assert.doesNotMatch(stdout, /^OK/m);
  });

  it("--json says the same in a finding", async () => {
    const { code, stdout } = await runCli(["check", "--json", "--config", "ftr.yaml"], {
      cwd: w.dir,
      env: { FASTLY_API_TOKEN: "typo" },
    });
    assert.equal(code, 1);
    const result = JSON.parse(stdout) as { ok: boolean; findings: { reason: string }[] };
    assert.equal(result.ok, false);
    assert.ok(result.findings.some((f) => f.reason === "refused"));
  });

  it("without FASTLY_API_TOKEN, check still judges the deployed tokens alone and says OK", async () => {
    const { code, stdout, stderr } = await runCli(["check", "--all", "--config", "ftr.yaml"], {
      cwd: w.dir,
      env: {},
    });
    assert.equal(code, 0, stdout + stderr);
    assert.match(stdout, /^OK /m);
    assert.match(stderr, /FASTLY_API_TOKEN is not set: showing only the deployed tokens/);
  });
});
