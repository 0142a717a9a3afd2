/**
 * Notifications end to end: `ftr rotate`, `rollback` and a failing rotation in real processes, with
 * a signed webhook and a Slack-style receiver as local servers. Checks the events' order and
 * content, the signature as a receiver verifies it, that no token value is ever sent, and that a
 * receiver that fails, refuses connections or never answers changes nothing about the run.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { NotificationEvent } from "../src/adapters/types.ts";
import { demoCredentials } from "../src/emulator/index.ts";
import { refusingUrl, startNotifyReceiver, type NotifyReceiver } from "./helpers/notify-receiver.ts";
import {
  assertNoSecrets,
  assertSettled,
  startRotationEnv,
  type RotationEnv,
} from "./helpers/rotation-env.ts";

const { exporterTokens } = demoCredentials;
const SIGNING_SECRET = "ftr-test-webhook-signing-key-7f3a9c";

describe("notifications from rotate, rollback and a failed rotation", () => {
  let h: RotationEnv;
  let webhook: NotifyReceiver;
  let slack: NotifyReceiver;
  let slackUrl: string;
  let env: Record<string, string>;

  before(async () => {
    webhook = await startNotifyReceiver({ secret: SIGNING_SECRET });
    slack = await startNotifyReceiver();
    slackUrl = `${slack.url}/services/T0FTR/B0FTR/slackwebhooksecretpart`;
    env = { FTR_HOOK_SECRET: SIGNING_SECRET, SLACK_WEBHOOK_URL: slackUrl };
    h = await startRotationEnv({
      environments: ["integration", "staging"],
      configure: (doc) => {
        doc.notify = [
          { type: "webhook", url: `${webhook.url}/ftr`, signingSecretEnv: "FTR_HOOK_SECRET", timeout: "5s" },
          { type: "slack", webhookUrlEnv: "SLACK_WEBHOOK_URL", timeout: "5s" },
        ];
      },
    });
  });
  after(async () => {
    await h?.close();
    await webhook?.close();
    await slack?.close();
  });

  const events = (from: number): NotificationEvent[] =>
    webhook.requests.slice(from).map((r) => r.json as NotificationEvent);

  it("a rotation sends run-started, one event per environment and run-finished, signed, in order", async () => {
    const from = webhook.requests.length;
    const slackFrom = slack.requests.length;
    // A real process: it must deliver before it exits.
    const { code, stdout, stderr } = await h.runCliProcess(
      ["rotate", "--config", h.configPath, "--yes"],
      env,
    );
    assert.equal(code, 0, stdout + stderr);
    assert.doesNotMatch(stderr, /notification not delivered/);
    const got = events(from);
    assert.deepEqual(
      got.map((e) => [e.event, e.environment ?? "-"]),
      [
        ["run-started", "-"],
        ["environment-rotated", "integration"],
        ["environment-rotated", "staging"],
        ["run-finished", "-"],
      ],
    );
    assert.ok(
      webhook.requests.slice(from).every((r) => r.verified === true),
      "every request verifies",
    );
    assert.ok(webhook.requests.slice(from).every((r) => r.path === "/ftr"));
    const runId = got[0]!.runId!;
    assert.match(runId, /^\d{8}T\d{6}Z-[0-9a-f]{8}$/);
    assert.deepEqual(got[0]!.environments, ["integration", "staging"]);
    for (const e of got) {
      assert.equal(e.version, 1);
      assert.equal(e.source, "rotate");
      assert.equal(e.runId, runId);
      assert.ok(Date.parse(e.at) > 0);
    }
    for (const [i, name] of (["integration", "staging"] as const).entries()) {
      const e = got[i + 1]!;
      const deployed = await assertSettled(h, name);
      assert.equal(e.outcome, "rotated");
      assert.equal(e.previousTokenId, exporterTokens[name].id);
      assert.equal(e.newTokenId, deployed);
      assert.deepEqual(e.revokedTokenIds, [exporterTokens[name].id]);
      assert.ok(Date.parse(e.newTokenExpiresAt ?? "") > Date.now() + 300 * 86_400_000);
      assert.match(e.summary, new RegExp(`^${name}: rotated to token ${deployed}`));
      assert.equal(e.error, undefined);
    }
    const finished = got[3]!;
    assert.equal(finished.outcome, "ok");
    assert.deepEqual(
      finished.results?.map((r) => [r.environment, r.outcome]),
      [
        ["integration", "rotated"],
        ["staging", "rotated"],
      ],
    );
    // Slack got the same four, as text and blocks.
    const texts = slack.requests.slice(slackFrom).map((r) => (r.json as { text: string }).text);
    assert.equal(texts.length, 4);
    assert.match(texts[1]!, /:white_check_mark: integration: rotated to token/);
    assert.equal(slack.requests.at(-1)!.path, "/services/T0FTR/B0FTR/slackwebhooksecretpart");
  });

  it("a verify that fails sends environment-rolled-back with the error and the next step", async () => {
    const previous = await assertSettled(h, "integration");
    const original = h.config();
    const doc = h.config();
    // Passes only for the token deployed before the run: the rollback's own check succeeds.
    doc.environments[0]!.verify = [
      {
        type: "exec",
        command: ["sh", "-c", `test "$FTR_TOKEN_ID" = "${previous}"`],
        timeout: "2s",
        interval: "1s",
      },
    ];
    await h.writeConfig(doc);
    const from = webhook.requests.length;
    try {
      const { code, stdout, stderr } = await h.runCliProcess(
        ["rotate", "--config", h.configPath, "--yes", "--force", "--env", "integration"],
        env,
      );
      assert.equal(code, 1, stdout + stderr);
      assert.match(stdout, /integration\s+rolled-back/);
    } finally {
      await h.writeConfig(original);
    }
    const got = events(from);
    assert.deepEqual(
      got.map((e) => e.event),
      ["run-started", "environment-rolled-back", "run-finished"],
    );
    const rolledBack = got[1]!;
    assert.equal(rolledBack.environment, "integration");
    assert.equal(rolledBack.outcome, "rolled-back");
    assert.equal(rolledBack.previousTokenId, previous);
    assert.match(rolledBack.newTokenId ?? "", /^[0-9A-Za-z]{22}$/);
    assert.deepEqual(rolledBack.revokedTokenIds, [rolledBack.newTokenId]);
    assert.match(rolledBack.error ?? "", /^verify failed: exec sh -c/);
    assert.match(rolledBack.nextStep ?? "", /./);
    assert.match(rolledBack.summary, /integration: rotation failed and was rolled back to token/);
    assert.equal(got[2]!.outcome, "failed");
    assert.equal(await assertSettled(h, "integration"), previous);
  });

  it("`rotate --keep-old` then `rollback`: the next step names rollback, and the rollback is notified", async () => {
    const previous = await assertSettled(h, "staging");
    const from = webhook.requests.length;
    const rotated = await h.runCliProcess(
      ["rotate", "--config", h.configPath, "--yes", "--force", "--keep-old", "--env", "staging"],
      env,
    );
    assert.equal(rotated.code, 0, rotated.stdout + rotated.stderr);
    const back = await h.runCliProcess(["rollback", "--config", h.configPath, "--env", "staging"], env);
    assert.equal(back.code, 0, back.stdout + back.stderr);
    const got = events(from);
    assert.deepEqual(
      got.map((e) => [e.source, e.event, e.outcome]),
      [
        ["rotate", "run-started", undefined],
        ["rotate", "environment-rotated", "kept-old"],
        ["rotate", "run-finished", "ok"],
        ["rollback", "run-started", undefined],
        ["rollback", "environment-rolled-back", "rolled-back"],
        ["rollback", "run-finished", "ok"],
      ],
    );
    assert.equal(
      got[1]!.nextStep,
      `ftr rollback --config ${h.configPath} --env staging undoes the rotation while the old token lives`,
    );
    assert.equal(got[4]!.previousTokenId, previous);
    assert.equal(got[4]!.error, undefined);
    assert.equal(await assertSettled(h, "staging"), previous);
  });

  it("`resume` after a kill -9 sends its own run-started, the environment's end and run-finished", async () => {
    await h.setReload("integration", { sleepMs: 2000 });
    const from = h.journal().length;
    const child = h.spawnCli(
      ["rotate", "--config", h.configPath, "--yes", "--force", "--env", "integration"],
      env,
    );
    const reloading = await h.waitForJournal((r) => r.step === "reload" && r.status === "begin", { from });
    child.child.kill("SIGKILL");
    await child.done;
    await h.setReload("integration", {});
    // The orphaned restart script is still in its pause: wait until it has finished.
    await h.reloadsIdle();
    const hooks = webhook.requests.length;
    const resumed = await h.runCliProcess(["resume", "--config", h.configPath], env);
    assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
    const got = events(hooks);
    assert.deepEqual(
      got.map((e) => [e.source, e.event, e.runId, e.outcome]),
      [
        ["resume", "run-started", reloading.runId, undefined],
        ["resume", "environment-rotated", reloading.runId, "rotated"],
        ["resume", "run-finished", reloading.runId, "ok"],
      ],
    );
    assert.equal(got[1]!.newTokenId, await assertSettled(h, "integration"));
  });

  it("a receiver answering 500, one refusing connections and one never answering change nothing", async () => {
    const hanging = await startNotifyReceiver();
    hanging.setMode({ kind: "hang" });
    webhook.setMode({ kind: "status", status: 500, body: "receiver broke" });
    const original = h.config();
    const doc = h.config();
    doc.notify = [
      { type: "webhook", url: `${webhook.url}/ftr`, signingSecretEnv: "FTR_HOOK_SECRET" },
      { type: "slack", webhookUrlEnv: "SLACK_WEBHOOK_URL" },
      { type: "webhook", url: `${hanging.url}/slow`, timeout: "1s" },
    ];
    await h.writeConfig(doc);
    try {
      const { code, stdout, stderr } = await h.runCliProcess(
        ["rotate", "--config", h.configPath, "--yes", "--force", "--env", "staging"],
        { ...env, SLACK_WEBHOOK_URL: await refusingUrl() },
      );
      assert.equal(code, 0, stdout + stderr);
      assert.match(stdout, /staging\s+rotated/);
      const warnings = stderr.split("\n").filter((l) => l.includes("notification not delivered"));
      assert.ok(
        warnings.some((l) =>
          /run-started to webhook 127\.0\.0\.1:\d+: .*answered 500: "receiver broke"/.test(l),
        ),
      );
      assert.ok(warnings.some((l) => /to slack 127\.0\.0\.1:\d+: could not reach/.test(l)));
      assert.ok(warnings.some((l) => /to webhook 127\.0\.0\.1:\d+: .*did not answer within 1000 ms/.test(l)));
      // The receiver that never answers was given up on each time, as the warning says: the run
      // ended at all only because each delivery's own timeout ended it.
      await assertSettled(h, "staging");
    } finally {
      webhook.setMode({ kind: "ok" });
      await h.writeConfig(original);
      await hanging.close();
    }
  });

  it("sent no token value, and printed neither the signing key nor the Slack URL", () => {
    const bodies = [...webhook.requests, ...slack.requests].map((r, i) => ({
      source: `notification #${i}`,
      text: r.body,
    }));
    assertNoSecrets(bodies, h.knownSecrets());
    assertNoSecrets(h.collectOutput(), [
      ...h.knownSecrets(),
      { label: "signing key", value: SIGNING_SECRET },
      { label: "slack webhook URL", value: slackUrl },
    ]);
  });
});
