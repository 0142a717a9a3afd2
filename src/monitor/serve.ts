/**
 * `ftr serve`: a Prometheus exporter for token expiry, deployed-token health and rotation results.
 *
 * API use is bounded and independent of scrapes: a refresh (one token listing, one service listing,
 * at most one `GET /tokens/self` per environment) runs on start and then once per interval; scrapes
 * read the last values. A deployed value already identified is not asked about again while the
 * listing still shows its token alive, because every `GET /tokens/self` counts as a use of the
 * token in Fastly's records, which would hide the consumer's own last use.
 */
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { createSecretStore } from "../adapters/registry.ts";
import { writeOnlyReason } from "../adapters/support/store.ts";
import type { SecretStore } from "../adapters/types.ts";
import type { Config, EnvironmentConfig } from "../config/types.ts";
import { DEFAULT_ENDPOINT } from "../fastly/client.ts";
import {
  FastlyApiError,
  FastlyAuthError,
  FastlyForbiddenError,
  FastlyNetworkError,
  FastlyRateLimitError,
  FastlyResponseError,
  FastlyServerError,
} from "../fastly/errors.ts";
import type { AutomationToken, FastlyClient } from "../fastly/types.ts";
import { deployedState } from "../plan/gather.ts";
import type { DeployedState } from "../plan/plan.ts";
import type { NotificationSink } from "../notify/dispatch.ts";
import { runUnfinishedEvent, tokenExpiringEvent, type ExpiringToken } from "../notify/events.ts";
import { ExpiryNotices } from "../notify/expiring.ts";
import { awaitingApprovalOf, lastRotationsOf, type JournalRecord } from "../rotation/journal.ts";
import { describeUnfinished, unfinishedRunsOf } from "../rotation/unfinished.ts";
import { stateBackend } from "../rotation/state/index.ts";
import type { UnfinishedRun } from "../plan/plan.ts";
import { withUnfinished } from "./unfinished.ts";
import { silentLogger, type Logger } from "../util/log.ts";
import { redact } from "../util/redact.ts";
import { replaceControl } from "../util/escape.ts";
import { environmentVerdicts } from "./verdict.ts";
import {
  createMonitorMetrics,
  labelPair,
  renderMetricParts,
  renderMetrics,
  type MonitorMetrics,
} from "./metrics.ts";
import { collectStatus, type StatusReport } from "./status.ts";
import { setLongTimeout, type LongTimer } from "../util/timer.ts";

/** `/healthz` answers 200 while the last successful refresh is younger than this many intervals. */
export const HEALTHY_INTERVALS = 3;

/**
 * What one client may hold of the exporter. Scrapers and probes make a request or two at a time;
 * these bound what anyone else can: a client that opens hundreds of connections and sends half a
 * request on each cannot exhaust the process's file descriptors (the refresh failing with EMFILE)
 * nor keep `/healthz` from the kubelet.
 */
export interface ServeLimits {
  /** Connections held at once, all clients together; more are closed at once. */
  readonly maxConnections: number;
  /** Connections held at once from one remote address; more are closed at once. */
  readonly maxConnectionsPerAddress: number;
  /** A request's headers must have arrived within this long (ms), or the connection is closed. */
  readonly headersTimeoutMs: number;
  /** A whole request must have arrived within this long (ms). */
  readonly requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this long (ms). */
  readonly keepAliveTimeoutMs: number;
  /** Largest header section (bytes) and most header lines a request may have. */
  readonly maxHeaderBytes: number;
  readonly maxHeadersCount: number;
}

/** The limits `ftr serve` runs with. */
export const DEFAULT_SERVE_LIMITS: ServeLimits = {
  maxConnections: 256,
  maxConnectionsPerAddress: 32,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  maxHeaderBytes: 8 * 1024,
  maxHeadersCount: 50,
};

/** Thrown for a `--listen` value that is not `HOST:PORT` or `:PORT`. */
export class ListenAddressError extends Error {
  override readonly name = "ListenAddressError";
}

/**
 * `HOST:PORT`, `[IPv6]:PORT` or `:PORT` (every IPv4 interface, as Go programs read it).
 * @throws ListenAddressError with what to write instead.
 */
export function parseListen(text: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]*)):(\d{1,5})$/.exec(text.trim());
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) {
    throw new ListenAddressError(
      `--listen ${JSON.stringify(text)} is not an address: write HOST:PORT (127.0.0.1:9300), [::1]:9300 or :PORT for every interface`,
    );
  }
  const host = match[1] ?? (match[2] || "0.0.0.0");
  return { host, port };
}

/** Options of {@link startServe}. */
export interface ServeOptions {
  readonly config: Config;
  /** An account-wide client; without one, only the deployed tokens are exported. */
  readonly client?: FastlyClient | undefined;
  /** `HOST:PORT` or `:PORT`; port 0 picks a free one. */
  readonly listen: string;
  /** Time between refreshes (and the least time between two scheduled refreshes). */
  readonly intervalMs: number;
  /** The clock findings and timestamps use; default the Fastly API's (the client's `apiNow`), else the system clock. */
  readonly now?: () => Date;
  /** Injected fetch for the deployed tokens' requests (tests). */
  readonly fetch?: typeof fetch;
  /** API base URL for the deployed tokens' requests; default the client's, the config's, Fastly's. */
  readonly endpoint?: string | undefined;
  /** Plain http off loopback is allowed for those requests; default the client's, else the config's. */
  readonly allowInsecure?: boolean;
  /** Refresh failures and recoveries are logged here; default silent. */
  readonly log?: Logger;
  /** Connection and header limits; default `DEFAULT_SERVE_LIMITS`. */
  readonly limits?: Partial<ServeLimits>;
  /**
   * Told once per token per warning window when a managed token enters its environment's
   * `rotateBefore` window (remembered in the state directory across restarts). Default: none.
   */
  readonly notify?: NotificationSink;
}

/** What one refresh did. */
export interface RefreshResult {
  /** Everything was read; false keeps the last good values for what failed. */
  readonly ok: boolean;
  /** Redacted, one line each. */
  readonly errors: readonly string[];
  readonly durationMs: number;
  /** The report the metrics now reflect (absent when the listing failed). */
  readonly report?: StatusReport;
}

/** A running exporter. */
export interface ServeHandle {
  /** `http://HOST:PORT`, with the port actually bound. */
  readonly url: string;
  /** The metrics registry (for tests and embedding). */
  readonly metrics: MonitorMetrics;
  /** Refresh now; joins the refresh in flight instead of starting another. */
  refresh(): Promise<RefreshResult>;
  /** Stop refreshing, wait for a refresh in flight, close the server. Idempotent. */
  close(): Promise<void>;
}

type Identified = DeployedState & { readonly tokenId?: string };

interface CacheEntry {
  readonly digest: string;
  readonly state: Identified;
}

/** Which error kind a failure counts as in `fastly_token_rotator_api_errors_total`. */
export function errorKind(error: unknown): string {
  if (error instanceof FastlyAuthError) return "auth";
  if (error instanceof FastlyForbiddenError) return "forbidden";
  if (error instanceof FastlyRateLimitError) return "rate-limit";
  if (error instanceof FastlyServerError) return "server";
  if (error instanceof FastlyNetworkError) return "network";
  if (error instanceof FastlyResponseError) return "response";
  if (error instanceof FastlyApiError) return "request";
  return "other";
}

function message(error: unknown): string {
  return redact(error instanceof Error ? error.message : String(error));
}

/** Start the exporter: listen, refresh now and every `intervalMs`. Resolves once listening. */
export async function startServe(options: ServeOptions): Promise<ServeHandle> {
  const { config, client } = options;
  if (!(options.intervalMs > 0)) throw new RangeError("intervalMs must be positive");
  // Expiry is judged by the Fastly API's clock (its Date header) when a client has seen it.
  const now = options.now ?? (() => client?.apiNow() ?? new Date());
  const log = options.log ?? silentLogger;
  const endpoint = options.endpoint ?? client?.endpoint ?? config.fastly.endpoint ?? DEFAULT_ENDPOINT;
  const at = {
    endpoint,
    allowInsecure: options.allowInsecure ?? client?.allowInsecure ?? config.fastly.allowInsecure === true,
  };
  const metrics = createMonitorMetrics();
  const stores = new Map<string, SecretStore>(
    await Promise.all(
      config.environments.map(async (env) => [env.name, await createSecretStore(env.secret)] as const),
    ),
  );
  const cache = new Map<string, CacheEntry>();
  const deployedSeries = new Map<string, { tokenId: string; value: number }>();

  let inFlight: Promise<RefreshResult> | undefined;
  let timer: LongTimer | undefined;
  let closed = false;
  let lastOk: boolean | undefined;
  let lastSuccessAt: number | undefined; // performance.now() of the last success
  let lastError: string | undefined;

  const backend = await stateBackend(config);
  // Read once per refresh, before the status: which environments a run is switching over.
  let journal: JournalRecord[] | undefined;
  let unfinished: UnfinishedRun[] = [];
  const notifiedUnfinished = new Set<string>();
  const rotationInFlight = (env: string): boolean => unfinished.some((r) => r.environment === env);
  const readState = async (): Promise<string[]> => {
    try {
      journal = await backend.readJournal();
      const runs = unfinishedRunsOf(journal);
      const holder = runs.length > 0 ? await backend.holder().catch(() => undefined) : undefined;
      unfinished = describeUnfinished(runs, holder !== undefined);
      return [];
    } catch (error) {
      metrics.apiErrors.inc({ kind: "journal" });
      return [`journal: ${message(error)}`];
    }
  };

  const identify = async (
    env: EnvironmentConfig,
    listed: readonly AutomationToken[] | undefined,
  ): Promise<DeployedState> => {
    const store = stores.get(env.name) as SecretStore;
    if (store.readBack === false) return { status: "write-only", reason: writeOnlyReason(store.description) };
    let value: string | undefined;
    try {
      value = await store.read();
    } catch (error) {
      return { status: "unreadable", reason: message(error) };
    }
    if (value === undefined || value === "") return { status: "absent" };
    const digest = createHash("sha256").update(value).digest("hex");
    const cached = cache.get(env.name);
    if (cached && cached.digest === digest) {
      // The cache holds valid and dead values only: a refused value stays refused.
      const state = cached.state;
      if (state.status !== "valid") return state;
      const t = listed?.find((x) => x.id === state.token.id);
      if (t && (!t.expiresAt || t.expiresAt.getTime() > now().getTime())) return state;
    } else if (cached && rotationInFlight(env.name)) {
      // A rotation is switching this environment over and may be verifying that the consumer uses
      // the new token; a request of ours with it would count as such a use. Ask after the run.
      return cached.state;
    }
    const probed = await deployedState({ ...store, read: () => Promise.resolve(value) }, at, options.fetch);
    if (probed.status === "valid") {
      cache.set(env.name, { digest, state: probed });
      return probed;
    }
    if (probed.status === "dead") {
      // A refused value stays refused; remember which token it was, when we knew.
      const knownId =
        cached?.digest === digest && cached.state.status === "valid" ? cached.state.token.id : undefined;
      const state: Identified = knownId ? { ...probed, tokenId: knownId } : probed;
      cache.set(env.name, { digest, state });
      return state;
    }
    return probed;
  };

  const apply = (report: StatusReport): string[] => {
    const problems: string[] = [];
    // Each per-token family is replaced whole, its series in the report's order: a token's labels
    // are written once and shared by its series in every family.
    const findings: [string[], number[]] = [[], []];
    const expiry: [string[], number[]] = [[], []];
    const lastUsed: [string[], number[]] = [[], []];
    const info: [string[], number[]] = [[], []];
    // Distinct token ids make every family's label sets distinct (a token's findings have distinct
    // codes: status and hygiene give each code once, as status.test.ts checks), which spares
    // comparing them.
    const ids = new Set<string>();
    let unique = true;
    for (const t of report.tokens) {
      // Names come from whoever may name a token: no ESC, CR, C1 or bidi control reaches /metrics.
      const id = replaceControl(t.id);
      if (unique) unique = ids.size < ids.add(id).size;
      const labels = `${labelPair("token_id", id)},${labelPair("name", replaceControl(t.name))},${labelPair("environment", replaceControl(t.environment ?? ""))}`;
      for (const f of t.findings) {
        findings[0].push(`${labels},${labelPair("code", f.code)},${labelPair("severity", f.severity)}`);
        findings[1].push(1);
      }
      if (t.expiresAt) {
        expiry[0].push(labels);
        expiry[1].push(Date.parse(t.expiresAt) / 1000);
      }
      if (t.lastUsed) {
        lastUsed[0].push(labels);
        lastUsed[1].push(Date.parse(t.lastUsed.at) / 1000);
      }
      info[0].push(
        `${labels},${labelPair("role", replaceControl(t.role))},${labelPair("scopes", replaceControl(t.scopes.join(" ")))}`,
      );
      info[1].push(1);
    }
    metrics.finding.replace(...findings, unique);
    metrics.expiry.replace(...expiry, unique);
    metrics.lastUsed.replace(...lastUsed, unique);
    metrics.info.replace(...info, unique);
    for (const env of report.environments) {
      const d = env.deployed;
      if (d.status === "valid") deployedSeries.set(env.name, { tokenId: d.tokenId, value: 1 });
      else if (d.status === "dead") deployedSeries.set(env.name, { tokenId: d.tokenId ?? "", value: 0 });
      else if (d.status === "absent") deployedSeries.set(env.name, { tokenId: "", value: 0 });
      else if (d.status === "write-only")
        continue; // nothing to compare: no series, not a failure
      else {
        // Unknown is not dead: keep the last answer and say the refresh was incomplete.
        metrics.apiErrors.inc({ kind: d.status === "unreadable" ? "secret-store" : "deployed" });
        problems.push(`${env.name}: ${d.reason ?? d.status}`);
      }
    }
    // While a run is unfinished, the store holds what the journal says it wrote (serve does not ask
    // Fastly with a value a verifier may be watching): the new token once promoted.
    for (const run of unfinished) {
      if (run.storeHolds !== undefined)
        deployedSeries.set(run.environment, { tokenId: run.storeHolds, value: 1 });
    }
    metrics.deployed.reset();
    for (const [environment, s] of deployedSeries) {
      metrics.deployed.set(
        { environment: replaceControl(environment), token_id: replaceControl(s.tokenId) },
        s.value,
      );
    }
    metrics.environmentState.reset();
    for (const v of environmentVerdicts(report, unfinished)) {
      metrics.environmentState.set({ environment: v.environment, state: v.state }, 1);
    }
    return problems;
  };

  const applyJournal = (): string[] => {
    if (journal === undefined) return [];
    metrics.lastRotation.reset();
    for (const r of lastRotationsOf(journal)) {
      const labels = { environment: replaceControl(r.environment), result: replaceControl(r.outcome) };
      metrics.lastRotation.set(labels, Date.parse(r.at) / 1000);
    }
    metrics.awaitingApproval.reset();
    for (const a of awaitingApprovalOf(journal)) {
      metrics.awaitingApproval.set({ environment: replaceControl(a.environment) }, Date.parse(a.at) / 1000);
    }
    metrics.unfinished.reset();
    for (const run of unfinished) {
      metrics.unfinished.set(
        {
          environment: replaceControl(run.environment),
          run_id: replaceControl(run.runId),
          step: replaceControl(run.step),
          running: String(run.running === true),
        },
        Date.parse(run.at) / 1000,
      );
    }
    return [];
  };

  /** Tell the notifiers once about each run found stopped (not one a live process holds). */
  const notifyUnfinished = async (): Promise<void> => {
    const sink = options.notify;
    if (!sink) return;
    const at = now();
    await Promise.all(
      unfinished
        .filter((run) => !run.running && !notifiedUnfinished.has(`${run.runId}/${run.environment}`))
        .map(async (run) => {
          if ((await sink.emit(runUnfinishedEvent(run, at, config.configPath))) > 0) {
            notifiedUnfinished.add(`${run.runId}/${run.environment}`);
          }
        }),
    );
  };

  const notices = options.notify ? new ExpiryNotices(config.stateDir, log) : undefined;

  /** Warn once about each managed token, still in use, that has entered its warning window. */
  const notifyExpiring = async (report: StatusReport): Promise<void> => {
    const sink = options.notify;
    // Stryker disable next-line LogicalOperator: notices exists exactly when options.notify does
    if (!sink || !notices) return;
    const at = now();
    const expiring: ExpiringToken[] = [];
    for (const t of report.tokens) {
      if (t.environment === undefined || t.expiresAt === undefined || t.msLeft === undefined) continue;
      if (t.msLeft > t.rotateBeforeMs) continue;
      // A token its environment has already replaced needs no rotation (it awaits its revoke).
      const env = report.environments.find((e) => e.name === t.environment);
      if (env?.deployed.status === "valid" && env.deployed.tokenId !== t.id) continue;
      expiring.push({ environment: t.environment, tokenId: t.id, expiresAt: t.expiresAt, msLeft: t.msLeft });
    }
    await Promise.all(
      notices.pending(expiring).map(async (token) => {
        // Remembered once a notifier took it; when none did, the next refresh tries again.
        if ((await sink.emit(tokenExpiringEvent(token, at, config.configPath))) > 0) {
          notices.remember(token, at);
        }
      }),
    );
  };

  const runRefresh = async (): Promise<RefreshResult> => {
    const started = performance.now();
    const errors: string[] = [];
    errors.push(...(await readState()));
    let report: StatusReport | undefined;
    try {
      report = await collectStatus({
        client,
        config,
        now,
        ...at,
        identify,
        fallback: false,
        ...(options.fetch ? { fetch: options.fetch } : {}),
      });
      errors.push(...apply(report));
    } catch (error) {
      metrics.apiErrors.inc({ kind: errorKind(error) });
      errors.push(message(error));
    }
    errors.push(...applyJournal());
    const durationMs = performance.now() - started;
    metrics.refreshDuration.set(durationMs / 1000);
    const ok = errors.length === 0;
    metrics.refreshSuccess.set(ok ? 1 : 0);
    if (ok) {
      metrics.lastSuccessfulRefresh.set(now().getTime() / 1000);
      lastSuccessAt = performance.now();
      if (lastOk === false) log.info("refresh recovered");
    } else {
      log.warn("refresh failed; keeping the last good values", { errors: errors.join("; ") });
    }
    lastOk = ok;
    lastError = ok ? undefined : errors.join("; ");
    await render();
    if (report)
      report = withUnfinished(
        report,
        unfinished,
        `ftr resume --config ${config.configPath ?? "<config file>"}`,
      );
    if (report) await notifyExpiring(report);
    await notifyUnfinished();
    return { ok, errors, durationMs, ...(report ? { report } : {}) };
  };

  // The metrics change only in a refresh: each renders the text once and every scrape until the
  // next is served from it (at 10,000 tokens the text is megabytes, and rendering it takes longer
  // than sending it). Before the first refresh ends, a scrape renders what there is.
  let rendered: { readonly parts: readonly string[]; readonly bytes: number } | undefined;
  const render = async (): Promise<void> => {
    // A failure here leaves scrapes to render for themselves, and say what went wrong.
    rendered = await renderMetricParts(metrics.registry).then(
      (parts) => ({ parts, bytes: parts.reduce((n, part) => n + Buffer.byteLength(part), 0) }),
      () => undefined,
    );
  };

  const refresh = (): Promise<RefreshResult> => {
    inFlight ??= runRefresh().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };

  // Scheduled refreshes start at most once per interval, counted from the previous start.
  const schedule = (delay: number): void => {
    if (closed) return;
    timer = setLongTimeout(() => {
      const started = performance.now();
      void refresh().finally(() => schedule(Math.max(0, options.intervalMs - (performance.now() - started))));
    }, delay);
  };

  const healthy = (): boolean =>
    lastOk === true ||
    (lastSuccessAt !== undefined &&
      performance.now() - lastSuccessAt < HEALTHY_INTERVALS * options.intervalMs);

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { Allow: "GET, HEAD" }).end();
      return;
    }
    if (path === "/metrics") {
      const contentType = metrics.registry.contentType;
      if (rendered !== undefined) {
        // The pieces in turn (the per-token families are megabytes each), as one response.
        res.writeHead(200, { "Content-Type": contentType, "Content-Length": rendered.bytes });
        for (const part of rendered.parts) res.write(part);
        res.end();
        return;
      }
      renderMetrics(metrics.registry).then(
        (text) => res.writeHead(200, { "Content-Type": contentType }).end(text),
        (error: unknown) => res.writeHead(500, { "Content-Type": "text/plain" }).end(message(error)),
      );
      return;
    }
    if (path === "/healthz") {
      const ok = healthy();
      const body = {
        status: ok ? "ok" : lastOk === undefined ? "starting" : "failing",
        lastRefreshOk: lastOk ?? null,
        secondsSinceLastSuccess:
          lastSuccessAt === undefined ? null : Math.round((performance.now() - lastSuccessAt) / 1000),
        ...(lastError ? { lastError } : {}),
      };
      res.writeHead(ok ? 200 : 503, { "Content-Type": "application/json" }).end(JSON.stringify(body) + "\n");
      return;
    }
    if (path === "/") {
      res
        .writeHead(200, { "Content-Type": "text/plain; charset=utf-8" })
        .end("fastly-token-rotator exporter: /metrics, /healthz\n");
      return;
    }
    res.writeHead(404, { "Content-Type": "text/plain" }).end("not found\n");
  };

  const { host, port } = parseListen(options.listen);
  const limits: ServeLimits = { ...DEFAULT_SERVE_LIMITS, ...options.limits };
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      maxHeaderSize: limits.maxHeaderBytes,
      // How often the two timeouts above are checked: often enough to hold them within a second.
      connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs),
    },
    handle,
  );
  server.maxConnections = limits.maxConnections;
  server.maxHeadersCount = limits.maxHeadersCount;
  const perAddress = new Map<string, number>();
  // Node's own headersTimeout did not close a connection holding half a header section: each
  // connection gets a deadline for its next request's headers, cleared when they are complete.
  const headerDeadlines = new WeakMap<Socket, NodeJS.Timeout>();
  const awaitHeaders = (socket: Socket): void => {
    clearTimeout(headerDeadlines.get(socket));
    const timer = setTimeout(() => socket.destroy(), limits.headersTimeoutMs);
    timer.unref();
    headerDeadlines.set(socket, timer);
  };
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    clearTimeout(headerDeadlines.get(req.socket));
    // A kept-alive connection waits for the next request's headers under the same deadline.
    res.once("finish", () => {
      if (!req.socket.destroyed) awaitHeaders(req.socket);
    });
  });
  server.on("connection", (socket: Socket) => {
    const address = socket.remoteAddress ?? "";
    const held = (perAddress.get(address) ?? 0) + 1;
    if (held > limits.maxConnectionsPerAddress) {
      socket.destroy();
      return;
    }
    perAddress.set(address, held);
    awaitHeaders(socket);
    socket.once("close", () => {
      clearTimeout(headerDeadlines.get(socket));
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left <= 0) perAddress.delete(address);
      else perAddress.set(address, left);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${bound}`;
  schedule(0);

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      closed = true;
      timer?.clear();
      await inFlight?.catch(() => undefined);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    })();
    return closing;
  };
  return { url, metrics, refresh, close };
}
