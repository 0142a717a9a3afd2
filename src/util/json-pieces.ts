/**
 * `JSON.stringify(value, null, 2)` in pieces, so a document of thousands of items (`ftr status
 * --json`) is written out without its whole text in memory at once. The top levels (plain objects
 * and arrays) are walked here; each value below them is given to `JSON.stringify` whole and
 * re-indented (the items of a walked array a run at a time, nested so that `JSON.stringify` indents
 * them itself), so the pieces joined are the same text, byte for byte.
 */

/** Levels walked here; deeper values are stringified whole. */
const WALKED_LEVELS = 2;

/** A plain object or an array that `JSON.stringify` would walk itself (no `toJSON`). */
function walkable(value: unknown): value is Record<string, unknown> | unknown[] {
  if (typeof value !== "object" || value === null) return false;
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") return false;
  if (Array.isArray(value)) return true;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * `JSON.stringify(value, null, 2)` for the value under `key`, starting at `indent`; undefined where
 * JSON has no value (undefined, a function, a symbol).
 */
function leaf(value: unknown, key: string, indent: string): string | undefined {
  let text: string | undefined;
  if (typeof (value as { toJSON?: unknown } | null | undefined)?.toJSON === "function") {
    // JSON.stringify gives toJSON the key: stringify the value under its key, then take it out.
    const whole = JSON.stringify({ [key]: value }, null, 2);
    const head = `{\n  ${JSON.stringify(key)}: `;
    text = whole === "{}" ? undefined : whole.slice(head.length, -2).replaceAll("\n  ", "\n");
  } else {
    text = JSON.stringify(value, null, 2);
  }
  // A string's line breaks are escaped in JSON: every "\n" is the layout's.
  return text === undefined || indent === "" ? text : text.replaceAll("\n", `\n${indent}`);
}

/**
 * Items stringified by one `JSON.stringify` call. Fewer calls, and no re-indenting: 10,000 report
 * rows take about half the time they took one call each; far larger runs are slower again.
 */
const BATCH_ITEMS = 32;

/**
 * The items of an array whose items are not walked, each at `inner`, separated as
 * `JSON.stringify` separates them. Runs of up to {@link BATCH_ITEMS} items are stringified in one
 * call, nested in as many arrays as `inner` is levels deep so that JSON.stringify indents them
 * itself, and the wrapping cut off; an item with a `toJSON` (which is given its index as key) is
 * stringified alone.
 */
function* leafItems(value: readonly unknown[], inner: string): Generator<string, void, undefined> {
  const depth = inner.length / 2;
  let open = "";
  let close = "";
  for (let j = 0; j < depth; j++) {
    open += `${"  ".repeat(j)}[\n`;
    close = `\n${"  ".repeat(j)}]${close}`;
  }
  let i = 0;
  while (i < value.length) {
    const separator = i === 0 ? "" : ",\n";
    if (typeof (value[i] as { toJSON?: unknown } | null | undefined)?.toJSON === "function") {
      yield `${separator}${inner}${leaf(value[i], String(i), inner) ?? "null"}`;
      i++;
      continue;
    }
    let end = i + 1;
    while (
      end < value.length &&
      end - i < BATCH_ITEMS &&
      typeof (value[end] as { toJSON?: unknown } | null | undefined)?.toJSON !== "function"
    ) {
      end++;
    }
    // Holes, undefined, functions and symbols are null in an array, as JSON.stringify writes them.
    let run: unknown = value.slice(i, end);
    for (let j = 1; j < depth; j++) run = [run];
    const text = JSON.stringify(run, null, 2);
    yield separator + text.slice(open.length, text.length - close.length);
    i = end;
  }
}

function* pieces(
  value: unknown,
  key: string,
  indent: string,
  level: number,
): Generator<string, void, undefined> {
  if (level >= WALKED_LEVELS || !walkable(value)) {
    yield leaf(value, key, indent) ?? "null";
    return;
  }
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) {
      yield "[]";
      return;
    }
    yield "[\n";
    if (level + 1 >= WALKED_LEVELS) {
      yield* leafItems(value, inner);
    } else {
      for (let i = 0; i < value.length; i++) {
        yield i === 0 ? inner : `,\n${inner}`;
        // Holes, undefined, functions and symbols are null in an array, as JSON.stringify writes them.
        yield* pieces(value[i], String(i), inner, level + 1);
      }
    }
    yield `\n${indent}]`;
    return;
  }
  let first = true;
  for (const key of Object.keys(value)) {
    const item = value[key];
    const walked = level + 1 < WALKED_LEVELS && walkable(item);
    // A key whose value JSON cannot write (undefined, a function, a symbol) is left out.
    const text = walked ? undefined : leaf(item, key, inner);
    if (!walked && text === undefined) continue;
    yield `${first ? "{\n" : ",\n"}${inner}${JSON.stringify(key)}: `;
    first = false;
    if (walked) yield* pieces(item, key, inner, level + 1);
    else yield text as string;
  }
  yield first ? "{}" : `\n${indent}}`;
}

/**
 * The pieces of `JSON.stringify(value, null, 2)`, in order; joined, they are that text exactly.
 * `value` must have a JSON text (not undefined, a function or a symbol).
 */
export function jsonPieces(value: unknown): Generator<string, void, undefined> {
  return pieces(value, "", "", 0);
}
