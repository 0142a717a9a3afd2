/**
 * A monitoring credential that Fastly refuses does not pass unnoticed: with FASTLY_API_TOKEN set and
 * refused (a typo, revoked, expired), `check` exits 1 with one line saying so and how to fix it.
 * Without FASTLY_API_TOKEN, the documented deployed-tokens-only mode still answers OK.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createEmulator, demoCredentials, demoSeed, type RunningEmulator } from "../../src/emulator/index.ts";
import { runCli } from "../helpers/cli.ts";

const { exporterTokens } = demoCredentials;

describe("security: check with a refused credential", () => {
  let emulator: RunningEmulator;
  let dir: string;

  before(async () => {
    emulator = await createEmulator({ seed: demoSeed });
    dir = await mkdtemp(join(tmpdir(), "ftr-check-refused-"));
    await writeFile(join(dir, "integration.txt"), exporterTokens.integration.token + "\n", { mode: 0o600 });
    await writeFile(
      join(dir, "ftr.yaml"),
      `version: 1
fastly: { endpoint: "${emulator.url}" }
defaults: { token: { expiresIn: 365d, rotateBefore: 2d } }
environments:
  - name: integration
    token: { name: "${exporterTokens.integration.name}", services: { nameMatches: "ntegration" } }
    secret: { type: file, path: ./integration.txt }
    verify: [{ type: token-in-use }]
`,
    );
  });

  after(async () => {
    await emulator.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("FASTLY_API_TOKEN=typo ftr check --all exits 1 and says the credential was refused", async () => {
    const { code, stdout, stderr } = await runCli(["check", "--all", "--config", "ftr.yaml"], {
      cwd: dir,
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
      cwd: dir,
      env: { FASTLY_API_TOKEN: "typo" },
    });
    assert.equal(code, 1);
    const result = JSON.parse(stdout) as { ok: boolean; findings: { reason: string }[] };
    assert.equal(result.ok, false);
    assert.ok(result.findings.some((f) => f.reason === "refused"));
  });

  it("without FASTLY_API_TOKEN, check still judges the deployed tokens alone and says OK", async () => {
    const { code, stdout, stderr } = await runCli(["check", "--all", "--config", "ftr.yaml"], {
      cwd: dir,
      env: {},
    });
    assert.equal(code, 0, stdout + stderr);
    assert.match(stdout, /^OK /m);
    assert.match(stderr, /FASTLY_API_TOKEN is not set: showing only the deployed tokens/);
  });
});
