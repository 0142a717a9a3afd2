/**
 * A process-wide list of secret values (token values, passwords). Everything that turns data into
 * text a person or file can see (error messages, log lines, reports) passes through `redact`, so a
 * value registered once can never be printed later, whichever code path would have printed it.
 *
 * A secret is also registered in the forms a server may echo it back in: base64 (standard and
 * URL-safe, padded or not, and at each of the three byte alignments, so the value is found inside
 * a larger encoded document such as a Kubernetes Secret holding JSON), URL/form encoding, and a
 * JSON string's escaping.
 */
const secrets = new Set<string>();

/** The text that replaces a secret. */
export const REDACTED = "[REDACTED]";

/** Shorter values are ignored: they would redact ordinary words. */
const MIN_LENGTH = 6;

/** Remember `value` (and its encoded forms) as a secret; short values are ignored. */
export function registerSecret(value: string | undefined): void {
  if (value === undefined || value.length < MIN_LENGTH) return;
  for (const form of encodedForms(value)) {
    if (form.length >= MIN_LENGTH && !secrets.has(form)) {
      secrets.add(form);
      lookup = undefined;
    }
  }
}

/** Forget every registered secret (tests only). */
export function clearSecrets(): void {
  secrets.clear();
  lookup = undefined;
}

/**
 * The registered secrets in the order `redact` replaces them (longest first), and one expression
 * that finds any of them: most text holds none, and is then scanned once rather than once a
 * secret. Made again when a secret is registered.
 */
let lookup: { readonly ordered: readonly string[]; readonly any: RegExp } | undefined;

function registered(): { readonly ordered: readonly string[]; readonly any: RegExp } {
  if (lookup === undefined) {
    const ordered = [...secrets].sort((a, b) => b.length - a.length);
    const any = new RegExp(ordered.map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|"));
    lookup = { ordered, any };
  }
  return lookup;
}

/** True when a registered secret holds a line break, so text redacted a line at a time could miss it. */
export function secretSpansLines(): boolean {
  for (const secret of secrets) if (secret.includes("\n")) return true;
  return false;
}

/** `text` with every registered secret, and any `extra` ones (and their forms), replaced by `[REDACTED]`. */
export function redact(text: string, extra: readonly (string | undefined)[] = []): string {
  const extraForms = extra.flatMap((s) => (s !== undefined && s.length >= MIN_LENGTH ? encodedForms(s) : []));
  if (extraForms.length === 0) {
    if (secrets.size === 0) return text;
    const { ordered, any } = registered();
    return any.test(text) ? replaceEach(text, ordered) : text;
  }
  // Longest first, so a form containing another is replaced whole.
  return replaceEach(
    text,
    [...new Set([...secrets, ...extraForms])].sort((a, b) => b.length - a.length),
  );
}

/** `text` with each of `all`, in order, replaced by `[REDACTED]`. */
function replaceEach(text: string, all: readonly string[]): string {
  let out = text;
  for (const secret of all) {
    if (secret.length >= MIN_LENGTH && out.includes(secret)) out = out.split(secret).join(REDACTED);
  }
  return out;
}

/**
 * The forms a secret can be echoed in: raw; JSON-escaped; URL- and form-encoded; base64, standard
 * and URL-safe, with and without padding; and the base64 characters that depend only on the
 * secret's bytes when it sits at offset 1 or 2 (mod 3) inside a longer encoded value.
 */
export function encodedForms(value: string): string[] {
  const bytes = Buffer.from(value, "utf8");
  const forms = new Set<string>([value, JSON.stringify(value).slice(1, -1)]);
  forms.add(encodeURIComponent(value));
  forms.add(new URLSearchParams({ v: value }).toString().slice(2));
  for (let offset = 0; offset < 3; offset++) {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString("base64");
    // Characters before the secret's first full sextet depend on the bytes before it.
    const start = offset === 0 ? 0 : offset + 1;
    const unpadded = encoded.replace(/=+$/, "");
    // The last character of a partial group depends on the bytes after it.
    const tail = (offset + bytes.length) % 3 === 0 ? 0 : 1;
    const core = unpadded.slice(start, unpadded.length - tail);
    for (const text of offset === 0 ? [encoded, unpadded, core] : [core]) {
      forms.add(text);
      forms.add(text.replace(/\+/g, "-").replace(/\//g, "_"));
    }
  }
  return [...forms];
}
