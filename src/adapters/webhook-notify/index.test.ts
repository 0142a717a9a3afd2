import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  refusingUrl,
  startNotifyReceiver,
  type NotifyReceiver,
} from "../../../test/helpers/notify-receiver.ts";
import { clearSecrets, redact, REDACTED } from "../../util/redact.ts";
import { describingContext } from "../support/config.ts";
import type { NotificationEvent } from "../types.ts";
import { createWebhookNotifier, signWebhook } from "./index.ts";
import { webhookNotifySchema } from "./schema.ts";

const SECRET = "whsec-test-signing-key-0123456789";

const event: NotificationEvent = {
  version: 1,
  event: "environment-rotated",
  at: "2026-11-29T12:00:00.000Z",
  source: "rotate",
  summary: "staging: rotated to token NEW (was OLD)",
  runId: "20261129T120000Z-abcdef01",
  environment: "staging",
  outcome: "rotated",
  previousTokenId: "OLD",
  newTokenId: "NEW",
  newTokenExpiresAt: "2027-11-29T12:00:00.000Z",
  revokedTokenIds: ["OLD"],
};

describe("webhook notifier", () => {
  let receiver: NotifyReceiver;
  before(async () => {
    receiver = await startNotifyReceiver({ secret: SECRET });
  });
  after(async () => {
    await receiver.close();
    clearSecrets();
  });

  it("POSTs the event as JSON, signed over the timestamp and the exact body", async () => {
    receiver.setMode({ kind: "ok" });
    const notifier = createWebhookNotifier(
      {
        url: `${receiver.url}/hooks/ftr?key=abc`,
        signingSecretEnv: "HOOK_SECRET",
        headers: { "X-Team": "sre" },
      },
      { env: { HOOK_SECRET: SECRET } },
    );
    assert.equal(notifier.description, `webhook ${new URL(receiver.url).host}`);
    const from = receiver.requests.length;
    await notifier.send(event);
    const request = receiver.requests[from]!;
    assert.equal(request.method, "POST");
    assert.equal(request.path, "/hooks/ftr?key=abc");
    assert.equal(request.headers["content-type"], "application/json");
    assert.equal(request.headers["x-team"], "sre");
    assert.equal(request.headers["x-ftr-event"], "environment-rotated");
    assert.match(String(request.headers["x-ftr-delivery"]), /^[0-9a-f-]{36}$/);
    assert.deepEqual(request.json, event);
    assert.equal(request.verified, true);
    const timestamp = String(request.headers["x-ftr-timestamp"]);
    const signed = {
      timestamp,
      delivery: String(request.headers["x-ftr-delivery"]),
      event: String(request.headers["x-ftr-event"]),
    };
    assert.equal(request.headers["x-ftr-signature"], signWebhook(SECRET, signed, request.body));
    // The key is a secret from now on.
    assert.equal(redact(`key ${SECRET}`), `key ${REDACTED}`);
  });

  it("sends unsigned without a secret, and refuses to start when the secret's variable is unset", async () => {
    const from = receiver.requests.length;
    await createWebhookNotifier({ url: receiver.url }, { env: {} }).send(event);
    assert.equal(receiver.requests[from]!.headers["x-ftr-signature"], undefined);
    assert.equal(receiver.requests[from]!.verified, false);
    assert.throws(
      () => createWebhookNotifier({ url: receiver.url, signingSecretEnv: "NOPE" }, { env: {} }),
      /NOPE \(signingSecretEnv\) is not set/,
    );
    assert.throws(
      () => createWebhookNotifier({ url: receiver.url, signingSecretEnv: "EMPTY" }, { env: { EMPTY: "" } }),
      /EMPTY \(signingSecretEnv\) is not set/,
    );
  });

  it("rejects a 500 with the status and the receiver's words, never the URL's path", async () => {
    receiver.setMode({ kind: "status", status: 500, body: "database down" });
    const notifier = createWebhookNotifier({ url: `${receiver.url}/secret-path-xyz` }, { env: {} });
    await assert.rejects(notifier.send(event), (error: Error) => {
      assert.match(error.message, /answered 500: "database down"/);
      assert.doesNotMatch(error.message, /secret-path-xyz/);
      return true;
    });
    receiver.setMode({ kind: "ok" });
  });

  it("does not follow a redirect; the error names the Location host", async () => {
    receiver.setMode({ kind: "redirect", location: "https://elsewhere.example/collect" });
    const from = receiver.requests.length;
    await assert.rejects(
      createWebhookNotifier({ url: receiver.url, signingSecretEnv: "S" }, { env: { S: SECRET } }).send(event),
      /answered 307, a redirect to elsewhere\.example; redirects are not followed/,
    );
    assert.equal(receiver.requests.length, from + 1, "one request, not followed");
    receiver.setMode({ kind: "ok" });
  });

  it("gives up after its timeout, and reports a refused connection", async () => {
    receiver.setMode({ kind: "hang" });
    // The receiver never answers: only the notifier's own timeout ends the request, as its message says.
    await assert.rejects(
      createWebhookNotifier({ url: receiver.url, timeoutMs: 300 }, { env: {} }).send(event),
      /did not answer within 300 ms/,
    );
    receiver.setMode({ kind: "ok" });
    await assert.rejects(
      createWebhookNotifier({ url: await refusingUrl() }, { env: {} }).send(event),
      /could not reach 127\.0\.0\.1:\d+ \(.*ECONNREFUSED/,
    );
  });

  it("config: https or loopback http only; reserved headers and bad variable names are errors", () => {
    const schema = webhookNotifySchema(describingContext);
    assert.deepEqual(schema.parse({ type: "webhook", url: "https://hooks.example.com/x" }), {
      type: "webhook",
      url: "https://hooks.example.com/x",
      headers: {},
      timeoutMs: 10_000,
    });
    assert.equal(schema.safeParse({ type: "webhook", url: "http://127.0.0.1:8080/x" }).success, true);
    assert.equal(schema.safeParse({ type: "webhook", url: "http://[::1]:8080/x" }).success, true);
    const plain = schema.safeParse({ type: "webhook", url: "http://hooks.example.com/x" });
    assert.equal(plain.success, false);
    assert.match(plain.error?.issues[0]?.message ?? "", /plain http to hooks\.example\.com .* use https/);
    assert.equal(
      schema.safeParse({ type: "webhook", url: "https://h.example", headers: { "X-Ftr-Signature": "x" } })
        .success,
      false,
    );
    assert.equal(
      schema.safeParse({ type: "webhook", url: "https://h.example", signingSecretEnv: "not a name" }).success,
      false,
    );
  });
});
