/** `verify: - { type: prometheus }`: the config as written, and the verifier's Options. */
import * as z from "zod";
import { isSecureOrLoopback } from "../../util/http.ts";
import type { AdapterTarget } from "../support/describe.ts";
import {
  checkInterval,
  defined,
  duration,
  headerValue,
  intervalField,
  warnLiteralCredentials,
  type ConfigContext,
} from "../support/config.ts";

/** Metric and label name grammars from the Prometheus data model. */
const METRIC_NAME_PATTERN = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME_PATTERN = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** The `prometheus` verify step: Prometheus shows the exporter using the new token. */
export function prometheusSchema(ctx: ConfigContext) {
  return z
    .strictObject({
      type: z.literal("prometheus"),
      url: z
        .url({
          protocol: /^https?$/,
          error: "give the Prometheus base URL with http:// or https://, e.g. http://127.0.0.1:9090",
        })
        .meta({ description: "Prometheus base URL.", examples: ["http://127.0.0.1:9090"] }),
      metric: z
        .string()
        .regex(METRIC_NAME_PATTERN, { error: "not a Prometheus metric name; use letters, digits, _ and :" })
        .meta({ description: "Metric carrying the token id.", examples: ["fastly_rt_token_expiration"] })
        .default("fastly_rt_token_expiration"),
      tokenIdLabel: z
        .string()
        .regex(LABEL_NAME_PATTERN, { error: "not a Prometheus label name; use letters, digits and _" })
        .meta({ description: "Label of the metric holding the token id.", examples: ["token_id"] })
        .default("token_id"),
      query: z
        .string()
        .min(1, { error: "the query is empty; give a PromQL expression or remove query" })
        .meta({
          description: "PromQL that must return a non-empty result for the consumer to count as healthy.",
          examples: ['up{job="fastly-exporter"} == 1'],
        })
        .optional(),
      requireOthersAbsent: z
        .boolean()
        .meta({
          description:
            "Also require the old tokens' ids to be gone from the metric (otherwise they are only reported).",
          examples: [true],
        })
        .default(false),
      headers: z
        .record(z.string(), headerValue)
        .meta({
          description:
            "Extra HTTP headers for Prometheus queries, e.g. Authorization for a protected server: a value, or { valueFromEnv: NAME } to read it from the environment (credentials belong there).",
          examples: [
            { "X-Scope-OrgID": "monitoring", Authorization: { valueFromEnv: "PROMETHEUS_AUTHORIZATION" } },
          ],
        })
        .default({}),
      timeout: duration("Give up after this long.", "2m"),
      interval: intervalField(),
    })
    .meta({
      description:
        "Wait until Prometheus shows the exporter using the new token (and `query`, if set, holds).",
    })
    .transform(({ type, url, query, timeout, interval, ...rest }, issues) => {
      const step = { timeoutMs: timeout, intervalMs: interval };
      checkInterval(issues, step, " so the check can be retried");
      warnLiteralCredentials(ctx, { headers: rest.headers, urls: { url } });
      // Headers are credentials (a bearer token, basic auth): say so when they would cross the network in clear.
      if (Object.keys(rest.headers ?? {}).length > 0 && !isSecureOrLoopback(url)) {
        ctx.warn(
          ["url"],
          "the headers are sent over plain http to a host that is not loopback: whoever sees the traffic gets them; use https://",
        );
      }
      return { type, url: url.replace(/\/+$/, ""), ...rest, ...defined({ query }), ...step };
    });
}

/** Passes once Prometheus shows the exporter reporting the expected token id (and `query`, if set, holds). */
export type PrometheusConfig = z.output<ReturnType<typeof prometheusSchema>>;

/** The Prometheus queried and the metric read (headers are credentials: never shown). */
export function describePrometheus(spec: PrometheusConfig): AdapterTarget {
  return {
    type: "prometheus",
    summary: `Prometheus ${spec.url}: ${spec.metric}{${spec.tokenIdLabel}=<new token>}${spec.query !== undefined ? " and the query" : ""}`,
    target: {
      url: spec.url,
      metric: spec.metric,
      tokenIdLabel: spec.tokenIdLabel,
      ...defined({ query: spec.query }),
    },
    waitsFor: `${spec.metric} to carry the new token's id${spec.requireOthersAbsent ? " and not the old ones" : ""}`,
    timeoutMs: spec.timeoutMs,
  };
}
