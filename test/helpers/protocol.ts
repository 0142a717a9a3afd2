/**
 * The world of the in-process protocol suites (`test/rotate-protocol-*.test.ts`): the emulator on
 * port 0 and the run sharing one manual clock (every wait of the run moves both on at once, so
 * nothing waits for real time), and per case a directory holding file stores, a config and the
 * consumer: an exec reloader's command that calls Fastly once with the value in its file, through
 * curl, so that the `token-in-use` verifier sees the new token used. `fail-reload-<env>` in the
 * directory makes the reload fail, `idle-<env>` makes it succeed without using the token.
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { existsSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import { loadConfig, type Config } from "../../src/config/index.ts";
import {
  createEmulator,
  createEmulatorAdmin,
  demoCredentials,
  demoSeed,
  type EmulatorAdmin,
  type EmulatorTokenSnapshot,
  type RequestLogEntry,
  type RunningEmulator,
} from "../../src/emulator/index.ts";
import { createFastlyClient, type FastlyClient } from "../../src/fastly/index.ts";
import { gatherState, makePlan, type Plan } from "../../src/plan/index.ts";
import { createSecretStore } from "../../src/adapters/registry.ts";
import type { SecretStore } from "../../src/adapters/types.ts";
import type { Clock } from "../../src/adapters/support/poll.ts";
import {
  readJournal,
  rotate,
  type JournalRecord,
  type RotateOptions,
  type RotationEvent,
  type RotationResult,
  type RunContext,
} from "../../src/rotation/index.ts";
import { Interrupted } from "../../src/util/interrupt.ts";
import type { NotificationSink } from "../../src/notify/index.ts";
import type { NotificationEvent } from "../../src/adapters/types.ts";
import { USER_AGENT } from "../../src/version.ts";

const { superuser, exporterTokens } = demoCredentials;
export type Env = "integration" | "staging";

// The consumer is curl: a missing curl is a broken setup, never a skip.
try {
  execFileSync("curl", ["--version"], { stdio: "ignore" });
} catch {
  throw new Error(
    "curl is needed by the test/rotate-protocol-*.test.ts suites (the consumer they reload): install it",
  );
}

/** Milliseconds the manual clock is ahead of the machine's. */
let offsetMs = 0;

/** Move the manual clock (the run's and the emulator's) on by `ms`. */
export function advanceClock(ms: number): void {
  offsetMs += ms;
}
/** The run's clock: the machine's plus an offset that every wait moves on at once. */
export const clock: Clock = {
  now: () => Date.now() + offsetMs,
  sleep: async (ms, signal) => {
    if (signal?.aborted) throw signal.reason;
    offsetMs += ms;
    await new Promise((resolve) => setImmediate(resolve));
    if (signal?.aborted) throw signal.reason;
  },
};

export let emulator: RunningEmulator;
export let admin: EmulatorAdmin;

/** Start the emulator before the file's tests, on the manual clock; stop it after them. */
export function useProtocolEmulator(): void {
  before(async () => {
    emulator = await createEmulator({ seed: demoSeed, clock: { now: () => new Date(clock.now()) } });
    admin = createEmulatorAdmin(emulator.url);
  });
  after(async () => {
    await emulator?.close();
  });
}

const CONSUMER = `#!/bin/sh
# The consumer: restarted by the reload, it calls Fastly once with the token in its file.
echo "$1" >> reloads.log
if [ -e "fail-reload-$1" ]; then exit 1; fi
if [ -e "idle-$1" ]; then exit 0; fi
printf 'Fastly-Key: %s\\n' "$(cat "$1.txt")" | curl -sf -o /dev/null -A "exporter/1.0" -H @- "$FASTLY_URL/tokens/self"
`;

export interface Case {
  dir: string;
  config: Config;
  client: FastlyClient;
  stateDir: string;
  passwords: number;
  secret(env: Env): string;
  journal(): JournalRecord[];
  plan(options?: { force?: boolean; only?: readonly Env[] }): Promise<Plan>;
  run(options?: Partial<RotateOptions> & { force?: boolean; only?: readonly Env[] }): Promise<RotationResult>;
  context(extra?: Partial<RunContext>): RunContext;
  touch(name: string): Promise<void>;
  remove(name: string): Promise<void>;
  token(id: string): Promise<{ revokedAt: string | null; name: string } | undefined>;
  requests(): Promise<RequestLogEntry[]>;
  close(): Promise<void>;
}

export interface CaseOptions {
  readonly environments?: readonly Env[];
  /** YAML lines added to each environment. */
  readonly extra?: Partial<Record<Env, string>>;
  /** The `verify` list of each environment, as YAML (default token-in-use). */
  readonly verify?: Partial<Record<Env, string>>;
  /** Token selector of each environment (default its demo token's name and services). */
  readonly services?: string;
}

export async function setup(options: CaseOptions = {}): Promise<Case> {
  await admin.reset();
  offsetMs = 0;
  const dir = await mkdtemp(join(tmpdir(), "ftr-protocol-"));
  const environments = options.environments ?? ["integration"];
  await writeFile(join(dir, "consumer.sh"), CONSUMER, { mode: 0o755 });
  const lines = [
    "version: 1",
    `fastly: { endpoint: "${emulator.url}" }`,
    "state: { dir: ./state }",
    "environments:",
  ];
  for (const env of environments) {
    await writeFile(join(dir, `${env}.txt`), exporterTokens[env].token + "\n", { mode: 0o600 });
    const capital = env === "integration" ? "Integration" : "Staging";
    lines.push(
      `  - name: ${env}`,
      `    token: { name: "${exporterTokens[env].name}", services: ${options.services ?? `{ nameMatches: "${capital}" }`} }`,
      `    secret: { type: file, path: ./${env}.txt }`,
      `    reload: [{ type: exec, command: ["sh", "./consumer.sh", "${env}"], env: { FASTLY_URL: "${emulator.url}" }, timeout: 60s }]`,
      `    verify: ${options.verify?.[env] ?? "[{ type: token-in-use, timeout: 2m, interval: 10s }]"}`,
      ...(options.extra?.[env] ? [options.extra[env]] : []),
    );
  }
  const configPath = join(dir, "ftr.yaml");
  await writeFile(configPath, lines.join("\n") + "\n");
  const { config } = await loadConfig(configPath);
  const superuserClient = (signal?: AbortSignal) =>
    createFastlyClient({
      token: superuser.token,
      endpoint: emulator.url,
      retry: { retries: 2, baseDelayMs: 5 },
      ...(signal ? { signal } : {}),
    });
  const client = superuserClient();
  const stateDir = join(dir, "state");
  const c: Case = {
    dir,
    config,
    client,
    stateDir,
    passwords: 0,
    secret: (env) => readFileSync(join(dir, `${env}.txt`), "utf8").trim(),
    journal: () => (existsSync(stateDir) ? readJournal(stateDir) : []),
    async plan(o = {}) {
      const stores = new Map<string, SecretStore>();
      for (const env of config.environments) stores.set(env.name, await createSecretStore(env.secret));
      const state = await gatherState({ client, config, stores });
      return makePlan(state, config, {
        now: new Date(clock.now()),
        force: o.force ?? true,
        only: o.only ?? [],
      });
    },
    context: (extra = {}) => ({
      config,
      // As the command line does, the client stops with the run.
      client: extra.signal ? superuserClient(extra.signal) : client,
      clock,
      getPassword: () => {
        c.passwords += 1;
        return Promise.resolve(superuser.password);
      },
      proveTimeoutMs: 5000,
      ...extra,
    }),
    async run(o = {}) {
      const { force, only, ...rest } = o;
      const plan = rest.plan ?? (await c.plan({ force: force ?? true, ...(only ? { only } : {}) }));
      return rotate({ ...c.context(rest.signal ? { signal: rest.signal } : {}), plan, ...rest });
    },
    touch: (name) => writeFile(join(dir, name), ""),
    remove: (name) => rm(join(dir, name), { force: true }),
    async token(id) {
      return (await admin.state()).automationTokens.find((t) => t.id === id);
    },
    requests: () => admin.requests(),
    close: () => rm(dir, { recursive: true, force: true }),
  };
  return c;
}

/** Whether Fastly accepts `value` (GET /tokens/self answered 200). */
export async function works(value: string): Promise<boolean> {
  const response = await fetch(`${emulator.url}/tokens/self`, {
    headers: { "Fastly-Key": value, "User-Agent": "probe/1.0" },
  });
  await response.body?.cancel();
  return response.status === 200;
}

/** `step status` of each record of `env`, in order. */
export function trail(records: readonly JournalRecord[], env: string = "integration"): string[] {
  return records.filter((r) => r.environment === env).map((r) => `${r.step} ${r.status}`);
}

/** The rotator's own requests (its User-Agent), in the order the emulator received them. */
export function own(requests: readonly RequestLogEntry[]): RequestLogEntry[] {
  return requests.filter((r) => r.userAgent?.startsWith(USER_AGENT.split(" ")[0]!) === true);
}

export const FORWARD = [
  "start done",
  "mint begin",
  "mint done",
  "test begin",
  "test done",
  "stage begin",
  "stage done",
  "promote begin",
  "promote done",
  "reload begin",
  "reload done",
  "verify begin",
  "verify done",
  "revoke begin",
  "revoke done",
  "prove begin",
  "prove done",
  "finish done",
];

export const ROLLED_BACK_AFTER = (step: "reload" | "verify") => [
  ...FORWARD.slice(0, FORWARD.indexOf(`${step} begin`) + 1),
  `${step} failed`,
  "rollback begin",
  "restore begin",
  "restore done",
  "rollback-reload begin",
  "rollback-reload done",
  "rollback-verify begin",
  "rollback-verify done",
  "revoke-new begin",
  "revoke-new done",
  "finish done",
];

/** An abort controller stopped as SIGTERM would stop it, when `when` first holds of an event. */
export function stopAt(when: (e: RotationEvent) => boolean): {
  signal: AbortSignal;
  onEvent: (e: RotationEvent) => void;
} {
  const controller = new AbortController();
  return {
    signal: controller.signal,
    onEvent: (e) => {
      if (!controller.signal.aborted && when(e)) controller.abort(new Interrupted("SIGTERM"));
    },
  };
}

/** A notification sink that keeps every event emitted to it, in order. */
export function collectNotifications(): { notify: NotificationSink; events: NotificationEvent[] } {
  const events: NotificationEvent[] = [];
  return {
    events,
    notify: { emit: (e) => (events.push(e), Promise.resolve(1)), flush: () => Promise.resolve(true) },
  };
}

/** The token a run's create made: named `name` in the account, and not `oldId`. */
export async function createdToken(name: string, oldId: string): Promise<EmulatorTokenSnapshot> {
  const created = (await admin.state()).automationTokens.find((t) => t.name === name && t.id !== oldId);
  if (!created) throw new Error(`no token named ${JSON.stringify(name)} was created`);
  return created;
}

/**
 * `GET /tokens/self`'s answer for `created`, in the shape of `template` (an answer of the same API,
 * so fields only one API version sends stay as it has them), its times written by `time`.
 */
export function selfAnswerFor(
  template: Record<string, unknown>,
  created: EmulatorTokenSnapshot,
  time: (iso: string) => string = (iso) => iso,
): Record<string, unknown> {
  return {
    ...template,
    id: created.id,
    name: created.name,
    scope: created.scope,
    ...("scopes" in template ? { scopes: created.scope } : {}),
    services: [...created.services],
    ...("limit_services" in template ? { limit_services: created.limitServices } : {}),
    created_at: time(created.createdAt),
    expires_at: created.expiresAt === null ? null : time(created.expiresAt),
  };
}
