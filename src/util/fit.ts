/**
 * Text that fits a terminal: the width to fit (a terminal's columns; none for a file or a pipe,
 * which get every character), lines wrapped at word boundaries with a hanging indent, names elided
 * in the middle, and timestamps shortened on narrow terminals.
 */
import stringWidth from "string-width";
import wrapAnsi from "wrap-ansi";
import { NARROW_COLUMNS } from "./width.ts";

export { NARROW_COLUMNS, widthOf, type MaybeTerminal } from "./width.ts";

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** Columns `text` takes on a terminal (colour codes take none, wide characters two). */
export function visibleWidth(text: string): number {
  // Printable ASCII is one column a character: the common case, without string-width's passes.
  return PRINTABLE_ASCII.test(text) ? text.length : stringWidth(text);
}

/**
 * `text` wrapped to `width` at spaces, every line after the first indented by `indent` spaces.
 * A word longer than a whole line is the only thing broken. No `width`: the text as it is.
 */
export function wrap(text: string, width: number | undefined, indent = 0): string {
  if (width === undefined || visibleWidth(text) <= width) return text;
  // The leading blanks are the line's own indent: kept, and the rest wrapped beside them.
  const lead = /^ */.exec(text)?.[0] ?? "";
  const body = text.slice(lead.length);
  const hang = Math.max(lead.length, Math.min(indent, width - 20));
  const firstWidth = Math.max(10, width - lead.length);
  const words = wrapAnsi(body, firstWidth, { hard: true, trim: true }).split("\n");
  const head = words[0] ?? "";
  const rest = words.slice(1).join(" ");
  if (rest === "") return lead + head;
  const pad = " ".repeat(hang);
  const tail = wrapAnsi(rest, Math.max(10, width - hang), { hard: true, trim: true }).split("\n");
  return [lead + head, ...tail.map((line) => pad + line)].join("\n");
}

/** `text` cut to `max` columns by replacing its middle with `…` (both ends stay readable). */
export function elideMiddle(text: string, max: number): string {
  if (visibleWidth(text) <= max) return text;
  if (max <= 1) return text.slice(0, Math.max(0, max));
  const chars = [...text];
  const keep = max - 1;
  const head = Math.ceil(keep / 2);
  const tail = keep - head;
  return `${chars.slice(0, head).join("")}…${tail > 0 ? chars.slice(chars.length - tail).join("") : ""}`;
}

/**
 * An ISO 8601 time for people: `2026-12-24T11:06:15Z` in full, `2026-12-24 11:06Z` on a terminal
 * narrower than {@link NARROW_COLUMNS}. Text that is not a time is returned as it is.
 */
export function shortTime(iso: string, width: number | undefined): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  const full = new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
  if (width === undefined || width >= NARROW_COLUMNS) return full;
  return `${full.slice(0, 10)} ${full.slice(11, 16)}Z`;
}

/** Every ISO 8601 timestamp in `text` shortened as {@link shortTime} does. */
export function shortTimes(text: string, width: number | undefined): string {
  if (width === undefined || width >= NARROW_COLUMNS) return text;
  return text.replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z/g, (iso) => shortTime(iso, width));
}
