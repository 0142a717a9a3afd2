import type { NotificationEvent, Notifier } from "../types.ts";
import type { OptionsOf } from "../support/config.ts";
import { resolveDeps, type AdapterDeps } from "../support/deps.ts";
import { outboundUrlProblem, postNotification } from "../support/webhook-post.ts";
import { redact, registerSecret } from "../../util/redact.ts";
import { USER_AGENT } from "../../version.ts";
import type { SlackNotifyConfig } from "./schema.ts";

/** Options of the `slack` notifier (already validated; durations in ms). */
export type SlackNotifierOptions = OptionsOf<SlackNotifyConfig, "timeoutMs">;

/** Slack's mrkdwn treats these three as markup; everything else is shown as written. */
function escapeMrkdwn(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

const ICONS: Readonly<Record<NotificationEvent["event"], string>> = {
  "run-started": ":arrows_counterclockwise:",
  "environment-rotated": ":white_check_mark:",
  "environment-failed": ":x:",
  "environment-rolled-back": ":leftwards_arrow_with_hook:",
  "run-finished": ":checkered_flag:",
  "token-expiring": ":hourglass_flowing_sand:",
  "run-unfinished": ":warning:",
  "approval-required": ":raised_hand:",
};

/** The incoming-webhook payload: `text` (the notification and fallback) and a few simple blocks. */
export function slackPayload(event: NotificationEvent): {
  text: string;
  blocks: Record<string, unknown>[];
} {
  const text = `${ICONS[event.event]} ${event.summary}`;
  const facts: string[] = [];
  if (event.environment !== undefined) facts.push(`*environment* ${event.environment}`);
  if (event.runId !== undefined) facts.push(`*run* \`${event.runId}\``);
  if (event.previousTokenId !== undefined) facts.push(`*previous token* \`${event.previousTokenId}\``);
  if (event.newTokenId !== undefined) facts.push(`*new token* \`${event.newTokenId}\``);
  if (event.newTokenExpiresAt !== undefined) facts.push(`*expires* ${event.newTokenExpiresAt}`);
  if (event.tokenId !== undefined) facts.push(`*token* \`${event.tokenId}\``);
  if (event.expiresAt !== undefined) facts.push(`*expires* ${event.expiresAt}`);
  const blocks: Record<string, unknown>[] = [
    { type: "section", text: { type: "mrkdwn", text: escapeMrkdwn(text) } },
  ];
  if (event.error !== undefined) {
    blocks.push({ type: "section", text: { type: "mrkdwn", text: `*error* ${escapeMrkdwn(event.error)}` } });
  }
  if (event.nextStep !== undefined) {
    blocks.push({
      type: "section",
      text: { type: "mrkdwn", text: `*next step* ${escapeMrkdwn(event.nextStep)}` },
    });
  }
  if (facts.length > 0) {
    blocks.push({
      type: "context",
      elements: [{ type: "mrkdwn", text: escapeMrkdwn(facts.join("  ·  ")) }],
    });
  }
  return { text, blocks };
}

/**
 * Posts each event to a Slack incoming webhook. The URL is the credential: it is read from
 * `webhookUrlEnv` when the notifier is made, registered as a secret, and named in messages only as
 * its host.
 */
export function createSlackNotifier(options: SlackNotifierOptions, deps: AdapterDeps = {}): Notifier {
  const { fetch, env } = resolveDeps(deps);
  const url = env[options.webhookUrlEnv];
  if (url === undefined || url === "") {
    throw new Error(
      `${options.webhookUrlEnv} (webhookUrlEnv) is not set: set it to the Slack incoming-webhook URL, or remove this notifier`,
    );
  }
  registerSecret(url);
  const problem = outboundUrlProblem(url);
  if (problem !== undefined) throw new Error(`${options.webhookUrlEnv}: ${redact(problem)}`);
  const host = new URL(url).host;
  return {
    description: `slack ${host}`,
    async send(event: NotificationEvent) {
      await postNotification({
        fetch,
        url,
        body: redact(JSON.stringify(slackPayload(event))),
        timeoutMs: options.timeoutMs ?? 10_000,
        headers: { "Content-Type": "application/json", "User-Agent": USER_AGENT },
      });
    },
  };
}

export { createSlackNotifier as create };
