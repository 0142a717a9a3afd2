/**
 * The fastly-exporter stand-in as a supervised child process, and the reload script that restarts
 * it: what `ftr demo` and the end-to-end tests run their consumers with. Kubernetes restarts a pod
 * when it exits; the supervisor does the same for the stand-in, and the script plays
 * `kubectl delete pod` followed by waiting for the replacement.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** How long a stand-in may take to listen, or a restart to show a new pid, before it counts as a hang. */
export const DEFAULT_START_TIMEOUT_MS = 60_000;

/** How to start this package's CLI as a new process, from source (via tsx) or from dist. */
export function cliEntry(): string[] {
  const fromSource = import.meta.url.endsWith(".ts");
  const bin = fileURLToPath(new URL(fromSource ? "../cli/bin.ts" : "../cli/bin.js", import.meta.url));
  return fromSource ? ["--import", "tsx", bin] : [bin];
}

/** The demo's service-name selector of an environment: `staging` → `[Ss]taging`. */
export function environmentSelector(env: string): string {
  return `[${env[0]?.toUpperCase() ?? ""}${env[0] ?? ""}]${env.slice(1)}`;
}

/** Options of {@link ExporterSupervisor}. */
export interface ExporterSupervisorOptions<E extends string = string> {
  /** The environment; names the pid file `run/<env>.pid` and selects the services. */
  readonly env: E;
  /** The Fastly API (emulator) URL. */
  readonly endpoint: string;
  /** The secret file the stand-in reads its token from at start. */
  readonly tokenFile: string;
  readonly port: number;
  /** Where `<env>.pid` is written (the restart script reads it). */
  readonly runDir: string;
  /** The stand-in's poll interval (default `500ms`). */
  readonly pollInterval?: string;
  /** `node` arguments that run the CLI (default {@link cliEntry}). */
  readonly cli?: readonly string[];
  /** Bounds a hang of one start; the wait itself ends when the stand-in listens (default 60 s). */
  readonly startTimeoutMs?: number;
}

/**
 * Keeps one exporter stand-in running, like a Deployment keeps a pod: when it exits it is started
 * again, reading the secret file afresh. Its pid goes to `run/<env>.pid` once it listens.
 */
export class ExporterSupervisor<E extends string = string> {
  readonly env: E;
  readonly port: number;
  /** Every pid it has had, in order. */
  readonly pids: number[] = [];
  /** Everything the stand-in wrote (the "listening" lines and its logfmt logs), across restarts. */
  logs = "";
  private child: ChildProcess | undefined;
  private stopping = false;

  constructor(private readonly options: ExporterSupervisorOptions<E>) {
    this.env = options.env;
    this.port = options.port;
  }

  /** The stand-in's base URL (`/metrics`, `/healthz`). */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Start the stand-in and resolve once it listens; rejects if it exits or hangs first. */
  async start(): Promise<void> {
    const o = this.options;
    const child = spawn(
      process.execPath,
      [
        ...(o.cli ?? cliEntry()),
        "emulator",
        "exporter",
        "--endpoint",
        o.endpoint,
        "--listen",
        `127.0.0.1:${o.port}`,
        "--token-file",
        o.tokenFile,
        "--service-allowlist",
        environmentSelector(o.env),
        "--poll-interval",
        o.pollInterval ?? "500ms",
        "--auth-backoff",
        "2s",
      ],
      { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, FASTLY_API_TOKEN: "" } },
    );
    this.child = child;
    child.stderr?.on("data", (chunk: Buffer) => (this.logs += chunk.toString("utf8")));
    const timeoutMs = o.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        let out = "";
        child.stdout?.on("data", (chunk: Buffer) => {
          const text = chunk.toString("utf8");
          out += text;
          this.logs += text;
          if (out.includes("listening on")) resolve();
        });
        child.once("exit", (code) => reject(new Error(`exporter stand-in for ${o.env} exited with ${code}`)));
        timer = setTimeout(() => {
          child.kill("SIGKILL");
          reject(new Error(`exporter stand-in for ${o.env} did not listen within ${timeoutMs} ms`));
        }, timeoutMs);
      });
    } finally {
      clearTimeout(timer);
      child.removeAllListeners("exit");
    }
    child.once("exit", () => void this.restart());
    if (child.pid !== undefined) this.pids.push(child.pid);
    // Atomically: the restart script polls this file.
    const pidFile = join(o.runDir, `${o.env}.pid`);
    await writeFile(`${pidFile}.tmp`, String(child.pid));
    await rename(`${pidFile}.tmp`, pidFile);
  }

  private async restart(): Promise<void> {
    // Like a pod's restart policy: keep trying while the supervisor runs.
    for (let attempt = 0; !this.stopping && attempt < 50; attempt++) {
      try {
        await this.start();
        return;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }

  /** Stop the stand-in for good (SIGTERM, SIGKILL after 3 s). */
  async stop(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
      await exited;
      clearTimeout(timer);
    }
  }
}

/**
 * The reload script (an ES module, run as `node restart-exporter.mjs <env>` from the directory
 * holding `run/`): stop the environment's stand-in and wait until the supervisor has started a new
 * one (a new pid in `run/<env>.pid`). `run/control.json` (optional, per environment) can make it
 * wait first (`sleepMs`), skip the restart (`skip`), or fail after it (`failTimes`). It marks itself
 * running in `run/reloading-<pid>` so a caller can wait for one orphaned by `kill -9`.
 * `timeoutMs` only bounds a hang: the wait ends as soon as the new pid appears.
 */
export function restartScript(timeoutMs: number = DEFAULT_START_TIMEOUT_MS): string {
  return `import { existsSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
const env = process.argv[2];
const here = (name) => new URL("./run/" + name, import.meta.url);
// The parent may be gone (kill -9); writing to its pipes must not kill us.
process.stdout.on("error", () => {});
process.stderr.on("error", () => {});
const say = (stream, line) => { try { stream.write(line + "\\n"); } catch {} };
const marker = here("reloading-" + process.pid);
writeFileSync(marker, env);
process.on("exit", () => { try { unlinkSync(marker); } catch {} });
const readControl = () => existsSync(here("control.json")) ? JSON.parse(readFileSync(here("control.json"), "utf8")) : {};
const control = readControl()[env] ?? {};
if (control.sleepMs) await new Promise((r) => setTimeout(r, control.sleepMs));
// Held until the control file says otherwise: a window a test opens and closes on a condition.
while (readControl()[env]?.hold) await new Promise((r) => setTimeout(r, 20));
// The outcome is an exit code, set rather than exited with: what was said reaches the pipe first.
const restart = async () => {
  if (control.skip) { say(process.stdout, "reload of " + env + ": nothing restarted"); return 0; }
  const old = Number(readFileSync(here(env + ".pid"), "utf8"));
  try { process.kill(old, "SIGTERM"); } catch (error) { if (error.code !== "ESRCH") throw error; }
  const deadline = Date.now() + ${timeoutMs};
  for (;;) {
    await new Promise((r) => setTimeout(r, 50));
    const now = Number(readFileSync(here(env + ".pid"), "utf8"));
    if (now !== old) { say(process.stdout, "exporter " + env + " restarted: pid " + old + " -> " + now); break; }
    if (Date.now() > deadline) { say(process.stderr, "exporter " + env + " did not come back within ${timeoutMs} ms"); return 1; }
  }
  const latest = readControl();
  if ((latest[env]?.failTimes ?? 0) > 0) {
    latest[env].failTimes -= 1;
    writeFileSync(here("control.json"), JSON.stringify(latest));
    say(process.stderr, "rollout of " + env + " did not complete (simulated)");
    return 1;
  }
  return 0;
};
process.exitCode = await restart();
`;
}
