import type * as z from "zod";
import { USER_AGENT } from "../version.ts";
import { registerSecret } from "../util/redact.ts";
import {
  errorForStatus,
  FastlyApiError,
  type FastlyErrorInit,
  FastlyNetworkError,
  FastlyNotFoundError,
  FastlyNotLoopbackError,
  FastlyRedirectError,
  FastlyTlsError,
  UNTRUSTED_CERTIFICATE_CODES,
  FastlyResponseError,
  FastlyUnknownOutcomeError,
} from "./errors.ts";
import {
  apiErrorSchema,
  automationTokenPageSchema,
  automationTokenSchema,
  fastAutomationTokenPage,
  fastServiceList,
  createdAutomationTokenSchema,
  currentUserSchema,
  serviceListSchema,
  serviceSchema,
  sudoSchema,
  tokenSelfSchema,
  rolePageSchema,
  userListSchema,
} from "./schemas.ts";
import type { CreateAutomationTokenInput, FastlyClient, RateLimitInfo } from "./types.ts";
import { formatTime } from "../util/time.ts";
import {
  createNetExchange,
  exchangeOverFetch,
  type HeaderLookup,
  type HttpExchange,
  netExchange,
  NotLoopbackError,
  type Resolver,
} from "../util/net.ts";
import {
  BodyTooLargeError,
  DEFAULT_MAX_BODY_BYTES,
  formatBytes,
  isRedirect,
  isSecureOrLoopback,
  redirectHost,
} from "../util/http.ts";

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
  /** Per-request timeout in ms, covering the answer's headers and its whole body (default 30 s). */
  readonly timeoutMs?: number;
}

/** Options of `createFastlyClient`. */
export interface FastlyClientOptions {
  /** The API token sent as `Fastly-Key`. */
  readonly token: string;
  /** Base URL; default `https://api.fastly.com`. https, or plain http to a loopback host only. */
  readonly endpoint?: string | undefined;
  /**
   * Allow plain http to a host that is not loopback: the token (and a sudo password) then cross the
   * network unencrypted. Default false, and `createFastlyClient` throws for such an endpoint.
   */
  readonly allowInsecure?: boolean;
  /**
   * Injected fetch (tests), called with `redirect: "manual"`; default `netExchange`: through the
   * proxy HTTPS_PROXY/HTTP_PROXY/NO_PROXY name, to a loopback name (`*.localhost`) only when all its
   * addresses are loopback, and a direct request over Node's http/https modules.
   */
  readonly fetch?: typeof fetch;
  /** How host names are resolved (tests give a DNS answer); default the system's resolver. */
  readonly resolve?: Resolver;
  /** Appended to the tool's own User-Agent. */
  readonly userAgent?: string;
  readonly retry?: RetryOptions;
  /** Injected sleep (tests); default setTimeout. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Injected randomness for jitter (tests). */
  readonly random?: () => number;
  /** Injected clock, for rate-limit resets and the API's clock skew. */
  readonly now?: () => Date;
  /**
   * Called once, the first time an answer's `Date` is more than five minutes from the local clock
   * (`skewMs`: the API's clock minus ours). The CLI warns with it.
   */
  readonly onClockSkew?: (skewMs: number) => void;
  /**
   * Aborts every request of this client (in flight, or waiting to retry) and refuses new ones: the
   * run's signal, aborted on SIGINT/SIGTERM. An aborted request rejects with the signal's reason.
   */
  readonly signal?: AbortSignal | undefined;
  /** Largest response body read, in bytes (default 32 MiB); a larger one fails the request. */
  readonly maxBodyBytes?: number;
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

/** One request as it goes on the wire. */
interface HttpRequest {
  readonly url: URL;
  readonly method: RequestSpec["method"];
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | undefined;
}

/** An HTTP answer, any status, with its body read (JSON, or the start of the text). */
interface Answer {
  readonly status: number;
  readonly headers: HeaderLookup;
  readonly body: unknown;
}

/** A request that got no HTTP answer, classified by the error's code. */
interface NoAnswer {
  /** The first string `code` on the error or its causes (`ECONNREFUSED`, `UND_ERR_SOCKET`, ...). */
  readonly code: string | undefined;
  /** For messages: the code, "timed out", or the error's message. */
  readonly reason: string;
  /** False only when the request certainly never reached the server, so even a create may be sent again. */
  readonly mayHaveArrived: boolean;
  /** Why ftr itself refused the connection (a loopback name resolving elsewhere). */
  readonly refusal?: string;
}

/** A 3xx, never followed. */
interface Redirected {
  readonly status: number;
  /** The Location's host, for the message. */
  readonly host: string;
}

/**
 * What one exchange came to: an answer read in full, none (or a body cut short or stalled), a
 * redirect, or a body past the size cap.
 */
type Exchange =
  | { readonly answer: Answer }
  | { readonly noAnswer: NoAnswer }
  | { readonly redirected: Redirected }
  | { readonly oversized: { readonly status: number; readonly limit: number } };

/** What to do after an exchange: done, send again after a backoff, wait at least `ms`, or give up. */
type Verdict<T> =
  | { readonly kind: "done"; readonly value: T }
  | { readonly kind: "retry"; readonly error: FastlyApiError }
  | { readonly kind: "wait"; readonly ms: number; readonly error: FastlyApiError }
  | { readonly kind: "fail"; readonly error: FastlyApiError };

/** How `withRetry` repeats. */
interface RetryPolicy {
  /** Retries after the first attempt. */
  readonly retries: number;
  /** The back-off before retry `n` (0-based). */
  readonly backoff: (n: number) => number;
  readonly sleep: (ms: number) => Promise<void>;
}

/** What `classify` needs to know besides the exchange. */
interface ClassifyContext {
  readonly now: () => Date;
  /** A 429 whose reset is further away than this fails at once. */
  readonly maxDelayMs: number;
  /** The token and any other secret of the request, to keep out of errors. */
  readonly secrets: readonly string[];
  /** The endpoint's host (and port), for messages about the connection. */
  readonly host: string;
}

const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504]);

/** zod's parse options for an answer: the schema's checks, without a generated fast path. */
const JITLESS = { jitless: true } as const;

/** Network error codes that mean the request never reached the server (nothing to be unsure about). */
const NOT_SENT_CODES = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN"]);

/**
 * Refuses an endpoint that is not an http(s) URL, or is plain http to a host that is not loopback
 * without `allowInsecure`: the `Fastly-Key` would cross the network readable by anyone on the path.
 * The command line gives its own message first (`--insecure-endpoint`); this guards library callers.
 */
function checkEndpoint(endpoint: string, allowInsecure: boolean): void {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new TypeError(`the Fastly endpoint is not a URL: give the API base URL, e.g. ${DEFAULT_ENDPOINT}`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new TypeError(`the Fastly endpoint must be an https:// URL, e.g. ${DEFAULT_ENDPOINT}`);
  }
  if (!allowInsecure && !isSecureOrLoopback(url)) {
    throw new TypeError(
      `the Fastly endpoint ${url.origin} is plain http to a host that is not loopback: the token would cross the network unencrypted; use https://, or pass allowInsecure: true if the network is trusted`,
    );
  }
}

/**
 * A Fastly API client over one request pipeline: `Fastly-Key` auth, a User-Agent naming the tool,
 * retries with backoff and jitter on 429 (honouring `Fastly-RateLimit-Reset` up to a bound), 5xx and
 * network errors for requests that are safe to repeat, typed errors that never carry secrets, and
 * response schemas that normalise the API's drifting representations.
 */
export function createFastlyClient(options: FastlyClientOptions): FastlyClient {
  const endpoint = (options.endpoint ?? DEFAULT_ENDPOINT).replace(/\/+$/, "");
  const allowInsecure = options.allowInsecure === true;
  checkEndpoint(endpoint, allowInsecure);
  const exchange: HttpExchange = options.fetch
    ? exchangeOverFetch(options.fetch)
    : options.resolve
      ? createNetExchange({ resolve: options.resolve })
      : netExchange;
  const baseDelayMs = options.retry?.baseDelayMs ?? 500;
  const maxDelayMs = options.retry?.maxDelayMs ?? 60_000;
  const timeoutMs = options.retry?.timeoutMs ?? 30_000;
  const limits: WireLimits = { timeoutMs, maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES };
  const random = options.random ?? Math.random;
  const now = options.now ?? (() => new Date());
  const userAgent = options.userAgent ? `${USER_AGENT} ${options.userAgent}` : USER_AGENT;
  const token = options.token;
  registerSecret(token);
  const signal = options.signal;
  const policy: RetryPolicy = {
    retries: options.retry?.retries ?? 3,
    backoff: (n) => Math.min(maxDelayMs, Math.round(random() * baseDelayMs * 2 ** n)),
    sleep: options.sleep ?? ((ms: number) => abortableSleep(ms, signal)),
  };

  let rateLimit: RateLimitInfo = {};
  let clockSkewMs = 0;
  let skewReported = false;
  let requestCount = 0;
  let writeRequestCount = 0;

  async function send(spec: RequestSpec): Promise<Answer> {
    const request = httpRequest(spec, endpoint, token, userAgent);
    const context: ClassifyContext = {
      now,
      maxDelayMs,
      secrets: [token, ...(spec.secrets ?? [])],
      host: new URL(endpoint).host,
    };
    return withRetry(policy, async () => {
      // A stopped run sends nothing more; whatever an aborted exchange came to, it was stopped.
      throwIfAborted(signal);
      requestCount++;
      if (spec.method !== "GET") writeRequestCount++;
      const outcome = await attempt(exchange, request, limits, signal);
      throwIfAborted(signal);
      if ("answer" in outcome && spec.method !== "GET") {
        rateLimit = readRateLimit(outcome.answer.headers, rateLimit);
      }
      if ("answer" in outcome) {
        const skew = readClockSkew(outcome.answer.headers, now());
        if (skew !== undefined) {
          clockSkewMs = skew;
          if (!skewReported && Math.abs(skew) > CLOCK_SKEW_WARN_MS && options.onClockSkew) {
            skewReported = true;
            options.onClockSkew(skew);
          }
        }
      }
      return classify(spec, outcome, context);
    });
  }

  async function request<S extends z.ZodType>(spec: RequestSpec, schema: S): Promise<z.output<S>> {
    const response = await send(spec);
    return parse(spec, schema, response.body);
  }

  function parse<S extends z.ZodType>(spec: RequestSpec, schema: S, body: unknown): z.output<S> {
    // Without zod's generated fast path: compiling it costs more than it saves on one answer (the
    // list pages, read by the hundred, have their own fast path).
    const result = schema.safeParse(body, JITLESS);
    if (result.success) return result.data;
    const problem = result.error.issues
      .slice(0, 3)
      .map((i) => `${i.path.join(".") || "body"} ${i.message}`)
      .join("; ");
    if (!spec.idempotent) {
      // A write that answered 2xx took effect, but what it made cannot be read: the caller must look.
      const reason = `the answer could not be read: ${problem}`;
      throw new FastlyUnknownOutcomeError({ ...errorDetails(spec, 200, [token]), reason });
    }
    throw new FastlyResponseError({ ...errorDetails(spec, 200, [token]), problem });
  }

  /**
   * One page of a list: by number (page 1 is the first request), or a Link the API gave. `fast`
   * reads the usual shape of a page without the schema; when it gives undefined, the schema decides.
   */
  async function listPage<S extends z.ZodType>(
    at: PageRef,
    first: Omit<RequestSpec, "method" | "idempotent">,
    schema: S,
    fast?: (body: unknown) => z.output<S> | undefined,
  ): Promise<{ readonly body: z.output<S>; readonly links: ReadonlyMap<string, string> }> {
    const spec: RequestSpec =
      "link" in at
        ? { method: "GET", path: at.link, idempotent: true }
        : { ...first, method: "GET", query: { page: String(at.page), ...first.query }, idempotent: true };
    const response = await send(spec);
    return {
      body: fast?.(response.body) ?? parse(spec, schema, response.body),
      links: linkRelations(response.headers.get("link"), endpoint),
    };
  }

  const client: FastlyClient = {
    endpoint,
    allowInsecure,
    get rateLimit() {
      return rateLimit;
    },
    get requestCount() {
      return requestCount;
    },
    get writeRequestCount() {
      return writeRequestCount;
    },
    get clockSkewMs() {
      return clockSkewMs;
    },
    apiNow: () => new Date(now().getTime() + clockSkewMs),

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

    // Numbered pages: meta.total_pages says how many, the rest are fetched 4 at a time.
    listAutomationTokens: ({ perPage = 100 } = {}) =>
      paginate(async (at) => {
        const query = { per_page: String(perPage) };
        const { body } = await listPage(
          at,
          { path: "/automation-tokens", query },
          automationTokenPageSchema,
          fastAutomationTokenPage,
        );
        return { items: body.data, totalPages: body.meta?.total_pages ?? 1 };
      }),

    listRoles: () =>
      paginate(async (at) => {
        const { body } = await listPage(at, { path: "/roles", query: { per_page: "100" } }, rolePageSchema);
        return { items: body.data, totalPages: body.meta?.total_pages ?? 1 };
      }),

    listUsers: (customerId) =>
      request(
        { method: "GET", path: `/customer/${encodeURIComponent(customerId)}/users`, idempotent: true },
        userListSchema,
      ),

    getAutomationToken: (id) =>
      request(
        { method: "GET", path: `/automation-tokens/${encodeURIComponent(id)}`, idempotent: true },
        automationTokenSchema,
      ),

    async createAutomationToken(input: CreateAutomationTokenInput) {
      // Flat JSON, the body proven against the real API; never the `attributes` wrapper. Since
      // 2026-09 `services` applies only with `limit_services: true` (default false: every service),
      // so it is sent whenever services are asked; older APIs ignore it.
      const body = {
        name: input.name,
        role: input.role,
        ...(input.roles && input.roles.length > 0 ? { roles: [...input.roles] } : {}),
        scope: input.scope,
        services: [...input.services],
        ...(input.services.length > 0 ? { limit_services: true } : {}),
        ...(input.workspaces && input.workspaces.length > 0
          ? { workspaces: [...input.workspaces], limit_workspaces: true }
          : {}),
        ...(input.expiresAt ? { expires_at: formatTime(input.expiresAt) } : {}),
        tls_access: input.tlsAccess ?? false,
      };
      const created = await request(
        { method: "POST", path: "/automation-tokens", json: body, idempotent: false },
        createdAutomationTokenSchema,
      );
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

    // Link pages, always back to the configured endpoint. The first answer's rel="last" says how
    // many there are (as recorded), so the rest are fetched 4 at a time; without it, rel="next" is
    // followed one page after another.
    listServices: ({ perPage = 1000 } = {}) =>
      paginate(async (at) => {
        const query = { per_page: String(perPage), "filter[include_versions]": "false" };
        const { body, links } = await listPage(
          at,
          { path: "/service", query },
          serviceListSchema,
          fastServiceList,
        );
        const next = links.get("next");
        const rest = "page" in at && at.page === 1 ? numberedPages(next, links.get("last")) : undefined;
        return { items: body, next, ...(rest ? { rest } : {}) };
      }),

    getService: (id) =>
      request({ method: "GET", path: `/service/${encodeURIComponent(id)}`, idempotent: true }, serviceSchema),

    searchService: (name) =>
      request({ method: "GET", path: "/service/search", query: { name }, idempotent: true }, serviceSchema),
  };
  return client;
}

/** The wire form of a request: URL with query, auth and identification headers, encoded body. */
function httpRequest(spec: RequestSpec, endpoint: string, token: string, userAgent: string): HttpRequest {
  const url = new URL(endpoint + spec.path);
  for (const [k, v] of Object.entries(spec.query ?? {})) url.searchParams.set(k, v);
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
  return { url, method: spec.method, headers, body };
}

/** What the wire may take: one deadline for the headers and the whole body, and a body size cap. */
interface WireLimits {
  readonly timeoutMs: number;
  readonly maxBodyBytes: number;
}

/**
 * One HTTP exchange, the only place the client sends a request: an answer of any status with its
 * body read, or the failure that left it without one. What the wire may do is decided here:
 * redirects are never followed (the request's `Fastly-Key`, password or body would go to the
 * Location's host); the deadline covers the body too, so a body cut short or stalled is a failure
 * classified like a lost connection, not an exception from somewhere else; a body past the cap is
 * abandoned.
 */
async function attempt(
  exchange: HttpExchange,
  request: HttpRequest,
  limits: WireLimits,
  stop: AbortSignal | undefined,
): Promise<Exchange> {
  let status = 0;
  const timeout = AbortSignal.timeout(limits.timeoutMs);
  try {
    const response = await exchange(request.url, {
      method: request.method,
      headers: request.headers,
      body: request.body,
      // The run's signal ends the exchange too, body included.
      signal: stop ? AbortSignal.any([stop, timeout]) : timeout,
    });
    status = response.status;
    if (isRedirect(response.status)) {
      await response.discard();
      const host = redirectHost(response.headers.get("location"), request.url);
      return { redirected: { status: response.status, host } };
    }
    const body = parseBody(await response.text(limits.maxBodyBytes));
    return { answer: { status: response.status, headers: response.headers, body } };
  } catch (error) {
    if (error instanceof BodyTooLargeError) return { oversized: { status, limit: error.limit } };
    return { noAnswer: noAnswer(error) };
  }
}

/**
 * Decide what an exchange means for this request: a 2xx is done; 429 waits for its reset (or fails
 * at once when that is too far); 5xx and network failures are retried when the request is safe to
 * repeat; a create that may have arrived is never repeated and fails with an unknown outcome.
 */
function classify(spec: RequestSpec, exchange: Exchange, context: ClassifyContext): Verdict<Answer> {
  if ("redirected" in exchange) {
    const { status, host } = exchange.redirected;
    const details = errorDetails(spec, status, context.secrets);
    return { kind: "fail", error: new FastlyRedirectError({ ...details, locationHost: host }) };
  }
  if ("oversized" in exchange) {
    const { status, limit } = exchange.oversized;
    const details = errorDetails(spec, status, context.secrets);
    const reason = `the answer is larger than ${formatBytes(limit)}`;
    // A write whose answer is unreadable may have taken effect; a read is not repeated (it would be as large).
    return {
      kind: "fail",
      error: spec.idempotent
        ? new FastlyResponseError({ ...details, problem: reason })
        : new FastlyUnknownOutcomeError({ ...details, reason }),
    };
  }
  if ("noAnswer" in exchange) {
    const { reason, mayHaveArrived, code, refusal } = exchange.noAnswer;
    const details = errorDetails(spec, 0, context.secrets);
    // Nothing was sent, and trying again meets the same certificate or the same address.
    if (code !== undefined && UNTRUSTED_CERTIFICATE_CODES.has(code)) {
      return { kind: "fail", error: new FastlyTlsError({ ...details, code, host: context.host }) };
    }
    if (refusal !== undefined) {
      return { kind: "fail", error: new FastlyNotLoopbackError({ ...details, reason: refusal }) };
    }
    if (!spec.idempotent && mayHaveArrived) {
      // The cause keeps only the reason: undici's errors can carry request details.
      return {
        kind: "fail",
        error: new FastlyUnknownOutcomeError({ ...details, reason, cause: new Error(reason) }),
      };
    }
    return { kind: "retry", error: new FastlyNetworkError({ ...details, reason }) };
  }

  const { answer } = exchange;
  if (answer.status >= 200 && answer.status < 300) return { kind: "done", value: answer };
  const details = errorDetails(spec, answer.status, context.secrets, answer.body);
  // A 5xx on a create may have taken effect; only a 429 is known not to have.
  if (!spec.idempotent && answer.status >= 500) {
    const reason = `the API answered ${answer.status}`;
    return { kind: "fail", error: new FastlyUnknownOutcomeError({ ...details, reason }) };
  }
  const resetAt = rateLimitReset(answer.headers);
  const error = errorForStatus({ ...details, resetAt });
  if (answer.status === 429 && resetAt) {
    const untilReset = resetAt.getTime() - context.now().getTime();
    return untilReset > context.maxDelayMs
      ? { kind: "fail", error }
      : { kind: "wait", ms: untilReset, error };
  }
  return RETRYABLE_STATUS.has(answer.status) ? { kind: "retry", error } : { kind: "fail", error };
}

/**
 * Run `once` until its verdict is done or fail, sleeping the policy's backoff (or longer, for a wait)
 * between attempts; after the last retry the verdict's error is thrown.
 */
async function withRetry<T>(policy: RetryPolicy, once: () => Promise<Verdict<T>>): Promise<T> {
  for (let n = 0; ; n++) {
    const verdict = await once();
    if (verdict.kind === "done") return verdict.value;
    if (verdict.kind === "fail" || n >= policy.retries) throw verdict.error;
    const backoff = policy.backoff(n);
    await policy.sleep(verdict.kind === "wait" ? Math.max(backoff, verdict.ms) : backoff);
  }
}

/**
 * What every error of one request carries: status, method, path, the secrets to keep out and, for
 * an answer, what its body says.
 */
function errorDetails(
  spec: RequestSpec,
  status: number,
  secrets: readonly string[],
  body?: unknown,
): FastlyErrorInit {
  const said = body === undefined ? {} : apiErrorSchema.parse(body, JITLESS);
  return { status, method: spec.method, path: spec.path, secrets, ...said };
}

/** Where a list page comes from: its number, or the API's Link to it. */
type PageRef = { readonly page: number } | { readonly link: string };

/** One list page: its items, and how the list goes on (a page count, or a Link to follow). */
interface Page<T> {
  readonly items: readonly T[];
  readonly totalPages?: number;
  /** Links to every later page, in order, when the first page's Link header says how many there are. */
  readonly rest?: readonly string[];
  readonly next?: string | undefined;
}

/** Pages fetched at once while listing. */
const PAGE_CONCURRENCY = 4;
/** More pages than this in a rel="last" is not believed; the list is then followed link by link. */
const MAX_NUMBERED_PAGES = 10_000;

/**
 * Every item of a paginated list, each id once (an item created while paging shifts others onto the
 * next page). Lists whose first page says how many pages there are (a page count, or Link
 * rel="last") fetch the rest 4 at a time; then, and for lists that do not say, rel="next" is
 * followed one page after another until there is none, it points to a page already read, or
 * nothing has been found (a list that grew while it was read goes on past the last page counted).
 */
async function paginate<T extends { readonly id: string }>(
  fetchPage: (at: PageRef) => Promise<Page<T>>,
): Promise<T[]> {
  const items: T[] = [];
  const seen = new Set<string>();
  // Against earlier pages only: the API's own page is taken as it is.
  const keep = (page: Page<T>) => {
    const fresh = page.items.filter((item) => !seen.has(item.id));
    for (const item of fresh) seen.add(item.id);
    items.push(...fresh);
  };
  let page = await fetchPage({ page: 1 });
  keep(page);
  const later: PageRef[] =
    page.rest !== undefined
      ? page.rest.map((link) => ({ link }))
      : range(2, page.totalPages ?? 1).map((n) => ({ page: n }));
  const rest = await mapLimit(later, PAGE_CONCURRENCY, fetchPage);
  rest.forEach(keep);
  page = rest.at(-1) ?? page;
  const followed = new Set(later.flatMap((ref) => ("link" in ref ? [ref.link] : [])));
  while (page.next !== undefined && !followed.has(page.next) && seen.size > 0) {
    followed.add(page.next);
    page = await fetchPage({ link: page.next });
    keep(page);
  }
  return items;
}

/**
 * Links to pages 2..N of a Link-paginated list, from its first page's rel="next" (page 2) and
 * rel="last" (page N): the same path and query but for `page`, as the API writes them. Undefined
 * when the links do not have that form, so the list is followed link by link instead.
 */
export function numberedPages(next: string | undefined, last: string | undefined): string[] | undefined {
  if (next === undefined || last === undefined) return undefined;
  const base = "http://list.invalid";
  const nextUrl = new URL(next, base);
  const lastUrl = new URL(last, base);
  const lastText = lastUrl.searchParams.get("page") ?? "";
  if (nextUrl.searchParams.get("page") !== "2" || !/^\d{1,9}$/.test(lastText)) return undefined;
  const count = Number(lastText);
  if (count < 2 || count > MAX_NUMBERED_PAGES) return undefined;
  const at = (n: number): URL => {
    const url = new URL(lastUrl);
    url.searchParams.set("page", String(n));
    return url;
  };
  // Page 2 written from rel="last" must be rel="next" itself (up to the order and encoding of the
  // query): then pages 3..N are written alike.
  const same = (url: URL): string => {
    const copy = new URL(url);
    copy.searchParams.sort();
    return copy.pathname + copy.search;
  };
  if (same(at(2)) !== same(nextUrl)) return undefined;
  return range(2, count).map((n) => {
    const url = at(n);
    return url.pathname + url.search;
  });
}

/** A skew beyond this is worth a warning: expiry decisions then follow the API's clock. */
export const CLOCK_SKEW_WARN_MS = 5 * 60_000;

/**
 * The API's clock minus ours from a `Date` header (RFC 7231, whole seconds). Differences within
 * two seconds are the header's rounding and the answer's travel time, not skew: they count as 0.
 */
export function readClockSkew(headers: HeaderLookup, localNow: Date): number | undefined {
  const text = headers.get("date");
  if (text === null) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  const skew = at - localNow.getTime();
  return Math.abs(skew) <= 2000 ? 0 : skew;
}

function readRateLimit(headers: HeaderLookup, previous: RateLimitInfo): RateLimitInfo {
  const remaining = headers.get("fastly-ratelimit-remaining");
  const reset = rateLimitReset(headers);
  if (remaining === null && reset === undefined) return previous;
  const value = remaining === null ? Number.NaN : Number(remaining);
  return {
    ...(Number.isFinite(value) ? { remaining: value } : {}),
    ...(reset ? { reset } : {}),
  };
}

function rateLimitReset(headers: HeaderLookup): Date | undefined {
  const reset = headers.get("fastly-ratelimit-reset");
  if (reset === null) return undefined;
  const seconds = Number(reset);
  return Number.isFinite(seconds) && seconds > 0 ? new Date(seconds * 1000) : undefined;
}

/** An answer's body: its JSON, undefined when empty, or the start of a text that is not JSON. */
function parseBody(text: string): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text.slice(0, 200);
  }
}

/** `rel="next"` from an RFC 8288 Link header, as a path relative to the endpoint. */
export function nextLink(header: string | null, endpoint: string): string | undefined {
  return linkRelations(header, endpoint).get("next");
}

/**
 * The links of an RFC 8288 Link header by relation (the first of each), as paths relative to the
 * endpoint.
 */
function linkRelations(header: string | null, endpoint: string): Map<string, string> {
  const links = new Map<string, string>();
  if (header === null) return links;
  const base = new URL(endpoint);
  const basePath = base.pathname.replace(/\/+$/, "");
  for (const part of header.split(",")) {
    const match = /<([^>]+)>\s*;\s*rel="?([a-z]+)"?/.exec(part.trim());
    if (!match?.[1] || !match[2] || links.has(match[2])) continue;
    const url = new URL(match[1], endpoint);
    // Follow the API's own link, but always to the configured endpoint: never send the key elsewhere.
    const path = url.pathname.startsWith(basePath) ? url.pathname.slice(basePath.length) : url.pathname;
    links.set(match[2], path + url.search);
  }
  return links;
}

/** Classify a fetch failure by its code (undici puts the socket's on a cause), never by message text. */
function noAnswer(error: unknown): NoAnswer {
  const code = errorCode(error);
  const timedOut = error instanceof Error && error.name === "TimeoutError";
  const reason = timedOut ? "timed out" : (code ?? (error instanceof Error ? error.message : String(error)));
  const refused = causeOf(error, NotLoopbackError);
  const notSent =
    code !== undefined &&
    (NOT_SENT_CODES.has(code) || UNTRUSTED_CERTIFICATE_CODES.has(code) || refused !== undefined);
  return { code, reason, mayHaveArrived: !notSent, ...(refused ? { refusal: refused.message } : {}) };
}

/** The first error of class `type` on `error`'s cause chain. */
function causeOf<T extends Error>(error: unknown, type: abstract new (...args: never[]) => T): T | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && typeof current === "object" && current !== null; depth++) {
    if (current instanceof type) return current;
    current = "cause" in current ? current.cause : undefined;
  }
  return undefined;
}

/** The first string `code` on an error or along its `cause` chain. */
function errorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && typeof current === "object" && current !== null; depth++) {
    if ("code" in current && typeof current.code === "string") return current.code;
    current = "cause" in current ? current.cause : undefined;
  }
  return undefined;
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

/** The error an aborted request rejects with: the signal's reason when it is an Error. */
function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new DOMException("aborted", "AbortError");
}

/** Throws the abort reason of `signal` once it is aborted. */
function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortReason(signal);
}

/** Waits `ms`; ends early (rejecting with the abort reason) when `signal` aborts. */
function abortableSleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortReason(signal));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      if (signal) reject(abortReason(signal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
