import { durationProblem, formatTime, parseDuration } from "../util/time.ts";

/** A source of "now"; the emulator never reads the system clock except through one of these. */
export interface Clock {
  now(): Date;
}

/** The real clock. */
export const systemClock: Clock = { now: () => new Date() };

/** The offset form `/sudo` uses: `2025-02-25T12:06:38+00:00`. */
export function formatOffsetTimestamp(date: Date): string {
  return formatTime(date).replace(/Z$/, "+00:00");
}

/** Whole Unix seconds. */
export function unixSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

/**
 * Milliseconds in a signed duration such as `+20d`, `-330d` or `1h30m` (the config grammar with an
 * optional sign); a JSON number is seconds. Returns undefined when the input is not one.
 */
export function parseOffset(input: string | number): number | undefined {
  if (typeof input === "number") return Number.isFinite(input) ? input * 1000 : undefined;
  const match = /^\s*([+-]?)(.*)$/.exec(input);
  const text = match?.[2] ?? "";
  if (durationProblem(text) !== undefined) return undefined;
  const ms = parseDuration(text);
  return match?.[1] === "-" ? -ms : ms;
}

/**
 * A seed time: an ISO timestamp, or a duration relative to `now` such as `+20d` or `-330d`. Relative
 * times keep a seed's expiries in the future whenever the emulator starts.
 */
export function resolveSeedTime(input: string, now: Date): Date | undefined {
  if (/^[+-]/.test(input)) {
    const ms = parseOffset(input);
    return ms === undefined ? undefined : new Date(now.getTime() + ms);
  }
  const date = new Date(input);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** The start of the next UTC hour after `date`: when a rate-limit window resets. */
export function nextUtcHour(date: Date): Date {
  const next = new Date(date.getTime());
  next.setUTCMinutes(0, 0, 0);
  next.setUTCHours(next.getUTCHours() + 1);
  return next;
}
