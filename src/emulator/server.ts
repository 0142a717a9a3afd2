import { createServer, STATUS_CODES, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import * as z from "zod";
import {
  type ApiContext,
  authenticate,
  type Auth,
  checkScope,
  matchRoute,
  RATE_LIMITED,
  rateLimitKey,
  type Route,
  touch,
} from "./api.ts";
import { demoSeed } from "./demo-account.ts";
import { ApiError, type Fields, parseFields, readBody, type Reply } from "./http.ts";
import { digest } from "./ids.ts";
import { type ParsedSeed, parseSeed, type Seed } from "./seed.ts";
import { AccountState, type ApiVersion, type TokenRecord } from "./state.ts";
import { type Clock, nextUtcHour, parseOffset, systemClock } from "./time.ts";
import { formatTime } from "../util/time.ts";
import { RequestLog } from "./request-log.ts";
import type {
  EmulatorStateSnapshot,
  EmulatorTokenSnapshot,
  FaultSpec,
  HookSpec,
  HookState,
} from "./types.ts";

/** Options of {@link createEmulator}. */
export interface EmulatorOptions {
  /** The account to serve (validated); default {@link demoSeed}. */
  readonly seed?: Seed;
  /** Where "now" comes from; the admin API moves an offset on top of it. Default: system time. */
  readonly clock?: Clock;
  /** Interface to listen on; default 127.0.0.1. */
  readonly host?: string;
  /** Port; default 0 (any free port). */
  readonly port?: number;
  /** Non-GET requests per user (or automation token) per UTC hour; default 1000 as in the API. */
  readonly rateLimitPerHour?: number;
  /** Which API to serve; default the seed's `apiVersion` (itself default `2026`, today's API). */
  readonly apiVersion?: ApiVersion;
}

/** A listening emulator. */
export interface RunningEmulator {
  /** Base URL, e.g. `http://127.0.0.1:41234` (no trailing slash): the API, rt and admin endpoints. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** Stop listening and drop open connections. */
  close(): Promise<void>;
}

interface ActiveFault {
  readonly spec: FaultSpec;
  readonly matches: (method: string, path: string) => boolean;
  remaining: number;
}

interface ActiveHook {
  readonly id: string;
  readonly spec: HookSpec;
  readonly phase: "before" | "after";
  readonly once: boolean;
  readonly matches: (method: string, path: string, userAgent: string) => boolean;
  fired: number;
  /** Resolvers of the requests held now: true lets the request go on. */
  readonly held: Set<(go: boolean) => void>;
}

const MAX_LOG = 50_000;
/** The longest an admin `GET hooks/{id}?waitMs=` waits before answering with the hook as it is. */
const MAX_HOOK_WAIT_MS = 60_000;

const hookSchema = z.strictObject({
  method: z.string().min(1).optional(),
  path: z.string().min(1).optional(),
  userAgent: z.string().min(1).optional(),
  action: z.enum(["hold", "notify"]),
  phase: z.enum(["before", "after"]).default("after"),
  once: z.boolean().default(true),
});

/** A path segment long enough to be a token value (values are 32 characters; 8 leaves a margin). */
const LONG_SEGMENT = /[^/]{8}/;
const SECRET_QUERY_KEY = /token|key|password|passwd|secret|otp|auth|credential|signature|code/i;

const faultSchema = z
  .strictObject({
    method: z.string().min(1).optional(),
    path: z.string().min(1).optional(),
    count: z.number().int().min(1).default(1),
    status: z.number().int().min(100).max(599).optional(),
    body: z.unknown().optional(),
    delayMs: z.number().int().min(0).max(120_000).optional(),
    drop: z.boolean().optional(),
    truncateAfter: z.number().int().min(0).optional(),
    stallBody: z.boolean().optional(),
  })
  .refine(
    (f) =>
      f.status !== undefined ||
      f.delayMs !== undefined ||
      f.drop === true ||
      f.truncateAfter !== undefined ||
      f.stallBody === true,
    { message: "a fault needs at least one of status, delayMs, drop, truncateAfter or stallBody" },
  );

const clockSchema = z.union([
  z.strictObject({ advance: z.union([z.string(), z.number()]) }),
  z.strictObject({ set: z.string() }),
]);

function pathMatcher(pattern: string | undefined): (path: string) => boolean {
  if (pattern === undefined) return () => true;
  if (pattern.startsWith("re:")) {
    const re = new RegExp(pattern.slice(3));
    return (path) => re.test(path);
  }
  if (pattern.endsWith("*")) {
    const prefix = pattern.slice(0, -1);
    return (path) => path.startsWith(prefix);
  }
  return (path) => path === pattern;
}

/** The `Date` header for `now`, formatted once a second rather than on every request. */
const httpDate = (() => {
  let second = Number.NaN;
  let text = "";
  return (now: Date): string => {
    const s = Math.floor(now.getTime() / 1000);
    if (s !== second) {
      second = s;
      text = now.toUTCString();
    }
    return text;
  };
})();

const statusLines = new Map<number, string>();

/** `200 OK`: the `Status` header the API sends, made once a status. */
function statusLine(status: number): string {
  let line = statusLines.get(status);
  if (line === undefined) {
    line = `${status} ${STATUS_CODES[status] ?? ""}`.trim();
    statusLines.set(status, line);
  }
  return line;
}

/** The headers of every API answer, as name/value pairs in the order sent. */
function apiHeaderPairs(status: number, now: Date): string[] {
  return [
    "Accept-Ranges",
    "bytes",
    "Cache-Control",
    "no-store",
    "Date",
    httpDate(now),
    "Pragma",
    "no-cache",
    "Server",
    "fastly control-gateway",
    "Status",
    statusLine(status),
    "Strict-Transport-Security",
    "max-age=31536000",
    "Vary",
    "Accept-Encoding",
    "Via",
    "1.1 varnish, 1.1 varnish",
    "X-Cache",
    "MISS, MISS",
    "X-Cache-Hits",
    "0, 0",
  ];
}

/** {@link apiHeaderPairs} as an object, for answers that add headers of their own. */
function apiHeaders(status: number, now: Date): Record<string, string> {
  const pairs = apiHeaderPairs(status, now);
  const headers: Record<string, string> = {};
  for (let i = 0; i < pairs.length; i += 2) headers[pairs[i]!] = pairs[i + 1]!;
  return headers;
}

/** The header list last made for a status: kept while the second and the body's length stay. */
interface HeaderList {
  readonly second: number;
  readonly length: number;
  readonly list: string[];
}

const headerLists = new Map<number, HeaderList>();

/**
 * {@link apiHeaderPairs} with a JSON body's `Content-Type` and `Content-Length`, as the flat
 * name/value list `writeHead` takes (and does not change). Most answers in a second have the same
 * status and length, and get the same list: nothing is built for them.
 */
function apiHeaderList(status: number, now: Date, length: number): string[] {
  const second = Math.floor(now.getTime() / 1000);
  const kept = headerLists.get(status);
  if (kept !== undefined && kept.second === second && kept.length === length) return kept.list;
  const list = apiHeaderPairs(status, now);
  list.push("Content-Type", "application/json", "Content-Length", String(length));
  headerLists.set(status, { second, length, list });
  return list;
}

function realtimeHeaders(now: Date): Record<string, string> {
  return {
    "Access-Control-Allow-Headers": "Fastly-Key, Content-Type",
    "Access-Control-Allow-Origin": "*",
    "Cache-Control": "max-age=1",
    Date: httpDate(now),
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    Vary: "Accept-Encoding, Fastly-Key, Cookie",
  };
}

/** A path a URL parser gives back unchanged, with no query: most requests' (`/tokens/self`). */
const PLAIN_PATH = /^\/(?!\/)[A-Za-z0-9_\-/]*$/;

/** The query of every request without one: shared, so it refuses to change. */
class NoQuery extends URLSearchParams {
  override append(): never {
    throw new TypeError("the empty query is shared by every request without one: copy it to change it");
  }
  override delete(): never {
    return this.append();
  }
  override set(): never {
    return this.append();
  }
  override sort(): void {}
}
const NO_QUERY: URLSearchParams = new NoQuery();

/** What the request path needs to know of one API request, worked out once. */
interface ApiRequest {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  /** Emulator time when the request arrived. */
  readonly now: Date;
  readonly userAgent: string | undefined;
  /** `Fastly-Key`, when given and not empty. */
  readonly key: string | undefined;
  /** The token `key` belongs to, revoked and expired ones too. */
  readonly knownToken: TokenRecord | undefined;
}

/**
 * `User-Agent` and `Fastly-Key` read from the raw header list as `req.headers` gives them (the first
 * `User-Agent`, repeated `Fastly-Key`s joined with ", "), without building `req.headers`: most
 * requests need nothing else from it, and the object costs more than the request's own work.
 */
function keyAndAgent(raw: readonly string[]): { userAgent: string | undefined; key: string | undefined } {
  let userAgent: string | undefined;
  let key: string | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length !== 10) continue;
    // Most clients spell the names one of these two ways; the others are lower-cased to compare.
    const lower =
      name === "User-Agent" || name === "user-agent"
        ? "user-agent"
        : name === "Fastly-Key" || name === "fastly-key"
          ? "fastly-key"
          : name.toLowerCase();
    if (lower === "user-agent") userAgent ??= raw[i + 1]!;
    else if (lower === "fastly-key") key = key === undefined ? raw[i + 1]! : `${key}, ${raw[i + 1]!}`;
  }
  return { userAgent, key };
}

/**
 * The last `Fastly-Key` a connection sent and the token it belongs to (or none), kept on the socket:
 * a keep-alive client sends the same key with every request, and digesting it is the largest cost
 * of most requests. Current while the account (`state`) is: within one, a value's token never
 * changes (seed values are distinct, and every later token's value is new and random). Gone with
 * the connection, so the value is held no longer than the client keeps the connection open.
 */
interface KeyMemo {
  readonly key: string;
  readonly state: AccountState;
  readonly token: TokenRecord | undefined;
}
const KEY_MEMO = Symbol("emulator.keyMemo");
type MemoSocket = Socket & { [KEY_MEMO]?: KeyMemo };

function clientIp(req: IncomingMessage): string {
  const address = req.socket.remoteAddress ?? "";
  return address.startsWith("::ffff:") ? address.slice("::ffff:".length) : address;
}

/** The emulator: state, clock, log, faults and the HTTP handler over them. */
class Emulator {
  state: AccountState;
  private offsetMs = 0;
  private readonly log = new RequestLog(MAX_LOG);
  private faults: ActiveFault[] = [];
  private hooks: ActiveHook[] = [];
  private hookIds = 0;
  /** Admin calls waiting for a hook to fire. */
  private readonly hookWaiters = new Set<() => void>();
  /** API requests received and not answered yet (a fault's delay holds them); admin calls excluded. */
  private inFlight = 0;
  private rateWindows = new Map<string, { resetsAt: Date; used: number }>();
  private readonly sleepers = new Set<() => void>();
  baseUrl = "";
  wildcardHost = false;

  constructor(
    private readonly seed: ParsedSeed,
    private readonly clock: Clock,
    private readonly rateLimit: number,
    private readonly apiVersion: ApiVersion = seed.apiVersion,
  ) {
    this.state = new AccountState(seed, this.now(), apiVersion);
  }

  now(): Date {
    const now = this.clock.now();
    return this.offsetMs === 0 ? now : new Date(now.getTime() + this.offsetMs);
  }

  reset(): void {
    this.offsetMs = 0;
    this.log.clear();
    this.faults = [];
    this.clearHooks();
    this.rateWindows.clear();
    this.state = new AccountState(this.seed, this.now(), this.apiVersion);
  }

  /** Remove every hook and let the requests they hold go on. */
  clearHooks(): void {
    const hooks = this.hooks;
    this.hooks = [];
    for (const hook of hooks) for (const go of [...hook.held]) go(true);
  }

  private takeHook(method: string, path: string, userAgent: string): ActiveHook | undefined {
    const hook = this.hooks.find((h) => !(h.once && h.fired > 0) && h.matches(method, path, userAgent));
    if (hook) hook.fired += 1;
    return hook;
  }

  /**
   * Tell waiters `hook` fired; with `hold`, wait until it is released (true) or the client's
   * connection closes (false).
   */
  private fire(hook: ActiveHook, res: ServerResponse): Promise<boolean> {
    for (const wake of [...this.hookWaiters]) wake();
    if (hook.spec.action === "notify") return Promise.resolve(true);
    return new Promise((resolve) => {
      const go = (value: boolean): void => {
        hook.held.delete(go);
        res.off("close", closed);
        resolve(value);
      };
      const closed = (): void => go(false);
      hook.held.add(go);
      // `close` before the answer was sent means the connection died (the client was killed).
      res.once("close", closed);
      if (res.destroyed) go(false);
    });
  }

  private hookState(h: ActiveHook): HookState {
    return { ...h.spec, id: h.id, phase: h.phase, once: h.once, fired: h.fired, held: h.held.size };
  }

  /** Answer when `hook` has fired, or after `waitMs`, whichever is first. */
  private waitForHook(hook: ActiveHook, waitMs: number): Promise<void> {
    if (hook.fired > 0 || waitMs <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        if (hook.fired === 0 && this.hooks.includes(hook)) return;
        clearTimeout(timer);
        this.hookWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(() => {
        this.hookWaiters.delete(done);
        resolve();
      }, waitMs);
      timer.unref();
      this.hookWaiters.add(done);
    });
  }

  wakeSleepers(): void {
    for (const wake of this.sleepers) wake();
  }

  /** Resolves after `ms`, or early when the emulator closes or its clock moves. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.sleepers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      this.sleepers.add(done);
    });
  }

  /** Count a non-GET request against `key`'s hour: adds its headers to `headers`, or throws the 429. */
  consume(key: string, now: Date, headers: Record<string, string>): void {
    let window = this.rateWindows.get(key);
    if (!window || now.getTime() >= window.resetsAt.getTime()) {
      window = { resetsAt: nextUtcHour(now), used: 0 };
      this.rateWindows.set(key, window);
    }
    const reset = String(Math.floor(window.resetsAt.getTime() / 1000));
    if (window.used >= this.rateLimit) {
      throw new ApiError(
        429,
        { msg: RATE_LIMITED },
        { "Fastly-RateLimit-Remaining": "0", "Fastly-RateLimit-Reset": reset },
      );
    }
    window.used += 1;
    headers["Fastly-RateLimit-Remaining"] = String(this.rateLimit - window.used);
    headers["Fastly-RateLimit-Reset"] = reset;
  }

  /** Path and query with anything that could be a secret replaced. */
  private loggablePath(path: string, query: URLSearchParams): string {
    if ((query === NO_QUERY || query.size === 0) && !LONG_SEGMENT.test(path)) return path;
    const segments = path.split("/").map((segment) => {
      if (segment.length < 8) return segment;
      let decoded = segment;
      try {
        decoded = decodeURIComponent(segment);
      } catch {
        // keep the raw segment
      }
      return this.state.hasTokenDigest(digest(decoded)) ? "REDACTED" : segment;
    });
    let search = "";
    if (query.size > 0) {
      const params = new URLSearchParams();
      for (const [key, value] of query) params.append(key, SECRET_QUERY_KEY.test(key) ? "REDACTED" : value);
      search = params.toString();
    }
    return segments.join("/") + (search ? `?${search}` : "");
  }

  private takeFault(method: string, path: string): FaultSpec | undefined {
    const index = this.faults.findIndex((f) => f.matches(method, path));
    if (index < 0) return undefined;
    const fault = this.faults[index]!;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.faults.splice(index, 1);
    return fault.spec;
  }

  baseFor(req: IncomingMessage): string {
    // Listening on every interface, the client's Host says which address reached us.
    return this.wildcardHost && req.headers.host ? `http://${req.headers.host}` : this.baseUrl;
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const api = !(req.url ?? "/").startsWith("/__emulator/");
    if (api) this.inFlight += 1;
    let pending: Promise<void> | undefined;
    try {
      pending = this.dispatch(req, res);
    } catch {
      // Answered below as any failure is: a 500, or a reset once the answer has begun.
      pending = Promise.reject(new Error("the request failed"));
    }
    // Most requests are answered before dispatch returns: no promise to wait for.
    if (pending === undefined) {
      if (api) this.inFlight -= 1;
      return;
    }
    pending
      .catch(() => {
        if (!res.headersSent) {
          res.writeHead(500, { "Content-Type": "application/json" });
          res.end(JSON.stringify({ msg: "Internal emulator error" }));
        } else {
          res.destroy();
        }
      })
      .finally(() => {
        if (api) this.inFlight -= 1;
      });
  };

  /**
   * Answer one request: synchronously when nothing holds it (no hook, no fault, a handler that
   * does not wait), which is almost every request; otherwise returns the promise of the answer.
   */
  private dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> | undefined {
    const raw = req.url ?? "/";
    let path = raw;
    let query = NO_QUERY;
    // Plain paths are not parsed: a URL parser gives them back unchanged.
    if (!PLAIN_PATH.test(raw)) {
      const url = new URL(raw, "http://emulator.invalid");
      path = url.pathname;
      query = url.searchParams;
    }
    const method = (req.method ?? "GET").toUpperCase();
    if (path.startsWith("/__emulator/")) return this.adminRequest(method, path, req, res);

    const now = this.now();
    const { userAgent, key: keyHeader } = keyAndAgent(req.rawHeaders);
    const key = keyHeader !== undefined && keyHeader !== "" ? keyHeader : undefined;
    // Looked up once: the log names it, and authentication checks it.
    const knownToken: TokenRecord | undefined = key ? this.tokenForKey(req.socket, key) : undefined;
    const request: ApiRequest = { req, res, method, path, query, now, userAgent, key, knownToken };
    if (this.hooks.length > 0 || this.faults.length > 0) return this.dispatchHeld(request);

    const match = matchRoute(method, path);
    if (!match.route) {
      this.answerUnrouted(request, match.pathKnown, (reply, headers) => send(res, reply, headers, method));
      return undefined;
    }
    const { route, params } = match;
    const extraHeaders: Record<string, string> = {};
    const reply = this.runRoute(request, route, params, knownToken, extraHeaders);
    if (reply instanceof Promise) return reply.then((r) => this.finish(request, route, r, extraHeaders));
    this.finish(request, route, reply, extraHeaders);
    return undefined;
  }

  /** `state.tokenByValue(key)`, remembered for the connection's next request (see {@link KeyMemo}). */
  private tokenForKey(socket: MemoSocket, key: string): TokenRecord | undefined {
    const memo = socket[KEY_MEMO];
    if (memo?.key === key && memo.state === this.state) return memo.token;
    const token = this.state.tokenByValue(key);
    socket[KEY_MEMO] = { key, state: this.state, token };
    return token;
  }

  /** Send a routed answer and log it. */
  private finish(
    request: ApiRequest,
    route: Route,
    reply: Reply,
    extraHeaders: Record<string, string>,
  ): void {
    const { res, method, now } = request;
    if (route.realtime !== true && reply.headers === undefined && isEmpty(extraHeaders)) {
      sendApiJson(res, reply, now, method);
    } else {
      send(res, reply, this.replyHeaders(route, reply, now, extraHeaders), method);
    }
    this.logRequest(request, reply.status);
  }

  /** A request a hook or a fault may hold, delay, drop or spoil. */
  private async dispatchHeld(request: ApiRequest): Promise<void> {
    const { req, res, method, path, now, userAgent, key, knownToken } = request;
    const logEntry = (status: number): void => this.logRequest(request, status);

    const hook = this.takeHook(method, path, userAgent ?? "");
    if (hook?.phase === "before" && !(await this.fire(hook, res))) {
      // The client went away while the request was held: it is dropped unprocessed.
      logEntry(0);
      return;
    }
    /** Send `reply`, holding it first when an `after` hook says so (the effect is already applied). */
    const respond = async (
      reply: Reply,
      headers: Record<string, string>,
      deliver: (reply: Reply, headers: Record<string, string>) => void = (r, h) => send(res, r, h, method),
    ): Promise<void> => {
      if (hook?.phase === "after" && !(await this.fire(hook, res))) {
        logEntry(reply.status);
        return;
      }
      deliver(reply, headers);
      logEntry(reply.status);
    };

    const fault = this.takeFault(method, path);
    if (fault) {
      if (fault.delayMs) await this.sleep(fault.delayMs);
      if (fault.drop) {
        logEntry(0);
        req.socket.destroy();
        return;
      }
      if (fault.status !== undefined) {
        const body = fault.body === undefined ? { msg: STATUS_CODES[fault.status] ?? "Error" } : fault.body;
        await respond({ status: fault.status, body }, apiHeaders(fault.status, now));
        return;
      }
    }

    const match = matchRoute(method, path);
    if (!match.route) {
      const status = match.pathKnown ? 405 : 404;
      const body = match.pathKnown ? { msg: "Method not allowed" } : { msg: "Not found" };
      await respond({ status, body }, apiHeaders(status, now));
      return;
    }
    const { route, params } = match;
    // A body fault lets the request take effect and then spoils its answer.
    const answer = (reply: Reply, headers: Record<string, string>): void => {
      if (fault?.truncateAfter !== undefined) sendTruncated(res, reply, headers, fault.truncateAfter);
      else if (fault?.stallBody) sendStalled(res, reply, headers);
      else send(res, reply, headers, method);
    };
    const extraHeaders: Record<string, string> = {};
    // After a fault's delay the account may have been reset: look the key up again.
    const token = fault?.delayMs && key ? this.state.tokenByValue(key) : knownToken;
    const reply = await this.runRoute(request, route, params, token, extraHeaders);
    await respond(reply, this.replyHeaders(route, reply, now, extraHeaders), answer);
  }

  /** 404 for a path no route has, 405 for a method the path's routes lack; sent and logged. */
  private answerUnrouted(
    request: ApiRequest,
    pathKnown: boolean,
    deliver: (reply: Reply, headers: Record<string, string>) => void,
  ): void {
    const status = pathKnown ? 405 : 404;
    const body = pathKnown ? { msg: "Method not allowed" } : { msg: "Not found" };
    deliver({ status, body }, apiHeaders(status, request.now));
    this.logRequest(request, status);
  }

  /**
   * Authenticate and run the route's handler; an {@link ApiError} becomes the reply (as problem+json
   * where the 2026 API sends that). Writes' rate-limit headers are added to `extraHeaders`.
   */
  private runRoute(
    request: ApiRequest,
    route: Route,
    params: readonly string[],
    token: TokenRecord | undefined,
    extraHeaders: Record<string, string>,
  ): Reply | Promise<Reply> {
    const { req, method, now, userAgent, key } = request;
    const write = method !== "GET" && method !== "HEAD";
    try {
      const auth = authenticate(this.state, route, key, token, now);
      if (auth !== undefined) {
        // A valid key is used, and counted, even when its scope then refuses the request.
        touch(auth, now, clientIp(req), userAgent);
        if (write) this.consume(rateLimitKey(auth), now, extraHeaders);
        checkScope(route, auth, write);
      }
      const reply = route.handler(new RequestContext(this, request, auth, write, extraHeaders), params);
      return reply instanceof Promise
        ? reply.catch((error: unknown) => this.errorReply(route, error))
        : reply;
    } catch (error) {
      return this.errorReply(route, error);
    }
  }

  /** An {@link ApiError} as the reply (problem+json where the 2026 API sends that); others rethrown. */
  private errorReply(route: Route, error: unknown): Reply {
    if (!(error instanceof ApiError)) throw error;
    const reply: Reply = { status: error.status, body: error.body, headers: error.headers };
    return route.problemJson === true && this.state.apiVersion === "2026" ? problemReply(reply) : reply;
  }

  /** The headers of a routed answer: the API's or the realtime channel's, then the reply's own. */
  private replyHeaders(
    route: Route,
    reply: Reply,
    now: Date,
    extraHeaders: Record<string, string>,
  ): Record<string, string> {
    const headers = route.realtime ? realtimeHeaders(now) : apiHeaders(reply.status, now);
    return Object.assign(headers, extraHeaders, reply.headers);
  }

  private logRequest(request: ApiRequest, status: number): void {
    this.log.push(
      request.method,
      this.loggablePath(request.path, request.query),
      status,
      request.knownToken?.id ?? null,
      request.userAgent ?? null,
      request.now.getTime(),
    );
  }

  private async adminRequest(
    method: string,
    path: string,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    const reply = await this.admin(method, path.slice("/__emulator/".length), req).catch((error: unknown) => {
      if (error instanceof ApiError) return { status: error.status, body: error.body };
      throw error;
    });
    send(res, reply, { "Cache-Control": "no-store" }, method);
  }

  private async admin(method: string, path: string, req: IncomingMessage): Promise<Reply> {
    const body = async (): Promise<unknown> => {
      const text = await readBody(req);
      if (text.trim() === "") return {};
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw new ApiError(400, { error: "the body is not valid JSON" });
      }
    };
    const invalid = (error: z.ZodError): ApiError =>
      new ApiError(400, {
        error: error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; "),
      });
    const route = `${method} ${path}`;
    switch (route) {
      case "GET requests":
        return { status: 200, body: this.log.entries() };
      case "DELETE requests":
        this.log.clear();
        return { status: 204 };
      case "GET state":
        return { status: 200, body: this.snapshot() };
      case "POST faults": {
        const input = await body();
        const parsed = z.union([faultSchema, z.array(faultSchema)]).safeParse(input);
        if (!parsed.success) throw invalid(parsed.error);
        const specs = Array.isArray(parsed.data) ? parsed.data : [parsed.data];
        for (const spec of specs) {
          let matchPath: (path: string) => boolean;
          try {
            matchPath = pathMatcher(spec.path);
          } catch {
            throw new ApiError(400, { error: `path: invalid regular expression ${spec.path ?? ""}` });
          }
          const wantMethod = spec.method?.toUpperCase();
          this.faults.push({
            spec: withoutUndefined(spec),
            remaining: spec.count,
            matches: (m, p) => (wantMethod === undefined || wantMethod === m) && matchPath(p),
          });
        }
        return { status: 200, body: { faults: this.faults.map((f) => ({ ...f.spec, count: f.remaining })) } };
      }
      case "DELETE faults":
        this.faults = [];
        return { status: 204 };
      case "GET clock":
        return { status: 200, body: { now: formatTime(this.now()) } };
      case "POST clock": {
        const parsed = clockSchema.safeParse(await body());
        if (!parsed.success) throw invalid(parsed.error);
        if ("advance" in parsed.data) {
          const ms = parseOffset(parsed.data.advance);
          if (ms === undefined) {
            throw new ApiError(400, {
              error:
                "advance: expected a duration such as 90s, 30d or 1h30m (optionally signed), or a number of seconds",
            });
          }
          this.offsetMs += ms;
        } else {
          const target = new Date(parsed.data.set);
          if (Number.isNaN(target.getTime()))
            throw new ApiError(400, { error: "set: expected an ISO timestamp" });
          this.offsetMs = target.getTime() - this.clock.now().getTime();
        }
        this.wakeSleepers();
        return { status: 200, body: { now: formatTime(this.now()) } };
      }
      case "POST reset":
        this.reset();
        this.wakeSleepers();
        return { status: 200, body: { now: formatTime(this.now()) } };
      case "POST hooks": {
        const parsed = hookSchema.safeParse(await body());
        if (!parsed.success) throw invalid(parsed.error);
        const { phase, once, ...rest } = parsed.data;
        let matchPath: (path: string) => boolean;
        let matchAgent: (agent: string) => boolean;
        try {
          matchPath = pathMatcher(rest.path);
          matchAgent = pathMatcher(rest.userAgent);
        } catch {
          throw new ApiError(400, { error: "path or userAgent: invalid regular expression" });
        }
        const wantMethod = rest.method?.toUpperCase();
        const spec: HookSpec = {
          action: rest.action,
          ...(rest.method === undefined ? {} : { method: rest.method }),
          ...(rest.path === undefined ? {} : { path: rest.path }),
          ...(rest.userAgent === undefined ? {} : { userAgent: rest.userAgent }),
        };
        const hook: ActiveHook = {
          id: `hook-${++this.hookIds}`,
          spec,
          phase,
          once,
          fired: 0,
          held: new Set(),
          matches: (m, p, ua) =>
            (wantMethod === undefined || wantMethod === m) && matchPath(p) && matchAgent(ua),
        };
        this.hooks.push(hook);
        return { status: 201, body: this.hookState(hook) };
      }
      case "GET hooks":
        return { status: 200, body: { hooks: this.hooks.map((h) => this.hookState(h)) } };
      case "DELETE hooks":
        this.clearHooks();
        return { status: 204 };
      default: {
        const one = /^hooks\/([^/]+)(\/release)?$/.exec(path);
        const hook = one ? this.hooks.find((h) => h.id === one[1]) : undefined;
        if (one && !hook) return { status: 404, body: { error: `no hook ${one[1]}` } };
        if (hook && !one?.[2] && method === "GET") {
          const waitMs = Number(
            new URL(req.url ?? "/", "http://emulator.invalid").searchParams.get("waitMs") ?? 0,
          );
          await this.waitForHook(hook, Math.min(Number.isFinite(waitMs) ? waitMs : 0, MAX_HOOK_WAIT_MS));
          return { status: 200, body: this.hookState(hook) };
        }
        if (hook && !one?.[2] && method === "DELETE") {
          this.hooks = this.hooks.filter((h) => h !== hook);
          for (const go of [...hook.held]) go(true);
          for (const wake of [...this.hookWaiters]) wake();
          return { status: 204 };
        }
        if (hook && one?.[2] && method === "POST") {
          const released = hook.held.size;
          for (const go of [...hook.held]) go(true);
          return { status: 200, body: { ...this.hookState(hook), released } };
        }
        return { status: 404, body: { error: `no admin endpoint ${route}` } };
      }
    }
  }

  private snapshot(): EmulatorStateSnapshot {
    const now = this.now();
    const time = (d: Date | null): string | null => (d === null ? null : formatTime(d));
    const token = (t: TokenRecord): EmulatorTokenSnapshot => ({
      id: t.id,
      name: t.name,
      userId: t.userId,
      role: t.role,
      roles: t.roles.map((id) => this.state.roles.get(id)?.name ?? id),
      scope: t.scope,
      services: [...t.services],
      limitServices: t.limitServices,
      createdAt: formatTime(t.createdAt),
      expiresAt: time(t.expiresAt),
      lastUsedAt: time(t.lastUsedAt),
      ip: t.ip,
      userAgent: t.userAgent,
      revokedAt: time(t.revokedAt),
      expired: t.expiresAt !== null && t.expiresAt.getTime() <= now.getTime(),
    });
    const tokens = [...this.state.tokens.values()];
    const users = [...this.state.users.values()];
    return {
      now: formatTime(now),
      apiVersion: this.state.apiVersion,
      customer: { id: this.state.customer.id, name: this.state.customer.name },
      users: users.map((u) => ({
        id: u.id,
        login: u.login,
        name: u.name,
        role: u.role,
        mfa: u.mfa,
        sso: u.sso,
        lastActiveAt: time(u.lastActiveAt),
      })),
      tokens: tokens.filter((t) => t.kind === "user").map(token),
      automationTokens: tokens.filter((t) => t.kind === "automation").map(token),
      services: [...this.state.services.values()].map((s) => ({
        id: s.id,
        name: s.name,
        type: s.type,
        version: s.version,
      })),
      sudoSessions: users.flatMap((u) =>
        u.sudoExpiresAt === null
          ? []
          : [
              {
                userId: u.id,
                tokenId: u.sudoTokenId,
                expiresAt: formatTime(u.sudoExpiresAt),
                active: u.sudoExpiresAt.getTime() > now.getTime(),
              },
            ],
      ),
      faults: this.faults.map((f) => ({ ...f.spec, count: f.remaining })),
      hooks: this.hooks.map((h) => this.hookState(h)),
      inFlight: this.inFlight,
    };
  }
}

/** What a handler is given: the request, the caller, and the emulator's services. */
class RequestContext implements ApiContext {
  readonly state: AccountState;
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly now: Date;
  private fields: Promise<Fields> | undefined;

  constructor(
    private readonly emulator: Emulator,
    private readonly request: ApiRequest,
    readonly auth: Auth | undefined,
    /** Not GET or HEAD: counted against the rate limit. */
    private readonly write: boolean,
    /** The rate-limit headers are added here. */
    private readonly extraHeaders: Record<string, string>,
  ) {
    this.state = emulator.state;
    this.method = request.method;
    this.path = request.path;
    this.query = request.query;
    this.now = request.now;
  }

  get headers(): IncomingMessage["headers"] {
    return this.request.req.headers;
  }

  get baseUrl(): string {
    return this.emulator.baseFor(this.request.req);
  }

  clockNow(): Date {
    return this.emulator.now();
  }

  body(): Promise<Fields> {
    const { req } = this.request;
    return (this.fields ??= readBody(req).then((text) => parseFields(text, req.headers["content-type"])));
  }

  consumeRateLimit(key: string): void {
    if (this.write) this.emulator.consume(key, this.now, this.extraHeaders);
  }

  sleep(ms: number): Promise<void> {
    return this.emulator.sleep(ms);
  }
}

function isEmpty(record: Record<string, string>): boolean {
  for (const _ in record) return false;
  return true;
}

/**
 * Answer with `reply` and the API's headers only (no rate-limit or reply headers): the body as
 * JSON, with the header list {@link apiHeaderList} keeps.
 */
function sendApiJson(res: ServerResponse, reply: Reply, now: Date, method: string): void {
  if (reply.body === undefined || reply.status === 204 || reply.status === 304) {
    res.writeHead(reply.status, apiHeaders(reply.status, now));
    res.end();
    return;
  }
  const payload = typeof reply.body === "string" ? reply.body : JSON.stringify(reply.body);
  res.writeHead(reply.status, apiHeaderList(reply.status, now, Buffer.byteLength(payload)));
  res.end(method === "HEAD" ? undefined : payload);
}

/** The spec without its undefined fields, so it reads back as it was given. */
function withoutUndefined(value: z.output<typeof faultSchema>): FaultSpec {
  const entries = Object.entries(value).filter(([, v]) => v !== undefined);
  return Object.fromEntries(entries);
}

/** Writes the answer's status and headers, with the length of its whole JSON body; returns the body. */
function writeJsonHead(res: ServerResponse, reply: Reply, headers: Record<string, string>): Buffer {
  const payload = Buffer.from(typeof reply.body === "string" ? reply.body : JSON.stringify(reply.body ?? {}));
  res.writeHead(reply.status, {
    ...headers,
    ...reply.headers,
    "Content-Type": "application/json",
    "Content-Length": payload.byteLength,
  });
  return payload;
}

/** The answer's headers (with its full Content-Length) and its first `bytes` bytes, then a reset. */
function sendTruncated(
  res: ServerResponse,
  reply: Reply,
  headers: Record<string, string>,
  bytes: number,
): void {
  const payload = writeJsonHead(res, reply, headers);
  res.write(payload.subarray(0, Math.min(bytes, payload.byteLength)), () => {
    res.socket?.resetAndDestroy();
  });
}

/** The answer's headers, then nothing until the client gives up (the connection stays open). */
function sendStalled(res: ServerResponse, reply: Reply, headers: Record<string, string>): void {
  writeJsonHead(res, reply, headers);
  res.flushHeaders();
}

/**
 * An error as the 2026 API's automation-token endpoints send it: RFC 7807 problem+json
 * (`AutomationTokenErrorResponse {title, status, detail, errors}`) instead of `{msg, detail}`.
 */
function problemReply(reply: Reply): Reply {
  const legacy = (reply.body ?? {}) as { msg?: unknown; detail?: unknown };
  const title = typeof legacy.msg === "string" ? legacy.msg : (STATUS_CODES[reply.status] ?? "Error");
  return {
    status: reply.status,
    body: {
      title,
      status: reply.status,
      detail: typeof legacy.detail === "string" ? legacy.detail : "",
      errors: [],
    },
    headers: { ...reply.headers, "Content-Type": "application/problem+json" },
  };
}

/** Answer with `reply`; `headers` (a fresh object) is added to and sent. */
function send(res: ServerResponse, reply: Reply, headers: Record<string, string>, method: string): void {
  const hasBody = reply.body !== undefined && reply.status !== 204 && reply.status !== 304;
  const payload = hasBody ? (typeof reply.body === "string" ? reply.body : JSON.stringify(reply.body)) : "";
  const out: Record<string, string | number> = reply.headers
    ? Object.assign(headers, reply.headers)
    : headers;
  if (hasBody) {
    out["Content-Type"] ??= "application/json";
    out["Content-Length"] = Buffer.byteLength(payload);
  }
  res.writeHead(reply.status, out);
  res.end(method === "HEAD" ? undefined : payload);
}

/**
 * Start a Fastly API emulator serving `seed` (default: the demo account). Resolves once it listens;
 * `url` is the base for the API, the realtime channel, the OpenID discovery document and the
 * admin API under `/__emulator/`. The server prints nothing.
 */
export async function createEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const seed = parseSeed(options.seed ?? demoSeed);
  const emulator = new Emulator(
    seed,
    options.clock ?? systemClock,
    options.rateLimitPerHour ?? 1000,
    options.apiVersion ?? seed.apiVersion,
  );
  const server = createServer(emulator.handle);
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  emulator.wildcardHost = host === "0.0.0.0" || host === "::";
  const urlHost =
    host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "[::1]" : host.includes(":") ? `[${host}]` : host;
  emulator.baseUrl = `http://${urlHost}:${port}`;
  return {
    url: emulator.baseUrl,
    host,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        emulator.wakeSleepers();
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
