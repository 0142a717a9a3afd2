/**
 * The metrics `ftr serve` exports, on a registry of its own (never prom-client's global one, so a
 * library user's process metrics and ours never collide). Names follow Prometheus conventions: base
 * units, `_timestamp_seconds` for instants, `_total` for counters.
 */
import { Counter, Gauge, Registry } from "prom-client";

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

/** Labels of the per-token series. `environment` is `""` for a token no environment manages. */
export type TokenLabels = "token_id" | "name" | "environment";

/** The gauges and counters of one `serve`. */
export interface MonitorMetrics {
  readonly registry: Registry;
  readonly expiry: Gauge<TokenLabels>;
  readonly lastUsed: Gauge<TokenLabels>;
  readonly info: Gauge<TokenLabels | "role" | "scopes">;
  readonly deployed: Gauge<"environment" | "token_id">;
  readonly finding: Gauge<TokenLabels | "code" | "severity">;
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
    expiry: new Gauge({
      name: "fastly_automation_token_expiry_timestamp_seconds",
      help: "When the automation token expires, as a Unix timestamp (tokens that never expire have no series).",
      labelNames: tokenLabels,
      registers,
    }),
    lastUsed: new Gauge({
      name: "fastly_automation_token_last_used_timestamp_seconds",
      help: "When Fastly last recorded a use of the automation token, as a Unix timestamp (never used: no series).",
      labelNames: tokenLabels,
      registers,
    }),
    info: new Gauge({
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
    finding: new Gauge({
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
