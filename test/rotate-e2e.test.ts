/**
 * `ftr rotate` end to end, with real servers and processes: the emulator holding the demo account,
 * one fastly-exporter stand-in process per environment under a supervisor, Debian's `prometheus`
 * scraping them, and the CLI rotating all three environments. Everything is checked from the
 * outside: the emulator's admin API, the secret files, Prometheus, the stand-ins' own requests.
 * Each case starts a world of its own, so that one failure is one failure, and ends by searching
 * everything the world printed and journaled for secrets.
 */
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { DEMO_ENVIRONMENTS } from "../src/demo/run-demo.ts";
import { demoCredentials } from "../src/emulator/index.ts";
import type { Plan } from "../src/plan/index.ts";
import type { RotationResult } from "../src/rotation/index.ts";
import { skipWithoutPrometheus } from "./helpers/prometheus.ts";
import {
  assertNoSecrets,
  assertSettled,
  serviceIds,
  startRotationEnv,
  tokenName,
  type DemoEnv,
  type RotationEnv,
} from "./helpers/rotation-env.ts";

const DAY_MS = 86_400_000;
const { exporterTokens } = demoCredentials;
const skip = skipWithoutPrometheus();

async function promQuery(url: string, expr: string): Promise<{ metric: Record<string, string> }[]> {
  const response = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await response.json()) as {
    status: string;
    data: { result: { metric: Record<string, string> }[] };
  };
  assert.equal(body.status, "success");
  return body.data.result;
}

describe("ftr rotate end to end (emulator, exporter stand-ins, Prometheus)", { skip }, () => {
  let h: RotationEnv;

  beforeEach(async () => {
    h = await startRotationEnv({ prometheus: true });
  });
  afterEach(async () => {
    await h?.close();
  });

  /** No token value or password in anything the world printed or journaled. */
  const assertNothingPrinted = (): void => assertNoSecrets(h.collectOutput(), h.knownSecrets());

  it("plans all three environments as due before the rotation", async () => {
    const { code, stdout, stderr } = await h.runCli(["plan", "--config", h.configPath, "--json"]);
    assert.equal(code, 0, stderr);
    const plan = JSON.parse(stdout) as Plan;
    assert.deepEqual(
      plan.environments.map((e) => [e.environment, e.decision, e.rotate]),
      DEMO_ENVIRONMENTS.map((e) => [e, "due", true]),
    );
    for (const env of plan.environments) {
      const name = env.environment as DemoEnv;
      assert.deepEqual(env.deployed, {
        status: "valid",
        tokenId: exporterTokens[name].id,
        managed: true,
        expiresAt: env.deployed.status === "valid" ? env.deployed.expiresAt : "",
      });
      assert.deepEqual(env.revoke, [exporterTokens[name].id]);
      assert.deepEqual([...env.create.services].sort(), serviceIds(name));
      assert.equal(env.create.name, tokenName(name));
      assert.equal(env.create.scope, "global:read");
    }
    assert.deepEqual(
      (await h.toolRequests()).filter((r) => r.method !== "GET"),
      [],
      "plan makes no write request",
    );
    assertNothingPrinted();
  });

  it("rotates all three environments with `ftr rotate --yes --json`, then has nothing to do", async () => {
    /** The new token of each environment. */
    const rotated = new Map<DemoEnv, string>();
    const started = new Date();
    // A real process: its redaction registry starts empty, so its output is the honest one.
    const { code, stdout, stderr } = await h.runCliProcess([
      "rotate",
      "--config",
      h.configPath,
      "--yes",
      "--json",
    ]);
    assert.equal(code, 0, `${stdout}\n${stderr}`);

    const { plan, result } = JSON.parse(stdout) as { plan: Plan; result: RotationResult };
    assert.equal(plan.environments.length, 3);
    assert.equal(result.ok, true);
    assert.match(result.runId, /^\d{8}T\d{6}Z-[0-9a-f]{8}$/);
    assert.ok(Date.parse(result.startedAt) >= started.getTime() - 1000);
    assert.ok(Date.parse(result.endedAt) >= Date.parse(result.startedAt));
    assert.deepEqual(
      result.environments.map((e) => [e.environment, e.outcome]),
      DEMO_ENVIRONMENTS.map((e) => [e, "rotated"]),
    );
    for (const env of result.environments) {
      const name = env.environment as DemoEnv;
      assert.equal(env.runId, result.runId);
      assert.equal(env.deployedTokenId, exporterTokens[name].id);
      assert.deepEqual(env.revoked, [exporterTokens[name].id]);
      assert.match(env.newTokenId ?? "", /^[0-9A-Za-z]{22}$/);
      assert.deepEqual(
        env.steps.map((s) => [s.step, s.ok]),
        ["mint", "test", "stage", "promote", "reload", "verify", "revoke", "prove"].map((s) => [s, true]),
      );
      for (const step of env.steps) {
        assert.equal(typeof step.detail, "string");
        assert.ok(Date.parse(step.endedAt) >= Date.parse(step.startedAt));
      }
      assert.equal(env.error, undefined);
      rotated.set(name, env.newTokenId!);
    }

    // Leaves each environment one token as configured, deployed and in use
    const state = await h.admin.state();
    const emulatorNow = Date.parse(state.now);
    for (const env of DEMO_ENVIRONMENTS) {
      const id = await assertSettled(h, env);
      assert.equal(id, rotated.get(env));
      const token = state.automationTokens.find((t) => t.id === id);
      assert.ok(token, `${env}'s new token is known to the emulator`);
      assert.equal(token.name, tokenName(env));
      assert.equal(token.scope, "global:read");
      assert.equal(token.role, "engineer");
      assert.equal(token.userId, demoCredentials.superuser.id);
      assert.deepEqual([...token.services].sort(), serviceIds(env));
      const expiresIn = Date.parse(token.expiresAt!) - emulatorNow;
      assert.ok(Math.abs(expiresIn - 365 * DAY_MS) < 10 * 60_000, `${env} expires ~365 days from now`);
      // The old token is revoked, and its value refused.
      const old = state.automationTokens.find((t) => t.id === exporterTokens[env].id);
      assert.ok(old, `${env}'s old token is known to the emulator`);
      assert.notEqual(old.revokedAt, null);
      assert.equal((await h.tokenSelf(exporterTokens[env].token)).status, 401);
    }
    // No other live automation token in the account.
    assert.deepEqual((await h.liveTokens()).map((t) => t.id).sort(), [...rotated.values()].sort());

    // Shows each new token in Prometheus
    for (const env of DEMO_ENVIRONMENTS) {
      const series = await promQuery(
        h.prometheusUrl!,
        `fastly_rt_token_expiration{token_id="${rotated.get(env)}"}`,
      );
      assert.equal(series.length, 1, `${env}: one series for the new token`);
    }

    // Never had a consumer request refused
    assert.deepEqual(await h.consumerRefusals(), []);
    for (const exporter of h.exporters.values()) {
      assert.doesNotMatch(exporter.logs, /token may be invalid/);
      // Restarted once by the rotation, after the start.
      assert.equal(exporter.pids.length, 2, `${exporter.env} restarted once`);
    }

    // Plans nothing after the rotation
    const after = await h.runCli(["plan", "--config", h.configPath, "--json"]);
    assert.equal(after.code, 0);
    for (const env of (JSON.parse(after.stdout) as Plan).environments) {
      assert.equal(env.decision, "ok");
      assert.equal(env.rotate, false);
      assert.deepEqual(env.revoke, [rotated.get(env.environment as DemoEnv)]);
      assert.equal(
        env.deployed.status === "valid" && env.deployed.tokenId,
        rotated.get(env.environment as DemoEnv),
      );
    }

    // Has nothing to do the second time, and writes nothing
    await h.admin.clearRequests();
    const human = await h.runCli(["rotate", "--config", h.configPath, "--yes"]);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stderr, /Nothing to rotate\./);
    assert.match(human.stderr, /ok, nothing to do/);
    const json = await h.runCli(["rotate", "--config", h.configPath, "--yes", "--json"]);
    assert.equal(json.code, 0);
    const parsed = JSON.parse(json.stdout) as { plan: Plan; result: null };
    assert.equal(parsed.result, null);
    assert.ok(parsed.plan.environments.every((e) => e.decision === "ok"));
    assert.deepEqual(
      (await h.toolRequests()).filter((r) => r.method !== "GET"),
      [],
      "no sudo, no create, no revoke",
    );
    for (const env of DEMO_ENVIRONMENTS) assert.equal(await assertSettled(h, env), rotated.get(env));

    assertNothingPrinted();
    // The check covers every new value too.
    const labels = h.knownSecrets().map((s) => s.label);
    assert.ok(labels.filter((l) => l.startsWith("value seen in")).length >= 4, labels.join(", "));
  });

  it("undoes a `--keep-old` rotation with `ftr rollback`", async () => {
    const before = exporterTokens.staging.id;
    // Human output this time, with debug lines, so the secrets check sees that too.
    const keep = await h.runCli(
      ["rotate", "--config", h.configPath, "--env", "staging", "--force", "--keep-old", "--yes"],
      { FTR_DEBUG: "1" },
    );
    assert.equal(keep.code, 0, keep.stdout + keep.stderr);
    assert.match(keep.stdout, /staging\s+kept-old/);
    const kept = await h.tokenSelf(h.readSecret("staging"));
    assert.equal(kept.status, 200);
    assert.notEqual(kept.id, before);
    // Both live: the old one was kept.
    assert.deepEqual((await h.managedLive("staging")).map((t) => t.id).sort(), [before, kept.id].sort());
    assert.equal(await h.exporterTokenId("staging"), kept.id);

    const back = await h.runCli(["rollback", "--config", h.configPath, "--env", "staging"]);
    assert.equal(back.code, 0, back.stdout + back.stderr);
    assert.match(back.stdout, /rolled-back/);
    // Done as asked: said plainly, with no "failed" step and no cause to fix.
    assert.match(back.stdout, /^rollback of staging \(run \S+\): done$/m);
    assert.doesNotMatch(back.stdout + back.stderr, /start failed|requested rollback|fix the cause/);
    // The old token is in use again, the new one revoked.
    assert.equal(await assertSettled(h, "staging"), before);
    assert.equal((await h.tokenSelf(h.readSecret("staging"))).id, before);
    const state = await h.admin.state();
    const undone = state.automationTokens.find((t) => t.id === kept.id);
    assert.ok(undone, `the undone token ${kept.id} is known to the emulator`);
    assert.notEqual(undone.revokedAt, null);
    assert.deepEqual(await h.consumerRefusals(), []);
    // Other environments untouched.
    assert.equal(await assertSettled(h, "integration"), exporterTokens.integration.id);
    assert.equal(await assertSettled(h, "production"), exporterTokens.production.id);

    // Rolling back again has nothing to do, and says so: the rotation is not undone twice.
    const again = await h.runCli(["rollback", "--config", h.configPath, "--env", "staging"]);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stderr, /was already undone by run .*; nothing to roll back/);
    assert.equal(await assertSettled(h, "staging"), before);
    assert.deepEqual(await h.consumerRefusals(), []);
    assertNothingPrinted();
  });
});
