/**
 * Runs a real Prometheus server on loopback: a temporary storage directory, a free port, static
 * scrape targets. Used by `ftr demo` (when a `prometheus` binary is on PATH) and by the tests.
 */
import { spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";

/** The first executable `prometheus` on PATH (or `PROMETHEUS_BIN`), if any. */
export function findPrometheus(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const candidates = env.PROMETHEUS_BIN
    ? [env.PROMETHEUS_BIN]
    : (env.PATH ?? "")
        .split(delimiter)
        .filter((d) => d !== "")
        .map((d) => join(d, "prometheus"));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here.
    }
  }
  return undefined;
}

/** Options of {@link startPrometheus}. */
export interface StartPrometheusOptions {
  /** Base URLs (`http://127.0.0.1:1234`) or `host:port` of targets serving `/metrics`. */
  readonly scrapeTargets: readonly string[];
  /** Scrape (and evaluation) interval. */
  readonly scrapeIntervalMs: number;
  /** The binary; default the one `findPrometheus` finds. */
  readonly binary?: string;
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
  const binary = options.binary ?? findPrometheus();
  if (binary === undefined)
    throw new Error("no prometheus binary on PATH (install Debian's prometheus package)");
  const child = spawn(
    binary,
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
