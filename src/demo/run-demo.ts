/**
 * `ftr demo`: the whole job on the embedded emulator, nothing else needed. It starts the emulator
 * with the demo account, one fastly-exporter stand-in process per environment (restarted by a
 * supervisor when killed, as Kubernetes restarts a pod), Prometheus when a binary is on PATH, writes
 * a config into a temporary directory, and runs the real `plan`, `rotate` and `status` commands.
 */
import { mkdtemp, rm, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { createEmulator, createEmulatorAdmin, demoCredentials, demoSeed } from "../emulator/index.ts";
import { EXPORTER_USER_AGENT } from "../emulator/exporter.ts";
import {
  environmentSelector,
  ExporterSupervisor,
  restartScript as restartScriptText,
} from "../emulator/exporter-supervisor.ts";
import { registerSecret } from "../util/redact.ts";
import {
  findPrometheus,
  freePort,
  startPrometheus,
  type RunningPrometheus,
} from "../util/prometheus-server.ts";

/** The environments of the demo account, in rotation order. */
export const DEMO_ENVIRONMENTS = ["integration", "staging", "production"] as const;

/** What `runDemo` needs from the CLI. */
export interface DemoOptions {
  /** Runs one `ftr` command in-process with extra environment; resolves to its exit code. */
  readonly ftr: (argv: string[], env: Record<string, string>) => Promise<number>;
  /** Progress lines for people. */
  readonly say: (line: string) => void;
  /** Keep the temporary directory (config, secrets, journal) for inspection. */
  readonly keep?: boolean;
  /** Use Prometheus when found on PATH (default true). */
  readonly prometheus?: boolean;
}

/** What the demo measured. */
export interface DemoResult {
  readonly ok: boolean;
  readonly rotateExitCode: number;
  /** Requests the consumers (exporter stand-ins) had refused (401/403) during the run. */
  readonly refused: number;
  readonly prometheus: boolean;
  readonly seconds: number;
  /** The demo's files, present only when kept (`--keep`): otherwise they are gone by now. */
  readonly dir?: string;
}

/** A running demo world: emulator, exporter stand-ins, optional Prometheus, a config on disk. */
export interface DemoWorld {
  readonly dir: string;
  readonly configPath: string;
  readonly emulatorUrl: string;
  readonly admin: ReturnType<typeof createEmulatorAdmin>;
  readonly prometheusUrl?: string;
  readonly exporterPorts: readonly number[];
  /** The environment `ftr` commands need (credentials, endpoint). */
  readonly env: Record<string, string>;
  /** Requests the exporter stand-ins had refused (401/403) so far. */
  refused(): Promise<number>;
  close(): Promise<void>;
}

/** Start everything the demo (and the benchmarks) rotate against. */
export async function startDemoWorld(
  options: { prometheus?: boolean; keep?: boolean; say?: (line: string) => void } = {},
): Promise<DemoWorld> {
  const say = options.say ?? (() => {});
  const dir = await mkdtemp(join(tmpdir(), "ftr-demo-"));
  registerSecret(demoCredentials.superuser.token);
  registerSecret(demoCredentials.superuser.password);
  for (const t of Object.values(demoCredentials.exporterTokens)) registerSecret(t.token);

  const emulator = await createEmulator({ seed: demoSeed });
  const admin = createEmulatorAdmin(emulator.url);
  const supervisors: ExporterSupervisor[] = [];
  let prometheus: RunningPrometheus | undefined;
  const close = async () => {
    for (const s of supervisors) await s.stop();
    await prometheus?.close();
    await emulator.close();
    if (!options.keep) await rm(dir, { recursive: true, force: true });
  };
  try {
    say(`Fastly API emulator (demo account) on ${emulator.url}`);
    await mkdir(join(dir, "secrets"), { mode: 0o700 });
    await mkdir(join(dir, "run"), { mode: 0o700 });
    const restartScript = join(dir, "restart-exporter.mjs");
    await writeFile(restartScript, restartScriptText());

    for (const env of DEMO_ENVIRONMENTS) {
      const secret = join(dir, "secrets", env);
      await writeFile(secret, demoCredentials.exporterTokens[env].token + "\n", { mode: 0o600 });
      const port = await freePort();
      const supervisor = new ExporterSupervisor({
        env,
        endpoint: emulator.url,
        tokenFile: secret,
        port,
        runDir: join(dir, "run"),
        pollInterval: "250ms",
      });
      supervisors.push(supervisor);
      await supervisor.start();
    }
    say(
      `3 fastly-exporter stand-ins running, one per environment (ports ${supervisors.map((s) => s.port).join(", ")})`,
    );

    const binary = options.prometheus === false ? undefined : findPrometheus();
    if (binary) {
      prometheus = await startPrometheus({
        binary,
        scrapeTargets: supervisors.map((s) => `127.0.0.1:${s.port}`),
        scrapeIntervalMs: 1000,
      });
      say(`Prometheus ${binary} scraping them on ${prometheus.url}`);
    } else {
      say("No prometheus binary on PATH: verifying through Fastly's last-used data only");
    }

    const configPath = join(dir, "ftr.yaml");
    await writeFile(configPath, demoConfig(emulator.url, restartScript, prometheus?.url));
    return {
      dir,
      configPath,
      emulatorUrl: emulator.url,
      admin,
      ...(prometheus ? { prometheusUrl: prometheus.url } : {}),
      exporterPorts: supervisors.map((s) => s.port),
      env: {
        FASTLY_API_TOKEN: demoCredentials.superuser.token,
        FASTLY_SUDO_PASSWORD: demoCredentials.superuser.password,
        FASTLY_API_ENDPOINT: emulator.url,
      },
      refused: async () =>
        (await admin.requests()).filter(
          (r) => (r.status === 401 || r.status === 403) && r.userAgent === EXPORTER_USER_AGENT,
        ).length,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Run the demo end to end. */
export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const started = Date.now();
  const say = options.say;
  const world = await startDemoWorld({
    say,
    ...(options.keep === undefined ? {} : { keep: options.keep }),
    ...(options.prometheus === undefined ? {} : { prometheus: options.prometheus }),
  });
  try {
    say(`Config written to ${world.configPath}\n`);
    say("$ ftr plan --config ftr.yaml");
    await options.ftr(["plan", "--config", world.configPath], world.env);
    say("$ ftr rotate --config ftr.yaml --yes");
    const rotateExitCode = await options.ftr(["rotate", "--config", world.configPath, "--yes"], world.env);
    say("\n$ ftr status --config ftr.yaml");
    await options.ftr(["status", "--config", world.configPath], world.env);
    const refused = await world.refused();
    const seconds = (Date.now() - started) / 1000;
    say(`\nRequests the consumers had refused during the rotation: ${refused}`);
    say(`Demo finished in ${seconds.toFixed(1)}s${options.keep ? `; files kept in ${world.dir}` : ""}`);
    return {
      ok: rotateExitCode === 0 && refused === 0,
      rotateExitCode,
      refused,
      prometheus: world.prometheusUrl !== undefined,
      seconds,
      ...(options.keep ? { dir: world.dir } : {}),
    };
  } finally {
    await world.close();
  }
}

/** The config the demo rotates with: file secrets, a restart reloader, token-in-use and Prometheus checks. */
export function demoConfig(endpoint: string, restartScript: string, prometheusUrl?: string): string {
  const title = (s: string) => s[0]?.toUpperCase() + s.slice(1);
  return stringify({
    version: 1,
    fastly: { endpoint },
    defaults: { token: { role: "engineer", scope: "global:read", expiresIn: "365d", rotateBefore: "30d" } },
    environments: DEMO_ENVIRONMENTS.map((env) => ({
      name: env,
      token: {
        name: `GOV.UK prometheus-fastly-exporter token for ${title(env)}`,
        services: { nameMatches: environmentSelector(env) },
      },
      secret: { type: "file", path: `./secrets/${env}` },
      reload: [{ type: "exec", command: [process.execPath, restartScript, env], timeout: "30s" }],
      verify: [
        { type: "token-in-use", timeout: "30s", interval: "1s" },
        ...(prometheusUrl
          ? [
              {
                type: "prometheus",
                url: prometheusUrl,
                tokenIdLabel: "token_id",
                query: 'up{job="fastly-exporter"} == 1',
                timeout: "60s",
                interval: "1s",
              },
            ]
          : []),
      ],
      approval: env === "production" ? "required" : "none",
    })),
  });
}
