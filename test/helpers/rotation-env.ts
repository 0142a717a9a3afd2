/**
 * A rotation world for end-to-end tests, built like `ftr demo` builds its own: the emulator with the
 * demo account, a temporary directory with one file secret per environment holding the demo
 * exporter token, one fastly-exporter stand-in per environment running as a real child process
 * under a supervisor that restarts it when it exits (as Kubernetes restarts a pod), an exec reloader
 * script that kills the stand-in and waits for its replacement, optionally a real Prometheus
 * scraping the stand-ins, and a YAML config tying it together.
 *
 * Everything printed anywhere (CLI output, stand-in logs, the journal) is kept so that tests can
 * search it for token values and passwords: `collectOutput()` and `assertNoSecrets()`.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { DEMO_ENVIRONMENTS, demoConfig } from "../../src/demo/run-demo.ts";
import {
  createEmulator,
  createEmulatorAdmin,
  demoCredentials,
  demoSeed,
  demoServiceIds,
  type EmulatorAdmin,
  type EmulatorTokenSnapshot,
  type RequestLogEntry,
  type RunningEmulator,
  type Seed,
} from "../../src/emulator/index.ts";
import { EXPORTER_USER_AGENT } from "../../src/emulator/exporter.ts";
import {
  ExporterSupervisor,
  restartScript as restartScriptText,
} from "../../src/emulator/exporter-supervisor.ts";
import { journalPath, readJournal, type JournalRecord } from "../../src/rotation/journal.ts";
import {
  findPrometheus,
  freePort,
  startPrometheus,
  type RunningPrometheus,
} from "../../src/util/prometheus-server.ts";
import { USER_AGENT } from "../../src/version.ts";
import { CLI_NODE_ARGS, runCli, spawnCli, type CliOptions, type CliProcess, type CliResult } from "./cli.ts";

/** An environment of the demo account. */
export type DemoEnv = (typeof DEMO_ENVIRONMENTS)[number];

/** The User-Agent of the test's own probes, so they are never mistaken for the consumer or the tool. */
export const PROBE_USER_AGENT = "ftr-test-probe";

/** The config document as YAML data (loosely typed: tests write invalid ones too). */
export interface ConfigDoc {
  [key: string]: unknown;
  environments: EnvDoc[];
}

/** One environment of {@link ConfigDoc}. */
export interface EnvDoc {
  [key: string]: unknown;
  name: string;
  token: Record<string, unknown>;
  secret: Record<string, unknown>;
  reload?: Record<string, unknown>[];
  verify?: Record<string, unknown>[];
  approval?: string;
}

/** Options of {@link startRotationEnv}. */
export interface RotationEnvOptions {
  /** Which demo environments the config holds, in this order (default all three). */
  readonly environments?: readonly DemoEnv[];
  /** Start a real Prometheus scraping the stand-ins and verify through it too (default false). */
  readonly prometheus?: boolean;
  /** Start the exporter stand-ins (default true); without them nothing can be verified. */
  readonly exporters?: boolean;
  /** The emulator's account (default the demo seed). */
  readonly seed?: Seed;
  /** Timeout and interval of every verifier (defaults `60s`, `1s`). */
  readonly verifyTimeout?: string;
  readonly verifyInterval?: string;
  /** Timeout of the restart reloader (default `90s`, beyond the restart script's own 60 s). */
  readonly reloadTimeout?: string;
  /** Reload entries appended after the restart reloader. */
  readonly extraReload?: (env: DemoEnv) => Record<string, unknown>[];
  /** Verify entries: `before` the built-in ones, or after them (default). */
  readonly extraVerify?: (env: DemoEnv) => Record<string, unknown>[];
  readonly extraVerifyFirst?: boolean;
  /** `state.dir` of the config (default: not set, i.e. `.ftr-state` beside the config). */
  readonly stateDir?: string;
  /** Last word on the config before it is written. */
  readonly configure?: (doc: ConfigDoc) => void;
}

/** What the restart script does for one environment (see {@link RotationEnv.setReload}). */
export interface ReloadBehaviour {
  /** Wait this long before doing anything (to hold a run inside the reload step). */
  readonly sleepMs?: number;
  /** Wait, before doing anything, until a later `setReload` drops `hold` (a window closed on a condition). */
  readonly hold?: boolean;
  /** Exit 0 without restarting anything: a reload that does not reach the consumer. */
  readonly skip?: boolean;
  /** Restart, then exit 1 this many times (a rollout that reports failure). */
  readonly failTimes?: number;
}

/** A labelled text, for the secrets check. */
export interface Output {
  readonly source: string;
  readonly text: string;
}

/** A labelled secret, so a failed check says which one leaked without printing it. */
export interface Secret {
  readonly label: string;
  readonly value: string;
}

/** One running exporter stand-in, as its supervisor sees it. */
export interface ExporterHandle {
  readonly env: DemoEnv;
  readonly port: number;
  readonly url: string;
  /** Every pid it has had, in order. */
  readonly pids: readonly number[];
  /** Everything it wrote (the "listening" lines and its logfmt logs), across restarts. */
  readonly logs: string;
}

/** The world. */
export interface RotationEnv {
  readonly dir: string;
  readonly configPath: string;
  readonly stateDir: string;
  readonly journalFile: string;
  readonly emulator: RunningEmulator;
  readonly admin: EmulatorAdmin;
  readonly prometheusUrl: string | undefined;
  /** The environments in the config. */
  readonly environments: readonly DemoEnv[];
  /** FASTLY_API_TOKEN, FASTLY_SUDO_PASSWORD, FASTLY_API_ENDPOINT for the superuser. */
  readonly env: Readonly<Record<string, string>>;
  readonly exporters: ReadonlyMap<DemoEnv, ExporterHandle>;

  /** The config as last written. */
  config(): ConfigDoc;
  /** Replace the config file (a document, or raw text for syntax errors). */
  writeConfig(doc: ConfigDoc | string): Promise<void>;
  /** Set what the restart script does for `env` from now on. */
  setReload(env: DemoEnv, behaviour: ReloadBehaviour): Promise<void>;
  /** Run the restart script for `env` (as a reloader would) and wait for it; rejects unless it exits 0. */
  restartExporter(env: DemoEnv): Promise<void>;
  /** Resolves once no restart script is running (one orphaned by `kill -9` may still be). */
  reloadsIdle(timeoutMs?: number): Promise<void>;

  /** `ftr argv` in-process with the superuser's environment plus `env`. Output is recorded. */
  runCli(
    argv: readonly string[],
    env?: Readonly<Record<string, string>>,
    options?: CliOptions,
  ): Promise<CliResult>;
  /** `ftr argv` as a child process. Output is recorded when it ends. */
  spawnCli(argv: readonly string[], env?: Readonly<Record<string, string>>): CliProcess;
  /** `ftr argv` as a child process, awaited. */
  runCliProcess(argv: readonly string[], env?: Readonly<Record<string, string>>): Promise<CliResult>;

  secretPath(env: DemoEnv): string;
  /** The value in `env`'s secret file (without the newline). */
  readSecret(env: DemoEnv): string;
  /**
   * Replace the value in `env`'s secret file, the one its stand-in reads, in one rename: what a
   * kubelet does to a mounted Secret, or External Secrets to the Secret it syncs.
   */
  writeSecret(env: DemoEnv, value: string): Promise<void>;
  journal(): JournalRecord[];
  journalText(): string;
  /** Poll the journal every `intervalMs` (default 5) until a record after `from` matches. */
  waitForJournal(
    match: (record: JournalRecord) => boolean,
    options?: { from?: number; timeoutMs?: number; intervalMs?: number },
  ): Promise<JournalRecord>;

  /** `GET /tokens/self` with `value`, as a probe: status and, when accepted, the token id. */
  tokenSelf(value: string): Promise<{ status: number; id?: string }>;
  /** Automation tokens neither revoked nor expired. */
  liveTokens(): Promise<EmulatorTokenSnapshot[]>;
  /** Live automation tokens carrying `env`'s managed name. */
  managedLive(env: DemoEnv): Promise<EmulatorTokenSnapshot[]>;
  /** Requests of the exporter stand-ins that were refused (401/403) since the start. */
  consumerRefusals(): Promise<RequestLogEntry[]>;
  /** Requests sent by the tool (its User-Agent). */
  toolRequests(): Promise<RequestLogEntry[]>;
  /** The token id the stand-in of `env` exports now (from its /metrics). */
  exporterTokenId(env: DemoEnv): Promise<string | undefined>;

  /** Every text printed so far: CLI output, stand-in logs, the journal. Secret files excluded. */
  collectOutput(): Output[];
  /** Every token value and password of the world: the demo's and every value seen in a secret file. */
  knownSecrets(): Secret[];
  close(): Promise<void>;
}

/** The managed token name of a demo environment. */
export function tokenName(env: DemoEnv): string {
  return demoCredentials.exporterTokens[env].name;
}

/** The demo service ids of an environment, sorted. */
export function serviceIds(env: DemoEnv): string[] {
  const title = env[0]!.toUpperCase() + env.slice(1);
  return [
    demoServiceIds[`www ${title}` as keyof typeof demoServiceIds],
    demoServiceIds[`assets ${title}` as keyof typeof demoServiceIds],
  ].sort();
}

/**
 * Fail when any secret appears in any text. The message names the secret's label and the text's
 * source, never the value.
 */
export function assertNoSecrets(
  texts: readonly (Output | string)[],
  secrets: readonly (Secret | string)[],
): void {
  const labelled = secrets.map((s, i) => (typeof s === "string" ? { label: `secret #${i}`, value: s } : s));
  const sources = texts.map((t, i) => (typeof t === "string" ? { source: `text #${i}`, text: t } : t));
  const hits: string[] = [];
  for (const { source, text } of sources) {
    for (const { label, value } of labelled) {
      if (value.length > 0 && text.includes(value)) hits.push(`${label} appears in ${source}`);
    }
  }
  assert.deepEqual(hits, [], `secrets leaked:\n${hits.join("\n")}`);
}

/** Sleep. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Whether a process running `script` exists (Linux /proc; elsewhere only the markers count). */
function restartScriptRunning(script: string): boolean {
  if (!existsSync("/proc/self/cmdline")) return false;
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes(script)) return true;
    } catch {
      // gone meanwhile
    }
  }
  return false;
}

/** Start the world. Always `close()` it (in `after`). */
export async function startRotationEnv(options: RotationEnvOptions = {}): Promise<RotationEnv> {
  const environments = [...(options.environments ?? DEMO_ENVIRONMENTS)];
  const dir = await mkdtemp(join(tmpdir(), "ftr-rotate-test-"));
  const runDir = join(dir, "run");
  const secretsDir = join(dir, "secrets");
  const configPath = join(dir, "ftr.yaml");
  const restartScript = join(dir, "restart-exporter.mjs");
  const stateDir = join(dir, options.stateDir ?? ".ftr-state");
  const outputs: Output[] = [];
  const seenValues = new Map<string, string>();
  const children = new Set<CliProcess>();
  const supervisors = new Map<DemoEnv, ExporterSupervisor<DemoEnv>>();
  let prometheus: RunningPrometheus | undefined;

  const emulator = await createEmulator({ seed: options.seed ?? demoSeed });
  const admin = createEmulatorAdmin(emulator.url);
  const env = {
    FASTLY_API_TOKEN: demoCredentials.superuser.token,
    FASTLY_SUDO_PASSWORD: demoCredentials.superuser.password,
    FASTLY_API_ENDPOINT: emulator.url,
  };

  const close = async () => {
    for (const child of children) {
      if (child.child.exitCode === null && child.child.signalCode === null) child.child.kill("SIGKILL");
    }
    await Promise.all([...children].map((c) => c.done.catch(() => undefined)));
    await Promise.all([...supervisors.values()].map((s) => s.stop()));
    await prometheus?.close();
    await emulator.close();
    await rm(dir, { recursive: true, force: true });
  };

  const secretPath = (e: DemoEnv) => join(secretsDir, e);
  /** Remember every value the secret files hold (current, previous, pending) for the secrets check. */
  const observeSecrets = () => {
    if (!existsSync(secretsDir)) return;
    for (const name of readdirSync(secretsDir)) {
      const text = readFileSync(join(secretsDir, name), "utf8");
      const values = name.endsWith(".pending")
        ? [(JSON.parse(text) as { document: string }).document.trim()]
        : [text.trim()];
      for (const value of values) {
        if (value !== "" && !seenValues.has(value)) seenValues.set(value, `value seen in secrets/${name}`);
      }
    }
  };
  const record = (what: string, result: { stdout: string; stderr: string }) => {
    outputs.push(
      { source: `${what} stdout`, text: result.stdout },
      { source: `${what} stderr`, text: result.stderr },
    );
    observeSecrets();
  };

  let current: ConfigDoc;
  const writeConfig = async (doc: ConfigDoc | string) => {
    if (typeof doc !== "string") current = structuredClone(doc);
    await writeFile(configPath, typeof doc === "string" ? doc : stringify(doc));
  };
  const controlFile = join(runDir, "control.json");

  try {
    await mkdir(secretsDir, { mode: 0o700 });
    await mkdir(runDir, { mode: 0o700 });
    await writeFile(restartScript, restartScriptText());

    for (const e of environments) {
      await writeFile(secretPath(e), demoCredentials.exporterTokens[e].token + "\n", { mode: 0o600 });
    }
    if (options.exporters !== false) {
      await Promise.all(
        environments.map(async (e) => {
          const supervisor = new ExporterSupervisor({
            env: e,
            endpoint: emulator.url,
            tokenFile: secretPath(e),
            port: await freePort(),
            runDir,
            cli: CLI_NODE_ARGS,
          });
          supervisors.set(e, supervisor);
          await supervisor.start();
        }),
      );
    }
    if (options.prometheus) {
      const binary = findPrometheus();
      if (!binary) throw new Error("no prometheus binary on PATH (install Debian's prometheus package)");
      prometheus = await startPrometheus({
        binary,
        scrapeTargets: [...supervisors.values()].map((s) => `127.0.0.1:${s.port}`),
        scrapeIntervalMs: 1000,
      });
    }

    // The demo's config, made quick: short verify and reload limits, fewer environments.
    const doc = parse(demoConfig(emulator.url, restartScript, prometheus?.url)) as ConfigDoc;
    doc.environments = doc.environments.filter((e) => environments.includes(e.name as DemoEnv));
    for (const e of doc.environments) {
      const name = e.name as DemoEnv;
      e.reload = [
        ...(e.reload ?? []).map((r) => ({ ...r, timeout: options.reloadTimeout ?? "90s" })),
        ...(options.extraReload?.(name) ?? []),
      ];
      const builtIn = (e.verify ?? []).map((v) => ({
        ...v,
        timeout: options.verifyTimeout ?? "60s",
        interval: options.verifyInterval ?? "1s",
      }));
      const extra = options.extraVerify?.(name) ?? [];
      e.verify = options.extraVerifyFirst ? [...extra, ...builtIn] : [...builtIn, ...extra];
    }
    if (options.stateDir) doc.state = { dir: options.stateDir };
    options.configure?.(doc);
    await writeConfig(doc);
  } catch (error) {
    await close();
    throw error;
  }

  const journalFile = journalPath(stateDir);
  const journalText = () => (existsSync(journalFile) ? readFileSync(journalFile, "utf8") : "");

  const world: RotationEnv = {
    dir,
    configPath,
    stateDir,
    journalFile,
    emulator,
    admin,
    prometheusUrl: prometheus?.url,
    environments,
    env,
    exporters: supervisors,

    config: () => structuredClone(current),
    writeConfig,
    async setReload(e, behaviour) {
      const control = existsSync(controlFile)
        ? (JSON.parse(readFileSync(controlFile, "utf8")) as Record<string, ReloadBehaviour>)
        : {};
      control[e] = behaviour;
      // In one rename: a restart script reading it meanwhile sees the old or the new file, never half.
      await writeFile(`${controlFile}.tmp`, JSON.stringify(control));
      await rename(`${controlFile}.tmp`, controlFile);
    },
    restartExporter: (e) =>
      new Promise<void>((resolve, reject) => {
        const child = spawn(process.execPath, [restartScript, e], { stdio: "ignore" });
        child.once("exit", (code) =>
          code === 0 ? resolve() : reject(new Error(`restart of ${e} exited ${code}`)),
        );
      }),
    async reloadsIdle(timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      // A script just started has not written its marker yet: look for its process too.
      while (
        readdirSync(runDir).some((n) => n.startsWith("reloading-")) ||
        restartScriptRunning(restartScript)
      ) {
        if (Date.now() > deadline) throw new Error("a restart script is still running");
        await sleep(50);
      }
    },

    async runCli(argv, extra = {}, cliOptions = {}) {
      const result = await runCli(argv, { cwd: dir, ...cliOptions, env: { ...env, ...extra } });
      record(`ftr ${argv.join(" ")} (in-process)`, result);
      return result;
    },
    spawnCli(argv, extra = {}) {
      const child = spawnCli(argv, { cwd: dir, env: { ...env, ...extra } });
      children.add(child);
      void child.done.then(
        (result) => record(`ftr ${argv.join(" ")} (pid ${child.pid})`, result),
        () => undefined,
      );
      return child;
    },
    async runCliProcess(argv, extra = {}) {
      const result = await world.spawnCli(argv, extra).done;
      return { code: result.code, stdout: result.stdout, stderr: result.stderr };
    },

    secretPath,
    readSecret: (e) => readFileSync(secretPath(e), "utf8").replace(/\r?\n$/, ""),
    async writeSecret(e, value) {
      await writeFile(`${secretPath(e)}.new`, `${value}\n`, { mode: 0o600 });
      await rename(`${secretPath(e)}.new`, secretPath(e));
    },
    journal: () => readJournal(stateDir),
    journalText,
    async waitForJournal(match, waitOptions = {}) {
      const deadline = Date.now() + (waitOptions.timeoutMs ?? 120_000);
      for (;;) {
        const hit = readJournal(stateDir)
          .slice(waitOptions.from ?? 0)
          .find(match);
        if (hit) return hit;
        if (Date.now() > deadline) throw new Error("timed out waiting for a journal record");
        await sleep(waitOptions.intervalMs ?? 5);
      }
    },

    async tokenSelf(value) {
      const response = await fetch(`${emulator.url}/tokens/self`, {
        headers: { "Fastly-Key": value, Accept: "application/json", "User-Agent": PROBE_USER_AGENT },
      });
      const body = (await response.json()) as { id?: string };
      return response.ok && body.id ? { status: response.status, id: body.id } : { status: response.status };
    },
    async liveTokens() {
      return (await admin.state()).automationTokens.filter((t) => t.revokedAt === null && !t.expired);
    },
    async managedLive(e) {
      return (await world.liveTokens()).filter((t) => t.name === tokenName(e));
    },
    async consumerRefusals() {
      return (await admin.requests()).filter(
        (r) => r.userAgent === EXPORTER_USER_AGENT && (r.status === 401 || r.status === 403),
      );
    },
    async toolRequests() {
      return (await admin.requests()).filter((r) => r.userAgent?.startsWith(USER_AGENT) === true);
    },
    async exporterTokenId(e) {
      const exporter = supervisors.get(e);
      if (!exporter) return undefined;
      const text = await (await fetch(`${exporter.url}/metrics`)).text();
      return /fastly_rt_token_expiration\{[^}]*token_id="([^"]+)"/.exec(text)?.[1];
    },

    collectOutput() {
      observeSecrets();
      return [
        ...outputs,
        ...[...supervisors.values()].map((s) => ({ source: `exporter ${s.env} logs`, text: s.logs })),
        { source: "journal", text: journalText() },
      ];
    },
    knownSecrets() {
      observeSecrets();
      const { superuser, engineer, exporterTokens } = demoCredentials;
      return [
        { label: "superuser token", value: superuser.token },
        { label: "superuser password", value: superuser.password },
        { label: "engineer token", value: engineer.token },
        { label: "engineer password", value: engineer.password },
        ...DEMO_ENVIRONMENTS.map((e) => ({ label: `old ${e} token`, value: exporterTokens[e].token })),
        ...[...seenValues].map(([value, label]) => ({ label, value })),
      ];
    },
    close,
  };
  return world;
}

/**
 * The end state every rotation, resume and rollback must leave for `env`: exactly one live token
 * with the managed name; it is the one in the secret file; Fastly accepts it; the stand-in uses it.
 * Returns its id.
 */
export async function assertSettled(h: RotationEnv, env: DemoEnv): Promise<string> {
  const value = h.readSecret(env);
  const self = await h.tokenSelf(value);
  assert.equal(self.status, 200, `${env}: the deployed token is refused (${self.status})`);
  const managed = await h.managedLive(env);
  assert.deepEqual(
    managed.map((t) => t.id),
    [self.id],
    `${env}: exactly one live managed token, the deployed one`,
  );
  if (h.exporters.has(env)) {
    assert.equal(await h.exporterTokenId(env), self.id, `${env}: the stand-in runs with the deployed token`);
  }
  return self.id!;
}

/**
 * Resolves once what a killed run left in motion has stopped: no request held by the emulator and
 * no restart script running. Conditions, not a sleep: under load a held request can take far longer
 * than its delay.
 */
export async function settled(h: RotationEnv): Promise<void> {
  const deadline = Date.now() + 120_000;
  while ((await h.admin.state()).inFlight > 0) {
    if (Date.now() > deadline) throw new Error("the emulator still holds a request after 120 s");
    await sleep(20);
  }
  await h.reloadsIdle(120_000);
}
