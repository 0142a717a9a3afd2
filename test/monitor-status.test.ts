/**
 * `ftr status` and `collectStatus` against the emulator: a demo-shaped account with a leftover, a
 * global all-services token that never expires and was never used, and three environments whose
 * secret files hold a managed token, an unmanaged one and a refused one.
 */
import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { main } from "../src/cli/main.ts";
import { loadConfig } from "../src/config/index.ts";
import { createFastlyClient } from "../src/fastly/index.ts";
import { demoCredentials } from "../src/emulator/index.ts";
import { collectStatus, renderStatus, timeBar, type StatusReport } from "../src/monitor/index.ts";
import { captureIO } from "./helpers/cli.ts";
import { DEMO_TOKEN_VALUES, demoSeedWith, seedToken, world, type World } from "./helpers/world.ts";

const { superuser, exporterTokens } = demoCredentials;
const UNMANAGED_VALUE = "status-test-unmanaged-value-0001";
const CI_VALUE = "status-test-ci-global-value-00002";
const LEFTOVER_VALUE = "status-test-leftover-value-000003";
const REFUSED_VALUE = "status-test-refused-value-0000004";
const SECRETS = [...DEMO_TOKEN_VALUES, UNMANAGED_VALUE, CI_VALUE, LEFTOVER_VALUE, REFUSED_VALUE];

const seed = demoSeedWith({
  automationTokens: [
    seedToken(exporterTokens.staging.name, LEFTOVER_VALUE, {
      id: "LeftoverStagingToken01",
      services: ["www Staging"],
      expiresAt: "+40d",
      createdAt: "-700d",
      lastUsedAt: "-100d",
      userAgent: "Fastly-Exporter (9.0.0)",
      ip: "10.2.0.11",
    }),
    seedToken("ci deploy", CI_VALUE, {
      id: "CiGlobalTokenNever0002",
      scope: "global",
      expiresAt: null,
      createdAt: "-10d",
    }),
    seedToken("hand-made staging exporter token", UNMANAGED_VALUE, {
      id: "UnmanagedStagingTok003",
      role: "user",
      services: ["www Staging", "assets Staging"],
      expiresAt: "+200d",
      createdAt: "-20d",
      lastUsedAt: "-2h",
    }),
  ],
});

function assertNoSecrets(text: string): void {
  for (const secret of SECRETS) assert.ok(!text.includes(secret), "a token value appears in the output");
}

describe("ftr status", () => {
  let w: World<"fastly">;
  let configPath: string;
  /** The io of an in-process run in the world's directory, its stdout a terminal or not. */
  const cliIO = (env: Record<string, string>, tty = false) => captureIO({ env, cwd: w.dir, tty });

  before(async () => {
    w = await world({ dir: "ftr-status-", fastly: seed });
    const secret = (file: string, value: string) =>
      w.writeSecret(file, JSON.stringify({ "fastly-api-token": value, other: "kept" }));
    await secret("integration.json", exporterTokens.integration.token);
    await secret("staging.json", UNMANAGED_VALUE);
    await secret("production.json", REFUSED_VALUE);
    const env = (name: string, title: string) => `
  - name: ${name}
    token:
      name: GOV.UK prometheus-fastly-exporter token for ${title}
      services: { nameMatches: "${title}" }
    secret: { type: file, path: ./${name}.json, jsonKey: fastly-api-token }
    verify: [{ type: token-in-use }]`;
    configPath = await w.writeConfig(
      `version: 1
fastly: { endpoint: "${w.emulator.url}" }
defaults:
  token: { role: engineer, scope: "global:read", expiresIn: 365d, rotateBefore: 30d }
environments:${env("integration", "Integration")}${env("staging", "Staging")}${env("production", "Production")}
`,
    );
  });

  after(() => w.close());

  const codes = (report: StatusReport, id: string) =>
    report.tokens.find((t) => t.id === id)?.findings.map((f) => f.code) ?? [];

  it("collectStatus computes the findings", async () => {
    const { config } = await loadConfig(configPath);
    const client = createFastlyClient({ token: superuser.token, endpoint: w.emulator.url });
    const now = await w.admin.now();
    const report = await collectStatus({ client, config, now });

    assert.equal(report.scope, "account");
    assert.equal(report.tokens.length, 6);
    // Integration: managed, deployed, due within rotateBefore (expires in 6 days).
    const integration = report.tokens.find((t) => t.id === exporterTokens.integration.id)!;
    assert.equal(integration.environment, "integration");
    assert.deepEqual(integration.deployedIn, ["integration"]);
    assert.deepEqual(codes(report, exporterTokens.integration.id), ["expiring"]);
    assert.ok(Math.abs(integration.msLeft! - 6 * 86_400_000) < 60_000, "expires 6 days after the seed");
    assert.deepEqual(
      integration.services.map((s) => s.name),
      ["www Integration", "assets Integration"],
    );
    assert.equal(integration.lastUsed?.userAgent, "Fastly-Exporter (10.2.0)");
    assert.equal(integration.lastUsed?.ip, "10.1.0.12");
    // The global, all-services, never-expiring, never-used token.
    assert.deepEqual(codes(report, "CiGlobalTokenNever0002").sort(), [
      "all-services",
      "global-scope",
      "never-expires",
      "never-used",
      "unmanaged",
    ]);
    // Two tokens named for staging: the older, undeployed one is the leftover.
    // Created 700 days ago, expiring in 40: a lifetime over policy.maxLifetime (400 days by default).
    assert.deepEqual(codes(report, "LeftoverStagingToken01").sort(), [
      "leftover",
      "over-max-lifetime",
      "unused",
    ]);
    assert.ok(!codes(report, exporterTokens.staging.id).includes("leftover"));
    const staging = report.environments.find((e) => e.name === "staging")!;
    assert.deepEqual(staging.managedTokenIds, ["LeftoverStagingToken01", exporterTokens.staging.id]);
    assert.deepEqual(staging.findings.map((f) => f.code).sort(), ["deployed-unmanaged", "leftover"]);
    assert.equal(staging.deployed.status, "valid");
    assert.ok(staging.deployed.status === "valid" && !staging.deployed.managed);
    // Production's secret holds a value Fastly refuses.
    const production = report.environments.find((e) => e.name === "production")!;
    assert.equal(production.deployed.status, "dead");
    assert.deepEqual(
      production.findings.map((f) => f.code),
      ["deployed-dead"],
    );
    assert.equal(report.environments.find((e) => e.name === "integration")!.findings.length, 0);
    // Most urgent first: by time left, never-expiring last.
    assert.equal(report.tokens[0]!.id, exporterTokens.integration.id);
    assert.equal(report.tokens.at(-1)!.id, "CiGlobalTokenNever0002");
    assertNoSecrets(JSON.stringify(report));
  });

  it("renders a table without colours when not a terminal, with colours on one", async () => {
    const plain = cliIO({ FASTLY_API_TOKEN: superuser.token });
    assert.equal(await main(["status", "--config", configPath], plain), 0);
    const text = plain.out();
    assert.ok(!text.includes("\u001b["), "no escape codes when stdout is not a TTY");
    assert.match(text, /GOV\.UK prometheus-fastly-exporter token for Integration/);
    assert.match(text, /█░{9}/); // 6 days of 365: one cell
    assert.match(text, /leftover/);
    assert.match(text, /refused by Fastly/);
    assert.match(text, /6 token\(s\), 3 environment\(s\)/);
    assert.ok(text.indexOf(exporterTokens.integration.id) < text.indexOf(exporterTokens.production.id));
    assertNoSecrets(text + plain.err());

    const tty = cliIO({ FASTLY_API_TOKEN: superuser.token, FORCE_COLOR: "0" }, true);
    assert.equal(await main(["status", "--config", configPath], tty), 0);
    assert.ok(tty.out().includes("\u001b["), "colours on a TTY");
  });

  it("--json prints the same facts with ISO dates", async () => {
    const io = cliIO({ FASTLY_API_TOKEN: superuser.token });
    assert.equal(await main(["status", "--config", configPath, "--json"], io), 0);
    const report = JSON.parse(io.out()) as StatusReport;
    assert.equal(report.scope, "account");
    assert.equal(report.tokens.length, 6);
    const t = report.tokens.find((x) => x.id === exporterTokens.production.id)!;
    assert.match(t.expiresAt!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.match(t.createdAt!, /^\d{4}-\d\d-\d\dT/);
    assert.deepEqual(Object.keys(report.summary), ["critical", "warning", "info"]);
    assert.ok(report.summary.critical >= 1);
    assertNoSecrets(io.out() + io.err());
  });

  it("without FASTLY_API_TOKEN reports the deployed tokens only, and says so", async () => {
    const io = cliIO({});
    assert.equal(await main(["status", "--config", configPath, "--json"], io), 0);
    const report = JSON.parse(io.out()) as StatusReport;
    assert.equal(report.scope, "deployed-only");
    assert.match(report.limitation!, /FASTLY_API_TOKEN is not set/);
    assert.match(io.err(), /deployed tokens/);
    assert.deepEqual(
      report.tokens.map((t) => t.id).sort(),
      [exporterTokens.integration.id, "UnmanagedStagingTok003"].sort(),
    );
    assert.equal(report.environments.find((e) => e.name === "production")!.deployed.status, "dead");
    // No listing: no last-use judgement and no leftovers.
    assert.ok(
      report.tokens.every((t) => !t.findings.some((f) => ["never-used", "leftover"].includes(f.code))),
    );

    const table = cliIO({});
    assert.equal(await main(["status", "--config", configPath], table), 0);
    assert.match(table.out(), /note: FASTLY_API_TOKEN is not set/);
    assertNoSecrets(io.out() + io.err() + table.out() + table.err());
  });

  it("falls back to the deployed tokens when the listing is refused", async () => {
    // An automation token cannot list the account's tokens: 403.
    const io = cliIO({ FASTLY_API_TOKEN: exporterTokens.staging.token });
    assert.equal(await main(["status", "--config", configPath, "--json"], io), 0);
    const report = JSON.parse(io.out()) as StatusReport;
    assert.equal(report.scope, "deployed-only");
    assert.match(report.limitation!, /refused \(40[13]\)/);
    assertNoSecrets(io.out() + io.err());
  });

  it("exits 2 on a missing config", async () => {
    const io = cliIO({});
    assert.equal(await main(["status", "--config", join(w.dir, "nope.yaml")], io), 2);
    // No --config and no ./ftr.yaml or FTR_CONFIG where it runs: a usage error.
    assert.equal(await main(["status"], captureIO({ env: {}, cwd: tmpdir() })), 2);
  });

  it("draws the time-left bar over the lifetime", () => {
    const day = 86_400_000;
    assert.equal(timeBar(365 * day, 365 * day), "██████████");
    assert.equal(timeBar(180 * day, 365 * day), "█████░░░░░");
    assert.equal(timeBar(-day, 365 * day), "░░░░░░░░░░");
    assert.equal(timeBar(undefined, 365 * day).trim(), "∞");
    assert.ok(
      renderStatus({
        generatedAt: "",
        scope: "account",
        tokens: [],
        environments: [],
        summary: { critical: 0, warning: 0, info: 0 },
      }).includes("no automation tokens"),
    );
  });
});
