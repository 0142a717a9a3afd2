/**
 * The rotation protocol, driven through the library in this process: `rotate`, `resume` and
 * `rollbackLast` against the emulator on port 0, file stores in a temporary directory, an exec
 * reloader whose command is the consumer (it calls Fastly with the value in the file, through curl)
 * and the `token-in-use` verifier. The run and the emulator share one manual clock: every wait of
 * the run (a verifier's poll, prove's retries, a lost create's second look) moves both on at once,
 * so nothing here waits for real time. One emulator for the file, reset before each case; a
 * directory per case.
 *
 * What it proves: each step journaled before its side effect and done after, create before revoke,
 * the test step's checks, rollback after a failed reload or verify (the old secret back, the new
 * token revoked), revoke only after verify, prove, sudo, the approval and start gates, and every
 * branch of `resume` and `rollback`, with runs stopped by a signal at each step.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { existsSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import { loadConfig, type Config } from "../src/config/index.ts";
import {
  createEmulator,
  createEmulatorAdmin,
  demoCredentials,
  demoSeed,
  demoServiceIds,
  type EmulatorAdmin,
  type RequestLogEntry,
  type RunningEmulator,
} from "../src/emulator/index.ts";
import { createFastlyClient, type FastlyClient } from "../src/fastly/index.ts";
import { gatherState, makePlan, type Plan } from "../src/plan/index.ts";
import { createSecretStore } from "../src/adapters/registry.ts";
import type { SecretStore } from "../src/adapters/types.ts";
import type { Clock } from "../src/adapters/support/poll.ts";
import {
  AlreadyRolledBack,
  readJournal,
  resume,
  rollbackLast,
  RollbackError,
  rotate,
  stateBackend,
  type JournalRecord,
  type RotateOptions,
  type RotationEvent,
  type RotationResult,
  type RunContext,
} from "../src/rotation/index.ts";
import { Interrupted } from "../src/util/interrupt.ts";
import { USER_AGENT } from "../src/version.ts";

const { superuser, exporterTokens } = demoCredentials;
type Env = "integration" | "staging";

// The consumer is curl: a missing curl is a broken setup, never a skip.
try {
  execFileSync("curl", ["--version"], { stdio: "ignore" });
} catch {
  throw new Error(
    "curl is needed by test/rotate-protocol-fast.test.ts (the consumer it reloads): install it",
  );
}

/** Milliseconds the manual clock is ahead of the machine's. */
let offsetMs = 0;
/** The run's clock: the machine's plus an offset that every wait moves on at once. */
const clock: Clock = {
  now: () => Date.now() + offsetMs,
  sleep: async (ms, signal) => {
    if (signal?.aborted) throw signal.reason;
    offsetMs += ms;
    await new Promise((resolve) => setImmediate(resolve));
    if (signal?.aborted) throw signal.reason;
  },
};

let emulator: RunningEmulator;
let admin: EmulatorAdmin;

before(async () => {
  emulator = await createEmulator({ seed: demoSeed, clock: { now: () => new Date(clock.now()) } });
  admin = createEmulatorAdmin(emulator.url);
});
after(async () => {
  await emulator?.close();
});

const CONSUMER = `#!/bin/sh
# The consumer: restarted by the reload, it calls Fastly once with the token in its file.
echo "$1" >> reloads.log
if [ -e "fail-reload-$1" ]; then exit 1; fi
if [ -e "idle-$1" ]; then exit 0; fi
printf 'Fastly-Key: %s\\n' "$(cat "$1.txt")" | curl -sf -o /dev/null -A "exporter/1.0" -H @- "$FASTLY_URL/tokens/self"
`;

interface Case {
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

interface CaseOptions {
  readonly environments?: readonly Env[];
  /** YAML lines added to each environment. */
  readonly extra?: Partial<Record<Env, string>>;
  /** The `verify` list of each environment, as YAML (default token-in-use). */
  readonly verify?: Partial<Record<Env, string>>;
  /** Token selector of each environment (default its demo token's name and services). */
  readonly services?: string;
}

async function setup(options: CaseOptions = {}): Promise<Case> {
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
async function works(value: string): Promise<boolean> {
  const response = await fetch(`${emulator.url}/tokens/self`, {
    headers: { "Fastly-Key": value, "User-Agent": "probe/1.0" },
  });
  await response.body?.cancel();
  return response.status === 200;
}

/** `step status` of each record of `env`, in order. */
function trail(records: readonly JournalRecord[], env: string = "integration"): string[] {
  return records.filter((r) => r.environment === env).map((r) => `${r.step} ${r.status}`);
}

/** The rotator's own requests (its User-Agent), in the order the emulator received them. */
function own(requests: readonly RequestLogEntry[]): RequestLogEntry[] {
  return requests.filter((r) => r.userAgent?.startsWith(USER_AGENT.split(" ")[0]!) === true);
}

const FORWARD = [
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

const ROLLED_BACK_AFTER = (step: "reload" | "verify") => [
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
function stopAt(when: (e: RotationEvent) => boolean): {
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

describe("the rotation protocol, in process", () => {
  let c: Case;
  afterEach(async () => {
    await admin.clearHooks();
    await c?.close();
  });

  it("rotates two environments in config order, each step journaled before its side effect and done after", async () => {
    c = await setup({ environments: ["integration", "staging"] });
    const old = { integration: exporterTokens.integration, staging: exporterTokens.staging };
    const events: RotationEvent[] = [];
    const result = await c.run({ onEvent: (e) => events.push(e) });
    assert.equal(result.ok, true, JSON.stringify(result.environments));
    assert.deepEqual(
      result.environments.map((e) => [e.environment, e.outcome]),
      [
        ["integration", "rotated"],
        ["staging", "rotated"],
      ],
    );
    assert.equal(c.passwords, 1, "the password is asked once");
    const records = c.journal();
    const requests = await c.requests();
    const mine = own(requests);
    assert.equal(mine.filter((r) => r.method === "POST" && r.path === "/sudo").length, 1, "sudo once");
    for (const env of ["integration", "staging"] as const) {
      assert.deepEqual(trail(records, env), FORWARD, env);
      const r = result.environments.find((e) => e.environment === env)!;
      const newId = r.newTokenId!;
      assert.ok(newId && newId !== old[env].id);
      assert.equal(r.deployedTokenId, old[env].id);
      assert.deepEqual(r.revoked, [old[env].id]);
      assert.ok(r.newTokenExpiresAt && Date.parse(r.newTokenExpiresAt) > clock.now());
      assert.equal(r.error, undefined);
      assert.deepEqual(r.requests && r.requests.nonGet, 2, "one create and one revoke");
      assert.ok((r.requests?.total ?? 0) > 4);
      assert.deepEqual(
        r.steps.map((s) => s.step),
        ["mint", "test", "stage", "promote", "reload", "verify", "revoke", "prove"],
      );
      assert.ok(r.steps.every((s) => s.ok));
      const envRecords = records.filter((x) => x.environment === env);
      const mintBegin = envRecords.find((x) => x.step === "mint" && x.status === "begin")!;
      assert.equal(mintBegin.tokenName, old[env].name);
      assert.deepEqual(mintBegin.oldTokenIds, [old[env].id]);
      assert.equal(mintBegin.deployedTokenId, old[env].id);
      assert.equal(envRecords.find((x) => x.step === "mint" && x.status === "done")?.newTokenId, newId);
      assert.equal(envRecords.at(-1)?.outcome, "rotated");
      // The consumer holds the new value; the old one is refused.
      const value = c.secret(env);
      assert.notEqual(value, old[env].token);
      assert.equal(await works(value), true);
      assert.equal(await works(old[env].token), false);
      assert.notEqual((await c.token(old[env].id))?.revokedAt ?? null, null);
      // Create before revoke; revoke only after the verifier's last look at the new token.
      const create = mine.findIndex(
        (x) => x.method === "POST" && x.path === "/automation-tokens" && x.status === 200,
      );
      const revoke = mine.findIndex((x) => x.method === "DELETE" && x.path === `/tokens/${old[env].id}`);
      const lastVerify = mine.findLastIndex(
        (x) => x.method === "GET" && x.path === `/automation-tokens/${newId}`,
      );
      assert.ok(
        create >= 0 && revoke > lastVerify && lastVerify > create,
        `${create} ${lastVerify} ${revoke}`,
      );
      // Prove: the old value asked after the revoke, refused.
      const proof = requests.findIndex(
        (x, i) =>
          i > requests.indexOf(mine[revoke]!) && x.tokenId === old[env].id && x.path === "/tokens/self",
      );
      assert.ok(proof > 0 && requests[proof]!.status === 401);
    }
    // Integration entirely before staging.
    const lastIntegration = records.findLastIndex((r) => r.environment === "integration");
    const firstStaging = records.findIndex((r) => r.environment === "staging");
    assert.ok(lastIntegration < firstStaging);
    // Events: one per record, in order.
    assert.deepEqual(
      events.map((e) => `${e.environment} ${e.step} ${e.status}`),
      records.map((r) => `${r.environment} ${r.step} ${r.status}`),
    );
    // The lock was released: it can be taken again at once.
    const session = await (await stateBackend(c.config, { clock })).acquire({});
    await session.release();
    // Nothing is due any more.
    const again = await c.run({ force: false });
    assert.equal(again.ok, true);
    assert.deepEqual(
      again.environments.map((e) => e.outcome),
      ["nothing-to-do", "nothing-to-do"],
    );
    assert.equal(c.passwords, 1, "nothing due: no password asked");
  });

  it("--keep-old keeps the old token; rollback puts it back and revokes the new one, once", async () => {
    c = await setup();
    const kept = await c.run({ keepOld: true });
    const env = kept.environments[0]!;
    assert.equal(env.outcome, "kept-old");
    assert.equal(kept.ok, true);
    assert.deepEqual(env.revoked, []);
    assert.equal(await works(exporterTokens.integration.token), true, "the old token still works");
    assert.deepEqual(trail(c.journal()), [
      ...FORWARD.slice(0, FORWARD.indexOf("revoke begin")),
      "finish done",
    ]);
    const from = c.journal().length;
    c.passwords = 0;
    const undone = await rollbackLast({ ...c.context(), environment: "integration" });
    assert.equal(undone.ok, true, JSON.stringify(undone));
    assert.equal(undone.rollbackOf, kept.runId);
    assert.notEqual(undone.runId, kept.runId);
    const u = undone.environments[0]!;
    assert.equal(u.outcome, "rolled-back");
    assert.equal(u.error, undefined);
    assert.equal(u.advice, undefined);
    assert.deepEqual(u.revoked, [env.newTokenId]);
    assert.equal(c.secret("integration"), exporterTokens.integration.token);
    assert.notEqual((await c.token(env.newTokenId!))?.revokedAt ?? null, null);
    const records = c.journal().slice(from);
    assert.deepEqual(
      records.map((r) => `${r.step} ${r.status}`),
      [
        "start done",
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
      ],
    );
    assert.equal(records[0]?.rollbackOf, kept.runId);
    assert.equal(records[0]?.deployedTokenId, exporterTokens.integration.id);
    assert.equal(records.at(-1)?.detail, "rolled back as asked");
    assert.equal(records.at(-1)?.outcome, "rolled-back");
    assert.equal(c.passwords, 0, "a rollback needs no sudo");
    await assert.rejects(
      rollbackLast({ ...c.context(), environment: "integration" }),
      (e: unknown) => e instanceof AlreadyRolledBack && /already undone by run /.test(e.message),
    );
  });

  it("rollback refuses: an unknown environment, no completed rotation, a revoked previous token, an unfinished run", async () => {
    c = await setup();
    await assert.rejects(
      rollbackLast({ ...c.context(), environment: "nowhere" }),
      (e: unknown) => e instanceof RollbackError && /no environment named "nowhere"/.test(e.message),
    );
    await assert.rejects(
      rollbackLast({ ...c.context(), environment: "integration" }),
      (e: unknown) =>
        e instanceof RollbackError && /has no completed rotation of integration/.test(e.message),
    );
    const done = await c.run();
    assert.equal(done.ok, true);
    await assert.rejects(
      rollbackLast({ ...c.context(), environment: "integration" }),
      (e: unknown) =>
        e instanceof RollbackError &&
        !(e instanceof AlreadyRolledBack) &&
        new RegExp(`previous token ${exporterTokens.integration.id} of integration was revoked`).test(
          e.message,
        ),
    );
    // A run stopped at verify: unfinished.
    const stop = stopAt((e) => e.step === "verify" && e.status === "begin");
    const stopped = await c.run(stop);
    assert.equal(stopped.environments[0]?.outcome, "interrupted");
    await assert.rejects(
      rollbackLast({ ...c.context(), environment: "integration" }),
      (e: unknown) => e instanceof RollbackError && /is unfinished \(stopped at verify\)/.test(e.message),
    );
  });

  it("a rollback whose reload fails says so plainly and stays unfinished for resume", async () => {
    c = await setup();
    const kept = await c.run({ keepOld: true });
    const newId = kept.environments[0]!.newTokenId!;
    await c.touch("fail-reload-integration");
    const failed = await rollbackLast({ ...c.context(), environment: "integration" });
    assert.equal(failed.ok, false);
    const f = failed.environments[0]!;
    assert.equal(f.outcome, "failed");
    assert.match(f.error ?? "", /^the rollback failed \(/);
    assert.equal((await c.token(newId))?.revokedAt ?? null, null, "the new token is left valid");
    await c.remove("fail-reload-integration");
    const resumed = await resume(c.context());
    assert.equal(resumed.ok, true, JSON.stringify(resumed));
    assert.equal(resumed.environments[0]?.outcome, "rolled-back");
    assert.notEqual((await c.token(newId))?.revokedAt ?? null, null);
    assert.equal(c.secret("integration"), exporterTokens.integration.token);
  });

  it("a failed reload rolls back: the old secret restored, reloaded and verified, then the new token revoked", async () => {
    c = await setup({ environments: ["integration", "staging"] });
    // The first reload fails; the rollback's reload works.
    await c.touch("fail-reload-integration");
    const events: RotationEvent[] = [];
    const result = await c.run({
      onEvent: (e) => {
        events.push(e);
        if (e.step === "reload" && e.status === "failed") void c.remove("fail-reload-integration");
      },
    });
    // The removal is asynchronous: make sure it landed before the rollback's reload ran.
    assert.equal(result.ok, false);
    const [integration, staging] = result.environments;
    assert.equal(integration?.outcome, "rolled-back", JSON.stringify(integration));
    assert.match(integration?.error ?? "", /^reload failed: /);
    assert.match(integration?.advice ?? "", /.+/);
    assert.equal(staging?.outcome, "skipped");
    assert.equal(staging?.error, "not started: an earlier environment failed");
    assert.deepEqual(trail(c.journal()), ROLLED_BACK_AFTER("reload"));
    assert.equal(c.journal().at(-1)?.detail, "rolled back after reload failed");
    assert.deepEqual(trail(c.journal(), "staging"), []);
    assert.equal(c.secret("integration"), exporterTokens.integration.token);
    assert.equal(await works(exporterTokens.integration.token), true);
    assert.notEqual((await c.token(integration.newTokenId!))?.revokedAt ?? null, null);
    assert.deepEqual(integration?.revoked, [integration?.newTokenId]);
    assert.equal(c.secret("staging"), exporterTokens.staging.token);
  });

  it("a failed verify rolls back; the old token is never revoked", async () => {
    c = await setup();
    await c.touch("idle-integration");
    const result = await c.run({
      onEvent: (e) => {
        if (e.step === "verify" && e.status === "failed") void c.remove("idle-integration");
      },
    });
    const r = result.environments[0]!;
    assert.equal(r.outcome, "rolled-back", JSON.stringify(r));
    assert.match(r.error ?? "", /^verify failed: token-in-use .*not used since/);
    assert.deepEqual(trail(c.journal()), ROLLED_BACK_AFTER("verify"));
    const mine = own(await c.requests());
    assert.equal(
      mine.filter((x) => x.method === "DELETE" && x.path === `/tokens/${exporterTokens.integration.id}`)
        .length,
      0,
    );
    assert.equal(await works(exporterTokens.integration.token), true);
    assert.equal(await works(c.secret("integration")), true);
    assert.equal(c.secret("integration"), exporterTokens.integration.token);
    assert.notEqual((await c.token(r.newTokenId!))?.revokedAt ?? null, null);
  });

  it("a rollback that fails is reported with the new token left valid, and resume finishes it", async () => {
    c = await setup();
    await c.touch("fail-reload-integration");
    const result = await c.run();
    const r = result.environments[0]!;
    assert.equal(r.outcome, "failed");
    assert.match(r.error ?? "", /^reload failed \(.*\); the rollback then failed too \(/);
    assert.match(r.advice ?? "", new RegExp(`new token ${r.newTokenId} was left valid`));
    const records = c.journal();
    assert.equal(records.at(-1)?.step, "rollback");
    assert.equal(records.at(-1)?.status, "failed");
    assert.ok(!records.some((x) => x.step === "finish"));
    assert.equal((await c.token(r.newTokenId!))?.revokedAt ?? null, null);
    await c.remove("fail-reload-integration");
    const from = records.length;
    const resumed = await resume(c.context());
    assert.equal(resumed.ok, true, JSON.stringify(resumed));
    assert.equal(resumed.runId, result.runId);
    const again = c.journal().slice(from);
    assert.deepEqual(
      again.map((x) => `${x.step} ${x.status}`),
      [
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
      ],
    );
    assert.equal(c.secret("integration"), exporterTokens.integration.token);
    assert.notEqual((await c.token(r.newTokenId!))?.revokedAt ?? null, null);
    assert.equal(await works(exporterTokens.integration.token), true);
  });

  it("a new token that cannot be revoked in the rollback: failed, and resume revokes it", async () => {
    c = await setup();
    await c.touch("idle-integration");
    const result = await c.run({
      onEvent: (e) => {
        if (e.step === "verify" && e.status === "failed") {
          void c.remove("idle-integration");
        }
        if (e.step === "revoke-new" && e.status === "begin") {
          void admin.fault({ method: "DELETE", path: "re:^/tokens/", status: 500, count: 50 });
        }
      },
    });
    const r = result.environments[0]!;
    assert.equal(r.outcome, "failed", JSON.stringify(r));
    assert.match(r.error ?? "", /rolled back, but the new token could not be revoked/);
    assert.match(r.advice ?? "", new RegExp(`to revoke token ${r.newTokenId} once Fastly answers`));
    assert.equal(c.journal().at(-1)?.step, "rollback");
    assert.equal(c.journal().at(-1)?.status, "failed");
    assert.equal(c.secret("integration"), exporterTokens.integration.token);
    await admin.clearFaults();
    const resumed = await resume(c.context());
    assert.equal(resumed.ok, true, JSON.stringify(resumed));
    assert.notEqual((await c.token(r.newTokenId!))?.revokedAt ?? null, null);
    assert.equal(await works(exporterTokens.integration.token), true);
  });

  it("a revoke that fails after verify leaves the new token deployed, unfinished; resume revokes and proves", async () => {
    c = await setup();
    await admin.fault({ method: "DELETE", path: "re:^/tokens/", status: 500, count: 50 });
    const result = await c.run();
    const r = result.environments[0]!;
    assert.equal(r.outcome, "failed");
    assert.match(r.error ?? "", /^revoke failed: /);
    assert.match(r.advice ?? "", /The new token is deployed and verified; run `ftr resume/);
    assert.ok(!c.journal().some((x) => x.step === "finish" || x.step === "rollback"));
    assert.equal(await works(c.secret("integration")), true);
    assert.notEqual(c.secret("integration"), exporterTokens.integration.token);
    assert.equal(await works(exporterTokens.integration.token), true);
    await admin.clearFaults();
    const from = c.journal().length;
    const resumed = await resume(c.context());
    assert.equal(resumed.ok, true, JSON.stringify(resumed));
    assert.deepEqual(resumed.environments[0]?.revoked, [exporterTokens.integration.id]);
    assert.deepEqual(
      c
        .journal()
        .slice(from)
        .map((x) => `${x.step} ${x.status}`),
      ["revoke begin", "revoke done", "prove begin", "prove done", "finish done"],
    );
    assert.equal(await works(exporterTokens.integration.token), false);
  });

  it("a revoke answered 204 that revoked nothing fails prove", async () => {
    c = await setup();
    await admin.fault({ method: "DELETE", path: "re:^/tokens/", status: 204 });
    const result = await c.run();
    const r = result.environments[0]!;
    assert.equal(r.outcome, "failed");
    assert.match(
      r.error ?? "",
      new RegExp(`token ${exporterTokens.integration.id} still works after it was revoked`),
    );
    const records = c.journal();
    assert.deepEqual(trail(records).slice(-4), [
      "revoke begin",
      "revoke done",
      "prove begin",
      "prove failed",
    ]);
    assert.equal(await works(exporterTokens.integration.token), true);
    const resumed = await resume(c.context());
    assert.equal(resumed.ok, true);
    assert.equal(await works(exporterTokens.integration.token), false);
    assert.match(
      c.journal().find((x) => x.step === "prove" && x.status === "done" && x.runId === result.runId)
        ?.detail ?? "",
      new RegExp(`${exporterTokens.integration.id}: its value is refused \\(401\\)`),
    );
  });
});

describe("the test step checks the new token against what was asked", () => {
  let c: Case;
  afterEach(async () => {
    await admin.clearHooks();
    await admin.clearFaults();
    await c?.close();
  });

  /** The self-check's answer, built from the token the create made and changed one way. */
  async function mismatched(change: (self: Record<string, unknown>, id: string) => void) {
    c = await setup();
    const template = (await (
      await fetch(`${emulator.url}/tokens/self`, {
        headers: { "Fastly-Key": exporterTokens.integration.token, "User-Agent": "probe/1.0" },
      })
    ).json()) as Record<string, unknown>;
    const hook = await admin.hook({
      method: "POST",
      path: "/automation-tokens",
      phase: "after",
      userAgent: `${USER_AGENT.split(" ")[0]}*`,
      action: "hold",
    });
    const run = c.run();
    await admin.waitForHook(hook.id);
    const created = (await admin.state()).automationTokens.find(
      (t) => t.name === exporterTokens.integration.name && t.id !== exporterTokens.integration.id,
    )!;
    const wire = (iso: string) => iso.replace(/\.\d{3}Z$/, "Z");
    const self: Record<string, unknown> = {
      ...template,
      id: created.id,
      name: created.name,
      scope: created.scope,
      ...("scopes" in template ? { scopes: created.scope } : {}),
      services: [...created.services],
      ...("limit_services" in template ? { limit_services: created.limitServices } : {}),
      created_at: wire(created.createdAt),
      expires_at: created.expiresAt === null ? null : wire(created.expiresAt),
    };
    change(self, created.id);
    await admin.fault({ method: "GET", path: "/tokens/self", status: 200, body: self });
    await admin.releaseHook(hook.id);
    const result = await run;
    const r = result.environments[0]!;
    assert.equal(r.outcome, "rolled-back", JSON.stringify(r));
    assert.match(r.error ?? "", /^test failed: the new token is not as asked: /);
    assert.equal(r.advice, "Check the account's token policies");
    assert.deepEqual(trail(c.journal()), [
      "start done",
      "mint begin",
      "mint done",
      "test begin",
      "test failed",
      "rollback begin",
      "revoke-new begin",
      "revoke-new done",
      "finish done",
    ]);
    assert.notEqual((await c.token(created.id))?.revokedAt ?? null, null, "the new token is revoked");
    assert.equal(c.secret("integration"), exporterTokens.integration.token);
    assert.equal(existsSync(join(c.dir, "integration.txt.pending")), false);
    return r.error ?? "";
  }

  it("as asked: passes (the answer the emulator would give)", async () => {
    c = await setup();
    const result = await c.run({ keepOld: true });
    assert.equal(result.environments[0]?.outcome, "kept-old");
    const detail = result.environments[0]?.steps.find((s) => s.step === "test")?.detail ?? "";
    assert.match(detail, /^[A-Za-z0-9]+: global:read, 2 services, expires /);
  });
  it("another id", async () => {
    const error = await mismatched((self) => (self.id = exporterTokens.staging.id));
    assert.match(error, new RegExp(`it authenticates as ${exporterTokens.staging.id}, not `));
  });
  it("another scope", async () => {
    const error = await mismatched((self) => {
      self.scope = "global";
      if ("scopes" in self) self.scopes = "global";
    });
    assert.match(error, /scope is "global", asked "global:read"/);
  });
  it("other services", async () => {
    const error = await mismatched((self) => {
      self.services = [...(self.services as string[]), demoServiceIds["www Production"]];
    });
    assert.match(error, /services are \[.*\], asked \[/);
  });
  it("every service although services were asked", async () => {
    const error = await mismatched((self) => {
      self.limit_services = false;
    });
    assert.match(error, /it reaches every service \(limit_services is false\)/);
  });
  it("another expiry, later", async () => {
    const error = await mismatched((self) => {
      self.expires_at = new Date(clock.now() + 400 * 86_400_000).toISOString().replace(/\.\d{3}Z$/, "Z");
    });
    assert.match(error, /expires .*, asked about /);
  });
  it("another expiry, earlier by more than 15 minutes", async () => {
    const error = await mismatched((self) => {
      const asked = Date.parse(String(self.expires_at));
      self.expires_at = new Date(asked - 16 * 60_000).toISOString().replace(/\.\d{3}Z$/, "Z");
    });
    assert.match(error, /expires .*, asked about /);
  });
  it("no expiry", async () => {
    const error = await mismatched((self) => {
      self.expires_at = null;
    });
    assert.match(error, /expires never, asked about /);
  });
  it("another role", async () => {
    const error = await mismatched((self) => {
      if ("roles" in self) self.roles = [{ id: "superuser", name: "superuser" }];
      self.role = "superuser";
    });
    assert.match(error, /roles? (are|is) .*superuser.*asked .*engineer/);
  });
});

describe("sudo, approval and the start gates", () => {
  let c: Case;
  afterEach(async () => {
    await admin.clearHooks();
    await admin.clearFaults();
    await c?.close();
  });

  it("a wrong password is asked again; no further password means the run stops before anything is written", async () => {
    c = await setup();
    const asked: string[] = [];
    const wrong = await c.run({
      getPassword: () => Promise.resolve("not the password"),
      passwordAgain: () => {
        asked.push("again");
        return Promise.resolve(asked.length === 1 ? superuser.password : undefined);
      },
    });
    assert.equal(wrong.environments[0]?.outcome, "rotated");
    assert.equal(asked.length, 1);
    assert.equal(own(await c.requests()).filter((r) => r.path === "/sudo").length, 2);
    await assert.rejects(
      c.run({ getPassword: () => Promise.resolve("wrong"), passwordAgain: () => Promise.resolve(undefined) }),
      /password|sudo|403/i,
    );
    await assert.rejects(c.run({ getPassword: () => Promise.resolve("wrong") }), /password|sudo|403/i);
    assert.equal(
      c.journal().filter((r) => r.step === "start").length,
      1,
      "nothing journaled by the refused runs",
    );
  });

  it("sudo that lapses between environments is obtained again; one still valid is not", async () => {
    c = await setup({
      environments: ["integration", "staging"],
      verify: {
        // Integration's verify passes at its tenth try, four and a half minutes on the clock later.
        integration: `[{ type: exec, command: ["sh", "-c", "n=$(cat n 2>/dev/null || echo 0); n=$((n+1)); echo $n > n; [ $n -ge 10 ]"], interval: 30s, timeout: 10m }]`,
      },
    });
    const result = await c.run();
    assert.equal(result.ok, true, JSON.stringify(result.environments));
    assert.equal(own(await c.requests()).filter((r) => r.path === "/sudo").length, 2);
    assert.equal(c.passwords, 2);
  });

  it("sudo that Fastly cut short is obtained again and the create retried once", async () => {
    c = await setup();
    await admin.fault({
      method: "POST",
      path: "/automation-tokens",
      status: 403,
      body: { msg: "You must POST /sudo to access this endpoint" },
    });
    const result = await c.run();
    assert.equal(result.environments[0]?.outcome, "rotated", JSON.stringify(result.environments[0]));
    assert.equal(own(await c.requests()).filter((r) => r.path === "/sudo").length, 2);
    await admin.fault({
      method: "POST",
      path: "/automation-tokens",
      status: 403,
      body: { msg: "You must POST /sudo to access this endpoint" },
      count: 2,
    });
    const twice = await c.run();
    assert.equal(twice.environments[0]?.outcome, "failed");
    assert.match(twice.environments[0]?.error ?? "", /^mint failed: /);
    assert.equal(c.journal().at(-1)?.step, "finish");
    assert.equal(c.journal().at(-1)?.outcome, "failed");
  });

  it("approval: declined and unattended environments are never minted; the others are", async () => {
    c = await setup({
      environments: ["integration", "staging"],
      extra: { integration: "    approval: required", staging: "    approval: required" },
    });
    const asked: string[] = [];
    const declined = await c.run({
      approve: (env) => {
        asked.push(env);
        return Promise.resolve(env === "staging");
      },
    });
    assert.deepEqual(asked, ["integration", "staging"]);
    assert.deepEqual(
      declined.environments.map((e) => [e.environment, e.outcome, e.error]),
      [
        ["integration", "skipped", "declined at the approval prompt"],
        ["staging", "rotated", undefined],
      ],
    );
    assert.equal(declined.ok, true);
    assert.equal(c.secret("integration"), exporterTokens.integration.token);
    const none = await c.run({ approve: () => Promise.resolve(false) });
    assert.ok(none.environments.every((e) => e.outcome === "skipped"));
    assert.equal(c.passwords, 1, "declining everything asks no password");
    const from = c.journal().length;
    const unattended = await c.run({ unattended: true, approve: () => Promise.reject(new Error("nobody")) });
    assert.deepEqual(
      unattended.environments.map((e) => e.outcome),
      ["skipped", "skipped"],
    );
    assert.match(unattended.environments[0]?.error ?? "", /needs approval \(approval: required\)/);
    const records = c.journal().slice(from);
    assert.deepEqual(
      records.map((r) => `${r.environment} ${r.step} ${r.status} ${r.outcome ?? ""}`.trim()),
      [
        "integration start done",
        "integration finish done awaiting-approval",
        "staging start done",
        "staging finish done awaiting-approval",
      ],
    );
    assert.equal(c.passwords, 1);
    // Without a prompt (--yes), approval is not asked.
    const yes = await c.run({ only: ["integration"] });
    assert.equal(yes.environments[0]?.outcome, "rotated");
  });

  it("an environment outside its window is not started; a plan error stops the ones after it", async () => {
    c = await setup({ environments: ["integration", "staging"] });
    const windowed = await c.run({
      mayStart: (env) => (env === "integration" ? "outside the window" : undefined),
    });
    assert.deepEqual(
      windowed.environments.map((e) => [e.outcome, e.error]),
      [
        ["skipped", "not started: outside the window"],
        ["rotated", undefined],
      ],
    );
    const plan = await c.plan();
    const broken: Plan = {
      ...plan,
      environments: [
        { ...plan.environments[0]!, rotate: false, decision: "error", errors: ["it is broken"] },
        plan.environments[1]!,
        // An environment the config does not have is passed over.
        { ...plan.environments[1]!, environment: "elsewhere" },
      ],
    };
    const stopped = await c.run({ plan: broken });
    assert.equal(stopped.ok, false);
    assert.deepEqual(
      stopped.environments.map((e) => [e.environment, e.outcome, e.error]),
      [
        ["integration", "failed", "it is broken"],
        ["staging", "skipped", "not started: an earlier environment failed"],
      ],
    );
    assert.equal(stopped.environments[0]?.advice, "Fix the config or the account, then run again");
    const ok: Plan = {
      ...plan,
      environments: [
        { ...plan.environments[0]!, rotate: false, decision: "ok", errors: [], reasons: ["not due"] },
      ],
    };
    const nothing = await c.run({ plan: ok });
    assert.deepEqual(
      nothing.environments.map((e) => [e.outcome, e.error, e.deployedTokenId]),
      [["nothing-to-do", "not due", exporterTokens.integration.id]],
    );
  });

  it("a run stopped before it starts writes nothing; stopped between environments starts no other", async () => {
    c = await setup({ environments: ["integration", "staging"] });
    const controller = new AbortController();
    controller.abort(new Interrupted("SIGTERM"));
    await assert.rejects(c.run({ signal: controller.signal }), /interrupted by SIGTERM/);
    assert.equal(c.passwords, 0);
    const stop = stopAt((e) => e.environment === "integration" && e.step === "finish");
    const result = await c.run(stop);
    assert.deepEqual(
      result.environments.map((e) => [e.outcome, e.error]),
      [
        ["rotated", undefined],
        ["skipped", "not started: interrupted by SIGTERM"],
      ],
    );
  });
});

describe("a create whose answer is lost, and the orphans resume finds", () => {
  let c: Case;
  afterEach(async () => {
    await admin.clearHooks();
    await admin.clearFaults();
    await c?.close();
  });

  const live = async () =>
    (await admin.state()).automationTokens
      .filter((t) => t.name === exporterTokens.integration.name && t.revokedAt === null)
      .map((t) => t.id);

  it("cut after the token was made: it is found by name and time and revoked", async () => {
    c = await setup();
    await admin.fault({ method: "POST", path: "/automation-tokens", truncateAfter: 20 });
    const result = await c.run();
    const r = result.environments[0]!;
    assert.equal(r.outcome, "failed");
    assert.match(r.error ?? "", /it had created \S+ \(found by name and creation time\), which was revoked/);
    assert.deepEqual(await live(), [exporterTokens.integration.id]);
    assert.equal(c.journal().at(-1)?.outcome, "failed");
  });

  it("dropped before it was made: nothing to revoke, said so", async () => {
    c = await setup();
    await admin.fault({ method: "POST", path: "/automation-tokens", drop: true, count: 10 });
    const result = await c.run();
    const r = result.environments[0]!;
    assert.equal(r.outcome, "failed");
    assert.match(r.error ?? "", /no token named ".*" was created since the run began, so none was made/);
    assert.deepEqual(await live(), [exporterTokens.integration.id]);
  });

  it("when it cannot be looked for, the run stays unfinished and resume revokes the orphan", async () => {
    c = await setup();
    // An older token of the same name, made long before this run: never taken for the orphan.
    const older = await c.client
      .createAutomationToken({
        name: exporterTokens.integration.name,
        role: "engineer",
        scope: "global:read",
        services: [],
        expiresAt: new Date(clock.now() + 86_400_000),
      })
      .catch(async () => {
        await c.client.sudo({ password: superuser.password });
        return c.client.createAutomationToken({
          name: exporterTokens.integration.name,
          role: "engineer",
          scope: "global:read",
          services: [],
          expiresAt: new Date(clock.now() + 86_400_000),
        });
      });
    offsetMs += 10 * 60_000;
    await admin.fault({ method: "POST", path: "/automation-tokens", truncateAfter: 20 });
    await admin.fault({ method: "GET", path: "/automation-tokens", status: 503, count: 100 });
    const result = await c.run({
      plan: await (async () => {
        await admin.clearFaults();
        const p = await c.plan();
        await admin.fault({ method: "POST", path: "/automation-tokens", truncateAfter: 20 });
        await admin.fault({ method: "GET", path: "/automation-tokens", status: 503, count: 100 });
        return p;
      })(),
    });
    const r = result.environments[0]!;
    assert.equal(r.outcome, "failed", JSON.stringify(r));
    assert.match(r.error ?? "", /could not be looked for or revoked/);
    assert.match(r.advice ?? "", /A token of this run may be live: run `ftr resume/);
    assert.ok(!c.journal().some((x) => x.step === "finish"), "left for resume");
    const orphans = (await live()).filter((id) => id !== exporterTokens.integration.id && id !== older.id);
    assert.equal(orphans.length, 1);
    await admin.clearFaults();
    const resumed = await resume(c.context());
    assert.equal(resumed.ok, true, JSON.stringify(resumed));
    assert.equal(resumed.environments[0]?.outcome, "rolled-back");
    assert.deepEqual((await live()).sort(), [exporterTokens.integration.id, older.id].sort());
    assert.equal(c.journal().at(-1)?.detail, `interrupted while minting; revoked ${orphans[0]}`);
  });
});

describe("resume picks a stopped run up where it stopped", () => {
  let c: Case;
  afterEach(async () => {
    await admin.clearHooks();
    await admin.clearFaults();
    await c?.close();
  });

  /** Rotate, stopped as SIGTERM would at the first event `when` holds of; then resume. */
  async function stopThenResume(when: (e: RotationEvent) => boolean, options: CaseOptions = {}) {
    c ??= await setup(options);
    const stopped = await c.run(stopAt(when));
    const r = stopped.environments[0]!;
    assert.equal(r.outcome, "interrupted", JSON.stringify(r));
    assert.match(r.error ?? "", /interrupted by SIGTERM/);
    assert.match(r.advice ?? "", /to continue the run/);
    assert.ok(
      !c.journal().some((x) => x.step === "finish" || x.step === "rollback"),
      "nothing rolled back by itself",
    );
    const from = c.journal().length;
    const resumed = await resume(c.context());
    return { stopped: r, resumed, records: c.journal().slice(from) };
  }

  const steps = (records: readonly JournalRecord[]) => records.map((x) => `${x.step} ${x.status}`);

  it("stopped after promote: resume reloads, verifies, then revokes and proves", async () => {
    c = undefined as unknown as Case;
    const { resumed, records } = await stopThenResume((e) => e.step === "promote" && e.status === "done");
    assert.equal(resumed.ok, true, JSON.stringify(resumed));
    assert.equal(resumed.environments[0]?.outcome, "rotated");
    assert.deepEqual(steps(records), FORWARD.slice(FORWARD.indexOf("reload begin")));
    assert.equal(await works(exporterTokens.integration.token), false);
  });

  it("stopped at reload: resume reloads again", async () => {
    c = undefined as unknown as Case;
    const { resumed, records } = await stopThenResume((e) => e.step === "reload" && e.status === "begin");
    assert.equal(resumed.environments[0]?.outcome, "rotated");
    assert.deepEqual(steps(records), FORWARD.slice(FORWARD.indexOf("reload begin")));
  });

  it("stopped at verify: resume reloads and verifies before it revokes", async () => {
    c = undefined as unknown as Case;
    const { resumed, records } = await stopThenResume((e) => e.step === "verify" && e.status === "begin");
    assert.equal(resumed.environments[0]?.outcome, "rotated");
    assert.deepEqual(steps(records), FORWARD.slice(FORWARD.indexOf("reload begin")));
  });

  it("stopped after stage: resume promotes the staged value", async () => {
    c = undefined as unknown as Case;
    const { resumed, records } = await stopThenResume((e) => e.step === "stage" && e.status === "done");
    assert.equal(resumed.environments[0]?.outcome, "rotated");
    assert.deepEqual(steps(records), FORWARD.slice(FORWARD.indexOf("promote begin")));
  });

  it("stopped at revoke: resume revokes and proves", async () => {
    c = undefined as unknown as Case;
    const { resumed, records } = await stopThenResume((e) => e.step === "revoke" && e.status === "begin");
    assert.equal(resumed.environments[0]?.outcome, "rotated");
    assert.deepEqual(steps(records), FORWARD.slice(FORWARD.indexOf("revoke begin")));
    assert.equal(await works(exporterTokens.integration.token), false);
  });

  it("stopped at test: the value lived only in memory, so resume revokes the new token", async () => {
    c = undefined as unknown as Case;
    const { stopped, resumed, records } = await stopThenResume(
      (e) => e.step === "test" && e.status === "begin",
    );
    assert.equal(resumed.environments[0]?.outcome, "rolled-back");
    assert.equal(resumed.ok, true, "a consistent end");
    assert.deepEqual(steps(records), [
      "rollback begin",
      "revoke-new begin",
      "revoke-new done",
      "finish done",
    ]);
    assert.notEqual((await c.token(stopped.newTokenId!))?.revokedAt ?? null, null);
    assert.equal(await works(exporterTokens.integration.token), true);
  });

  it("stopped before minting: nothing to revoke", async () => {
    c = undefined as unknown as Case;
    const { resumed, records } = await stopThenResume((e) => e.step === "start");
    assert.equal(resumed.environments[0]?.outcome, "rolled-back");
    assert.deepEqual(steps(records), ["finish done"]);
    assert.equal(records[0]?.detail, "interrupted before minting");
  });

  it("stopped while the create was answered: resume finds the token it made and revokes it", async () => {
    c = await setup();
    const hook = await admin.hook({
      method: "POST",
      path: "/automation-tokens",
      phase: "after",
      userAgent: `${USER_AGENT.split(" ")[0]}*`,
      action: "hold",
    });
    const controller = new AbortController();
    const run = c.run({ signal: controller.signal });
    await admin.waitForHook(hook.id);
    controller.abort(new Interrupted("SIGTERM"));
    const stopped = await run;
    assert.equal(stopped.environments[0]?.outcome, "interrupted");
    await admin.releaseHook(hook.id);
    const orphan = (await admin.state()).automationTokens.find(
      (t) => t.name === exporterTokens.integration.name && t.id !== exporterTokens.integration.id,
    )!;
    assert.equal(orphan.revokedAt, null);
    const resumed = await resume(c.context());
    assert.equal(resumed.environments[0]?.outcome, "rolled-back");
    assert.notEqual((await c.token(orphan.id))?.revokedAt ?? null, null);
    assert.equal(c.journal().at(-1)?.detail, `interrupted while minting; revoked ${orphan.id}`);
    assert.equal(await works(exporterTokens.integration.token), true);
  });

  it("stopped during a rollback: resume finishes the rollback, never the rotation", async () => {
    c = await setup();
    await c.touch("idle-integration");
    const controller = new AbortController();
    const result = await c.run({
      signal: controller.signal,
      onEvent: (e) => {
        if (e.step === "restore" && e.status === "done") controller.abort(new Interrupted("SIGTERM"));
      },
    });
    assert.equal(result.environments[0]?.outcome, "interrupted");
    await c.remove("idle-integration");
    const from = c.journal().length;
    const resumed = await resume(c.context());
    assert.equal(resumed.environments[0]?.outcome, "rolled-back", JSON.stringify(resumed));
    assert.deepEqual(
      c
        .journal()
        .slice(from)
        .map((x) => `${x.step} ${x.status}`),
      [
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
      ],
    );
    assert.equal(c.secret("integration"), exporterTokens.integration.token);
  });

  it("a resumed verify that fails rolls back", async () => {
    c = await setup();
    const stopped = await c.run(stopAt((e) => e.step === "verify" && e.status === "begin"));
    assert.equal(stopped.environments[0]?.outcome, "interrupted");
    await c.touch("idle-integration");
    // The consumer's last use (at the interrupted reload) is seconds before the resume.
    offsetMs += 5000;
    let freed = false;
    const resumed = await resume(
      c.context({
        onEvent: (e) => {
          if (!freed && e.step === "verify" && e.status === "failed") {
            freed = true;
            void c.remove("idle-integration");
          }
        },
      }),
    );
    assert.equal(resumed.environments[0]?.outcome, "rolled-back", JSON.stringify(resumed));
    assert.equal(resumed.ok, true);
    assert.equal(c.secret("integration"), exporterTokens.integration.token);
    assert.equal(await works(exporterTokens.integration.token), true);
  });

  it("resume: nothing unfinished, an environment gone from the config, a stopped resume", async () => {
    c = await setup({ environments: ["integration", "staging"] });
    const nothing = await resume(c.context());
    assert.equal(nothing.ok, true);
    assert.deepEqual(nothing.environments, []);
    assert.equal(nothing.runId, "none");
    const stopped = await c.run(stopAt((e) => e.environment === "integration" && e.step === "reload"));
    assert.equal(stopped.environments[0]?.outcome, "interrupted");
    const controller = new AbortController();
    controller.abort(new Interrupted("SIGINT"));
    const notResumed = await resume(c.context({ signal: controller.signal }));
    assert.equal(notResumed.ok, false);
    assert.deepEqual(
      notResumed.environments.map((e) => [e.outcome, e.error]),
      [["interrupted", "not resumed: interrupted by SIGINT"]],
    );
    const without: Config = {
      ...c.config,
      environments: c.config.environments.filter((e) => e.name !== "integration"),
    };
    const gone = await resume(c.context({ config: without }));
    assert.equal(gone.ok, false);
    assert.equal(gone.environments[0]?.outcome, "failed");
    assert.match(
      gone.environments[0]?.error ?? "",
      /unfinished, but the config no longer has that environment/,
    );
    const done = await resume(c.context());
    assert.equal(done.ok, true);
    assert.equal(done.environments[0]?.outcome, "rotated");
  });
});

describe("what may be revoked", () => {
  let c: Case;
  afterEach(async () => {
    await c?.close();
  });

  it("an old token of another name is refused and nothing is revoked", async () => {
    c = await setup();
    const plan = await c.plan();
    const forged: Plan = {
      ...plan,
      environments: [
        { ...plan.environments[0]!, revoke: [exporterTokens.integration.id, exporterTokens.staging.id] },
      ],
    };
    const result = await c.run({ plan: forged });
    const r = result.environments[0]!;
    assert.equal(r.outcome, "failed");
    assert.match(
      r.error ?? "",
      new RegExp(`refusing to revoke ${exporterTokens.staging.id} \\(".*Staging"\\)`),
    );
    assert.equal(await works(exporterTokens.staging.token), true);
    assert.equal(await works(exporterTokens.integration.token), true, "nothing was revoked");
  });

  it("an old id no longer in the account is gone already; the deployed one is revoked", async () => {
    c = await setup();
    const plan = await c.plan();
    const withGone: Plan = {
      ...plan,
      environments: [
        { ...plan.environments[0]!, revoke: ["NoSuchToken0000000000", exporterTokens.integration.id] },
      ],
    };
    const result = await c.run({ plan: withGone });
    const r = result.environments[0]!;
    assert.equal(r.outcome, "rotated", JSON.stringify(r));
    const revoke = r.steps.find((s) => s.step === "revoke")?.detail ?? "";
    assert.equal(revoke, `revoked ${exporterTokens.integration.id}; already gone: NoSuchToken0000000000`);
    const prove = r.steps.find((s) => s.step === "prove")?.detail ?? "";
    assert.equal(
      prove,
      `NoSuchToken0000000000: gone; ${exporterTokens.integration.id}: its value is refused (401)`,
    );
  });

  it("the deployed token under another name is revoked because the previous value authenticates as it", async () => {
    c = await setup({ environments: ["integration"] });
    const plan = await c.plan();
    // The config names another token; the store holds the integration token.
    const renamed = {
      ...c.config,
      environments: c.config.environments.map((e) => ({
        ...e,
        token: { ...e.token, name: "renamed token" },
      })),
    };
    const result = await rotate({ ...c.context({ config: renamed }), plan });
    const r = result.environments[0]!;
    assert.equal(r.outcome, "rotated", JSON.stringify(r));
    assert.deepEqual(r.revoked, [exporterTokens.integration.id]);
  });
});
