/**
 * Live progress of a rotation on stderr. On a terminal the running step is one line redrawn every
 * second: elapsed / timeout and what it waits for (the adapter's last poll reason); each finished
 * step becomes a line of its own, wrapped to the width. Off a terminal: a line when a step starts,
 * another every 30 s while it runs (elapsed, timeout, reason), and one when it ends, all whole. With
 * `--json`, the same as JSON lines (`{"event":"step"|"waiting",…}`), so stdout keeps only the
 * result. Timers come from the global clock, which tests replace (node:test's mock timers).
 */
import type { RotationEvent } from "../../rotation/index.ts";
import type { Paint } from "../../monitor/render.ts";
import { escapeControl as x } from "../../util/escape.ts";
import { formatDuration } from "../../util/time.ts";
import { shortTimes, visibleWidth, wrap } from "../../util/fit.ts";

/** Where progress goes and how. */
export interface ProgressOptions {
  readonly stream: NodeJS.WritableStream & { isTTY?: boolean };
  readonly paint: Paint;
  /** The stream's width when it is a terminal; undefined otherwise. */
  readonly width?: number | undefined;
  /** JSON lines instead of text. */
  readonly json?: boolean;
  /** Print nothing but keep `activity` current (e.g. `--json` of a command without progress). */
  readonly quiet?: boolean;
  /** The time limit of a step of an environment (the sum of its reloaders' or verifiers'). */
  readonly timeoutOf?: (environment: string, step: string) => number | undefined;
  /** Told the running step, for the `stopping: …` line of a signal. */
  readonly activity?: { current: string | undefined };
  /** Off a terminal, a line this often while a step runs (default 30 s). */
  readonly heartbeatMs?: number;
  /** On a terminal, the running line is redrawn this often (default 1 s). */
  readonly tickMs?: number;
}

/** Feeds progress from the rotation's events and its adapters' poll reasons. */
export interface Progress {
  onEvent(event: RotationEvent): void;
  /** What the running step of `environment` waits for now (an adapter's last poll reason). */
  onWaiting(environment: string, reason: string): void;
  /** Stops the timers and clears the running line. */
  stop(): void;
}

interface Running {
  readonly environment: string;
  readonly step: string;
  readonly startedAt: number;
  readonly timeoutMs: number | undefined;
  reason?: string;
}

const CLEAR = "\r\x1b[2K";

/** Text cut to `max` columns at its end, with `…`. */
function cutEnd(text: string, max: number): string {
  if (visibleWidth(text) <= max) return text;
  let out = "";
  for (const ch of text) {
    if (visibleWidth(out + ch) > max - 1) break;
    out += ch;
  }
  return `${out}…`;
}

/** A progress reporter writing to `options.stream`. */
export function progressReporter(options: ProgressOptions): Progress {
  const { stream, paint, width } = options;
  const tty = stream.isTTY === true && options.json !== true;
  const quiet = options.quiet === true;
  const heartbeatMs = options.heartbeatMs ?? 30_000;
  const begun = new Map<string, number>();
  let running: Running | undefined;
  let timer: ReturnType<typeof setInterval> | undefined;
  let drawn = false;

  const write = (s: string) => stream.write(s);
  const json = (value: Record<string, unknown>) => write(`${JSON.stringify(value)}\n`);
  const elapsedText = (r: Running, now: number) =>
    `${now - r.startedAt < 1000 ? "0s" : formatDuration(Math.floor((now - r.startedAt) / 1000) * 1000)}${r.timeoutMs !== undefined ? ` / ${formatDuration(r.timeoutMs)}` : ""}`;

  const draw = () => {
    if (!running || !tty) return;
    const r = running;
    const line = `  ${x(r.environment)}: ${x(r.step)} ${elapsedText(r, Date.now())}${r.reason ? ` · ${x(r.reason)}` : "…"}`;
    write(CLEAR + paint.dim(width !== undefined ? cutEnd(line, width - 1) : line));
    drawn = true;
  };
  const clear = () => {
    if (drawn) write(CLEAR);
    drawn = false;
  };
  const heartbeat = () => {
    if (!running) return;
    const r = running;
    const elapsedMs = Date.now() - r.startedAt;
    if (options.json) {
      json({
        event: "waiting",
        environment: r.environment,
        step: r.step,
        elapsedMs,
        ...(r.timeoutMs !== undefined ? { timeoutMs: r.timeoutMs } : {}),
        ...(r.reason !== undefined ? { reason: r.reason } : {}),
        at: new Date().toISOString(),
      });
    } else {
      write(
        `  ${x(r.environment)}: ${x(r.step)} still running, ${elapsedText(r, Date.now())}${r.reason ? `: ${x(r.reason)}` : ""}\n`,
      );
    }
  };
  const stopTimer = () => {
    if (timer !== undefined) clearInterval(timer);
    timer = undefined;
  };

  return {
    onEvent(event) {
      const key = `${event.environment}/${event.step}`;
      if (event.status === "begin" && options.activity) {
        options.activity.current = x(`${event.environment} ${event.step}`);
      }
      if (quiet) return;
      if (event.status === "begin") {
        const startedAt = Date.parse(event.at);
        begun.set(key, startedAt);
        const timeoutMs = options.timeoutOf?.(event.environment, event.step);
        running = { environment: event.environment, step: event.step, startedAt: Date.now(), timeoutMs };
        stopTimer();
        if (options.json) {
          json({
            event: "step",
            environment: event.environment,
            step: event.step,
            status: "begin",
            at: event.at,
            ...(timeoutMs !== undefined ? { timeoutMs } : {}),
          });
        } else if (!tty) {
          write(
            `  ${x(event.environment)}: ${x(event.step)} started${timeoutMs !== undefined ? ` (timeout ${formatDuration(timeoutMs)})` : ""}\n`,
          );
        }
        if (tty) {
          draw();
          timer = setInterval(draw, options.tickMs ?? 1000);
        } else {
          timer = setInterval(heartbeat, heartbeatMs);
        }
        timer.unref?.();
        return;
      }
      if (running && running.environment === event.environment && running.step === event.step) {
        stopTimer();
        running = undefined;
      }
      const started = begun.get(key);
      const tookMs = started === undefined ? undefined : Date.parse(event.at) - started;
      if (options.json) {
        json({
          event: "step",
          environment: event.environment,
          step: event.step,
          status: event.status,
          at: event.at,
          ...(tookMs !== undefined ? { elapsedMs: tookMs } : {}),
          ...(event.detail !== undefined ? { detail: event.detail } : {}),
        });
        return;
      }
      clear();
      const took = tookMs === undefined ? "" : paint.dim(` (${(tookMs / 1000).toFixed(1)}s)`);
      const mark =
        event.status === "done" ? paint.green("✓") : event.status === "skipped" ? "-" : paint.red("✗");
      const env = x(event.environment);
      const step = x(event.step);
      const head = `${mark} ${env.padEnd(12)} ${step.padEnd(16)} `;
      const indent = 2 + Math.max(12, visibleWidth(env)) + 1 + Math.max(16, visibleWidth(step)) + 1;
      write(`${wrap(shortTimes(`${head}${x(event.detail ?? "")}${took}`, width), width, indent)}\n`);
    },
    onWaiting(environment, reason) {
      if (!running || running.environment !== environment || running.reason === reason) return;
      running.reason = reason;
      if (quiet) return;
      if (options.json) heartbeat();
      else draw();
    },
    stop() {
      stopTimer();
      running = undefined;
      if (!quiet && tty) clear();
    },
  };
}
