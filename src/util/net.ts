/**
 * How ftr's own HTTP clients reach a server: the one place that decides whether a request goes
 * through a proxy and which address a name may connect to.
 *
 * - Proxies: `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` (either case) are read the way curl and
 *   most tools read them (the `proxy-from-env` library), for the Fastly client, the notifiers, the
 *   Prometheus verifier, Argo CD (through `netFetch`), the AWS SDK (`proxyAgentFor`) and the
 *   Kubernetes client (`kubernetesProxyUrl`; a kubeconfig's own `proxy-url` comes first, as for
 *   kubectl). Loopback is never proxied, as Go's `ProxyFromEnvironment` decides: a plain-http
 *   request to this machine must not leave it through a proxy.
 * - Loopback by address: a name that claims to be this machine (`localhost`, `*.localhost`) is
 *   connected to only when every address it resolves to is loopback, and the connection goes to
 *   the addresses that were checked (the check is the lookup the connection uses).
 * - The Fastly client's direct requests (no proxy, a name that does not claim loopback, the
 *   system's resolver) go over Node's http/https modules (`requestOverNodeHttp`), answered as
 *   `fetch` answers but as an `HttpAnswer` (status, header lookup, body text) rather than a
 *   `Response`: Node's `fetch` costs about twice a bare `node` start-up in CPU on its first request,
 *   and merely touching `Response` or `Headers` about half of one (Node loads its bundled undici to
 *   give them), most of a short command such as `ftr check`.
 */
import { lookup as dnsLookup } from "node:dns/promises";
import type { Agent as HttpAgent, IncomingMessage } from "node:http";
import type { LookupAddress } from "node:dns";
import type { TcpNetConnectOpts } from "node:net";
import { getProxyForUrl } from "proxy-from-env";
import type * as Undici from "undici";
import type { Agent, Dispatcher, ProxyAgent } from "undici";
import { BodyTooLargeError, readTextCapped } from "./http.ts";

/** undici, loaded on the first request: commands that send none (`validate`, `--help`) skip it. */
let undici: Promise<typeof Undici> | undefined;

/** Resolves a name to every address it has, as `dns.lookup(name, { all: true })` does. */
export type Resolver = (hostname: string) => Promise<readonly LookupAddress[]>;

const systemResolver: Resolver = (hostname) => dnsLookup(hostname, { all: true });

/** True for an address (not a name) in 127.0.0.0/8, ::1, or IPv4-mapped 127/8. */
export function isLoopbackAddress(address: string): boolean {
  const a = address.toLowerCase().replace(/^\[|\]$/g, "");
  if (a === "::1" || a === "0:0:0:0:0:0:0:1") return true;
  return /^(?:::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

/** A name that says it is this machine, which only its addresses can prove. */
export function isLoopbackName(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, "");
  return host === "localhost" || host.endsWith(".localhost");
}

/** A name that says it is loopback resolved to an address that is not. */
export class NotLoopbackError extends Error {
  override readonly name = "NotLoopbackError";
  readonly code = "ERR_FTR_NOT_LOOPBACK";
  constructor(
    readonly hostname: string,
    readonly addresses: readonly string[],
  ) {
    super(
      `${hostname} resolves to ${addresses.join(", ") || "no address"}, which is not this machine: a name counts as loopback only when every address it resolves to is loopback; use https://, or 127.0.0.1`,
    );
  }
}

/**
 * The lookup a connection uses: `resolve`, then, for a loopback name, a refusal unless every
 * address is loopback. Shaped like `dns.lookup`, as `net.connect` calls it.
 */
export function checkedLookup(resolve: Resolver = systemResolver) {
  return (
    hostname: string,
    options: { all?: boolean },
    callback: (error: Error | null, address?: string | LookupAddress[], family?: number) => void,
  ): void => {
    resolve(hostname).then(
      (addresses) => {
        if (isLoopbackName(hostname)) {
          const outside = addresses.filter((a) => !isLoopbackAddress(a.address)).map((a) => a.address);
          if (outside.length > 0 || addresses.length === 0) {
            callback(new NotLoopbackError(hostname, outside));
            return;
          }
        }
        const [first] = addresses;
        if (options.all) callback(null, [...addresses]);
        else if (first === undefined)
          callback(Object.assign(new Error(`${hostname}: no address`), { code: "ENOTFOUND" }));
        else callback(null, first.address, first.family);
      },
      (error: unknown) => callback(error instanceof Error ? error : new Error(String(error))),
    );
  };
}

/**
 * The proxy a request to `url` goes through, from HTTPS_PROXY/HTTP_PROXY/NO_PROXY; undefined for
 * a direct connection (no proxy set, NO_PROXY names the host, or the host is loopback).
 */
export function proxyFor(url: string | URL): string | undefined {
  const parsed = typeof url === "string" ? new URL(url) : url;
  const host = parsed.hostname.replace(/^\[|\]$/g, "");
  if (isLoopbackAddress(host) || isLoopbackName(host)) return undefined;
  const proxy = getProxyForUrl(parsed.href);
  return proxy === "" ? undefined : proxy;
}

/** Options of {@link createNetFetch}. */
export interface NetFetchOptions {
  /** How names are resolved (tests give a DNS answer); default the system's resolver. */
  readonly resolve?: Resolver;
}

/**
 * A `fetch` over undici that honours the proxy variables and connects a loopback name only to the
 * loopback addresses it was checked to have. Everything else is as the global `fetch`.
 */
export function createNetFetch(options: NetFetchOptions = {}): typeof fetch {
  // net.connect's `lookup`, typed there as dns.lookup's overloads.
  const connect = {
    lookup: checkedLookup(options.resolve) as unknown as NonNullable<TcpNetConnectOpts["lookup"]>,
  };
  let direct: Agent | undefined;
  const proxies = new Map<string, ProxyAgent>();
  const dispatcherFor = (lib: typeof Undici, url: URL): Dispatcher => {
    const proxy = proxyFor(url);
    if (proxy === undefined) return (direct ??= new lib.Agent({ connect }));
    let agent = proxies.get(proxy);
    if (agent === undefined) {
      agent = new lib.ProxyAgent({ uri: proxy, connect });
      proxies.set(proxy, agent);
    }
    return agent;
  };
  const netFetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(typeof input === "string" || input instanceof URL ? input : input.url);
    // Nothing to add for a direct connection to a name that does not claim to be loopback, resolved
    // by the system: Node's own fetch, without loading undici from node_modules (about a tenth of
    // a short command's CPU).
    if (isDirect(url, options.resolve)) return fetch(input, init);
    const lib = await (undici ??= import("undici").then(
      // A bundle may give a CommonJS module's exports as `default` only.
      (mod) => ("Agent" in mod ? mod : (mod as { default: typeof Undici }).default),
    ));
    // undici's own Request, Response and init types are the global ones by another name.
    const call = lib.fetch as unknown as (
      input: string | URL | Request,
      init: Readonly<Record<string, unknown>>,
    ) => Promise<Response>;
    return call(input, { ...init, dispatcher: dispatcherFor(lib, url) });
  };
  return netFetch;
}

/** The `fetch` every client of ftr uses unless one is injected. */
export const netFetch: typeof fetch = createNetFetch();

/**
 * A connection with nothing for ftr to add: the system's resolver, a name that does not claim to
 * be loopback, no proxy.
 */
function isDirect(url: URL, resolve: Resolver | undefined): boolean {
  return resolve === undefined && !isLoopbackName(url.hostname) && proxyFor(url) === undefined;
}

/** A header lookup as `Headers.get` answers: any case, repeated fields joined by ", ", null when absent. */
export interface HeaderLookup {
  get(name: string): string | null;
}

/**
 * An HTTP answer as the Fastly client reads it: its status, its headers and its body as text. It
 * is not a `Response`: Node gives that class (and `Headers`) by loading its bundled undici, about
 * half a bare `node` start-up in CPU, which a short command such as `ftr check` need not pay.
 */
export interface HttpAnswer {
  readonly status: number;
  readonly headers: HeaderLookup;
  /**
   * The body as UTF-8 text, read until it ends or passes `limit` bytes: then (or at once, when the
   * Content-Length says more) the read is abandoned with a {@link BodyTooLargeError}. A body cut
   * short rejects with the socket's error; an aborted signal with its reason.
   */
  text(limit: number): Promise<string>;
  /** Drops the body unread (a redirect's). */
  discard(): Promise<void>;
}

/** One request: a method (default GET), headers, a string body, a signal that ends it, body included. */
export interface HttpRequestInit {
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** Sends one request and answers it, a redirect as it is (never followed). */
export type HttpExchange = (url: URL, init: HttpRequestInit) => Promise<HttpAnswer>;

/** A `Response` read as an {@link HttpAnswer}. */
export function answerOfResponse(response: Response): HttpAnswer {
  return {
    status: response.status,
    headers: response.headers,
    text: (limit) => readTextCapped(response, limit),
    discard: async () => {
      await response.body?.cancel().catch(() => {});
    },
  };
}

/** Requests sent with `fetchImpl` (`redirect: "manual"`), answered as {@link HttpAnswer}s. */
export function exchangeOverFetch(fetchImpl: typeof fetch): HttpExchange {
  return async (url, init) => {
    const response = await fetchImpl(url, {
      method: init.method ?? "GET",
      ...(init.headers === undefined ? {} : { headers: init.headers }),
      ...(init.body === undefined ? {} : { body: init.body }),
      redirect: "manual",
      ...(init.signal === undefined ? {} : { signal: init.signal }),
    });
    return answerOfResponse(response);
  };
}

/**
 * The Fastly client's requests: a direct one ({@link isDirect}) over Node's http/https modules
 * ({@link requestOverNodeHttp}); through a proxy, to a loopback name or with an injected resolver,
 * {@link createNetFetch}'s `fetch`.
 */
export function createNetExchange(options: NetFetchOptions = {}): HttpExchange {
  let overFetch: HttpExchange | undefined;
  return (url, init) => {
    if (isDirect(url, options.resolve) && (url.protocol === "http:" || url.protocol === "https:")) {
      return requestOverNodeHttp(url, init);
    }
    overFetch ??= exchangeOverFetch(createNetFetch(options));
    return overFetch(url, init);
  };
}

/** The Fastly client's default {@link HttpExchange}. */
export const netExchange: HttpExchange = createNetExchange();

const agents: { http?: HttpAgent; https?: HttpAgent } = {};

/**
 * The agent reads share: connections kept alive 4 s at most (or less when the server's Keep-Alive
 * hint says so), a second before a server with the common 5 s closes them, as undici's default.
 */
async function keptAlive(https: boolean): Promise<HttpAgent> {
  const options = { keepAlive: true, timeout: 4_000, scheduling: "lifo" } as const;
  if (https) return (agents.https ??= new (await import("node:https")).Agent(options));
  return (agents.http ??= new (await import("node:http")).Agent(options));
}

/** Statuses whose answer has no body. */
const NULL_BODY_STATUS = new Set([101, 204, 205, 304]);

/** An answer's headers from its raw list, as `Headers` keeps them: names in lower case, repeats joined. */
function headerLookup(raw: readonly string[]): HeaderLookup {
  const fields = new Map<string, string>();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!.trim();
    const before = fields.get(name);
    fields.set(name, before === undefined ? value : `${before}, ${value}`);
  }
  return { get: (name) => fields.get(name.toLowerCase()) ?? null };
}

/** The body of `res` as text, abandoned past `limit` bytes (or at once when Content-Length says so). */
async function readCapped(res: IncomingMessage, limit: number): Promise<string> {
  const declared = Number(res.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) {
    res.destroy();
    throw new BodyTooLargeError(limit);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    total += chunk.byteLength;
    if (total > limit) {
      res.destroy();
      throw new BodyTooLargeError(limit);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * One request sent with Node's http or https module, answered as `fetch(url, { redirect: "manual" })`
 * answers it (any status, a redirect included), without `Response`, `Headers` or web streams: the
 * connection, TLS and its certificate checks are Node's, as under `fetch`. A failure before the
 * answer rejects like `fetch`: a `TypeError("fetch failed")` whose cause is the socket's error
 * (with its `code`), or the signal's reason once it aborts, which also ends a body being read.
 * Default headers as `fetch` sends them, except `accept-encoding` (the body is never compressed,
 * so nothing to undo) and the browser's `sec-fetch-mode`.
 */
export async function requestOverNodeHttp(url: URL, init: HttpRequestInit = {}): Promise<HttpAnswer> {
  const signal = init.signal;
  signal?.throwIfAborted();
  const https = url.protocol === "https:";
  const { request } = https ? await import("node:https") : await import("node:http");
  const method = init.method ?? "GET";
  // A read may reuse a kept-alive connection (a stale one fails before anything is read, and reads
  // are retried); a write always gets a fresh one, so a server closing an idle connection as the
  // write is sent never makes its outcome unknown.
  const agent = method === "GET" || method === "HEAD" ? await keptAlive(https) : false;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(init.headers ?? {})) headers[name.toLowerCase()] = value;
  const body = init.body;
  if (body !== undefined) headers["content-type"] ??= "text/plain;charset=UTF-8";
  headers.accept ??= "*/*";
  headers["accept-language"] ??= "*";
  headers["user-agent"] ??= "node";
  signal?.throwIfAborted();
  return new Promise<HttpAnswer>((resolve, reject) => {
    let answer: IncomingMessage | undefined;
    const req = request(url, { method, headers, agent });
    // The signal ends the exchange, the body included (a deadline covers the body too).
    const onAbort = (): void => {
      const reason = signal?.reason as Error;
      req.destroy(reason);
      answer?.destroy(reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    const done = (): void => signal?.removeEventListener("abort", onAbort);
    req.on("error", (error) => {
      if (answer !== undefined) return;
      done();
      reject(
        signal?.aborted && error === signal.reason ? error : new TypeError("fetch failed", { cause: error }),
      );
    });
    req.on("response", (res) => {
      answer = res;
      res.on("close", done);
      // An error before the body is read is kept on the stream, and the read rejects with it.
      res.on("error", () => {});
      const status = res.statusCode ?? 0;
      if (status < 200 || status > 599) {
        res.destroy();
        reject(new TypeError("fetch failed", { cause: new Error(`invalid status ${status}`) }));
        return;
      }
      const empty = NULL_BODY_STATUS.has(status) || method === "HEAD";
      if (empty) res.resume();
      resolve({
        status,
        headers: headerLookup(res.rawHeaders),
        // A body cut short rejects with the socket's error (ECONNRESET), as under fetch.
        text: (limit) => (empty ? Promise.resolve("") : readCapped(res, limit)),
        discard: () => {
          res.destroy();
          return Promise.resolve();
        },
      });
    });
    req.end(body);
  });
}

/**
 * An agent for Node's http(s) modules (the AWS SDK) sending requests to `url` through the proxy
 * the variables name; undefined for a direct connection.
 */
export async function proxyAgentFor(url: string): Promise<HttpAgent | undefined> {
  const proxy = proxyFor(url);
  if (proxy === undefined) return undefined;
  const { HttpProxyAgent, HttpsProxyAgent } = await import("hpagent");
  return new URL(url).protocol === "https:"
    ? new HttpsProxyAgent({ proxy, keepAlive: true })
    : new HttpProxyAgent({ proxy, keepAlive: true });
}
