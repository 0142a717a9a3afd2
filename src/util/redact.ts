/**
 * A process-wide list of secret values (token values, passwords). Everything that turns data into
 * text a person or file can see (error messages, log lines, reports) passes through `redact`, so a
 * value registered once can never be printed later, whichever code path would have printed it.
 */
const secrets = new Set<string>();

/** The text that replaces a secret. */
export const REDACTED = "[REDACTED]";

/** Remember `value` as a secret; short values are ignored (they would redact ordinary words). */
export function registerSecret(value: string | undefined): void {
  if (value !== undefined && value.length >= 6) secrets.add(value);
}

/** Forget every registered secret (tests only). */
export function clearSecrets(): void {
  secrets.clear();
}

/** `text` with every registered secret, and any `extra` ones, replaced by `[REDACTED]`. */
export function redact(text: string, extra: readonly (string | undefined)[] = []): string {
  let out = text;
  for (const secret of [...secrets, ...extra]) {
    if (secret !== undefined && secret.length >= 6 && out.includes(secret)) {
      out = out.split(secret).join(REDACTED);
    }
  }
  return out;
}
