/**
 * Least privilege and hygiene across every automation token in the account, on a seeded account
 * with one token per finding: unused (by `policy.unusedAfter`), never used and old, never expiring,
 * over `policy.maxLifetime`, created by a user who has left, broader than its environment's config
 * (every service, `global`, an extra role), and unmanaged ones listed apart. Each finding is seen
 * in `collectStatus`, `ftr status`, `ftr check --all` and `serve`'s metrics, each with its fix.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { loadConfig } from "../src/config/index.ts";
import { createFastlyClient } from "../src/fastly/index.ts";
import { demoCredentials, demoSeed, type Seed } from "../src/emulator/index.ts";
import { collectStatus, startServe, type CheckResult, type StatusReport } from "../src/monitor/index.ts";
import { runCli } from "./helpers/cli.ts";
import { DEMO_TOKEN_VALUES, seedToken, world, type World } from "./helpers/world.ts";

const { superuser } = demoCredentials;

const V = {
  idle: "hygiene-idle-token-value-0000001",
  neverUsed: "hygiene-never-used-value-0000002",
  forever: "hygiene-forever-token-value-0003",
  long: "hygiene-long-lived-value-00000004",
  orphan: "hygiene-orphan-token-value-00005",
  broad: "hygiene-broad-token-value-000006",
  clean: "hygiene-clean-token-value-000007",
};
const SECRETS = [...DEMO_TOKEN_VALUES, ...Object.values(V), "leaver-password-1"];
const ID = {
  idle: "HygieneIdleToken000001",
  neverUsed: "HygieneNeverUsed000002",
  forever: "HygieneForeverTok00003",
  long: "HygieneLongLivedTok004",
  orphan: "HygieneOrphanToken0005",
  broad: "HygieneBroadToken00006",
  clean: "HygieneCleanToken00007",
};
const LEAVER_ID = "LeaverUser000000000001";
const used = { lastUsedAt: "-1d", createdAt: "-10d", expiresAt: "+100d", services: ["www Staging"] };

const seed: Seed = {
  ...demoSeed,
  users: [
    ...demoSeed.users,
    {
      id: LEAVER_ID,
      login: "leaver@example.com",
      name: "Left",
      role: "superuser",
      password: "leaver-password-1",
      deletedAt: "-30d",
    },
  ],
  automationTokens: [
    ...(demoSeed.automationTokens ?? []),
    seedToken("idle deploy token", V.idle, { ...used, id: ID.idle, lastUsedAt: "-70d", createdAt: "-100d" }),
    seedToken("never used token", V.neverUsed, {
      ...used,
      id: ID.neverUsed,
      lastUsedAt: null,
      createdAt: "-120d",
    }),
    seedToken("forever token", V.forever, { ...used, id: ID.forever, expiresAt: null }),
    seedToken("long-lived token", V.long, { ...used, id: ID.long, expiresAt: "+500d" }),
    seedToken("orphan token", V.orphan, { ...used, id: ID.orphan, createdBy: "leaver@example.com" }),
    seedToken("ci exporter token", V.broad, {
      ...used,
      id: ID.broad,
      scope: "global",
      roles: ["engineer", "billing"],
      services: [],
    }),
    seedToken("clean token", V.clean, { ...used, id: ID.clean }),
  ],
};

describe("hygiene findings for every token in the account", () => {
  let w: World<"fastly">;
  let configPath: string;
  const env = { FASTLY_API_TOKEN: superuser.token };
  const run = (argv: string[]) => runCli(argv, { env, cwd: w.dir });
  const assertNoSecrets = (text: string) => {
    for (const secret of SECRETS) assert.ok(!text.includes(secret), "a secret appears in the output");
  };
  const configText = (policy: string) => `version: 1
fastly: { endpoint: "${w.emulator.url}" }
${policy}
environments:
  - name: ci
    token:
      name: ci exporter token
      services: { nameMatches: "Integration" }
    secret: { type: file, path: ./ci.txt }
`;

  before(async () => {
    w = await world({ dir: "ftr-hygiene-", fastly: seed });
    await w.writeSecret("ci.txt", V.broad);
    configPath = await w.writeConfig(configText("policy: { unusedAfter: 60d, maxLifetime: 400d }"));
    await w.writeConfig(configText(""), "defaults.yaml");
  });
  after(() => w.close());

  const codesOf = (report: StatusReport, id: string) =>
    report.tokens
      .find((t) => t.id === id)
      ?.findings.map((f) => f.code)
      .sort() ?? [];

  it("collectStatus finds each problem on its token, with a fix for each", async () => {
    const { config } = await loadConfig(configPath);
    const client = createFastlyClient({ token: superuser.token, endpoint: w.emulator.url });
    const report = await collectStatus({ client, config, now: () => client.apiNow() });

    assert.deepEqual(codesOf(report, ID.idle), ["unmanaged", "unused"]);
    assert.deepEqual(codesOf(report, ID.neverUsed), ["unmanaged", "unused"]);
    assert.deepEqual(codesOf(report, ID.forever), ["never-expires", "unmanaged"]);
    assert.deepEqual(codesOf(report, ID.long), ["over-max-lifetime", "unmanaged"]);
    assert.deepEqual(codesOf(report, ID.orphan), ["creator-gone", "unmanaged"]);
    assert.deepEqual(codesOf(report, ID.clean), ["unmanaged"]);
    // Managed: judged against its environment, not by the general rules.
    assert.deepEqual(codesOf(report, ID.broad), ["broader-than-config"]);
    const broad = report.tokens.find((t) => t.id === ID.broad)!;
    assert.equal(broad.managed, true);
    assert.deepEqual(broad.roles, ["engineer", "billing"]);
    assert.match(
      broad.findings[0]!.message,
      /reaches every service, the config asks for 2; has the global scope, the config asks for global:read; has role billing beyond the config's/,
    );
    assert.match(broad.findings[0]!.fix ?? "", /^ftr rotate --config \S+ --env ci --force/);
    assert.match(report.tokens.find((t) => t.id === ID.orphan)!.findings[0]!.message, new RegExp(LEAVER_ID));
    assert.equal(report.tokens.find((t) => t.id === ID.clean)?.managed, false);
    for (const t of report.tokens) {
      for (const f of t.findings)
        if (f.severity !== "info") assert.ok(f.fix, `${t.name}: ${f.code} has a fix`);
    }

    // The policy decides: by the default 90 days, 70 days unused is no finding.
    const defaults = await loadConfig(`${w.dir}/defaults.yaml`);
    const byDefault = await collectStatus({ client, config: defaults.config, now: () => client.apiNow() });
    assert.deepEqual(codesOf(byDefault, ID.idle), ["unmanaged"]);
    assert.deepEqual(codesOf(byDefault, ID.neverUsed), ["unmanaged", "unused"]);
  });

  it("ftr status lists unmanaged tokens apart and, with --wide, every fix", async () => {
    const { code, stdout, stderr } = await run(["status", "--config", "ftr.yaml", "--wide"]);
    assert.equal(code, 0, stderr);
    const apart = stdout.indexOf("tokens no environment manages (");
    assert.ok(apart > 0, stdout);
    assert.ok(stdout.indexOf("ci exporter token") < apart, "the managed token comes first");
    assert.ok(stdout.indexOf("orphan token") > apart, "unmanaged ones after the heading");
    assert.match(stdout, /fixes:\n/);
    assert.match(
      stdout,
      /ci exporter token \(HygieneBroadToken00006\): broader than ci's config.*; fix: ftr rotate --config \S+ --env ci --force/,
    );
    assert.match(
      stdout,
      /orphan token \(HygieneOrphanToken0005\): created by user LeaverUser000000000001, who is no longer in the account; fix: /,
    );
    const json = await run(["status", "--config", "ftr.yaml", "--json"]);
    const report = JSON.parse(json.stdout) as StatusReport;
    assert.deepEqual(codesOf(report, ID.forever), ["never-expires", "unmanaged"]);
    assertNoSecrets(stdout + stderr + json.stdout + json.stderr);
  });

  it("ftr check --all fails on each hygiene finding of severity warning, with its fix; check alone does not", async () => {
    const plain = await run(["check", "--config", "ftr.yaml"]);
    assert.equal(plain.code, 0, plain.stdout + plain.stderr);
    const all = await run(["check", "--config", "ftr.yaml", "--all", "--json"]);
    assert.equal(all.code, 1, all.stderr);
    const result = JSON.parse(all.stdout) as CheckResult;
    const hygiene = result.findings.filter((f) => f.reason === "hygiene");
    const byToken = (id: string) => hygiene.filter((f) => f.tokenId === id).map((f) => f.code);
    assert.deepEqual(byToken(ID.idle), ["unused"]);
    assert.deepEqual(byToken(ID.neverUsed), ["unused"]);
    assert.deepEqual(byToken(ID.forever), ["never-expires"]);
    assert.deepEqual(byToken(ID.long), ["over-max-lifetime"]);
    assert.deepEqual(byToken(ID.orphan), ["creator-gone"]);
    assert.deepEqual(byToken(ID.broad), ["broader-than-config"]);
    // A note (unmanaged, never-used) is not a failure.
    assert.deepEqual(byToken(ID.clean), []);
    for (const f of hygiene) assert.match(f.message, /; fix: /);
    const text = await run(["check", "--config", "ftr.yaml", "--all"]);
    assert.equal(text.code, 1);
    assert.match(
      text.stdout,
      /FAIL unmanaged: token HygieneForeverTok00003 \("forever token"\) never expires; fix: /,
    );
    assertNoSecrets(all.stdout + all.stderr + text.stdout + text.stderr + plain.stdout);
  });

  it("ftr serve exports one finding series per finding", async () => {
    const { config } = await loadConfig(configPath);
    const client = createFastlyClient({ token: superuser.token, endpoint: w.emulator.url });
    const handle = await startServe({ config, client, listen: "127.0.0.1:0", intervalMs: 3_600_000 });
    try {
      assert.ok((await handle.refresh()).ok);
      const metrics = await (await fetch(`${handle.url}/metrics`)).text();
      const series = (id: string) =>
        [
          ...metrics.matchAll(
            new RegExp(`^fastly_automation_token_finding\\{([^}]*token_id="${id}"[^}]*)\\} 1$`, "gm"),
          ),
        ]
          .map((m) => /code="([^"]+)"/.exec(m[1]!)?.[1])
          .sort();
      assert.deepEqual(series(ID.orphan), ["creator-gone", "unmanaged"]);
      assert.deepEqual(series(ID.broad), ["broader-than-config"]);
      assert.deepEqual(series(ID.long), ["over-max-lifetime", "unmanaged"]);
      assert.match(
        metrics,
        /fastly_automation_token_finding\{token_id="HygieneIdleToken000001",name="idle deploy token",environment="",code="unused",severity="warning"\} 1/,
      );
      assertNoSecrets(metrics);
    } finally {
      await handle.close();
    }
  });
});
