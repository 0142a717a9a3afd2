import type { z } from "zod";
import { USER_AGENT } from "../version.ts";
import { registerSecret } from "../util/redact.ts";
import {
  errorForStatus,
  FastlyApiError,
  FastlyNetworkError,
  FastlyNotFoundError,
  FastlyRateLimitError,
  FastlyResponseError,
  FastlyUnknownOutcomeError,
} from "./errors.ts";
import {
  automationTokenPageSchema,
  automationTokenSchema,
  createdAutomationTokenSchema,
  currentUserSchema,
  serviceListSchema,
  serviceSchema,
  sudoSchema,
  tokenSelfSchema,
} from "./schemas.ts";
import type { CreateAutomationTokenInput, FastlyClient, RateLimitInfo } from "./types.ts";
import { formatTime } from "../util/time.ts";

/** The public Fastly API. */
export const DEFAULT_ENDPOINT = "https://api.fastly.com";

/** How the pipeline retries. */
export interface RetryOptions {
  /** Retries after the first attempt (default 3). */
  readonly retries?: number;
  /** First back-off in ms, doubled each retry, with full jitter (default 500). */
  readonly baseDelayMs?: number;
  /** Longest single wait in ms; a 429 whose reset is further away fails at once (default 60 s). */
  readonly maxDelayMs?: number;
  /** Per-request timeout in ms (default 30 s). */
  readonly timeoutMs?: number;
}

/** Options of `createFastlyClient`. */
export interface FastlyClientOptions {
  /** The API token sent as `Fastly-Key`. */
  readonly token: string;
  /** Base URL; default `https://api.fastly.com`. */
  readonly endpoint?: string | undefined;
  /** Injected fetch (tests); default the global one. */
  readonly fetch?: typeof fetch;
  /** Appended to the tool's own User-Agent. */
  readonly userAgent?: string;
  readonly retry?: RetryOptions;
  /** Injected sleep (tests); default setTimeout. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Injected randomness for jitter (tests). */
  readonly random?: () => number;
  /** Injected clock, for rate-limit resets. */
  readonly now?: () => Date;
}

interface RequestSpec {
  readonly method: "GET" | "POST" | "DELETE";
  readonly path: string;
  readonly query?: Record<string, string>;
  readonly json?: unknown;
  readonly form?: URLSearchParams;
  /** Extra secrets in the body (a password) to keep out of errors. */
  readonly secrets?: readonly string[];
  /** Safe to send again after an unknown outcome (reads, deletes, sudo). */
  readonly idempotent: boolean;
}

interface RawResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly body: unknown;
}

const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504]);

/**
 * A Fastly API client over one request pipeline: `Fastly-Key` auth, a User-Agent naming the tool,
 * retries with backoff and jitter on 429 (honouring `Fastly-RateLimit-Reset` up to a bound), 5xx and
 * network errors for requests that are safe to repeat, typed errors that never carry secrets, and
 * response schemas that normalise the API's drifting representations.
 */
export function createFastlyClient(options: FastlyClientOptions): FastlyClient {
  const endpoint = (options.endpoint ?? DEFAULT_ENDPOINT).replace(/\/+$/, "");
  const doFetch = options.fetch ?? globalThis.fetch;
  const retries = options.retry?.retries ?? 3;
  const baseDelayMs = options.retry?.baseDelayMs ?? 500;
  const maxDelayMs = options.retry?.maxDelayMs ?? 60_000;
  const timeoutMs = options.retry?.timeoutMs ?? 30_000;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const random = options.random ?? Math.random;
  const now = options.now ?? (() => new Date());
  const userAgent = options.userAgent ? `${USER_AGENT} ${options.userAgent}` : USER_AGENT;
  const token = options.token;
  registerSecret(token);

  let rateLimit: RateLimitInfo = {};
  let requestCount = 0;
  let writeRequestCount = 0;

  function backoff(attempt: number): number {
    return Math.min(maxDelayMs, Math.round(random() * baseDelayMs * 2 ** attempt));
  }

  async function send(spec: RequestSpec): Promise<RawResponse> {
    const url = new URL(endpoint + spec.path);
    for (const [k, v] of Object.entries(spec.query ?? {})) url.searchParams.set(k, v);
    const pathForErrors = spec.path;
    const secrets = [token, ...(spec.secrets ?? [])];
    const headers: Record<string, string> = {
      "Fastly-Key": token,
      Accept: "application/json",
      "User-Agent": userAgent,
    };
    let body: string | undefined;
    if (spec.json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(spec.json);
    } else if (spec.form !== undefined) {
      headers["Content-Type"] = "application/x-www-form-urlencoded";
      body = spec.form.toString();
    }

    for (let attempt = 0; ; attempt++) {
      let response: Response;
      requestCount++;
      if (spec.method !== "GET") writeRequestCount++;
      try {
        response = await doFetch(url, {
          method: spec.method,
          headers,
          ...(body === undefined ? {} : { body }),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (cause) {
        const reason = networkReason(cause);
        // A refused connection never reached Fastly, so even a create may be sent again.
        const notSent = reason.includes("ECONNREFUSED") || reason.includes("ENOTFOUND");
        if (!spec.idempotent && !notSent) {
          throw new FastlyUnknownOutcomeError({
            status: 0,
            method: spec.method,
            path: pathForErrors,
            secrets,
            reason,
            cause: redactCause(cause),
          });
        }
        if (attempt < retries) {
          await sleep(backoff(attempt));
          continue;
        }
        throw new FastlyNetworkError({ method: spec.method, path: pathForErrors, secrets, reason });
      }

      if (spec.method !== "GET") rateLimit = readRateLimit(response.headers, rateLimit);
      const parsed = await readBody(response);

      if (response.ok) return { status: response.status, headers: response.headers, body: parsed };

      const { message, detail } = apiMessage(parsed);
      const resetAt = rateLimitReset(response.headers);
      const retryable =
        RETRYABLE_STATUS.has(response.status) &&
        // A 5xx on a create may have taken effect; only a 429 is known not to have.
        (spec.idempotent || response.status === 429);
      if (retryable && attempt < retries) {
        let wait = backoff(attempt);
        if (response.status === 429 && resetAt) {
          const untilReset = resetAt.getTime() - now().getTime();
          if (untilReset > maxDelayMs) {
            throw new FastlyRateLimitError({
              status: 429,
              method: spec.method,
              path: pathForErrors,
              apiMessage: message,
              apiDetail: detail,
              secrets,
              resetAt,
            });
          }
          wait = Math.max(wait, untilReset);
        }
        await sleep(wait);
        continue;
      }
      if (!spec.idempotent && response.status >= 500) {
        throw new FastlyUnknownOutcomeError({
          status: response.status,
          method: spec.method,
          path: pathForErrors,
          apiMessage: message,
          apiDetail: detail,
          secrets,
          reason: `the API answered ${response.status}`,
        });
      }
      throw errorForStatus({
        status: response.status,
        method: spec.method,
        path: pathForErrors,
        apiMessage: message,
        apiDetail: detail,
        secrets,
        resetAt,
      });
    }
  }

  async function request<S extends z.ZodType>(spec: RequestSpec, schema: S): Promise<z.output<S>> {
    const response = await send(spec);
    return parse(spec, schema, response.body);
  }

  function parse<S extends z.ZodType>(spec: RequestSpec, schema: S, body: unknown): z.output<S> {
    const result = schema.safeParse(body);
    if (result.success) return result.data;
    const problem = result.error.issues
      .slice(0, 3)
      .map((i) => `${i.path.join(".") || "body"} ${i.message}`)
      .join("; ");
    throw new FastlyResponseError({
      status: 200,
      method: spec.method,
      path: spec.path,
      secrets: [token],
      problem,
    });
  }

  const client: FastlyClient = {
    endpoint,
    get rateLimit() {
      return rateLimit;
    },
    get requestCount() {
      return requestCount;
    },
    get writeRequestCount() {
      return writeRequestCount;
    },

    getCurrentUser: () =>
      request({ method: "GET", path: "/current_user", idempotent: true }, currentUserSchema),

    getTokenSelf: () => request({ method: "GET", path: "/tokens/self", idempotent: true }, tokenSelfSchema),

    async sudo({ password, username, expiryTime }) {
      registerSecret(password);
      const form = new URLSearchParams();
      form.set("password", password);
      if (username !== undefined) form.set("username", username);
      if (expiryTime !== undefined) form.set("expiry_time", formatTime(expiryTime));
      return request(
        { method: "POST", path: "/sudo", form, secrets: [password], idempotent: true },
        sudoSchema,
      );
    },

    async listAutomationTokens({ perPage = 100 } = {}) {
      const page = (n: number) =>
        request(
          {
            method: "GET",
            path: "/automation-tokens",
            query: { page: String(n), per_page: String(perPage) },
            idempotent: true,
          },
          automationTokenPageSchema,
        );
      const first = await page(1);
      const total = first.meta?.total_pages ?? 1;
      const rest = await mapLimit(range(2, total), 4, page);
      // A token created while paging shifts items onto the next page; keep each id once across pages.
      const seen = new Set(first.data.map((t) => t.id));
      const later = rest
        .flatMap((p) => p.data)
        .filter((t) => (seen.has(t.id) ? false : (seen.add(t.id), true)));
      return [...first.data, ...later];
    },

    getAutomationToken: (id) =>
      request(
        { method: "GET", path: `/automation-tokens/${encodeURIComponent(id)}`, idempotent: true },
        automationTokenSchema,
      ),

    async createAutomationToken(input: CreateAutomationTokenInput) {
      // Flat JSON, the body proven against the real API; never the `attributes` wrapper.
      const body = {
        name: input.name,
        role: input.role,
        scope: input.scope,
        services: [...input.services],
        ...(input.expiresAt ? { expires_at: formatTime(input.expiresAt) } : {}),
        tls_access: input.tlsAccess ?? false,
      };
      const spec: RequestSpec = { method: "POST", path: "/automation-tokens", json: body, idempotent: false };
      const response = await send(spec);
      const created = parse(spec, createdAutomationTokenSchema, response.body);
      registerSecret(created.accessToken);
      return created;
    },

    async revokeToken(id) {
      const path = `/tokens/${encodeURIComponent(id)}`;
      try {
        await send({ method: "DELETE", path, idempotent: true });
      } catch (error) {
        // The documented endpoint, for accounts where /tokens/{id} does not know automation tokens.
        if (!(error instanceof FastlyApiError) || ![400, 404, 405].includes(error.status)) throw error;
        try {
          await send({
            method: "DELETE",
            path: `/automation-tokens/${encodeURIComponent(id)}`,
            idempotent: true,
          });
        } catch (fallbackError) {
          if (fallbackError instanceof FastlyNotFoundError) throw error;
          throw fallbackError;
        }
      }
    },

    async revokeSelf() {
      await send({ method: "DELETE", path: "/tokens/self", idempotent: true });
    },

    async listServices({ perPage = 1000 } = {}) {
      const all = [];
      let next: string | undefined = "/service";
      let query: Record<string, string> | undefined = {
        page: "1",
        per_page: String(perPage),
        "filter[include_versions]": "false",
      };
      const seen = new Set<string>();
      while (next !== undefined) {
        const spec: RequestSpec = {
          method: "GET",
          path: next,
          ...(query ? { query } : {}),
          idempotent: true,
        };
        const response = await send(spec);
        for (const service of parse(spec, serviceListSchema, response.body)) {
          if (!seen.has(service.id)) {
            seen.add(service.id);
            all.push(service);
          }
        }
        const link = nextLink(response.headers.get("link"), endpoint);
        if (link !== undefined && seen.size > 0 && link !== next) {
          next = link;
          query = undefined;
        } else {
          next = undefined;
        }
      }
      return all;
    },

    getService: (id) =>
      request({ method: "GET", path: `/service/${encodeURIComponent(id)}`, idempotent: true }, serviceSchema),

    searchService: (name) =>
      request({ method: "GET", path: "/service/search", query: { name }, idempotent: true }, serviceSchema),
  };
  return client;
}

function readRateLimit(headers: Headers, previous: RateLimitInfo): RateLimitInfo {
  const remaining = headers.get("fastly-ratelimit-remaining");
  const reset = rateLimitReset(headers);
  if (remaining === null && reset === undefined) return previous;
  const value = remaining === null ? Number.NaN : Number(remaining);
  return {
    ...(Number.isFinite(value) ? { remaining: value } : {}),
    ...(reset ? { reset } : {}),
  };
}

function rateLimitReset(headers: Headers): Date | undefined {
  const reset = headers.get("fastly-ratelimit-reset");
  if (reset === null) return undefined;
  const seconds = Number(reset);
  return Number.isFinite(seconds) && seconds > 0 ? new Date(seconds * 1000) : undefined;
}

async function readBody(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text === "") return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text.slice(0, 200);
  }
}

/** The message and detail in any of the three error shapes Fastly uses. */
function apiMessage(body: unknown): { message?: string; detail?: string } {
  if (typeof body === "string") return { message: body };
  if (typeof body !== "object" || body === null) return {};
  const b = body as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === "string" && v !== "" ? v : undefined);
  const errors = Array.isArray(b.errors) ? (b.errors[0] as Record<string, unknown> | undefined) : undefined;
  const message = str(b.msg) ?? str(b.title) ?? str(errors?.title) ?? str(b.Error) ?? str(b.error);
  const detail = str(b.detail) ?? str(errors?.detail);
  return { ...(message ? { message } : {}), ...(detail ? { detail } : {}) };
}

/** `rel="next"` from an RFC 8288 Link header, as a path relative to the endpoint. */
export function nextLink(header: string | null, endpoint: string): string | undefined {
  if (header === null) return undefined;
  for (const part of header.split(",")) {
    const match = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part.trim());
    if (!match?.[1]) continue;
    const url = new URL(match[1], endpoint);
    const base = new URL(endpoint);
    // Follow the API's own link, but always to the configured endpoint: never send the key elsewhere.
    const basePath = base.pathname.replace(/\/+$/, "");
    const path = url.pathname.startsWith(basePath) ? url.pathname.slice(basePath.length) : url.pathname;
    return path + url.search;
  }
  return undefined;
}

function networkReason(cause: unknown): string {
  if (cause instanceof Error) {
    if (cause.name === "TimeoutError") return "timed out";
    const inner = (cause as { cause?: { code?: unknown } }).cause;
    if (inner && typeof inner.code === "string") return inner.code;
    return cause.message;
  }
  return String(cause);
}

/** Network errors from undici can carry request details; keep only name and code. */
function redactCause(cause: unknown): Error {
  return new Error(networkReason(cause));
}

function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i <= to; i++) out.push(i);
  return out;
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  async function worker(): Promise<void> {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** RFC 3339 without fractions, as Fastly writes and reads it. */
export { formatTime };
