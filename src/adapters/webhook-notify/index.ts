import { createHmac, randomUUID } from "node:crypto";
import type { NotificationEvent, Notifier } from "../types.ts";
import type { OptionsOf } from "../support/config.ts";
import { resolveDeps, resolveHeaders, type AdapterDeps } from "../support/deps.ts";
import { postNotification } from "../support/webhook-post.ts";
import { redact, registerSecret } from "../../util/redact.ts";
import { USER_AGENT } from "../../version.ts";
import type { WebhookNotifyConfig } from "./schema.ts";

/** Options of the `webhook` notifier (already validated; durations in ms). */
export type WebhookNotifierOptions = OptionsOf<WebhookNotifyConfig, "headers" | "timeoutMs">;

/** Unix seconds when the request was signed; part of the signed text. */
export const TIMESTAMP_HEADER = "X-Ftr-Timestamp";
/** `sha256=<hex HMAC-SHA256 of "<timestamp>.<delivery>.<event>.<body>">`. */
export const SIGNATURE_HEADER = "X-Ftr-Signature";
/** The event's type, so a receiver can route without parsing. */
export const EVENT_HEADER = "X-Ftr-Event";
/** Unique per delivery, so a receiver can drop a repeat. */
export const DELIVERY_HEADER = "X-Ftr-Delivery";

/**
 * The signature of one delivery: HMAC-SHA256 with `secret` over the timestamp, the delivery id, the
 * event type and the exact body bytes, joined by dots. Signing the timestamp lets a receiver refuse
 * an old request replayed; signing the delivery id and event means a replay inside the window cannot
 * pass a receiver's de-duplication with a fresh id, nor be routed as another event.
 */
export function signWebhook(
  secret: string,
  signed: { readonly timestamp: string; readonly delivery: string; readonly event: string },
  body: string,
): string {
  const text = `${signed.timestamp}.${signed.delivery}.${signed.event}.${body}`;
  return `sha256=${createHmac("sha256", secret).update(text).digest("hex")}`;
}

/**
 * POSTs each event as JSON. With `signingSecretEnv`, the key is read from that variable when the
 * notifier is made (a missing one is an error then, not a silently unsigned delivery).
 */
export function createWebhookNotifier(options: WebhookNotifierOptions, deps: AdapterDeps = {}): Notifier {
  const { fetch, clock, env } = resolveDeps(deps);
  let secret: string | undefined;
  if (options.signingSecretEnv !== undefined) {
    secret = env[options.signingSecretEnv];
    if (secret === undefined || secret === "") {
      throw new Error(
        `${options.signingSecretEnv} (signingSecretEnv) is not set: set it to the receiver's signing key, or remove signingSecretEnv`,
      );
    }
    registerSecret(secret);
  }
  const headers = resolveHeaders(options.headers, env, `webhook ${new URL(options.url).host}`);
  const host = new URL(options.url).host;
  return {
    description: `webhook ${host}`,
    async send(event: NotificationEvent) {
      // Events carry ids only; redacting the text is a second guard against a value in a message.
      const body = redact(JSON.stringify(event));
      const timestamp = String(Math.floor(clock.now() / 1000));
      const delivery = randomUUID();
      await postNotification({
        fetch,
        url: options.url,
        body,
        timeoutMs: options.timeoutMs ?? 10_000,
        headers: {
          ...headers,
          "Content-Type": "application/json",
          "User-Agent": USER_AGENT,
          [EVENT_HEADER]: event.event,
          [DELIVERY_HEADER]: delivery,
          ...(secret === undefined
            ? {}
            : {
                [TIMESTAMP_HEADER]: timestamp,
                [SIGNATURE_HEADER]: signWebhook(secret, { timestamp, delivery, event: event.event }, body),
              }),
        },
      });
    },
  };
}

export { createWebhookNotifier as create };
