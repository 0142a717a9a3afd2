/** What secret stores share about their writes. */

/**
 * A store's write was refused, so the store is as it was (an answer of 4xx, a check-and-set
 * conflict, nothing staged to write). The rotation rolls back without restoring: there is nothing
 * to put back, and a store that cannot be read back is not left waiting for a person.
 */
export class NothingWrittenError extends Error {
  override readonly name: string = "NothingWrittenError";
  readonly nothingWritten = true;
}

/** True when `error` says the store's write changed nothing. */
export function nothingWritten(error: unknown): boolean {
  return (
    typeof error === "object" &&
    error !== null &&
    (error as { nothingWritten?: unknown }).nothingWritten === true
  );
}

/** The plan's and status's words for a store that cannot be read back. */
export function writeOnlyReason(description: string): string {
  return `${description} cannot be read back, so which token it holds cannot be compared`;
}
