/** A source of "now"; the emulator never reads the system clock except through one of these. */
export interface Clock {
  now(): Date;
}

/** The real clock. */
export const systemClock: Clock = { now: () => new Date() };

/** RFC 3339 UTC without fraction, as the API writes every timestamp: `2025-02-25T12:01:39Z`. */
export function formatTimestamp(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** The offset form `/sudo` uses: `2025-02-25T12:06:38+00:00`. */
export function formatOffsetTimestamp(date: Date): string {
  return formatTimestamp(date).replace(/Z$/, "+00:00");
}

/** Whole Unix seconds. */
export function unixSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/**
 * Milliseconds in a duration such as `90s`, `30d`, `-2h` or `1h30m`; a plain number is seconds.
 * Returns undefined when the text is not a duration.
 */
export function parseDuration(input: string | number): number | undefined {
  if (typeof input === "number") return Number.isFinite(input) ? input * 1000 : undefined;
  const text = input.trim();
  if (/^[+-]?\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const match = /^([+-])?((?:\d+(?:ms|s|m|h|d|w))+)$/.exec(text);
  if (!match?.[2]) return undefined;
  let total = 0;
  for (const part of match[2].matchAll(/(\d+)(ms|s|m|h|d|w)/g)) {
    total += Number(part[1]) * (UNIT_MS[part[2] ?? "s"] ?? 1000);
  }
  return match[1] === "-" ? -total : total;
}

/**
 * A seed time: an ISO timestamp, or a duration relative to `now` such as `+20d` or `-330d`. Relative
 * times keep a seed's expiries in the future whenever the emulator starts.
 */
export function resolveSeedTime(input: string, now: Date): Date | undefined {
  if (/^[+-]/.test(input)) {
    const ms = parseDuration(input);
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
