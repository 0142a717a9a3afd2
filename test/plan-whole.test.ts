/**
 * `ftr plan` shows every side of a rotation before anything happens: per environment the token to
 * mint, the secret store's exact target (read from the real store: Secrets Manager over the AWS
 * SDK), each reload and verify step with its timeout, approval, what is revoked and when, and why
 * the environment is (not) due; the same in `--json`; and `--detailed-exitcode` tells a script
 * whether anything is due (0 nothing, 2 something, 1 an error).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { demoCredentials } from "../src/emulator/index.ts";
import type { Plan } from "../src/plan/index.ts";
import { awsStoreConfig, useAwsTestCredentials } from "../src/sandbox/aws-secrets-manager-server.ts";
import { runCli } from "./helpers/cli.ts";
import { world, type World } from "./helpers/world.ts";

const SECRET = "govuk/fastly/api";
const KEY = "fastly-api-token";
const PROXY_TOKEN = "proxy-bearer-credential-0001";

useAwsTestCredentials();

describe("ftr plan: the whole plan", () => {
  let w: World<"fastly" | "aws">;
  const { superuser, exporterTokens } = demoCredentials;

  /** A GOV.UK-shaped config: integration in Secrets Manager and Kubernetes, production by hand. */
  const writeConfig = (rotateBefore: string) =>
    w.writeConfig(
      [
        "version: 1",
        `fastly: { endpoint: "${w.emulator.url}" }`,
        "state: { dir: ./state }",
        `defaults: { token: { role: engineer, scope: "global:read", expiresIn: 365d, rotateBefore: ${rotateBefore} } }`,
        "environments:",
        "  - name: integration",
        `    token: { name: "${exporterTokens.integration.name}", services: { nameMatches: "Integration" } }`,
        `    secret: ${JSON.stringify(awsStoreConfig(w.aws, SECRET, KEY))}`,
        "    reload:",
        "      - { type: external-secret, namespace: monitoring, name: govuk-fastly-api, context: integration }",
        "      - { type: kubernetes-rollout, namespace: monitoring, deployment: fastly-exporter, context: integration, timeout: 7m }",
        "    verify:",
        "      - { type: token-in-use, timeout: 5m }",
        `      - { type: prometheus, url: "http://127.0.0.1:9", headers: { Authorization: "Bearer ${PROXY_TOKEN}" }, timeout: 4m }`,
        "  - name: production",
        `    token: { name: "${exporterTokens.production.name}", services: { nameMatches: "Production" } }`,
        "    secret: { type: file, path: ./production.txt }",
        "    approval: required",
        '    reload: [{ type: exec, command: ["./restart.sh", "production"], timeout: 90s }]',
        "    verify: [{ type: token-in-use }]",
      ].join("\n"),
    );
  const plan = (args: string[]) =>
    runCli(["plan", "--config", "ftr.yaml", ...args], {
      env: { FASTLY_API_TOKEN: superuser.token },
      cwd: w.dir,
    });

  before(async () => {
    w = await world({
      dir: "ftr-plan-whole-",
      fastly: (await import("../src/emulator/index.ts")).demoSeed,
      aws: { [SECRET]: JSON.stringify({ [KEY]: exporterTokens.integration.token, other: "kept" }) },
    });
    await w.writeSecret("production.txt", exporterTokens.production.token + "\n");
  });
  after(() => w?.close());

  it("--json names the store's target, every step in order with its timeout, approval and revoke", async () => {
    await writeConfig("30d");
    const { code, stdout, stderr } = await plan(["--json"]);
    assert.equal(code, 0, stderr);
    const parsed = JSON.parse(stdout) as Plan;
    const [integration, production] = parsed.environments;
    assert.ok(integration && production);

    assert.equal(integration.decision, "due");
    assert.equal(integration.secret.type, "aws-secrets-manager");
    assert.deepEqual(
      { secretId: integration.secret.target.secretId, jsonKey: integration.secret.target.jsonKey },
      { secretId: SECRET, jsonKey: KEY },
    );
    assert.equal(integration.approval, "none");
    assert.deepEqual(
      integration.steps.map((s) => s.step),
      ["mint", "test", "stage", "promote", "reload", "reload", "verify", "verify", "revoke", "prove"],
    );
    const reloads = integration.steps.filter((s) => s.step === "reload");
    assert.deepEqual(
      reloads.map((s) => [s.adapter?.type, s.adapter?.target.namespace, s.adapter?.target.name, s.timeoutMs]),
      [
        ["external-secret", "monitoring", "govuk-fastly-api", 120_000],
        ["kubernetes-rollout", "monitoring", "fastly-exporter", 420_000],
      ],
    );
    assert.equal(reloads[0]?.adapter?.target.context, "integration");
    const verifies = integration.steps.filter((s) => s.step === "verify");
    assert.deepEqual(
      verifies.map((s) => [s.adapter?.type, s.timeoutMs]),
      [
        ["token-in-use", 300_000],
        ["prometheus", 240_000],
      ],
    );
    const mint = integration.steps[0]!;
    assert.match(mint.summary, /role engineer, scope global:read, 2 service\(s\), expires \d{4}-/);
    assert.ok(integration.revoke.length > 0);
    const revoke = integration.steps.find((s) => s.step === "revoke")!;
    for (const id of integration.revoke) assert.ok(revoke.summary.includes(id), revoke.summary);

    // Production: the file named, approval asked first; its token (27 days left) is due too.
    assert.equal(production.secret.type, "file");
    assert.equal(production.secret.target.path, `${w.dir}/production.txt`);
    assert.equal(production.approval, "required");
    assert.equal(production.steps[0]?.step, "approve");
    assert.deepEqual(
      production.steps
        .filter((s) => s.step === "reload")
        .map((s) => [s.adapter?.target.command, s.timeoutMs]),
      [["./restart.sh production", 90_000]],
    );
    // A header is a credential: never in a plan.
    assert.ok(!stdout.includes(PROXY_TOKEN));
    assert.ok(!stdout.includes(exporterTokens.integration.token));
  });

  it("human: the store, the steps with timeouts, approval, and a count; the same facts as --json", async () => {
    await writeConfig("30d");
    const { code, stdout, stderr } = await plan([]);
    assert.equal(code, 0, stderr);
    if (process.env.SHOW_PLAN) console.error(stdout);
    assert.match(stdout, /secret: +AWS Secrets Manager govuk\/fastly\/api, key fastly-api-token/);
    assert.match(stdout, /reload +force-sync ExternalSecret monitoring\/govuk-fastly-api \(timeout 2m\)/);
    assert.match(stdout, /reload +restart Deployment monitoring\/fastly-exporter \(timeout 7m\)/);
    assert.match(stdout, /verify +Fastly reports the new token used \(timeout 5m\)/);
    assert.match(stdout, /approval: +required/);
    assert.match(stdout, /1\. approve/);
    assert.match(stdout, /2 of 2 environments to rotate\./);
    assert.ok(!stdout.includes(PROXY_TOKEN));
  });

  it("says when an environment that is not due becomes due", async () => {
    await writeConfig("2d");
    const { code, stdout } = await plan(["--json"]);
    assert.equal(code, 0);
    const env = (JSON.parse(stdout) as Plan).environments[0]!;
    assert.equal(env.decision, "ok");
    assert.deepEqual(env.steps, []);
    const deployed = env.deployed.status === "valid" ? env.deployed.expiresAt : undefined;
    assert.ok(deployed && env.dueAt);
    assert.equal(Date.parse(deployed) - Date.parse(env.dueAt), 2 * 86_400_000);
    const human = await plan([]);
    assert.match(human.stdout, /due: +from \d{4}-\d\d-\d\dT/);
    assert.match(human.stdout, /Nothing to rotate\./);
  });

  it("--detailed-exitcode: 2 when something is to be rotated, 0 when nothing, 1 on an error", async () => {
    await writeConfig("30d");
    assert.equal((await plan([])).code, 0, "the default is unchanged");
    assert.equal((await plan(["--detailed-exitcode"])).code, 2);
    await writeConfig("2d");
    assert.equal((await plan(["--detailed-exitcode"])).code, 0);
    await w.writeConfig("version: 1\nenvironments: nope\n");
    assert.equal((await plan([])).code, 2, "a config error is 2 by default");
    const broken = await plan(["--detailed-exitcode"]);
    assert.equal(broken.code, 1, "and 1 with --detailed-exitcode, so 2 means only 'something due'");
    assert.match(broken.stderr, /config/);
  });
});
