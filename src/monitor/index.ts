/** Expiry audit and monitoring: `status`, `check` and `serve` as library calls. */
export {
  buildStatus,
  collectStatus,
  span,
  DEFAULT_LIFETIME_MS,
  UNMANAGED_ROTATE_BEFORE_MS,
  UNUSED_AFTER_MS,
} from "./status.ts";
export type {
  CollectStatusOptions,
  DeployedStatus,
  EnvironmentStatus,
  Finding,
  FindingCode,
  Severity,
  StatusFacts,
  StatusReport,
  TokenStatus,
} from "./status.ts";
export { HYGIENE_CODES, hygieneFindings, reachesAllServices, type HygieneContext } from "./hygiene.ts";
export { renderStatus, timeBar, plainPaint, type Paint, type RenderOptions } from "./render.ts";
export { checkReport, shellQuote } from "./check.ts";
export type { CheckFinding, CheckOptions, CheckReason, CheckResult } from "./check.ts";
export {
  createMonitorMetrics,
  labelPair,
  MONITOR_METRIC_NAMES,
  renderMetricParts,
  renderMetrics,
  SeriesGauge,
  type MonitorMetrics,
  type TokenLabels,
} from "./metrics.ts";
export { errorKind, HEALTHY_INTERVALS, ListenAddressError, parseListen, startServe } from "./serve.ts";
export type { RefreshResult, ServeHandle, ServeOptions } from "./serve.ts";
