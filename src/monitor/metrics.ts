/**
 * The metrics `ftr serve` exports, on a registry of its own (never prom-client's global one, so a
 * library user's process metrics and ours never collide). Names follow Prometheus conventions: base
 * units, `_timestamp_seconds` for instants, `_total` for counters.
 */
import { Counter, Gauge, Registry, type GaugeConfiguration, type RegistryContentType } from "prom-client";

/** Every metric name `serve` exports; the dashboard and alert tests check their queries against it. */
export const MONITOR_METRIC_NAMES = [
  "fastly_automation_token_expiry_timestamp_seconds",
  "fastly_automation_token_last_used_timestamp_seconds",
  "fastly_automation_token_info",
  "fastly_automation_token_deployed",
  "fastly_automation_token_finding",
  "fastly_token_rotator_last_rotation_timestamp_seconds",
  "fastly_token_rotator_refresh_success",
  "fastly_token_rotator_refresh_duration_seconds",
  "fastly_token_rotator_api_errors_total",
  "fastly_token_rotator_last_successful_refresh_timestamp_seconds",
  "fastly_token_rotator_unfinished_run_timestamp_seconds",
  "fastly_token_rotator_awaiting_approval_timestamp_seconds",
  "fastly_token_rotator_environment_state",
] as const;

/** prom-client's text for a sample value (`getValueAsString`): NaN as `Nan`, infinities as `±Inf`. */
function sampleText(value: number): string {
  if (Number.isNaN(value)) return "Nan";
  if (!Number.isFinite(value)) return value === -Infinity ? "-Inf" : "+Inf";
  return `${value}`;
}

/** A metric's name or help text as prom-client escapes it: backslash and newline. */
function escapeText(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

const NEEDS_ESCAPE = /[\\\n"]/;

/**
 * One label as the exposition format writes it, `name="value"`, the value escaped as prom-client
 * escapes it (backslash, newline, double quote). Series of a {@link SeriesGauge} are these, joined
 * by commas, in the order prom-client would write the labels object's keys.
 */
export function labelPair(name: string, value: string): string {
  return `${name}="${NEEDS_ESCAPE.test(value) ? escapeText(value).replace(/"/g, '\\"') : value}"`;
}

/** The labels of one line that {@link SeriesGauge} wrote: the inverse of `labelPair` joined by commas. */
function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const [, name = "", value = ""] of text.matchAll(/([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
    labels[name] = value.replace(/\\(.)/g, (_, ch: string) => (ch === "n" ? "\n" : ch));
  }
  return labels;
}

/**
 * A gauge whose labelled series are replaced all at once ({@link SeriesGauge.replace}), for the
 * families with a series per token: at 10,000 tokens, prom-client's `set` (validating and hashing
 * each labels object) and its exposition (formatting every label of every series again) cost more
 * than the rest of a refresh. `replace` writes the family's exposition text once, the same text the
 * registry writes for a gauge `set` with the same labels and values in the same order (a label set
 * given twice keeps its first place and its last value), and keeps only that text.
 * It is still a `Gauge`: `get()` returns the series (then any `set` since), `reset()` clears them.
 */
export class SeriesGauge<T extends string = string> extends Gauge<T> {
  /** HELP, TYPE and a line a series; undefined until `replace`. */
  private text: string | undefined;
  private readonly header: string;
  private readonly exposedName: string;

  /** The values of the series in `text`, in its order (the text writes -0 as 0). */
  // Stryker disable next-line ArrayDeclaration: read only while `text` is set, and `replace` sets both
  private values: number[] = [];

  /** @throws RangeError without label names (such a gauge has one series: use `Gauge`). */
  constructor(configuration: GaugeConfiguration<T>) {
    if (!configuration.labelNames?.length) throw new RangeError("a SeriesGauge needs label names");
    super(configuration);
    this.exposedName = escapeText(configuration.name);
    this.header = `# HELP ${this.exposedName} ${escapeText(configuration.help)}\n# TYPE ${this.exposedName} gauge`;
  }

  /**
   * Replace every series: `labels[i]` (`labelPair`s joined by commas) has the value `values[i]`.
   * Series `set` before are dropped. `unique` says no two `labels` are the same (the caller knows
   * it), which spares comparing them; without it, a label set given twice keeps its first place and
   * its last value.
   */
  replace(labels: readonly string[], values: readonly number[], unique = false): void {
    if (labels.length !== values.length) throw new RangeError("replace: as many values as label sets");
    // Which entry each series is written from: the last of its label set, in the first's place.
    let from: Iterable<number> = labels.keys();
    // Stryker disable next-line ConditionalExpression: de-duplicating distinct label sets changes only the time taken
    if (!unique) {
      const slot = new Map<string, number>();
      const kept: number[] = [];
      for (const [i, l] of labels.entries()) {
        const at = slot.get(l);
        if (at === undefined) slot.set(l, kept.push(i) - 1);
        else kept[at] = i;
      }
      from = kept;
    }
    const lines = [this.header];
    const kept: number[] = [];
    for (const i of from) {
      const value = values[i];
      if (typeof value !== "number") throw new TypeError(`Value is not a valid number: ${String(value)}`);
      lines.push(`${this.exposedName}${labels[i] === "" ? "" : `{${labels[i]}}`} ${sampleText(value)}`);
      kept.push(value);
    }
    super.reset();
    this.text = lines.join("\n");
    this.values = kept;
  }

  override reset(): void {
    this.text = undefined;
    // Stryker disable next-line ArrayDeclaration: read only while `text` is set, and `replace` sets both
    this.values = [];
    super.reset();
  }

  override async get(): Promise<Awaited<ReturnType<Gauge<T>["get"]>>> {
    const own = await super.get();
    if (this.text === undefined) return own;
    const values: { labels: Partial<Record<T, string>>; value: number }[] = [];
    for (const [i, line] of this.text.split("\n").slice(2).entries()) {
      const open = line.indexOf("{");
      const labels = (open < 0 ? {} : parseLabels(line.slice(open + 1, line.lastIndexOf("}")))) as Partial<
        Record<T, string>
      >;
      values.push({ labels, value: this.values[i] ?? NaN });
    }
    return { ...own, values: [...values, ...own.values] };
  }

  /**
   * The family's exposition text (no final newline), as the registry writes it; undefined when
   * series were also `set` one by one (the registry writes those).
   */
  async exposition(): Promise<string | undefined> {
    const own = await super.get();
    if (own.values.length > 0) return undefined;
    return this.text ?? this.header;
  }
}

/**
 * The registry's exposition text, as `registry.metrics()` writes it (Prometheus text format, no
 * default labels), in pieces whose concatenation is that text: each {@link SeriesGauge}'s text is
 * one piece, kept from one call to the next while its series do not change, so a caller writing
 * the pieces in turn never copies megabytes into one string.
 */
export async function renderMetricParts(registry: Registry<RegistryContentType>): Promise<string[]> {
  if (registry.contentType !== Registry.PROMETHEUS_CONTENT_TYPE) return [await registry.metrics()];
  const families = await Promise.all(
    registry.getMetricsAsArray().map(async (metric) => {
      const kept = metric instanceof SeriesGauge ? await metric.exposition() : undefined;
      return kept ?? registry.getSingleMetricAsString(metric.name);
    }),
  );
  const parts: string[] = [];
  for (const [i, family] of families.entries()) parts.push(i === 0 ? "" : "\n\n", family);
  parts.push("\n");
  return parts.filter((part) => part !== "");
}

/** The registry's exposition text, as `registry.metrics()` writes it: {@link renderMetricParts} joined. */
export async function renderMetrics(registry: Registry<RegistryContentType>): Promise<string> {
  return (await renderMetricParts(registry)).join("");
}

/** Labels of the per-token series. `environment` is `""` for a token no environment manages. */
export type TokenLabels = "token_id" | "name" | "environment";

/** The gauges and counters of one `serve`. */
export interface MonitorMetrics {
  readonly registry: Registry;
  readonly expiry: SeriesGauge<TokenLabels>;
  readonly lastUsed: SeriesGauge<TokenLabels>;
  readonly info: SeriesGauge<TokenLabels | "role" | "scopes">;
  readonly deployed: Gauge<"environment" | "token_id">;
  readonly finding: SeriesGauge<TokenLabels | "code" | "severity">;
  readonly lastRotation: Gauge<"environment" | "result">;
  readonly refreshSuccess: Gauge;
  readonly refreshDuration: Gauge;
  readonly apiErrors: Counter<"kind">;
  readonly lastSuccessfulRefresh: Gauge;
  readonly unfinished: Gauge<"environment" | "run_id" | "step" | "running">;
  readonly awaitingApproval: Gauge<"environment">;
  readonly environmentState: Gauge<"environment" | "state">;
}

/** A fresh registry with every metric registered. */
export function createMonitorMetrics(): MonitorMetrics {
  const registry = new Registry();
  const registers = [registry];
  const tokenLabels: TokenLabels[] = ["token_id", "name", "environment"];
  return {
    registry,
    expiry: new SeriesGauge({
      name: "fastly_automation_token_expiry_timestamp_seconds",
      help: "When the automation token expires, as a Unix timestamp (tokens that never expire have no series).",
      labelNames: tokenLabels,
      registers,
    }),
    lastUsed: new SeriesGauge({
      name: "fastly_automation_token_last_used_timestamp_seconds",
      help: "When Fastly last recorded a use of the automation token, as a Unix timestamp (never used: no series).",
      labelNames: tokenLabels,
      registers,
    }),
    info: new SeriesGauge({
      name: "fastly_automation_token_info",
      help: "Always 1: one series per automation token, carrying its role and space-separated scopes.",
      labelNames: [...tokenLabels, "role", "scopes"],
      registers,
    }),
    deployed: new Gauge({
      name: "fastly_automation_token_deployed",
      help: "1 when the environment's secret store holds a token Fastly accepts (token_id says which); 0 when it holds a refused (expired, revoked) token or none.",
      labelNames: ["environment", "token_id"],
      registers,
    }),
    finding: new SeriesGauge({
      name: "fastly_automation_token_finding",
      help: "Always 1: one series per finding on an automation token (code: unused, never-expires, over-max-lifetime, broader-than-config, global-scope, all-services, creator-gone, unmanaged, expiring, expired, leftover, ...; severity: critical, warning or info).",
      labelNames: [...tokenLabels, "code", "severity"],
      registers,
    }),
    lastRotation: new Gauge({
      name: "fastly_token_rotator_last_rotation_timestamp_seconds",
      help: "When the environment's last finished rotation ended, as a Unix timestamp; result is rotated, kept-old, rolled-back or failed.",
      labelNames: ["environment", "result"],
      registers,
    }),
    refreshSuccess: new Gauge({
      name: "fastly_token_rotator_refresh_success",
      help: "1 when the last refresh read everything; 0 when it failed and the token series hold the last good values.",
      registers,
    }),
    refreshDuration: new Gauge({
      name: "fastly_token_rotator_refresh_duration_seconds",
      help: "How long the last refresh took, in seconds.",
      registers,
    }),
    apiErrors: new Counter({
      name: "fastly_token_rotator_api_errors_total",
      help: "Failures while refreshing, by kind: auth, forbidden, rate-limit, server, network, response, request, deployed, secret-store, journal, other.",
      labelNames: ["kind"],
      registers,
    }),
    lastSuccessfulRefresh: new Gauge({
      name: "fastly_token_rotator_last_successful_refresh_timestamp_seconds",
      help: "When the last fully successful refresh ended, as a Unix timestamp.",
      registers,
    }),
    unfinished: new Gauge({
      name: "fastly_token_rotator_unfinished_run_timestamp_seconds",
      help: "One series per rotation run unfinished in the journal: when its last step was journaled, as a Unix timestamp; step is that step, running is true while a live run holds the lock. Resume it with ftr resume.",
      labelNames: ["environment", "run_id", "step", "running"],
      registers,
    }),
    awaitingApproval: new Gauge({
      name: "fastly_token_rotator_awaiting_approval_timestamp_seconds",
      help: "When an unattended run (rotate --due) last left the environment, due, for a person because it needs approval, as a Unix timestamp; no series once a run has rotated it since.",
      labelNames: ["environment"],
      registers,
    }),
    environmentState: new Gauge({
      name: "fastly_token_rotator_environment_state",
      help: "1 for the environment's verdict, the one ftr status and ftr check give: ok, attention, running, due, unknown, expired, absent, dead or unfinished.",
      labelNames: ["environment", "state"],
      registers,
    }),
  };
}
