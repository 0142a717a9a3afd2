/**
 * `ftr check` exit codes against the emulator: the demo account (exporter tokens expiring in 6, 18
 * and 27 days) plus an unmanaged CI token expiring in 3 days, with `rotateBefore: 5d` so nothing
 * managed is due at first.
 */
import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { main } from "../src/cli/main.ts";
import { demoCredentials } from "../src/emulator/index.ts";
import { loadConfig } from "../src/config/index.ts";
import { buildStatus, checkReport, type CheckResult } from "../src/monitor/index.ts";
import { captureIO } from "./helpers/cli.ts";
import {
  DEMO_TOKEN_VALUES,
  demoFileEnvironment,
  demoSeedWith,
  seedToken,
  world,
  type World,
} from "./helpers/world.ts";

const { superuser, exporterTokens } = demoCredentials;
const CI_VALUE = "check-test-ci-token-value-0000001";
const SECRETS = [...DEMO_TOKEN_VALUES, CI_VALUE];

describe("ftr check", () => {
  let w: World<"fastly">;
  const outputs: string[] = [];

  /** Run `ftr check` in-process; relative config path, as a cron job would write it. */
  const check = async (
    args: string[],
    env: Record<string, string> = { FASTLY_API_TOKEN: superuser.token },
  ) => {
    const io = captureIO({ env, cwd: w.dir });
    const code = await main(["check", ...args], io);
    outputs.push(io.out(), io.err());
    return { code, out: io.out(), err: io.err() };
  };

  beforeEach(async () => {
    w = await world({
      dir: "ftr-check-",
      fastly: demoSeedWith({ automationTokens: [seedToken("ci deploy", CI_VALUE)] }),
    });
    await w.writeFileConfig(
      (["integration", "staging", "production"] as const).map((name) => demoFileEnvironment(name)),
      "defaults: { token: { expiresIn: 365d, rotateBefore: 5d } }",
    );
  });

  afterEach(async () => {
    await w.close();
    for (const text of outputs) {
      for (const secret of SECRETS) assert.ok(!text.includes(secret), "a token value appears in the output");
    }
    outputs.length = 0;
  });

  it("exits 0 with a one-line summary when nothing is due", async () => {
    const { code, out } = await check(["--config", "ftr.yaml"]);
    assert.equal(code, 0);
    assert.match(
      out,
      /^OK 3 environment\(s\), 3 token\(s\) checked: nothing due; next: integration expires \d{4}-\d\d-\d\d\n$/,
    );
  });

  it("--quiet prints nothing when nothing is due, and the findings when something is", async () => {
    const fine = await check(["--config", "ftr.yaml", "--quiet"]);
    assert.equal(fine.code, 0);
    assert.equal(fine.out + fine.err, "");
    const due = await check(["--config", "ftr.yaml", "--quiet", "--within", "7d"]);
    assert.equal(due.code, 1);
    assert.match(due.out, /^DUE /m);
  });

  it("names a missing config's path in one line (exit 2)", async () => {
    const { code, err } = await check(["--config", "missing.yaml"]);
    assert.equal(code, 2);
    assert.match(err, /^error: \S*\/missing\.yaml: the file does not exist/);
    assert.equal(err.trim().split("\n").length, 1, err);
  });

  it("exits 1 when --within widens the window, naming the environment, token, date and fix", async () => {
    const { code, out } = await check(["--config", "ftr.yaml", "--within", "7d"]);
    assert.equal(code, 1);
    const lines = out.trim().split("\n");
    assert.equal(lines.length, 1);
    assert.match(
      lines[0]!,
      new RegExp(
        `^DUE integration: token ${exporterTokens.integration.id} expires \\d{4}-\\d\\d-\\d\\d \\(in 5 days\\), within 7 days; fix: ftr rotate --config ftr.yaml --env integration$`,
      ),
    );
  });

  it("exits 1 once the emulator's clock passes the deployed token's expiry", async () => {
    assert.equal((await check(["--config", "ftr.yaml"])).code, 0);
    await w.admin.advanceClock("7d");
    const { code, out } = await check(["--config", "ftr.yaml"]);
    assert.equal(code, 1);
    assert.match(
      out,
      /FAIL integration: the deployed token is refused by Fastly \(expired\); fix: ftr rotate --config ftr\.yaml --env integration/,
    );
    assert.doesNotMatch(out, /staging|production/);
  });

  it("--all also checks tokens no environment manages", async () => {
    assert.equal((await check(["--config", "ftr.yaml"])).code, 0);
    const { code, out } = await check(["--config", "ftr.yaml", "--all"]);
    assert.equal(code, 1);
    assert.match(
      out,
      /DUE unmanaged: token \w{22} expires .* \(in 2 days\), within 30 days; "ci deploy" is not in the config/,
    );
  });

  it("--json prints the findings and keeps the exit code", async () => {
    const { code, out } = await check(["--config", "ftr.yaml", "--within", "20d", "--json"]);
    assert.equal(code, 1);
    const result = JSON.parse(out) as CheckResult & { withinMs: number };
    assert.equal(result.ok, false);
    assert.equal(result.withinMs, 20 * 86_400_000);
    assert.deepEqual(
      result.findings.map((f) => [f.environment, f.tokenId, f.reason]),
      [
        ["integration", exporterTokens.integration.id, "expiring"],
        ["staging", exporterTokens.staging.id, "expiring"],
      ],
    );
    assert.equal(result.findings[0]!.fix, "ftr rotate --config ftr.yaml --env integration");
    assert.match(result.findings[0]!.expiresAt!, /^\d{4}-\d\d-\d\dT/);

    const fine = await check(["--config", "ftr.yaml", "--json"]);
    assert.equal(fine.code, 0);
    assert.equal((JSON.parse(fine.out) as CheckResult).ok, true);
  });

  it("works without FASTLY_API_TOKEN, from the deployed tokens alone", async () => {
    const ok = await check(["--config", "ftr.yaml"], {});
    assert.equal(ok.code, 0);
    assert.match(ok.err, /only the deployed tokens/);
    await w.admin.advanceClock("7d");
    assert.equal((await check(["--config", "ftr.yaml"], {})).code, 1);
  });

  it("exits 2 on bad usage", async () => {
    const bad = await check(["--config", "ftr.yaml", "--within", "30x"]);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--within: invalid duration "30x"/);
    assert.equal((await check(["--config", "ftr.yaml", "--within", "0d"])).code, 2);
    assert.equal((await check(["--config", "missing.yaml"])).code, 2);
    // No --config and no ./ftr.yaml or FTR_CONFIG where it runs: a usage error.
    const bare = captureIO({ env: {}, cwd: tmpdir() });
    assert.equal(await main(["check"], bare), 2);
  });

  it("judges a deployed token the listing does not show (a user token) by what it says of itself", async () => {
    const { config } = await loadConfig(join(w.dir, "ftr.yaml"));
    const now = new Date("2025-06-01T00:00:00Z");
    const report = buildStatus(
      {
        automationTokens: [],
        services: [],
        deployed: {
          integration: {
            status: "valid",
            token: {
              id: "UserTokenDeployed00001",
              name: "someone's cli",
              scopes: ["global"],
              services: [],
              expiresAt: new Date("2025-06-11T00:00:00Z"),
            },
          },
          staging: { status: "absent" },
          production: { status: "dead", reason: "refused with 401" },
        },
      },
      config,
      now,
    );
    assert.equal(report.environments[0]!.findings[0]!.code, "deployed-unmanaged");
    const result = checkReport(report, { configPath: "ftr.yaml", withinMs: 30 * 86_400_000 });
    assert.deepEqual(
      result.findings.map((f) => [f.environment, f.tokenId, f.reason]),
      [
        ["integration", "UserTokenDeployed00001", "expiring"],
        ["staging", undefined, "absent"],
        ["production", undefined, "dead"],
      ],
    );
    assert.match(result.findings[0]!.message, /expires 2025-06-11 \(in 10 days\)/);
  });
});
