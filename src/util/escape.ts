/**
 * Text from outside (service and token names, user logins, server error messages, secret store and
 * cluster answers, config values) is shown on a terminal with its control characters made visible,
 * so that a name holding ESC, CR or a newline cannot move the cursor, erase a line or forge one in a
 * plan a superuser approves. Applied where text meets the terminal; JSON output is already safe.
 */

// C0 controls (tab included: it shifts columns), DEL, C1 controls, and the Unicode bidi embeddings, overrides and isolates
// (which reorder what follows on screen: "Trojan Source").
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Readonly<Record<string, string>> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/**
 * `text` with every control character written as an escape: `\n`, `\r`, `\x1b`,
 * `\u202e`. Printable text, including non-ASCII letters, is unchanged.
 */
export function escapeControl(text: string): string {
  return text.replace(UNSAFE, (ch) => {
    const named = NAMED[ch];
    if (named !== undefined) return named;
    const code = ch.charCodeAt(0);
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, "0")}`
      : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

/**
 * `text` with every control character (as `escapeControl` sees them) replaced by U+FFFD, the
 * replacement character: for Prometheus label values, which the exposition format would carry
 * raw to whoever reads `/metrics` on a terminal (`curl`), and whose escapes would change the value.
 */
export function replaceControl(text: string): string {
  return text.replace(UNSAFE, "\ufffd");
}

/** `escapeControl` for each line of `text`, keeping its line breaks (messages that are several lines on purpose). */
export function escapeControlLines(text: string): string {
  return text.split("\n").map(escapeControl).join("\n");
}
