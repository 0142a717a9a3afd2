/**
 * Maintenance windows: when `ftr rotate --due` may start an environment. A window is days and a
 * time range in a time zone, `Mon-Thu 09:30-16:00`; a range whose end is before its start runs past
 * midnight (`Fri 22:00-02:00` is open early on Saturday too). Pure: the time is always passed in.
 */

const DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] as const;
const FULL_DAYS = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];

/** One parsed window. */
export interface Window {
  /** As written, for messages. */
  readonly text: string;
  /** Days (0 = Sunday) on which the window opens. */
  readonly days: ReadonlySet<number>;
  /** Minutes after local midnight. */
  readonly start: number;
  /** Minutes after local midnight; 1440 for 24:00; less than `start` when it runs past midnight. */
  readonly end: number;
}

/** A window spec that cannot be read; the message says how to write one. */
export class WindowError extends Error {
  override readonly name = "WindowError";
}

const HELP =
  'write days and a time range, e.g. "Mon-Thu 09:30-16:00", "Mon,Wed 10:00-12:00", "daily 22:00-02:00"';

/** Parses `Mon-Thu 09:30-16:00`; throws `WindowError` naming what is wrong. */
export function parseWindow(text: string): Window {
  const parts = text.trim().split(/\s+/);
  const [daysText, rangeText] = parts.length === 1 ? ["daily", parts[0]] : parts;
  if (parts.length > 2 || daysText === undefined || rangeText === undefined || rangeText === "") {
    throw new WindowError(`window "${text}" is not days and a time range: ${HELP}`);
  }
  const range = /^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$/.exec(rangeText);
  if (!range)
    throw new WindowError(`window "${text}": "${rangeText}" is not a time range such as 09:30-16:00`);
  const start = minutes(text, range[1]!, range[2]!, false);
  const end = minutes(text, range[3]!, range[4]!, true);
  if (start === end) throw new WindowError(`window "${text}" opens and closes at the same time`);
  return { text: text.trim(), days: parseDays(text, daysText), start, end };
}

function minutes(text: string, h: string, m: string, isEnd: boolean): number {
  const hours = Number(h);
  const mins = Number(m);
  if (hours === 24 && mins === 0 && isEnd) return 1440;
  if (hours > 23 || mins > 59) throw new WindowError(`window "${text}": ${h}:${m} is not a time of day`);
  return hours * 60 + mins;
}

function parseDays(text: string, daysText: string): Set<number> {
  const lower = daysText.toLowerCase();
  if (lower === "daily" || lower === "*" || lower === "every-day") return new Set([0, 1, 2, 3, 4, 5, 6]);
  if (lower === "weekdays") return new Set([1, 2, 3, 4, 5]);
  if (lower === "weekends") return new Set([0, 6]);
  const days = new Set<number>();
  for (const item of lower.split(",")) {
    const [from, to, extra] = item.split("-");
    if (extra !== undefined || from === undefined || from === "") {
      throw new WindowError(`window "${text}": "${item}" is not a day or a range of days such as Mon-Thu`);
    }
    const a = day(text, from);
    const b = to === undefined ? a : day(text, to);
    for (let d = a; ; d = (d + 1) % 7) {
      days.add(d);
      if (d === b) break;
    }
  }
  return days;
}

function day(text: string, name: string): number {
  const i = DAYS.findIndex((d) => d === name);
  if (i >= 0) return i;
  const full = FULL_DAYS.indexOf(name);
  if (full >= 0) return full;
  throw new WindowError(`window "${text}": "${name}" is not a day; use Mon, Tue, Wed, Thu, Fri, Sat, Sun`);
}

/** Throws `WindowError` when `timeZone` is not an IANA time zone this runtime knows. */
export function checkTimeZone(timeZone: string): void {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone });
  } catch {
    throw new WindowError(`"${timeZone}" is not a time zone; use an IANA name such as Europe/London or UTC`);
  }
}

/** Where `at` falls in a time zone: day of the week (0 = Sunday) and minutes after midnight. */
function localTime(format: Intl.DateTimeFormat, at: number): { day: number; minute: number } {
  let weekday = "";
  let hour = 0;
  let minute = 0;
  for (const part of format.formatToParts(at)) {
    if (part.type === "weekday") weekday = part.value.toLowerCase();
    else if (part.type === "hour") hour = Number(part.value) % 24;
    else if (part.type === "minute") minute = Number(part.value);
  }
  return { day: DAYS.findIndex((d) => d === weekday), minute: hour * 60 + minute };
}

function openAt(windows: readonly Window[], local: { day: number; minute: number }): boolean {
  const yesterday = (local.day + 6) % 7;
  return windows.some((w) =>
    w.start < w.end
      ? w.days.has(local.day) && local.minute >= w.start && local.minute < w.end
      : (w.days.has(local.day) && local.minute >= w.start) || (w.days.has(yesterday) && local.minute < w.end),
  );
}

/** Whether a set of windows is open now, and when it next opens (within eight days) when not. */
export interface WindowState {
  readonly open: boolean;
  /** When closed: the next opening; undefined when the windows never open. */
  readonly nextOpen?: Date;
}

/** The state of `windows` in `timeZone` at `now`. No windows: always open. */
export function windowState(windows: readonly Window[], timeZone: string, now: Date): WindowState {
  if (windows.length === 0) return { open: true };
  const format = new Intl.DateTimeFormat("en-US", {
    timeZone,
    weekday: "short",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  });
  if (openAt(windows, localTime(format, now.getTime()))) return { open: true };
  // Step minute by minute from the next whole minute: every window edge is on one, and stepping in
  // absolute time is right across daylight-saving changes.
  const first = Math.floor(now.getTime() / 60_000) * 60_000 + 60_000;
  for (let t = first; t < first + 8 * 24 * 60 * 60_000; t += 60_000) {
    if (openAt(windows, localTime(format, t))) return { open: false, nextOpen: new Date(t) };
  }
  return { open: false };
}
