/**
 * Times and durations, written one way everywhere: the config, messages, the emulator's seeds and
 * clock. Durations are written as in the config: `90s`, `5m`, `2h`, `365d`, `1w`, and combinations from
 * the largest unit down such as `1h30m` or `1d12h`. A bare number is rejected: `timeout: 60` could mean
 * seconds or milliseconds, and guessing wrong turns a one-minute wait into a 60 ms one.
 *
 * Every duration is bounded by `MAX_DURATION_MS` (1000 years): anything longer is a typo, and a
 * duration that no date can hold (`99999999999999999999d`) is refused when the config is validated,
 * naming the field, rather than failing later with "Invalid time value". Waits of any length go
 * through `src/util/timer.ts`, which sleeps in chunks: Node's own timers fire after 1 ms for anything
 * from 2^31 ms (about 24.9 days) on.
 */

/** RFC 3339 in UTC without fractions of a second, as Fastly prints times: `2026-11-28T04:49:11Z`. */
export function formatTime(time: Date): string {
  return time.toISOString().replace(/\.\d{3}Z$/, "Z");
}

const UNIT_MS = { w: 604_800_000, d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000 } as const;

/** Source of the duration grammar; also the JSON Schema `pattern` of every duration field. */
export const DURATION_PATTERN = "^(?=\\d)(?:(\\d+)w)?(?:(\\d+)d)?(?:(\\d+)h)?(?:(\\d+)m)?(?:(\\d+)s)?$";

const DURATION_RE = new RegExp(DURATION_PATTERN);

/**
 * The longest duration: 1000 years (365,250 days). Far beyond any token lifetime or wait, far
 * within what a `Date` can hold after now and what a number counts exactly.
 */
export const MAX_DURATION_MS = 365_250 * UNIT_MS.d;

/** Why a duration within the grammar is still refused: longer than `MAX_DURATION_MS`. */
const TOO_LONG =
  "it is longer than 1000 years (365250d), more than any date or timer can hold; write a shorter duration, e.g. 365d";

/** Milliseconds of a text already known to be in the grammar; NaN-free, possibly huge. */
function grammarMs(match: RegExpExecArray): number {
  const [, w, d, h, m, s] = match;
  return (
    Number(w ?? 0) * UNIT_MS.w +
    Number(d ?? 0) * UNIT_MS.d +
    Number(h ?? 0) * UNIT_MS.h +
    Number(m ?? 0) * UNIT_MS.m +
    Number(s ?? 0) * UNIT_MS.s
  );
}

/** One line describing the grammar, for error messages. */
export const DURATION_HINT =
  "write a number followed by a unit: s (seconds), m (minutes), h (hours), d (days) or w (weeks), e.g. 90s, 5m, 2h, 365d, 1w, or combine them from the largest unit down, e.g. 1h30m";

/** Thrown by `parseDuration` for text outside the grammar. */
export class DurationError extends Error {
  override readonly name = "DurationError";
  /** The rejected text. */
  readonly text: string;
  constructor(text: string, reason: string) {
    super(`invalid duration ${JSON.stringify(text)}: ${reason}`);
    this.text = text;
  }
}

/** Why `text` is not a duration, or undefined when it is one. Used for precise validation messages. */
export function durationProblem(text: string): string | undefined {
  const trimmed = text.trim();
  const match = DURATION_RE.exec(trimmed);
  if (match) return grammarMs(match) > MAX_DURATION_MS ? TOO_LONG : undefined;
  if (trimmed === "") return `it is empty; ${DURATION_HINT}`;
  if (/^\d+(\.\d+)?$/.test(trimmed)) {
    return `a bare number has no unit (milliseconds are not assumed); ${DURATION_HINT}`;
  }
  if (/\d\.\d/.test(trimmed))
    return `fractions are not supported, e.g. write 1h30m for 1.5h; ${DURATION_HINT}`;
  if (/\d\s+\D|\D\s+\d/.test(trimmed)) return `remove the spaces, e.g. 1h30m; ${DURATION_HINT}`;
  if (/^-/.test(trimmed)) return `it must not be negative; ${DURATION_HINT}`;
  if (/ms$/.test(trimmed)) return `milliseconds are not a config unit; ${DURATION_HINT}`;
  if (/^(\d+[wdhms])+$/.test(trimmed)) {
    return "each unit may appear once, from the largest down (w, d, h, m, s), e.g. 1h30m rather than 30m1h";
  }
  return DURATION_HINT;
}

/**
 * Parses a duration into milliseconds.
 * @throws DurationError when `text` is not in the grammar (see `DURATION_HINT`), or is longer than
 *   `MAX_DURATION_MS`.
 */
export function parseDuration(text: string): number {
  const match = DURATION_RE.exec(text.trim());
  if (!match) throw new DurationError(text, durationProblem(text) ?? DURATION_HINT);
  const ms = grammarMs(match);
  if (ms > MAX_DURATION_MS) throw new DurationError(text, TOO_LONG);
  return ms;
}

/**
 * Formats milliseconds in the duration grammar, largest units first: `365d`, `1h30m`, `2m`. Days are
 * not folded into weeks, so a year reads `365d`. Messages also meet sub-second values, written
 * readably though outside the grammar: a tenth-of-a-second remainder as `1.5s`, under a second as
 * `250ms`. Negative input gets a `-`.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < 0) return `-${formatDuration(-ms)}`;
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  // Tenths of a second, rounded once, so 59.96s reads 1m rather than 60s.
  let rest = Math.round(ms / 100) * 100;
  let out = "";
  for (const unit of ["d", "h", "m"] as const) {
    const n = Math.floor(rest / UNIT_MS[unit]);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * UNIT_MS[unit];
    }
  }
  if (rest > 0) out += `${+(rest / 1_000).toFixed(1)}s`;
  return out;
}
