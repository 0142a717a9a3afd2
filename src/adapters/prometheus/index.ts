import type { Verifier, VerifyContext, VerifyResult } from "../types.ts";
import { errorMessage, resolveDeps, resolveHeaders, type AdapterDeps } from "../support/deps.ts";
import { formatDuration } from "../../util/time.ts";
import type { PrometheusConfig } from "./schema.ts";
import type { OptionsOf } from "../support/config.ts";
import { pollUntil, PollTimeoutError, type Probe } from "../support/poll.ts";
import { BodyTooLargeError, isRedirect, readTextCapped, redirectHost } from "../../util/http.ts";

/** Options of the `prometheus` verifier (already validated; durations in ms). */
export type PrometheusVerifierOptions = OptionsOf<
  PrometheusConfig,
  "metric" | "tokenIdLabel" | "requireOthersAbsent" | "headers" | "intervalMs"
>;

/** A failed query: Prometheus said `status: error`, answered non-2xx, or could not be reached. */
export class PrometheusQueryError extends Error {
  override readonly name = "PrometheusQueryError";
  /** HTTP status, when there was a response. */
  readonly status: number | undefined;
  constructor(message: string, status?: number, options?: ErrorOptions) {
    super(message, options);
    this.status = status;
  }
}

/** One series of an instant-vector result. */
export interface PrometheusSample {
  readonly metric: Readonly<Record<string, string>>;
  readonly value: readonly [number, string];
}

const DEFAULT_METRIC = "fastly_rt_token_expiration";
const DEFAULT_LABEL = "token_id";
const DEFAULT_INTERVAL_MS = 5000;
const REQUEST_TIMEOUT_MS = 10_000;
/** A query's answer is a few series; anything near this is not Prometheus. */
const MAX_BODY_BYTES = 8 * 1024 * 1024;

/** Quotes a PromQL label value. */
export function promqlString(value: string): string {
  return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
}

/** Escapes a string for use inside a PromQL (RE2) regular expression. */
function regexLiteral(value: string): string {
  return value.replace(/[\\^$.|?*+()[\]{}]/g, "\\$&");
}

/**
 * Runs an instant query (`GET /api/v1/query`) and returns the result vector (or the raw result for
 * scalar and string results, wrapped as one sample).
 */
export async function queryPrometheus(
  fetchImpl: typeof fetch,
  baseUrl: string,
  query: string,
  options: { headers?: Readonly<Record<string, string>>; signal?: AbortSignal } = {},
): Promise<PrometheusSample[]> {
  const url = `${baseUrl.replace(/\/+$/, "")}/api/v1/query?query=${encodeURIComponent(query)}`;
  const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  let response: Response;
  try {
    response = await fetchImpl(url, {
      headers: { Accept: "application/json", ...options.headers },
      // Never followed: the configured headers (credentials) would go to the Location's host.
      redirect: "manual",
      signal,
    });
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
    throw new PrometheusQueryError(`cannot reach ${baseUrl}: ${errorMessage(cause)}`, undefined, {
      cause: error,
    });
  }
  if (isRedirect(response.status)) {
    await response.body?.cancel().catch(() => {});
    const host = redirectHost(response.headers.get("location"), url);
    throw new PrometheusQueryError(
      `${baseUrl} answered HTTP ${response.status}, redirecting to ${host}; redirects are not followed (the headers would go to that host): configure the URL it redirects to`,
      response.status,
    );
  }
  let text: string;
  try {
    text = await readTextCapped(response, MAX_BODY_BYTES);
  } catch (error) {
    const why = error instanceof BodyTooLargeError ? error.message : errorMessage(error);
    throw new PrometheusQueryError(
      `${baseUrl} answered HTTP ${response.status}, but ${why}`,
      response.status,
    );
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new PrometheusQueryError(
      `${baseUrl} answered HTTP ${response.status} with a body that is not JSON`,
      response.status,
    );
  }
  const envelope = body as {
    status?: unknown;
    error?: unknown;
    errorType?: unknown;
    data?: { resultType?: unknown; result?: unknown };
  };
  if (!response.ok || envelope.status !== "success") {
    const why =
      typeof envelope.error === "string"
        ? `${typeof envelope.errorType === "string" ? `${envelope.errorType}: ` : ""}${envelope.error}`
        : `status ${JSON.stringify(envelope.status)}`;
    throw new PrometheusQueryError(
      `${baseUrl} query failed (HTTP ${response.status}): ${why}`,
      response.status,
    );
  }
  const { resultType, result } = envelope.data ?? {};
  if (resultType === "vector" || resultType === "matrix") {
    if (!Array.isArray(result)) throw new PrometheusQueryError(`${baseUrl}: malformed result`);
    return result.map((item: { metric?: Record<string, string>; value?: [number, string] }) => ({
      metric: item.metric ?? {},
      value: item.value ?? [0, ""],
    }));
  }
  if (resultType === "scalar" || resultType === "string") {
    return Array.isArray(result) ? [{ metric: {}, value: result as [number, string] }] : [];
  }
  throw new PrometheusQueryError(`${baseUrl}: unexpected result type ${JSON.stringify(resultType)}`);
}

/**
 * Asks Prometheus whether the consumer exports the expected token id: fastly-exporter publishes
 * `fastly_rt_token_expiration{token_id="..."}` from `GET /tokens/self` at start, so the series
 * appearing proves a restarted exporter runs with the new token.
 */
export function createPrometheusVerifier(
  options: PrometheusVerifierOptions,
  deps: AdapterDeps = {},
): Verifier {
  const { fetch: fetchImpl, clock, env } = resolveDeps(deps);
  const headers = resolveHeaders(options.headers, env, `prometheus verifier ${options.url}`);
  const metric = options.metric ?? DEFAULT_METRIC;
  const label = options.tokenIdLabel ?? DEFAULT_LABEL;
  const interval = options.intervalMs ?? DEFAULT_INTERVAL_MS;
  const requestOptions = (signal: AbortSignal | undefined) => ({
    headers,
    ...(signal === undefined ? {} : { signal }),
  });

  return {
    description: `prometheus ${options.url} ${metric}{${label}}`,
    async verify(ctx: VerifyContext): Promise<VerifyResult> {
      const expected = `${metric}{${label}=${promqlString(ctx.tokenId)}}`;
      const others =
        ctx.otherTokenIds.length === 0
          ? undefined
          : `${metric}{${label}=~${promqlString(ctx.otherTokenIds.map(regexLiteral).join("|"))}}`;
      const query = (q: string) => queryPrometheus(fetchImpl, options.url, q, requestOptions(ctx.signal));
      let lastProblem = "";
      const look = async (): Promise<Probe<VerifyResult>> => {
        try {
          const found = await query(expected);
          if (found.length === 0) {
            lastProblem = `no series ${expected}${await seenIds(query, metric, label)}`;
          } else {
            const extra = options.query === undefined ? undefined : await query(options.query);
            const stillThere =
              others === undefined ? [] : (await query(others)).map((s) => s.metric[label] ?? "?");
            if (extra !== undefined && extra.length === 0) {
              lastProblem = `${expected} present, but query ${options.query ?? ""} returned no result`;
            } else if (options.requireOthersAbsent && stillThere.length > 0) {
              lastProblem = `${expected} present, but old token ids still exported: ${unique(stillThere).join(", ")}`;
            } else {
              const note =
                stillThere.length > 0
                  ? `; old token ids still exported: ${unique(stillThere).join(", ")}`
                  : others === undefined
                    ? ""
                    : "; old token ids absent";
              return {
                done: true,
                value: { ok: true, detail: `${expected} present (${found.length} series)${note}` },
              };
            }
          }
        } catch (error) {
          // Prometheus may be restarting or the network blipping: keep polling until the timeout.
          lastProblem = errorMessage(error);
        }
        return { done: false, reason: lastProblem };
      };
      try {
        return await pollUntil(
          {
            deadline: clock.now() + options.timeoutMs,
            interval,
            signal: ctx.signal,
            clock,
            onWait: ctx.onWaiting,
          },
          look,
        );
      } catch (error) {
        if (!(error instanceof PollTimeoutError) && !ctx.signal?.aborted) throw error;
      }
      const interrupted = ctx.signal?.aborted
        ? "interrupted"
        : `timed out after ${formatDuration(options.timeoutMs)}`;
      return { ok: false, detail: `${interrupted}: ${lastProblem}` };
    },
  };
}

/** For a failure message: which token ids Prometheus does show for the metric. */
async function seenIds(
  query: (q: string) => Promise<PrometheusSample[]>,
  metric: string,
  label: string,
): Promise<string> {
  try {
    const ids = unique((await query(`count by (${label}) (${metric})`)).map((s) => s.metric[label] ?? ""));
    const shown = ids.filter((id) => id !== "");
    if (shown.length === 0) return ` (no ${metric} series at all)`;
    return ` (${label} seen: ${shown.slice(0, 10).join(", ")}${shown.length > 10 ? ", ..." : ""})`;
  } catch {
    return "";
  }
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)].sort();
}

/** The registry's entry point (see `../registry.ts`). */
export { createPrometheusVerifier as create };
