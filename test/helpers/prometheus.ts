/**
 * Runs a real Prometheus server (Debian's `/usr/bin/prometheus` by default) for tests: a temp
 * storage directory, a free loopback port, static scrape targets.
 */
import { spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The binary used; `PROMETHEUS_BIN` overrides. */
export const prometheusBinary = process.env.PROMETHEUS_BIN ?? "/usr/bin/prometheus";

/**
 * For `it(name, { skip: skipWithoutPrometheus() })`: false when the binary is there, a reason when
 * it is not. On CI (`CI=true`) a missing binary throws instead, so the suite cannot pass by skipping.
 */
export function skipWithoutPrometheus(): false | string {
  try {
    accessSync(prometheusBinary, constants.X_OK);
    return false;
  } catch {
    const reason = `${prometheusBinary} not found or not executable (install Debian's prometheus package or set PROMETHEUS_BIN)`;
    if (process.env.CI === "true") throw new Error(`${reason}; required when CI=true`);
    console.warn(`skipping Prometheus tests: ${reason}`);
    return `skipped: ${reason}`;
  }
}

/** Options of {@link startPrometheus}. */
export interface StartPrometheusOptions {
  /** Base URLs (`http://127.0.0.1:1234`) or `host:port` of targets serving `/metrics`. */
  readonly scrapeTargets: readonly string[];
  /** Scrape (and evaluation) interval. */
  readonly scrapeIntervalMs: number;
  /** How long to wait for `/-/ready`; default 30 s. */
  readonly readyTimeoutMs?: number;
}

/** A running Prometheus. */
export interface RunningPrometheus {
  /** Base URL, e.g. `http://127.0.0.1:40123`. */
  readonly url: string;
  /** Stops the server and removes its storage. */
  close(): Promise<void>;
}

/** A port that was free a moment ago: bind port 0, read it, release it. */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Starts Prometheus scraping `scrapeTargets`; resolves once `/-/ready` answers 200. */
export async function startPrometheus(options: StartPrometheusOptions): Promise<RunningPrometheus> {
  const dir = await mkdtemp(join(tmpdir(), "ftr-prometheus-"));
  const interval = `${Math.max(1, Math.round(options.scrapeIntervalMs))}ms`;
  const targets = options.scrapeTargets.map((target) =>
    target.replace(/^https?:\/\//, "").replace(/\/.*$/, ""),
  );
  // JSON is YAML, so no YAML writer is needed.
  const config = {
    global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
    scrape_configs: [{ job_name: "fastly-exporter", static_configs: [{ targets }] }],
  };
  const configFile = join(dir, "prometheus.yml");
  await writeFile(configFile, JSON.stringify(config, null, 2));

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    prometheusBinary,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=warn",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString("utf8")).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  let running = true;
  void exited.then(() => {
    running = false;
  });

  const close = async (): Promise<void> => {
    if (running) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
  for (;;) {
    if (!running) {
      await close();
      throw new Error(
        `prometheus exited before it was ready: ${stderr.trim().split("\n").slice(-3).join(" | ")}`,
      );
    }
    try {
      const response = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) });
      if (response.ok) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await close();
      throw new Error(
        `prometheus not ready within the timeout: ${stderr.trim().split("\n").slice(-3).join(" | ")}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { url, close };
}
