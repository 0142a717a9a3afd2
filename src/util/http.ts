/**
 * What every HTTP client of ftr shares about a hostile or intercepted server: whether a host is
 * loopback (plain http allowed without opt-in), where a redirect points (never followed: the
 * credentials would go with it), and reading a body with a size cap (a server must not be able to
 * exhaust memory).
 */

/** The default cap on one API response body: far above any real answer, far below a pod's memory. */
export const DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024;

/** True for `localhost`, 127.0.0.0/8 and ::1: traffic that never leaves the machine. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  if (host === "::1" || host === "0:0:0:0:0:0:0:1") return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** True when `url` names this machine (127.0.0.0/8, ::1, localhost); false for one that does not parse. */
export function isLoopbackUrl(url: string): boolean {
  try {
    return isLoopbackHost(new URL(url).hostname);
  } catch {
    return false;
  }
}

/** True for a URL that is https, or http to a loopback host. */
export function isSecureOrLoopback(url: string | URL): boolean {
  const parsed = typeof url === "string" ? new URL(url) : url;
  return parsed.protocol === "https:" || isLoopbackHost(parsed.hostname);
}

/** A 3xx answer other than 304, which the caller must not follow. */
export function isRedirect(status: number): boolean {
  return status >= 300 && status < 400 && status !== 304;
}

/**
 * Where a redirect points, for messages: the Location's host (and port), resolved against the
 * request URL; never its path or query, which may carry anything.
 */
export function redirectHost(location: string | null, requestUrl: string | URL): string {
  if (location === null || location === "") return "(no Location header)";
  try {
    return new URL(location, requestUrl).host || "(an unusable Location)";
  } catch {
    return "(an unusable Location)";
  }
}

/** A body that went past its cap; the read was stopped there. */
export class BodyTooLargeError extends Error {
  override readonly name = "BodyTooLargeError";
  constructor(readonly limit: number) {
    super(`the answer is larger than ${formatBytes(limit)}; the read was stopped`);
  }
}

/**
 * The body of `response` as text, read as a stream and abandoned (the stream cancelled) once it
 * passes `limit` bytes. A Content-Length above the limit fails before anything is read.
 */
export async function readTextCapped(response: Response, limit = DEFAULT_MAX_BODY_BYTES): Promise<string> {
  const declared = Number(response.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > limit) {
    await response.body?.cancel().catch(() => {});
    throw new BodyTooLargeError(limit);
  }
  if (response.body === null) return "";
  // The DOM typings give the stream's chunks as `any`; fetch's body yields bytes.
  const reader = response.body.getReader() as ReadableStreamDefaultReader<Uint8Array>;
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => {});
      throw new BodyTooLargeError(limit);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** `33554432` → `32 MiB`. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}
