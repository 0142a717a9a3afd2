/**
 * Prometheus for tests: the server helper from src/util, plus a skip rule that can never hide a
 * missing binary on CI.
 */
import { findPrometheus } from "../../src/util/prometheus-server.ts";

export { freePort, startPrometheus } from "../../src/util/prometheus-server.ts";
export type { RunningPrometheus, StartPrometheusOptions } from "../../src/util/prometheus-server.ts";

/** The binary used; `PROMETHEUS_BIN` overrides the PATH lookup. */
export const prometheusBinary = findPrometheus() ?? process.env.PROMETHEUS_BIN ?? "/usr/bin/prometheus";

/**
 * For `test(name, { skip: skipWithoutPrometheus() })`: false when the binary is there, a reason when
 * it is not. On CI (`CI=true`) a missing binary throws instead, so the suite cannot pass by skipping.
 */
export function skipWithoutPrometheus(): false | string {
  if (findPrometheus() !== undefined) return false;
  const reason = "no prometheus binary on PATH (install Debian's prometheus package or set PROMETHEUS_BIN)";
  if (process.env.CI === "true") throw new Error(`${reason}; required when CI=true`);
  console.warn(`skipping Prometheus tests: ${reason}`);
  return `skipped: ${reason}`;
}
