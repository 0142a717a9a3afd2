/** `notify: - { type: slack }`: the config as written, and the notifier's Options. */
import * as z from "zod";
import { duration, type ConfigContext } from "../support/config.ts";

const ENV_VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The `slack` notifier: post each event to a Slack incoming webhook. */
export function slackNotifySchema(_ctx: ConfigContext) {
  return z
    .strictObject({
      type: z.literal("slack"),
      webhookUrlEnv: z
        .string()
        .regex(ENV_VAR_NAME, { error: "not an environment variable name; e.g. SLACK_WEBHOOK_URL" })
        .meta({
          description:
            "Environment variable holding the Slack incoming-webhook URL. The URL is a secret: it is never written in the config, printed or logged.",
          examples: ["SLACK_WEBHOOK_URL"],
        }),
      timeout: duration("Give up on one delivery after this long.", "10s"),
    })
    .meta({ description: "Post each event to a Slack channel through an incoming webhook." })
    .transform(({ type, webhookUrlEnv, timeout }) => ({ type, webhookUrlEnv, timeoutMs: timeout }));
}

/** Posts each event to a Slack incoming webhook. */
export type SlackNotifyConfig = z.output<ReturnType<typeof slackNotifySchema>>;
