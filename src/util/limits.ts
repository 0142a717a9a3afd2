/**
 * Size caps on what ftr reads from files and stores, checked before anything is parsed, so a huge
 * or endless input is refused in a line instead of filling the heap (a config of 100 MB took
 * minutes to end in an out-of-memory; the Kubernetes manifests give the process 256 MiB).
 */
import type { FileHandle } from "node:fs/promises";

/** The largest config file ftr reads. Real configs are a few KiB. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/** The largest token value a secret store may hold. Fastly tokens are 32 characters. */
export const MAX_SECRET_VALUE_BYTES = 64 * 1024;

/** The largest secret document (a JSON file holding the token under `jsonKey`, and its versions). */
export const MAX_SECRET_DOCUMENT_BYTES = 1024 * 1024;

/**
 * The largest answer read from AWS Secrets Manager (any call, errors included). A secret's value is
 * at most 64 KiB (AWS's limit on SecretString and SecretBinary), so a real answer is a few KiB; the
 * cap only stops an endpoint (`secret.endpoint` can point anywhere) streaming an endless body.
 */
export const MAX_AWS_RESPONSE_BYTES = 1024 * 1024;

/** A byte count for people: `1 MiB`, `64 KiB`, `1,234,567 bytes`. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes.toLocaleString("en-US")} bytes`;
}

/** Thrown when an input is over its cap; the message names it, its size and the cap. */
export class TooLargeError extends Error {
  override readonly name = "TooLargeError";
  /** The size seen (at least; reading stopped past the cap). */
  readonly size: number;
  /** The cap. */
  readonly limit: number;
  constructor(what: string, size: number, limit: number, fix: string) {
    super(`${what} is ${formatBytes(size)}, over the ${formatBytes(limit)} limit; ${fix}`);
    this.size = size;
    this.limit = limit;
  }
}

/**
 * Read at most `limit` bytes from an open file as UTF-8; throws TooLargeError (`what`, `fix`) when
 * it is larger. The size is checked before reading, and reading stops past the cap, so a file that
 * grows, or a device or pipe without a size, cannot make ftr read without end.
 */
export async function readCapped(
  handle: FileHandle,
  limit: number,
  what: string,
  fix: string,
): Promise<string> {
  const { size } = await handle.stat();
  if (size > limit) throw new TooLargeError(what, size, limit, fix);
  const buffer = Buffer.alloc(limit + 1);
  let filled = 0;
  while (filled < buffer.length) {
    const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, null);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  if (filled > limit) throw new TooLargeError(what, filled, limit, fix);
  return buffer.toString("utf8", 0, filled);
}
