import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { afterEach, beforeEach, describe, it, mock } from "node:test";
import { plainPaint } from "../../monitor/render.ts";
import type { RotationEvent } from "../../rotation/index.ts";
import { visibleWidth } from "../../util/fit.ts";
import { progressReporter } from "./progress.ts";

/** A stream that keeps what is written; a terminal when `tty`. */
function sink(tty: boolean) {
  const stream = new PassThrough() as PassThrough & { isTTY?: boolean };
  if (tty) stream.isTTY = true;
  let text = "";
  stream.on("data", (c: Buffer) => (text += c.toString("utf8")));
  return { stream, text: () => text };
}

const at = (ms: number) => new Date(ms).toISOString();
const event = (step: RotationEvent["step"], status: RotationEvent["status"], ms: number, detail?: string) =>
  ({ environment: "staging", step, status, at: at(ms), ...(detail ? { detail } : {}) }) as RotationEvent;
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe("live progress", () => {
  beforeEach(() => mock.timers.enable({ apis: ["setInterval", "Date"], now: 0 }));
  afterEach(() => mock.timers.reset());

  it("off a terminal: a line when the step starts, one every 30 s with what it waits for, one at the end", async () => {
    const out = sink(false);
    const p = progressReporter({
      stream: out.stream,
      paint: plainPaint,
      timeoutOf: (_env, step) => (step === "reload" ? 300_000 : undefined),
    });
    p.onEvent(event("reload", "begin", 0));
    mock.timers.tick(10_000);
    p.onWaiting("staging", "rollout 1/2 replicas updated");
    mock.timers.tick(20_000);
    mock.timers.tick(30_000);
    p.onEvent(event("reload", "done", 61_000, "rollout complete"));
    p.stop();
    await settle();
    assert.deepEqual(out.text().split("\n"), [
      "  staging: reload started (timeout 5m)",
      "  staging: reload still running, 30s / 5m: rollout 1/2 replicas updated",
      "  staging: reload still running, 1m / 5m: rollout 1/2 replicas updated",
      "✓ staging      reload           rollout complete (61.0s)",
      "",
    ]);
  });

  it("with --json: JSON lines, the waiting ones with elapsed, timeout and reason", async () => {
    const out = sink(false);
    const p = progressReporter({
      stream: out.stream,
      paint: plainPaint,
      json: true,
      timeoutOf: () => 120_000,
    });
    p.onEvent(event("verify", "begin", 0));
    mock.timers.tick(5_000);
    p.onWaiting("staging", "token last used 2025-03-01T11:58:01Z");
    mock.timers.tick(25_000);
    p.onEvent(event("verify", "done", 31_000, "token used"));
    p.stop();
    await settle();
    const lines = out
      .text()
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      lines.map((l) => [l.event, l.status ?? null, l.elapsedMs ?? null, l.reason ?? null]),
      [
        ["step", "begin", null, null],
        ["waiting", null, 5_000, "token last used 2025-03-01T11:58:01Z"],
        ["waiting", null, 30_000, "token last used 2025-03-01T11:58:01Z"],
        ["step", "done", 31_000, null],
      ],
    );
    assert.equal(lines[0]?.timeoutMs, 120_000);
  });

  it("on a terminal: the running line shows elapsed / timeout and the reason, within the width", async () => {
    const out = sink(true);
    const p = progressReporter({
      stream: out.stream,
      paint: plainPaint,
      width: 40,
      timeoutOf: () => 420_000,
    });
    p.onEvent(event("reload", "begin", 0));
    mock.timers.tick(12_000);
    p.onWaiting("staging", "Deployment monitoring/fastly-exporter: 1 of 2 replicas updated");
    mock.timers.tick(1_000);
    p.onEvent(event("reload", "done", 14_000, "Deployment monitoring/fastly-exporter rolled out"));
    p.stop();
    await settle();
    const frames = out
      .text()
      .replaceAll("\x1b[2K", "")
      .split(/\r|\n/)
      .filter((l) => l !== "");
    assert.ok(frames.includes("  staging: reload 12s / 7m…"), frames.join("\n"));
    assert.ok(
      frames.some((f) => f.startsWith("  staging: reload 13s / 7m · Deploy")),
      frames.join("\n"),
    );
    for (const f of frames) assert.ok(visibleWidth(f) <= 40, `${visibleWidth(f)}: ${f}`);
  });
});
