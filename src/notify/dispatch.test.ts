/**
 * The notification sink against real local receivers: every notifier gets every event in order, a
 * failed delivery is one redacted warning and never a rejection, and `flush` says whether all
 * arrived.
 */
import assert from "node:assert/strict";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { startNotifyReceiver, type NotifyReceiver } from "../../test/helpers/notify-receiver.ts";
import { createWebhookNotifier } from "../adapters/webhook-notify/index.ts";
import type { NotificationEvent } from "../adapters/types.ts";
import { clearSecrets, REDACTED } from "../util/redact.ts";
import { memoryLogger } from "../util/log.ts";
import { noNotifications, notificationSink, notificationsFor } from "./dispatch.ts";

const SECRET = "whsec-dispatch-signing-key-9876543210";

const event = (n: number): NotificationEvent => ({
  version: 1,
  event: "run-started",
  at: "2026-11-29T12:00:00.000Z",
  source: "rotate",
  runId: `run-${n}`,
  environments: ["staging"],
  summary: `started ${n}`,
});

describe("notification sink", () => {
  let good: NotifyReceiver;
  let bad: NotifyReceiver;
  before(async () => {
    good = await startNotifyReceiver();
    bad = await startNotifyReceiver();
    bad.setMode({ kind: "status", status: 500, body: `leaked ${SECRET}` });
  });
  after(async () => {
    await good.close();
    await bad.close();
    clearSecrets();
  });

  it("no notifiers: emit counts none, flush is true", async () => {
    assert.equal(await noNotifications.emit(event(0)), 0);
    assert.equal(await noNotifications.flush(), true);
    const log = memoryLogger();
    const sink = notificationSink([], log);
    assert.equal(sink, noNotifications);
    assert.equal(await sink.emit(event(0)), 0);
    assert.equal(await sink.flush(), true);
  });

  it("every event reaches every notifier, in order; emit counts the acceptances", async () => {
    const log = memoryLogger();
    const from = good.requests.length;
    const a = createWebhookNotifier({ url: `${good.url}/a` }, { env: {} });
    const b = createWebhookNotifier({ url: `${good.url}/b` }, { env: {} });
    const sink = notificationSink([a, b], log);
    const counts = await Promise.all([sink.emit(event(1)), sink.emit(event(2)), sink.emit(event(3))]);
    assert.deepEqual(counts, [2, 2, 2]);
    assert.equal(await sink.flush(), true);
    const got = good.requests.slice(from);
    const ids = (path: string) =>
      got.filter((r) => r.path === path).map((r) => (r.json as { runId: string }).runId);
    assert.deepEqual(ids("/a"), ["run-1", "run-2", "run-3"]);
    assert.deepEqual(ids("/b"), ["run-1", "run-2", "run-3"]);
    assert.deepEqual(log.lines, []);
  });

  it("a failed delivery is a redacted warning, emit still resolves; flush says false once", async () => {
    const log = memoryLogger();
    const fromGood = good.requests.length;
    const ok = createWebhookNotifier({ url: `${good.url}/ok` }, { env: {} });
    const failing = createWebhookNotifier(
      { url: `${bad.url}/fail`, signingSecretEnv: "S" },
      { env: { S: SECRET } },
    );
    const sink = notificationSink([failing, ok], log);
    assert.equal(await sink.emit(event(4)), 1);
    // The failing notifier's queue goes on after a failure.
    assert.equal(await sink.emit(event(5)), 1);
    assert.equal(await sink.flush(), false);
    assert.equal(await sink.flush(), true, "a flush reports what failed since the last one");
    assert.deepEqual(
      good.requests.slice(fromGood).map((r) => (r.json as { runId: string }).runId),
      ["run-4", "run-5"],
    );
    assert.equal(log.lines.length, 2);
    for (const line of log.lines) {
      assert.equal(line.level, "warn");
      assert.match(
        line.message,
        new RegExp(
          `^notification not delivered: run-started to webhook ${new URL(bad.url).host}: .*answered 500`,
        ),
      );
      assert.equal(line.message.includes(SECRET), false);
      assert.ok(line.message.includes(REDACTED));
    }
  });

  it("a notifier that throws a non-Error is a warning too", async () => {
    const log = memoryLogger();
    const sink = notificationSink(
      [
        {
          description: "odd",
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- a notifier that rejects with a string
          send: () => Promise.reject(`plain text with ${SECRET}`),
        },
      ],
      log,
    );
    assert.equal(await sink.emit(event(6)), 0);
    assert.equal(await sink.flush(), false);
    assert.deepEqual(log.lines, [
      {
        level: "warn",
        message: `notification not delivered: run-started to odd: plain text with ${REDACTED}`,
      },
    ]);
  });

  it("a notifier that cannot be made is skipped with a warning; the others run", async () => {
    const log = memoryLogger();
    const from = good.requests.length;
    const sink = await notificationsFor(
      [
        { type: "slack", webhookUrlEnv: "NO_SUCH_SLACK_URL" },
        { type: "webhook", url: `${good.url}/made` },
      ] as never,
      log,
      { env: {} },
    );
    assert.deepEqual(log.lines, [
      {
        level: "warn",
        message:
          "notify[0] (slack) is skipped: NO_SUCH_SLACK_URL (webhookUrlEnv) is not set: set it to the Slack incoming-webhook URL, or remove this notifier",
      },
    ]);
    assert.equal(await sink.emit(event(7)), 1);
    assert.equal(await sink.flush(), true);
    assert.deepEqual(
      good.requests.slice(from).map((r) => r.path),
      ["/made"],
    );
    assert.equal(await notificationsFor([], log), noNotifications);
  });
  it("one notifier's events go one at a time: the next waits until the one before ended", async () => {
    // The receiver holds the first request until a second arrives. Sent one at a time, the first
    // can only end by the notifier's timeout, and the second arrives after it.
    const held: ServerResponse[] = [];
    const arrived: string[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        arrived.push((JSON.parse(Buffer.concat(chunks).toString("utf8")) as { runId: string }).runId);
        if (arrived.length === 1) {
          held.push(res);
          return;
        }
        for (const r of held.splice(0)) r.end("late");
        res.end("ok");
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/serial`;
    try {
      const log = memoryLogger();
      const sink = notificationSink([createWebhookNotifier({ url, timeoutMs: 1_000 }, { env: {} })], log);
      const first = sink.emit(event(8));
      const second = sink.emit(event(9));
      assert.deepEqual(await Promise.all([first, second]), [0, 1]);
      assert.equal(await sink.flush(), false);
      assert.deepEqual(arrived, ["run-8", "run-9"]);
      assert.equal(log.lines.length, 1);
      assert.match(
        log.lines[0]!.message,
        /^notification not delivered: run-started to webhook .* did not answer within 1000 ms$/,
      );
    } finally {
      for (const r of held.splice(0)) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
