/** `notify: - { type: webhook }`: the config as written, and the notifier's Options. */
import * as z from "zod";
import {
  defined,
  duration,
  ENV_VARIABLE_NAME,
  headerValue,
  warnLiteralCredentials,
  type ConfigContext,
} from "../support/config.ts";
import { outboundUrlProblem } from "../support/webhook-post.ts";

/** Headers the notifier sets itself. */
const RESERVED_HEADER = /^(content-type|content-length|host|x-ftr-.*)$/i;

/** A variable name as a POSIX shell accepts it. */
export const ENV_VAR_NAME = ENV_VARIABLE_NAME;

/** The `webhook` notifier: POST every event as JSON, signed when a secret is given. */
export function webhookNotifySchema(ctx: ConfigContext) {
  return z
    .strictObject({
      type: z.literal("webhook"),
      url: z
        .string()
        .refine((url) => outboundUrlProblem(url) === undefined, {
          error: (issue) => outboundUrlProblem(String(issue.input)) ?? "not a usable URL",
        })
        .meta({
          description:
            "Where events are POSTed. https, or http to this machine only; redirects are not followed.",
          examples: ["https://hooks.example.com/ftr"],
        }),
      headers: z
        .record(
          z.string().refine((name) => !RESERVED_HEADER.test(name), {
            error: (issue) => `${String(issue.input)} is set by the notifier itself; remove it from headers`,
          }),
          headerValue,
        )
        .meta({
          description:
            "Extra HTTP headers, e.g. Authorization for a receiver that asks for one: a value, or { valueFromEnv: NAME } to read it from the environment (credentials belong there).",
          examples: [{ Authorization: { valueFromEnv: "FTR_WEBHOOK_AUTHORIZATION" } }],
        })
        .default({}),
      signingSecretEnv: z
        .string()
        .regex(ENV_VAR_NAME, { error: "not an environment variable name; e.g. FTR_WEBHOOK_SECRET" })
        .meta({
          description:
            "Environment variable holding the HMAC-SHA256 signing key. With it every request carries X-Ftr-Timestamp and X-Ftr-Signature (docs/configuration.md says how to verify them).",
          examples: ["FTR_WEBHOOK_SECRET"],
        })
        .optional(),
      timeout: duration("Give up on one delivery after this long.", "10s"),
    })
    .meta({ description: "POST every event to a URL as JSON, HMAC-signed when signingSecretEnv is set." })
    .transform(({ type, url, headers, signingSecretEnv, timeout }) => {
      warnLiteralCredentials(ctx, { headers, urls: { url } });
      return {
        type,
        url,
        headers,
        ...defined({ signingSecretEnv }),
        timeoutMs: timeout,
      };
    });
}

/** POSTs each event as JSON to `url`. */
export type WebhookNotifyConfig = z.output<ReturnType<typeof webhookNotifySchema>>;
