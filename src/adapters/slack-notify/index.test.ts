import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startNotifyReceiver, type NotifyReceiver } from "../../../test/helpers/notify-receiver.ts";
import { clearSecrets, redact, REDACTED } from "../../util/redact.ts";
import type { NotificationEvent } from "../types.ts";
import { createSlackNotifier, slackPayload } from "./index.ts";

const event: NotificationEvent = {
  version: 1,
  event: "environment-rolled-back",
  at: "2026-11-29T12:00:00.000Z",
  source: "rotate",
  summary: "staging: rotation failed and was rolled back to token OLD",
  runId: "20261129T120000Z-abcdef01",
  environment: "staging",
  outcome: "rolled-back",
  previousTokenId: "OLD",
  newTokenId: "NEW",
  error: "verify failed: exec ./check <staging> exited with code 1",
  nextStep: "The previous token is back in place; fix the cause and run again",
};

describe("slack notifier", () => {
  let receiver: NotifyReceiver;
  before(async () => {
    receiver = await startNotifyReceiver();
  });
  after(async () => {
    await receiver.close();
    clearSecrets();
  });

  it("posts text and simple blocks to the URL from the environment, which becomes a secret", async () => {
    const url = `${receiver.url}/services/T000/B000/XXXXXXXXXXXXXXXX`;
    const notifier = createSlackNotifier({ webhookUrlEnv: "SLACK_URL" }, { env: { SLACK_URL: url } });
    assert.equal(notifier.description, `slack ${new URL(url).host}`);
    await notifier.send(event);
    const request = receiver.requests.at(-1)!;
    assert.equal(request.path, "/services/T000/B000/XXXXXXXXXXXXXXXX");
    assert.equal(request.headers["content-type"], "application/json");
    const body = request.json as { text: string; blocks: { type: string; text?: { text: string } }[] };
    assert.deepEqual(body, slackPayload(event));
    assert.equal(body.text, `:leftwards_arrow_with_hook: ${event.summary}`);
    assert.deepEqual(
      body.blocks.map((b) => b.type),
      ["section", "section", "section", "context"],
    );
    // Slack's three markup characters are escaped.
    assert.match(body.blocks[1]!.text!.text, /exec \.\/check &lt;staging&gt; exited/);
    assert.equal(redact(`posting to ${url}`), `posting to ${REDACTED}`);
  });

  it("a missing variable or a plain-http URL is refused when the notifier is made", () => {
    assert.throws(
      () => createSlackNotifier({ webhookUrlEnv: "SLACK_URL" }, { env: {} }),
      /SLACK_URL \(webhookUrlEnv\) is not set/,
    );
    assert.throws(
      () =>
        createSlackNotifier(
          { webhookUrlEnv: "SLACK_URL" },
          { env: { SLACK_URL: "http://hooks.slack.example/services/T/B/secretsecret" } },
        ),
      (error: Error) => /plain http/.test(error.message) && !error.message.includes("secretsecret"),
    );
  });

  it("a refusal from Slack is an error naming the host and Slack's words, not the URL", async () => {
    receiver.setMode({ kind: "status", status: 404, body: "no_service" });
    const url = `${receiver.url}/services/T000/B000/YYYYYYYYYYYYYYYY`;
    await assert.rejects(
      createSlackNotifier({ webhookUrlEnv: "U" }, { env: { U: url } }).send(event),
      (error: Error) => /answered 404: "no_service"/.test(error.message) && !error.message.includes("YYYY"),
    );
    receiver.setMode({ kind: "ok" });
  });
  it("the facts line lists every id and expiry the event has, and nothing when it has none", () => {
    const full = slackPayload({
      ...event,
      newTokenExpiresAt: "2027-01-01T00:00:00.000Z",
      tokenId: "TOK",
      expiresAt: "2026-12-31T00:00:00.000Z",
    });
    assert.deepEqual(full.blocks.at(-1), {
      type: "context",
      elements: [
        {
          type: "mrkdwn",
          text: [
            "*environment* staging",
            "*run* `20261129T120000Z-abcdef01`",
            "*previous token* `OLD`",
            "*new token* `NEW`",
            "*expires* 2027-01-01T00:00:00.000Z",
            "*token* `TOK`",
            "*expires* 2026-12-31T00:00:00.000Z",
          ].join("  ·  "),
        },
      ],
    });
    assert.deepEqual(full.blocks[2], {
      type: "section",
      text: { type: "mrkdwn", text: `*next step* ${event.nextStep}` },
    });
    assert.deepEqual(full.blocks[1], {
      type: "section",
      text: {
        type: "mrkdwn",
        text: "*error* verify failed: exec ./check &lt;staging&gt; exited with code 1",
      },
    });
    const bare = slackPayload({
      version: 1,
      event: "run-started",
      at: "2026-11-29T12:00:00.000Z",
      source: "rotate",
      summary: "a & b <c>",
    });
    assert.deepEqual(bare, {
      text: ":arrows_counterclockwise: a & b <c>",
      blocks: [
        { type: "section", text: { type: "mrkdwn", text: ":arrows_counterclockwise: a &amp; b &lt;c&gt;" } },
      ],
    });
  });

  it("the URL is a secret: a payload that would name it is redacted", async () => {
    const url = `${receiver.url}/services/T000/B000/ZZZZZZZZZZZZZZZZ`;
    const from = receiver.requests.length;
    await createSlackNotifier({ webhookUrlEnv: "U" }, { env: { U: url } }).send({
      ...event,
      error: `posting to ${url} failed`,
    });
    const body = receiver.requests[from]!.body;
    assert.equal(body.includes("ZZZZZZZZ"), false);
    assert.ok(body.includes(REDACTED));
  });

  it("an empty variable is refused; the timeout is the configured one", async () => {
    assert.throws(
      () => createSlackNotifier({ webhookUrlEnv: "SLACK_URL" }, { env: { SLACK_URL: "" } }),
      /SLACK_URL \(webhookUrlEnv\) is not set/,
    );
    receiver.setMode({ kind: "hang" });
    const url = `${receiver.url}/services/T000/B000/HHHHHHHHHHHHHHHH`;
    await assert.rejects(
      createSlackNotifier({ webhookUrlEnv: "U", timeoutMs: 1 }, { env: { U: url } }).send(event),
      /did not answer within 1 ms/,
    );
    receiver.setMode({ kind: "ok" });
  });
});
