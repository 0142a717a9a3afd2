/**
 * A webhook delivery replayed inside the signature's time window with a fresh `X-Ftr-Delivery` (to
 * pass the receiver's de-duplication) or another `X-Ftr-Event` (to be routed as something else) is
 * refused by a receiver that checks the signature as docs/configuration.md says: the signature
 * covers the timestamp, the delivery id, the event and the body.
 */
import assert from "node:assert/strict";
import { createHmac, randomUUID, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { after, before, describe, it } from "node:test";
import { createWebhookNotifier } from "../../src/adapters/webhook-notify/index.ts";
import type { NotificationEvent } from "../../src/adapters/types.ts";
import { clearSecrets } from "../../src/util/redact.ts";
import { startNotifyReceiver, type NotifyReceiver } from "../helpers/notify-receiver.ts";

const KEY = "whsec-replay-test-key-0123456789abcdef";

/** The receiver example of docs/configuration.md, as written there. */
function verify(key: string, headers: IncomingHttpHeaders, body: string): boolean {
  const timestamp = headers["x-ftr-timestamp"] as string | undefined;
  const signature = (headers["x-ftr-signature"] as string | undefined) ?? "";
  const delivery = (headers["x-ftr-delivery"] as string | undefined) ?? "";
  const event = (headers["x-ftr-event"] as string | undefined) ?? "";
  if (!/^\d+$/.test(timestamp ?? "") || Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return false;
  const signed = `${timestamp}.${delivery}.${event}.${body}`;
  const expected = "sha256=" + createHmac("sha256", key).update(signed).digest("hex");
  const a = Buffer.from(signature);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

const event: NotificationEvent = {
  version: 1,
  event: "environment-rotated",
  at: "2026-11-29T12:00:00.000Z",
  source: "rotate",
  summary: "staging: rotated",
  runId: "20261129T120000Z-abcdef01",
  environment: "staging",
  outcome: "rotated",
};

describe("security: a webhook delivery replayed with other headers", () => {
  let receiver: NotifyReceiver;
  before(async () => {
    receiver = await startNotifyReceiver();
  });
  after(async () => {
    await receiver.close();
    clearSecrets();
  });

  it("passes the documented check as sent, and fails it with a fresh delivery id or another event", async () => {
    const notifier = createWebhookNotifier(
      { url: `${receiver.url}/hook`, signingSecretEnv: "HOOK_KEY" },
      { env: { HOOK_KEY: KEY } },
    );
    await notifier.send(event);
    const sent = receiver.requests[0];
    assert.ok(sent);
    assert.equal(verify(KEY, sent.headers, sent.body), true, "the delivery as sent verifies");
    const freshId = { ...sent.headers, "x-ftr-delivery": randomUUID() };
    assert.equal(verify(KEY, freshId, sent.body), false, "a fresh delivery id must break the signature");
    const otherEvent = { ...sent.headers, "x-ftr-event": "run-finished" };
    assert.equal(verify(KEY, otherEvent, sent.body), false, "another event must break the signature");
  });
});
