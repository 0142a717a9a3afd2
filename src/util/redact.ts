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
  for (const form of encodedForms(value)) if (form.length >= MIN_LENGTH) secrets.add(form);
}

/** Forget every registered secret (tests only). */
export function clearSecrets(): void {
  secrets.clear();
}

/** `text` with every registered secret, and any `extra` ones (and their forms), replaced by `[REDACTED]`. */
export function redact(text: string, extra: readonly (string | undefined)[] = []): string {
  const extraForms = extra.flatMap((s) => (s !== undefined && s.length >= MIN_LENGTH ? encodedForms(s) : []));
  // Longest first, so a form containing another is replaced whole.
  const all = [...new Set([...secrets, ...extraForms])].sort((a, b) => b.length - a.length);
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
