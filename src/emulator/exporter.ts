/**
 * A stand-in for fastly-exporter (github.com/fastly/fastly-exporter) that behaves like it where a
 * token rotation cares: the token is read once at start and never again, `GET /tokens/self` is
 * called once and exported as `fastly_rt_token_expiration{token_id,user_id}`, every allowed service
 * is polled on the real-time channel, a 401/403 logs `token may be invalid` and backs off, and
 * `/metrics` serves it all. Unlike the real exporter, the API endpoint can be pointed anywhere,
 * so it can run against the emulator.
 */
import { STATUS_CODES, createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { readFile } from "node:fs/promises";
import { Counter, Gauge, Registry } from "prom-client";
import * as z from "zod";
import { tokenSelfSchema } from "../fastly/schemas.ts";

/** Options of {@link startExporter}. */
export interface ExporterOptions {
  /** API base URL, e.g. the emulator's `http://127.0.0.1:PORT` (the real one is fixed to api.fastly.com). */
  readonly endpoint: string;
  /** Real-time API base URL; defaults to `endpoint` (the emulator serves both). */
  readonly realtimeEndpoint?: string;
  /** The Fastly API token, given once. It is never read again and never logged. */
  readonly token: string;
  /** Where `/metrics` is served; port 0 picks a free port. */
  readonly listen: { readonly host: string; readonly port: number };
  /** Export only services whose name matches one of these (all services when empty or unset). */
  readonly serviceAllowlist?: readonly RegExp[];
  /** Pause between real-time polls of one service; default 1 s (rt.fastly.com long-polls about that long). */
  readonly pollIntervalMs?: number;
  /** How often the service list is refreshed; default 60 s like the real exporter. */
  readonly serviceRefreshMs?: number;
  /** Pause after a 401/403 from the real-time API; default 120 s like the real exporter. */
  readonly authBackoffMs?: number;
  /** Pause after another non-200 or a network error; default 5 s like the real exporter. */
  readonly errorBackoffMs?: number;
  /** Per-request timeout; default 15 s. */
  readonly requestTimeoutMs?: number;
  /** Receives each logfmt log line (without newline); default: dropped. */
  readonly log?: (line: string) => void;
  /** HTTP client; defaults to the global `fetch`. */
  readonly fetch?: typeof fetch;
}

/** Counters a test can read without scraping. */
export interface ExporterStats {
  /** Real-time polls answered 401 or 403. */
  readonly refused: number;
  /** Real-time polls answered 200 with data. */
  readonly realtimeOk: number;
}

/** A running exporter stand-in. */
export interface Exporter {
  /** Base URL, e.g. `http://127.0.0.1:41234`; metrics at `${url}/metrics`. */
  readonly url: string;
  readonly stats: ExporterStats;
  /** The metrics registry (its own, not prom-client's global one). */
  readonly registry: Registry;
  /** Stops polling and the HTTP server. */
  close(): Promise<void>;
}

/** What the stand-in sends as User-Agent, in the real exporter's format. */
export const EXPORTER_USER_AGENT = "Fastly-Exporter (ftr-standin)";

const API_COMPONENT = "api.fastly.com";
const RT_COMPONENT = "rt.fastly.com";
// The real exporter's per_page: the most api.fastly.com/service allows.
const SERVICE_LIST_PATH = "/service?page=1&per_page=1000&filter%5Binclude_versions%5D=false";
// After a body that is not JSON the real exporter retries after one second.
const DECODE_BACKOFF_MS = 1000;

interface ServiceEntry {
  readonly id: string;
  readonly name: string;
  readonly version: number;
}

interface Subscriber {
  readonly id: string;
  readonly controller: AbortController;
  done: Promise<void>;
  /** Updated on service refresh, so a renamed service is labelled with its new name. */
  name: string;
}

/** Formats one logfmt line the way go-kit's logger does. */
function logfmt(fields: Record<string, string | number | undefined>): string {
  return Object.entries(fields)
    .filter((entry): entry is [string, string | number] => entry[1] !== undefined)
    .map(([key, value]) => {
      const text = String(value);
      return `${key}=${/^[^\s"=]+$/.test(text) ? text : JSON.stringify(text)}`;
    })
    .join(" ");
}

function wait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

/** `Link: <url>; rel="next"` → url, resolved against the request URL. */
function nextLink(header: string | null, base: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(",")) {
    const match = /<([^>]*)>\s*;.*\brel="?next"?/.exec(part);
    if (match?.[1]) return new URL(match[1], base).toString();
  }
  return undefined;
}

/*
 * The bodies the stand-in reads, parsed as leniently as the real exporter's Go decoding: a field of
 * the wrong type is as good as absent, and only what it reads is listed.
 */
const optionalString = z.string().optional().catch(undefined);
const positiveNumber = z.number().catch(0);

/** An API error body: its `msg`, when there is one. */
const apiErrorBody = z.object({ msg: optionalString }).catch({});

/** `GET /service`: an array; items without a string id are skipped. */
const serviceList = z.array(
  z
    .object({ id: optionalString, name: z.string().catch(""), version: z.number().catch(0) })
    .catch({ id: undefined, name: "", version: 0 }),
);

/** The counters of one datacenter (or the aggregate): any key, numbers read where present. */
const metricsBody = z.record(z.string(), z.unknown()).catch({});

/** One entry of a real-time answer's `Data`. */
const realtimeEntry = z
  .object({
    datacenter: z.record(z.string(), metricsBody).optional().catch(undefined),
    aggregated: metricsBody.optional(),
  })
  .optional()
  .catch(undefined);

/** A real-time answer (`rt.fastly.com/v1/channel/<id>/ts/<ts>`). */
const realtimeBody = z.object({
  Timestamp: z.number().optional().catch(undefined),
  Error: optionalString,
  Data: z.array(realtimeEntry).catch([]),
});

/** A counter's value in a metrics object: a positive finite number, else 0. */
function num(metrics: Readonly<Record<string, unknown>>, key: string): number {
  const value = positiveNumber.parse(metrics[key]);
  return Number.isFinite(value) && value > 0 ? value : 0;
}

/** The JSON in a text, or undefined when it is not JSON. */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Starts the stand-in: fetches token and services once, starts polling, and listens. */
export async function startExporter(options: ExporterOptions): Promise<Exporter> {
  const endpoint = options.endpoint.replace(/\/+$/, "");
  const realtimeEndpoint = (options.realtimeEndpoint ?? options.endpoint).replace(/\/+$/, "");
  // Captured here, once: nothing below reads the token from anywhere else.
  const token = options.token;
  const fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const pollIntervalMs = options.pollIntervalMs ?? 1000;
  const serviceRefreshMs = options.serviceRefreshMs ?? 60_000;
  const authBackoffMs = options.authBackoffMs ?? 120_000;
  const errorBackoffMs = options.errorBackoffMs ?? 5000;
  const requestTimeoutMs = options.requestTimeoutMs ?? 15_000;
  const allowlist = options.serviceAllowlist ?? [];
  const emit = options.log ?? (() => {});
  const log = (level: string, fields: Record<string, string | number | undefined>): void =>
    emit(logfmt({ ts: new Date().toISOString(), level, ...fields }));

  const stopping = new AbortController();
  const stats = { refused: 0, realtimeOk: 0 };

  const registry = new Registry();
  const tokenExpiration = new Gauge({
    name: "fastly_rt_token_expiration",
    help: "Unix timestamp of the expiration time of the Fastly API token",
    labelNames: ["token_id", "user_id"],
    registers: [registry],
  });
  const serviceInfo = new Gauge({
    name: "fastly_rt_service_info",
    help: "Static gauge with service ID, name, and version information.",
    labelNames: ["service_id", "service_name", "service_version"],
    registers: [registry],
  });
  const realtimeRequests = new Counter({
    name: "fastly_rt_realtime_api_requests_total",
    help: "Total requests made to the real-time stats API.",
    labelNames: ["service_id", "service_name", "result"],
    registers: [registry],
  });
  const lastSuccess = new Gauge({
    name: "fastly_rt_last_successful_response",
    help: "Unix timestamp of the last successful response received from the real-time stats API.",
    labelNames: ["service_id", "service_name"],
    registers: [registry],
  });
  const perDatacenter = ["service_id", "service_name", "datacenter"] as const;
  const counters = {
    requests: new Counter({
      name: "fastly_rt_requests_total",
      help: "Total number of requests.",
      labelNames: perDatacenter,
      registers: [registry],
    }),
    edge_requests: new Counter({
      name: "fastly_rt_edge_total",
      help: "Number of requests sent by end users to Fastly.",
      labelNames: perDatacenter,
      registers: [registry],
    }),
    hits: new Counter({
      name: "fastly_rt_hits_total",
      help: "Number of cache hits.",
      labelNames: perDatacenter,
      registers: [registry],
    }),
    miss: new Counter({
      name: "fastly_rt_miss_total",
      help: "Number of cache misses.",
      labelNames: perDatacenter,
      registers: [registry],
    }),
    errors: new Counter({
      name: "fastly_rt_errors_total",
      help: "Number of cache errors.",
      labelNames: perDatacenter,
      registers: [registry],
    }),
  } as const;

  const request = (url: string): Promise<Response> =>
    fetchImpl(url, {
      headers: { "Fastly-Key": token, Accept: "application/json", "User-Agent": EXPORTER_USER_AGENT },
      signal: AbortSignal.any([stopping.signal, AbortSignal.timeout(requestTimeoutMs)]),
    });

  /** The real exporter's api.Error text: `api.fastly.com responded with <status text> (<msg>)`. */
  const apiError = async (response: Response): Promise<string> => {
    // A body that is not JSON says nothing: the status alone says enough.
    const msg = apiErrorBody.parse(parseJson(await response.text().catch(() => ""))).msg ?? "";
    const text = response.statusText || STATUS_CODES[response.status] || String(response.status);
    return `${API_COMPONENT} responded with ${text}${msg ? ` (${msg})` : ""}`;
  };

  const recordToken = async (): Promise<void> => {
    try {
      const response = await request(`${endpoint}/tokens/self`);
      if (!response.ok) throw new Error(await apiError(response));
      const self = tokenSelfSchema.safeParse(await response.json());
      // Like the real one: no series for a token without expiry (or Go's zero time).
      const expires = self.data?.expiresAt?.getTime() ?? NaN;
      if (self.data && Number.isFinite(expires) && expires > 0) {
        tokenExpiration.set(
          { token_id: self.data.id, user_id: self.data.userId ?? "" },
          Math.floor(expires / 1000),
        );
      }
    } catch (error) {
      log("error", { component: API_COMPONENT, during: "set token gauge metric", err: message(error) });
    }
  };

  const fetchServices = async (): Promise<ServiceEntry[]> => {
    const services: ServiceEntry[] = [];
    let url: string | undefined = `${endpoint}${SERVICE_LIST_PATH}`;
    while (url !== undefined) {
      const response = await request(url);
      if (!response.ok) throw new Error(await apiError(response));
      const page = serviceList.safeParse(await response.json());
      if (!page.success) throw new Error(`${API_COMPONENT}: service list is not an array`);
      for (const { id, name, version } of page.data) {
        if (id === undefined) continue;
        if (allowlist.length > 0 && !allowlist.some((re) => re.test(name))) continue;
        services.push({ id, name, version });
      }
      url = nextLink(response.headers.get("link"), url);
    }
    return services;
  };

  const subscribers = new Map<string, Subscriber>();

  const pollOnce = async (service: Subscriber, ts: number): Promise<[number, number]> => {
    const labels = () => ({ service_id: service.id, service_name: service.name });
    const count = (result: string): void => realtimeRequests.inc({ ...labels(), result });
    let response: Response;
    try {
      response = await request(`${realtimeEndpoint}/v1/channel/${encodeURIComponent(service.id)}/ts/${ts}`);
    } catch (error) {
      if (stopping.signal.aborted || service.controller.signal.aborted) return [ts, 0];
      log("error", {
        component: RT_COMPONENT,
        service_id: service.id,
        during: "execute request",
        err: message(error),
      });
      count("error");
      return [ts, errorBackoffMs];
    }
    // The real exporter sets this after every poll that was not fatal, refusals included; kept so
    // checks built on it behave here as they would in production.
    const markSeen = (): void => lastSuccess.set(labels(), Math.floor(Date.now() / 1000));
    const parsed = realtimeBody.safeParse(parseJson(await response.text().catch(() => "")));
    const body = parsed.success ? parsed.data : undefined;
    if (response.status === 401 || response.status === 403) {
      stats.refused += 1;
      count("error");
      markSeen();
      log("error", {
        component: RT_COMPONENT,
        service_id: service.id,
        status_code: response.status,
        response_ts: body?.Timestamp ?? 0,
        err: body?.Error || "<none>",
        msg: "token may be invalid",
      });
      return [ts, authBackoffMs];
    }
    if (response.status !== 200) {
      count("unknown");
      markSeen();
      log("error", {
        component: RT_COMPONENT,
        service_id: service.id,
        status_code: response.status,
        msg: "unexpected response",
      });
      return [ts, errorBackoffMs];
    }
    if (body === undefined) {
      count("error");
      log("error", {
        component: RT_COMPONENT,
        service_id: service.id,
        during: "decode response",
        err: "not JSON",
      });
      return [ts, DECODE_BACKOFF_MS];
    }
    markSeen();
    const next = body.Timestamp ?? ts;
    if (body.Error?.includes("No data available")) {
      count("no data");
      return [next, pollIntervalMs];
    }
    count("success");
    stats.realtimeOk += 1;
    for (const entry of body.Data) {
      if (entry === undefined) continue;
      const { datacenter, aggregated } = entry;
      const byPop =
        datacenter !== undefined && Object.keys(datacenter).length > 0
          ? Object.entries(datacenter)
          : [["aggregated", aggregated ?? {}] as const];
      for (const [pop, metrics] of byPop) {
        for (const [key, counter] of Object.entries(counters)) {
          const value = num(metrics, key);
          if (value > 0) counter.inc({ ...labels(), datacenter: pop }, value);
        }
      }
    }
    return [next, pollIntervalMs];
  };

  const subscribe = (service: ServiceEntry): void => {
    const controller = new AbortController();
    const signal = AbortSignal.any([stopping.signal, controller.signal]);
    const subscriber: Subscriber = {
      id: service.id,
      name: service.name,
      controller,
      done: Promise.resolve(),
    };
    const loop = async (): Promise<void> => {
      let ts = 0;
      while (!signal.aborted) {
        const [next, pause] = await pollOnce(subscriber, ts);
        ts = next;
        await wait(pause, signal);
      }
    };
    subscriber.done = loop();
    subscribers.set(service.id, subscriber);
  };

  const applyServices = (services: readonly ServiceEntry[]): void => {
    const wanted = new Map(services.map((s) => [s.id, s]));
    for (const [id, subscriber] of subscribers) {
      if (!wanted.has(id)) {
        subscriber.controller.abort();
        subscribers.delete(id);
      }
    }
    serviceInfo.reset();
    for (const service of services) {
      serviceInfo.set(
        { service_id: service.id, service_name: service.name, service_version: String(service.version) },
        1,
      );
      const existing = subscribers.get(service.id);
      if (existing) existing.name = service.name;
      else subscribe(service);
    }
  };

  const refreshServices = async (initial: boolean): Promise<void> => {
    try {
      applyServices(await fetchServices());
    } catch (error) {
      if (stopping.signal.aborted) return;
      // Like the real exporter, a failed refresh keeps the previous set of services.
      log("warn", {
        component: API_COMPONENT,
        during: initial ? "initial fetch of service IDs" : "service refresh",
        err: message(error),
        msg: initial
          ? "service metrics unavailable, will retry"
          : "the set of exported services and their metadata may be stale",
      });
    }
  };

  await recordToken();
  await refreshServices(true);
  const refresher = (async () => {
    while (!stopping.signal.aborted) {
      await wait(serviceRefreshMs, stopping.signal);
      if (!stopping.signal.aborted) await refreshServices(false);
    }
  })();

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/metrics") {
      registry.metrics().then(
        (text) => {
          res.writeHead(200, { "Content-Type": registry.contentType });
          res.end(text);
        },
        (error: unknown) => {
          res.writeHead(500, { "Content-Type": "text/plain" });
          res.end(message(error));
        },
      );
      return;
    }
    if (path === "/healthz") {
      res.writeHead(200, { "Content-Type": "text/plain" });
      res.end("OK\n");
      return;
    }
    if (path === "/") {
      res.writeHead(200, { "Content-Type": "text/html" });
      res.end('<a href="/metrics">/metrics</a>\n');
      return;
    }
    res.writeHead(404, { "Content-Type": "text/plain" });
    res.end("not found\n");
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.listen.port, options.listen.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (error) {
    stopping.abort();
    throw error;
  }
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;

  let closing: Promise<void> | undefined;
  return {
    url,
    registry,
    stats: {
      get refused() {
        return stats.refused;
      },
      get realtimeOk() {
        return stats.realtimeOk;
      },
    },
    close() {
      closing ??= (async () => {
        stopping.abort();
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await refresher;
        await Promise.all([...subscribers.values()].map((s) => s.done));
      })();
      return closing;
    },
  };
}

/** Options of {@link runExporterFromCli}, as a command line gives them. */
export interface ExporterCliOptions {
  /** API base URL (`--endpoint`). */
  readonly endpoint: string;
  /** `host:port`, `[v6]:port` or `:port` (all interfaces); default `127.0.0.1:8080` like the real one. */
  readonly listen?: string;
  /** Read the token from this file (`--token-file`) instead of `FASTLY_API_TOKEN`. */
  readonly tokenFile?: string;
  /** Regular expressions on service names (`--service-allowlist`, repeatable). */
  readonly serviceAllowlist?: readonly string[];
  /** Duration like `1s` or `200ms`, or milliseconds (`--poll-interval`). */
  readonly pollInterval?: string | number;
  /** Duration or milliseconds (`--service-refresh`). */
  readonly serviceRefresh?: string | number;
  /** Duration or milliseconds to back off after a 401/403 (`--auth-backoff`). */
  readonly authBackoff?: string | number;
  /** Environment to read `FASTLY_API_TOKEN` from; default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Where the one "listening" line goes; default stdout. */
  readonly stdout?: { write(text: string): unknown };
  /** Where log lines go; default stderr. */
  readonly stderr?: { write(text: string): unknown };
  /** Stops the exporter when aborted (besides SIGTERM and SIGINT). */
  readonly signal?: AbortSignal;
}

/** Parses `1s`, `200ms`, `2m`, `1h` (or a number of ms) into milliseconds. */
export function parseExporterDuration(value: string | number, flag: string): number {
  if (typeof value === "number") return value;
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(value.trim());
  if (!match?.[1] || !match[2])
    throw new Error(`${flag}: expected a duration like 1s or 200ms, got ${JSON.stringify(value)}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] as "ms" | "s" | "m" | "h"];
  return Math.round(Number(match[1]) * unit);
}

/** Parses `host:port`, `[v6]:port` or `:port`. */
export function parseListenAddress(value: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value.trim());
  const port = Number(match?.[3]);
  if (!match || !Number.isInteger(port) || port > 65535) {
    throw new Error(`--listen: expected host:port, got ${JSON.stringify(value)}`);
  }
  return { host: match[1] ?? (match[2] || "0.0.0.0"), port };
}

/**
 * Runs the stand-in as a process would: the token from `--token-file` or `FASTLY_API_TOKEN`, read
 * once; one line `fastly-exporter stand-in listening on <url>` on stdout; logs on stderr; resolves
 * after a clean shutdown on SIGTERM, SIGINT or `signal`.
 */
export async function runExporterFromCli(options: ExporterCliOptions): Promise<void> {
  const env = options.env ?? process.env;
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  const token = options.tokenFile
    ? (await readFile(options.tokenFile, "utf8")).trim()
    : (env.FASTLY_API_TOKEN ?? "").trim();
  if (token === "") {
    throw new Error(
      options.tokenFile
        ? `--token-file ${options.tokenFile} is empty`
        : "no token: set FASTLY_API_TOKEN or pass --token-file",
    );
  }
  const allowlist = (options.serviceAllowlist ?? []).map((source) => {
    try {
      return new RegExp(source);
    } catch {
      throw new Error(`--service-allowlist: invalid regular expression ${JSON.stringify(source)}`);
    }
  });
  const exporter = await startExporter({
    endpoint: options.endpoint,
    token,
    listen: parseListenAddress(options.listen ?? "127.0.0.1:8080"),
    serviceAllowlist: allowlist,
    log: (line) => stderr.write(`${line}\n`),
    ...(options.pollInterval === undefined
      ? {}
      : { pollIntervalMs: parseExporterDuration(options.pollInterval, "--poll-interval") }),
    ...(options.serviceRefresh === undefined
      ? {}
      : { serviceRefreshMs: parseExporterDuration(options.serviceRefresh, "--service-refresh") }),
    ...(options.authBackoff === undefined
      ? {}
      : { authBackoffMs: parseExporterDuration(options.authBackoff, "--auth-backoff") }),
  });
  stdout.write(`fastly-exporter stand-in listening on ${exporter.url}\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off("SIGTERM", stop);
      process.off("SIGINT", stop);
      options.signal?.removeEventListener("abort", stop);
      resolve();
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
    if (options.signal?.aborted) stop();
    else options.signal?.addEventListener("abort", stop, { once: true });
  });
  await exporter.close();
}

function message(error: unknown): string {
  if (error instanceof Error) {
    // fetch failures hide the useful part (ECONNREFUSED...) in `cause`.
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
    return `${error.message}${cause}`;
  }
  return String(error);
}
