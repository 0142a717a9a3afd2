/**
 * The one HTTP request notifiers make: POST a body to a URL that may itself be a secret (a Slack
 * incoming-webhook URL, a webhook with a key in its query). So redirects are refused rather than
 * followed (a redirect could carry the body, and a signature, to another host), plain http is
 * refused except to this machine, and messages name the host, never the path or query.
 */
import { isLoopbackUrl, isRedirect, readTextCapped, redirectHost } from "../../util/http.ts";
import { timeoutSignal } from "../../util/timer.ts";

/** A receiver's answer is only quoted in a warning: no need to read more of it. */
const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * Why `url` cannot be used for a notification, or undefined when it can: it must be https, or http
 * to a loopback address (a local relay or a test receiver).
 */
export function outboundUrlProblem(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "not a URL; give https://host/path";
  }
  if (parsed.protocol === "https:") return undefined;
  if (parsed.protocol === "http:") {
    return isLoopbackUrl(url)
      ? undefined
      : `plain http to ${parsed.hostname} would send the notification (and any signature or credentials) unencrypted; use https://`;
  }
  return `${parsed.protocol.replace(/:$/, "")} URLs are not supported; use https://`;
}

/** A notification the receiver did not accept. The message names the host, never the URL. */
export class NotifyDeliveryError extends Error {
  override readonly name = "NotifyDeliveryError";
  constructor(
    message: string,
    /** The HTTP status, or 0 when there was no answer. */
    readonly status: number,
  ) {
    super(message);
  }
}

/** What {@link postNotification} sends. */
export interface PostRequest {
  readonly fetch: typeof fetch;
  readonly url: string;
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
}

/** Printable, short and on one line: a receiver's error body goes into a warning. */
function snippet(text: string): string {
  const line = JSON.stringify(text.trim().slice(0, 200));
  return line === '""' ? "" : `: ${line}`;
}

/**
 * POST `body` to `url`. Resolves on a 2xx answer; rejects with a {@link NotifyDeliveryError} on
 * anything else, a redirect, no answer, or no answer within `timeoutMs`.
 */
export async function postNotification(request: PostRequest): Promise<void> {
  const problem = outboundUrlProblem(request.url);
  const host = URL.canParse(request.url) ? new URL(request.url).host : "the receiver";
  if (problem !== undefined) throw new NotifyDeliveryError(`refused to send to ${host}: ${problem}`, 0);
  let response: Response;
  try {
    response = await request.fetch(request.url, {
      method: "POST",
      headers: request.headers,
      body: request.body,
      redirect: "manual",
      signal: timeoutSignal(request.timeoutMs),
    });
  } catch (error) {
    const timedOut = error instanceof DOMException && error.name === "TimeoutError";
    const cause =
      error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
    throw new NotifyDeliveryError(
      timedOut
        ? `${host} did not answer within ${request.timeoutMs} ms`
        : `could not reach ${host} (${cause.replaceAll(request.url, host)})`,
      0,
    );
  }
  if (isRedirect(response.status)) {
    await response.body?.cancel().catch(() => {});
    throw new NotifyDeliveryError(
      `${host} answered ${response.status}, a redirect to ${redirectHost(response.headers.get("location"), request.url)}; redirects are not followed (the body may be signed or the URL secret): configure the final URL`,
      response.status,
    );
  }
  const text = await readTextCapped(response, MAX_ANSWER_BYTES).catch(() => "");
  if (!response.ok) {
    throw new NotifyDeliveryError(`${host} answered ${response.status}${snippet(text)}`, response.status);
  }
}
