/**
 * `startServe` in-process, for what an operator sees of its edges: the log lines of a failed and a
 * recovered refresh, the clock and endpoint it takes from the client, the journal (unreadable, a run
 * in flight, a live lock holder, a run awaiting approval), stores that cannot be read back, content
 * types, and the per-address connection limit and header deadline over real sockets. Against the
 * emulator on port 0; refreshes are started by the test, never waited for by time.
 */
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { rm, writeFile } from "node:fs/promises";
import type { Socket } from "node:net";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { after, before, beforeEach, describe, it } from "node:test";
import { Gauge } from "prom-client";
import { loadConfig, type Config } from "../config/index.ts";
import { demoCredentials } from "../emulator/index.ts";
import { createFastlyClient } from "../fastly/index.ts";
import { notificationsFor } from "../notify/dispatch.ts";
import { acquireLock } from "../rotation/lock.ts";
import { memoryLogger } from "../util/log.ts";
import {
  DEMO_TOKEN_VALUES,
  demoSeedWith,
  fileConfig,
  seedToken,
  world,
  type World,
} from "../../test/helpers/world.ts";
import { startNotifyReceiver, type NotifyReceiver } from "../../test/helpers/notify-receiver.ts";
import { ask, closed, open } from "../../test/helpers/sockets.ts";
import { labelPair, SeriesGauge } from "./metrics.ts";
import { startServe, type ServeHandle, type ServeOptions } from "./serve.ts";

const { superuser, exporterTokens } = demoCredentials;
const NO_EXPIRY = { name: "serve mutants no expiry", value: "serve-mutants-no-expiry-value-0001" };
const HOUR = 3_600_000;

/** One sample of a metric family in the exposition text, by exact label set. */
function sample(text: string, name: string, labels: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{${labels}} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}

/** The `fastly_automation_token_deployed` sample of one environment and token id. */
function deployed(text: string, environment: string, tokenId: string): number | undefined {
  return sample(
    text,
    "fastly_automation_token_deployed",
    `environment="${environment}",token_id="${tokenId}"`,
  );
}

/** One journal line. */
function record(fields: Record<string, unknown>): string {
  return JSON.stringify({ v: 1, runId: "20261206T000000Z-beef0001", environment: "staging", ...fields });
}

describe("startServe, as an operator sees it", () => {
  let w: World<"fastly">;
  let config: Config;
  let stateDir: string;
  let n = 0;
  const handles: ServeHandle[] = [];
  const client = () =>
    createFastlyClient({
      token: superuser.token,
      endpoint: w.emulator.url,
      retry: { retries: 0, baseDelayMs: 1 },
    });
  const serve = async (options: Partial<ServeOptions> = {}): Promise<ServeHandle> => {
    const handle = await startServe({
      config,
      client: client(),
      listen: "127.0.0.1:0",
      intervalMs: HOUR,
      ...options,
    });
    handles.push(handle);
    return handle;
  };
  const scrape = async (handle: ServeHandle): Promise<string> =>
    (await fetch(`${handle.url}/metrics`)).text();
  const selfRequests = async () => (await w.admin.requests()).filter((r) => r.path === "/tokens/self").length;
  const writeJournal = (lines: readonly string[]): void => {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    writeFileSync(join(stateDir, "journal.jsonl"), lines.join("\n") + "\n", { mode: 0o600 });
  };
  /** A config of integration and staging (file secrets) in its own state directory. */
  const writeConfig = async (fastly = w.emulator.url): Promise<Config> => {
    n += 1;
    const environments = (["integration", "staging"] as const).map((env) => ({
      name: env,
      token: exporterTokens[env].name,
      services: "{ all: true }",
    }));
    const path = await w.writeConfig(
      fileConfig(
        fastly,
        environments,
        `state: { dir: ./state-${n} }\ndefaults: { token: { rotateBefore: 7d } }`,
      ),
      `c${n}.yaml`,
    );
    const loaded = await loadConfig(path);
    assert.ok(loaded.config);
    return loaded.config;
  };

  before(async () => {
    w = await world({
      dir: "ftr-serve-mutants-",
      fastly: demoSeedWith({
        automationTokens: [
          seedToken(NO_EXPIRY.name, NO_EXPIRY.value, { expiresAt: null }),
          seedToken("serve mutants unmanaged", "serve-mutants-unmanaged-value-001"),
        ],
      }),
    });
  });
  after(() => w.close());

  beforeEach(async () => {
    while (handles.length > 0) await handles.pop()?.close();
    await w.admin.reset();
    await w.admin.clearFaults();
    await w.admin.clearHooks();
    for (const env of ["integration", "staging"] as const) {
      await rm(join(w.dir, `${env}.txt`), { recursive: true, force: true });
      await w.writeSecret(`${env}.txt`, `${exporterTokens[env].token}\n`);
    }
    config = await writeConfig();
    stateDir = config.stateDir;
  });
  after(async () => {
    while (handles.length > 0) await handles.pop()?.close();
  });

  it("logs a failed refresh with its errors, then its recovery once", async () => {
    const log = memoryLogger();
    const handle = await serve({ log });
    assert.equal((await handle.refresh()).ok, true);
    assert.equal((await handle.refresh()).ok, true);
    assert.deepEqual(log.lines, [], "a success after a success says nothing");
    await w.admin.fault({ path: "/automation-tokens*", status: 500, count: 1 });
    const failed = await handle.refresh();
    assert.equal(failed.ok, false);
    assert.deepEqual(log.lines, [
      {
        level: "warn",
        message: "refresh failed; keeping the last good values",
        fields: { errors: failed.errors.join("; ") },
      },
    ]);
    assert.equal((await handle.refresh()).ok, true);
    assert.equal((await handle.refresh()).ok, true);
    assert.deepEqual(
      log.lines.slice(1),
      [{ level: "info", message: "refresh recovered" }],
      "recovered once, not again at the next success",
    );
  });

  it("judges expiry by the API's clock, and times the refresh", async () => {
    // 17 days on at the emulator: the staging token (18 days left) is due there (rotateBefore 7d).
    await w.admin.advanceClock("17d");
    const handle = await serve({});
    const before = performance.now();
    const result = await handle.refresh();
    const elapsed = performance.now() - before;
    assert.equal(result.ok, true, result.errors.join("; "));
    const text = await scrape(handle);
    assert.equal(
      sample(text, "fastly_token_rotator_environment_state", `environment="staging",state="due"`),
      1,
    );
    const apiNow = await w.admin.now();
    const lastLine = text
      .split("\n")
      .find((l) => l.startsWith("fastly_token_rotator_last_successful_refresh_timestamp_seconds "));
    const stamp = Number(lastLine?.split(" ")[1]);
    assert.ok(Math.abs(stamp - apiNow.getTime() / 1000) < 3600, `the API's time, in seconds: ${stamp}`);
    assert.ok(result.durationMs >= 0 && result.durationMs <= elapsed, `${result.durationMs} <= ${elapsed}`);
    const durationLine = text
      .split("\n")
      .find((l) => l.startsWith("fastly_token_rotator_refresh_duration_seconds "));
    assert.equal(Number(durationLine?.split(" ")[1]), result.durationMs / 1000);
  });
  it("says in one line that the journal cannot be read, and exports no run from it", async () => {
    mkdirSync(join(stateDir, "journal.jsonl"), { recursive: true });
    const handle = await serve();
    const result = await handle.refresh();
    assert.equal(result.ok, false);
    assert.equal(result.errors.length, 1, result.errors.join("; "));
    assert.match(result.errors[0] ?? "", /^journal: /);
    assert.deepEqual(result.report?.unfinished, []);
    const text = await scrape(handle);
    assert.equal(sample(text, "fastly_token_rotator_api_errors_total", `kind="journal"`), 1);
    assert.match(text, /^fastly_token_rotator_refresh_success 0$/m);
    // The account is still exported.
    assert.equal(deployed(text, "staging", exporterTokens.staging.id), 1);
  });

  it("while a run switches an environment over, exports what the journal says its store holds, without asking Fastly", async () => {
    const handle = await serve();
    assert.equal((await handle.refresh()).ok, true);
    const at = "2026-12-06T10:00:00.000Z";
    const newId = exporterTokens.integration.id;
    writeJournal([
      record({ step: "start", status: "done", at, deployedTokenId: exporterTokens.staging.id }),
      record({ step: "mint", status: "begin", at }),
      record({ step: "mint", status: "done", at, newTokenId: newId }),
      record({ step: "promote", status: "begin", at }),
      record({ step: "promote", status: "done", at }),
      record({ step: "reload", status: "begin", at: "2026-12-06T10:00:07.000Z" }),
    ]);
    // The store now holds another value: a verifier may be watching for its use.
    await writeFile(join(w.dir, "staging.txt"), `${exporterTokens.integration.token}\n`);
    await w.admin.clearRequests();
    const result = await handle.refresh();
    assert.equal(result.ok, true, result.errors.join("; "));
    assert.equal(await selfRequests(), 0, "no request with the value being switched to");
    const text = await scrape(handle);
    assert.equal(deployed(text, "staging", newId), 1);
    assert.equal(deployed(text, "staging", exporterTokens.staging.id), undefined);
    assert.equal(
      sample(
        text,
        "fastly_token_rotator_unfinished_run_timestamp_seconds",
        `environment="staging",run_id="20261206T000000Z-beef0001",step="reload",running="false"`,
      ),
      Date.parse("2026-12-06T10:00:07.000Z") / 1000,
    );
    assert.equal(result.report?.unfinished?.length, 1);
    const finding = result.report?.environments
      .find((e) => e.name === "staging")
      ?.findings.find((f) => f.code === "unfinished-run");
    assert.ok(finding?.message.includes(`ftr resume --config ${config.configPath}`), finding?.message);
    // The run ends: the value is asked about.
    writeJournal([]);
    await w.admin.clearRequests();
    assert.equal((await handle.refresh()).ok, true);
    assert.equal(await selfRequests(), 1);
  });

  it("marks a run a live process holds as running", async () => {
    const at = "2026-12-06T11:00:00.000Z";
    writeJournal([
      record({ step: "start", status: "done", at, deployedTokenId: exporterTokens.staging.id }),
      record({ step: "mint", status: "begin", at }),
    ]);
    const release = acquireLock(stateDir);
    try {
      const handle = await serve();
      const result = await handle.refresh();
      assert.equal(result.ok, true, result.errors.join("; "));
      const text = await scrape(handle);
      assert.equal(
        sample(
          text,
          "fastly_token_rotator_unfinished_run_timestamp_seconds",
          `environment="staging",run_id="20261206T000000Z-beef0001",step="mint",running="true"`,
        ),
        Date.parse(at) / 1000,
      );
      // Still the token the store held before the run.
      assert.equal(deployed(text, "staging", exporterTokens.staging.id), 1);
    } finally {
      release();
    }
  });

  it("exports when an environment was last rotated, and when one was left awaiting approval", async () => {
    const at = "2026-12-06T12:00:00.000Z";
    const rotatedAt = "2026-12-05T09:30:00.000Z";
    writeJournal([
      record({ step: "start", status: "done", at }),
      record({ step: "finish", status: "done", at, outcome: "awaiting-approval" }),
      record({
        runId: "20261205T000000Z-beef0002",
        environment: "integration",
        step: "start",
        status: "done",
        at: rotatedAt,
      }),
      record({
        runId: "20261205T000000Z-beef0002",
        environment: "integration",
        step: "finish",
        status: "done",
        at: rotatedAt,
        outcome: "rotated",
      }),
    ]);
    const handle = await serve();
    assert.equal((await handle.refresh()).ok, true);
    const text = await scrape(handle);
    assert.equal(
      sample(
        text,
        "fastly_token_rotator_last_rotation_timestamp_seconds",
        `environment="integration",result="rotated"`,
      ),
      Date.parse(rotatedAt) / 1000,
    );
    assert.equal(
      sample(text, "fastly_token_rotator_awaiting_approval_timestamp_seconds", `environment="staging"`),
      Date.parse(at) / 1000,
    );
  });
  it("without a client, exports the deployed tokens alone from the config's endpoint, asking each refresh", async () => {
    const handle = await serve({ client: undefined });
    await w.admin.clearRequests();
    const first = await handle.refresh();
    assert.equal(first.ok, true, first.errors.join("; "));
    assert.equal(await selfRequests(), 2);
    const second = await handle.refresh();
    assert.equal(second.ok, true, second.errors.join("; "));
    assert.equal(await selfRequests(), 4, "no listing says the values are still alive");
    const text = await scrape(handle);
    assert.equal(deployed(text, "staging", exporterTokens.staging.id), 1);
  });

  it("asks with the deployed values where the client is, not where the config says, through the injected fetch", async () => {
    config = await writeConfig("http://127.0.0.1:9");
    let fetched = 0;
    const counting: typeof fetch = (input, init) => {
      fetched += 1;
      return fetch(input, init);
    };
    const handle = await serve({ fetch: counting });
    const result = await handle.refresh();
    assert.equal(result.ok, true, result.errors.join("; "));
    assert.equal(fetched, 2, "one GET /tokens/self per environment, through the injected fetch");
    const text = await scrape(handle);
    assert.equal(deployed(text, "integration", exporterTokens.integration.id), 1);
  });

  it("exports a missing secret as absent, and a refused value as dead without the token the store held before", async () => {
    await writeFile(join(w.dir, "integration.txt"), "serve-mutants-refused-value-00001\n");
    const handle = await serve();
    const first = await handle.refresh();
    assert.equal(first.ok, true, first.errors.join("; "));
    let text = await scrape(handle);
    assert.equal(deployed(text, "integration", ""), 0);
    assert.equal(
      sample(text, "fastly_token_rotator_environment_state", `environment="integration",state="dead"`),
      1,
    );
    // Staging's value (valid, remembered) is replaced by one Fastly refuses.
    await writeFile(join(w.dir, "staging.txt"), "serve-mutants-refused-value-00002\n");
    assert.equal((await handle.refresh()).ok, true);
    text = await scrape(handle);
    assert.equal(deployed(text, "staging", ""), 0);
    assert.equal(deployed(text, "staging", exporterTokens.staging.id), undefined);
    await rm(join(w.dir, "staging.txt"));
    const absent = await handle.refresh();
    assert.equal(absent.ok, true, absent.errors.join("; "));
    text = await scrape(handle);
    assert.equal(
      sample(text, "fastly_token_rotator_environment_state", `environment="staging",state="absent"`),
      1,
    );
  });

  it("counts a value it could not check as a deployed error, says why, and asks again next time", async () => {
    const handle = await serve();
    assert.equal((await handle.refresh()).ok, true);
    await writeFile(join(w.dir, "staging.txt"), `${exporterTokens.integration.token}\n`);
    await w.admin.fault({ path: "/tokens/self", status: 503, count: 3 });
    const failed = await handle.refresh();
    assert.equal(failed.ok, false);
    assert.equal(failed.errors.length, 1, failed.errors.join("; "));
    assert.match(failed.errors[0] ?? "", /^staging: .*503/);
    let text = await scrape(handle);
    assert.equal(sample(text, "fastly_token_rotator_api_errors_total", `kind="deployed"`), 1);
    assert.equal(sample(text, "fastly_token_rotator_api_errors_total", `kind="secret-store"`), undefined);
    await w.admin.clearRequests();
    const again = await handle.refresh();
    assert.equal(again.ok, true, again.errors.join("; "));
    assert.equal(await selfRequests(), 1);
    text = await scrape(handle);
    assert.equal(deployed(text, "staging", exporterTokens.integration.id), 1);
  });

  it("asks again about a value whose token the listing shows expired", async () => {
    const handle = await serve();
    assert.equal((await handle.refresh()).ok, true);
    const listed = (await handle.refresh()).report?.tokens.find(
      (t) => t.id === exporterTokens.integration.id,
    );
    assert.ok(listed?.expiresAt);
    // At the listed expiry to the millisecond, the token is expired.
    const expiry = new Date(listed.expiresAt);
    const at = await serve({ now: () => expiry });
    await at.refresh();
    await w.admin.clearRequests();
    await at.refresh();
    assert.equal(await selfRequests(), 1, "integration's value, listed as expired, is asked about");
  });

  it("exports no expiry for a token that never expires, and nothing for a store it cannot read back", async () => {
    n += 1;
    const yaml = [
      fileConfig(w.emulator.url, [
        { name: "staging", token: exporterTokens.staging.name, services: "{ all: true }" },
      ]),
      `  - name: production`,
      `    token: { name: "${exporterTokens.production.name}", services: { all: true } }`,
      `    secret: { type: github-actions, repository: o/r, name: FASTLY_TOKEN }`,
    ].join("\n");
    const loaded = await loadConfig(
      await w.writeConfig(
        yaml.replace("version: 1", `version: 1\nstate: { dir: ./state-${n} }`),
        `c${n}.yaml`,
      ),
    );
    assert.ok(loaded.config);
    const handle = await serve({ config: loaded.config });
    const result = await handle.refresh();
    assert.equal(result.ok, true, result.errors.join("; "));
    const never = result.report?.tokens.find((t) => t.name === NO_EXPIRY.name);
    assert.ok(never);
    const text = await scrape(handle);
    assert.ok(!text.includes(`fastly_automation_token_expiry_timestamp_seconds{token_id="${never.id}"`));
    assert.match(text, new RegExp(`^fastly_automation_token_info\\{token_id="${never.id}",`, "m"));
    assert.ok(!/fastly_automation_token_deployed\{environment="production"/.test(text));
    assert.equal(sample(text, "fastly_token_rotator_api_errors_total", `kind="deployed"`), undefined);
    for (const secret of [...DEMO_TOKEN_VALUES, NO_EXPIRY.value]) assert.ok(!text.includes(secret));
  });
  it("answers each path with its content type, a scrape before the first refresh too", async () => {
    const hook = await w.admin.hook({ path: "/automation-tokens*", action: "hold" });
    const handle = await serve();
    try {
      await w.admin.waitForHook(hook.id);
      const early = await fetch(`${handle.url}/metrics`);
      assert.equal(early.status, 200);
      assert.equal(early.headers.get("content-type"), handle.metrics.registry.contentType);
      assert.match(await early.text(), /^# HELP fastly_token_rotator_refresh_success /m);
    } finally {
      await w.admin.releaseHook(hook.id);
    }
    const root = await fetch(`${handle.url}/`);
    assert.equal(root.headers.get("content-type"), "text/plain; charset=utf-8");
    await root.text();
    const missing = await fetch(`${handle.url}/metrics/x`);
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get("content-type"), "text/plain");
    await missing.text();
  });

  it("answers 500 with what went wrong when the metrics cannot be rendered", async () => {
    const handle = await serve();
    assert.equal((await handle.refresh()).ok, true);
    new Gauge({
      name: "serve_mutants_broken",
      help: "a collector that fails",
      registers: [handle.metrics.registry],
      collect() {
        throw new Error("the broken collector failed");
      },
    });
    assert.equal((await handle.refresh()).ok, true);
    const response = await fetch(`${handle.url}/metrics`);
    assert.equal(response.status, 500);
    assert.equal(response.headers.get("content-type"), "text/plain");
    assert.equal(await response.text(), "the broken collector failed");
  });

  it("refreshes once on start, then not again within the interval", async () => {
    const handle = await serve();
    const healthy = async () => (await fetch(`${handle.url}/healthz`)).status === 200;
    let ok = false;
    for (let i = 0; i < 12_000 && !(ok = await healthy()); i += 1) await new Promise((r) => setTimeout(r, 5));
    assert.ok(ok, "the first refresh ended");
    assert.equal((await handle.refresh()).ok, true);
    const listings = (await w.admin.requests()).filter((r) => r.path.startsWith("/automation-tokens"));
    assert.equal(listings.length, 2, "the one on start and the one asked for");
  });

  it("leaves nothing scheduled when closed during a scheduled refresh", async () => {
    const hook = await w.admin.hook({ path: "/automation-tokens*", action: "hold" });
    const handle = await serve();
    await w.admin.waitForHook(hook.id);
    const closing = handle.close();
    assert.equal(await w.admin.releaseHook(hook.id), 1);
    await closing;
    // A timer left behind would hold this process open for the interval (an hour).
    assert.equal((await w.admin.requests()).filter((r) => r.path.startsWith("/automation-tokens")).length, 1);
  });

  it("holds each address to its own connection limit, counting closed connections out", async () => {
    const handle = await serve({ limits: { maxConnectionsPerAddress: 2 } });
    const a = await open(handle.url);
    const b = await open(handle.url);
    assert.ok((await ask(a)) !== undefined, "the first connection is served");
    assert.ok((await ask(b)) !== undefined, "the second connection is served");
    const c = await open(handle.url);
    assert.equal(await ask(c), undefined, "a third connection from the same address is closed");
    const other = await open(handle.url, "127.0.0.2");
    assert.ok((await ask(other)) !== undefined, "another address has its own limit");
    a.destroy();
    await closed(a);
    // Once the server has seen `a` close, one more connection is served, and no more.
    let d: Socket | undefined;
    for (let i = 0; i < 2000 && d === undefined; i += 1) {
      const next = await open(handle.url);
      if ((await ask(next)) !== undefined) d = next;
    }
    assert.ok(d, "a connection is served once one of the two closed");
    const e = await open(handle.url);
    assert.equal(await ask(e), undefined, "still two at most");
    for (const socket of [b, c, d, e, other]) socket.destroy();
  });
  describe("notifications", () => {
    let receiver: NotifyReceiver;
    before(async () => {
      receiver = w.adopt(await startNotifyReceiver());
    });
    beforeEach(() => receiver.setMode({ kind: "ok" }));

    /** A config notifying the receiver, with a third environment whose token never expires. */
    const notifyingConfig = async (): Promise<Config> => {
      n += 1;
      const head = [
        `state: { dir: ./state-${n} }`,
        "defaults: { token: { rotateBefore: 7d } }",
        "notify:",
        `  - { type: webhook, url: "${receiver.url}/n${n}", timeout: 5s }`,
      ].join("\n");
      const environments = [
        ...(["integration", "staging"] as const).map((env) => ({
          name: env,
          token: exporterTokens[env].name,
          services: "{ all: true }",
        })),
        { name: "never", token: NO_EXPIRY.name, services: "{ all: true }", value: NO_EXPIRY.value },
      ];
      await w.writeSecret("never.txt", NO_EXPIRY.value);
      const loaded = await loadConfig(
        await w.writeConfig(fileConfig(w.emulator.url, environments, head), `c${n}.yaml`),
      );
      assert.ok(loaded.config);
      return loaded.config;
    };
    /** A serve notifying the receivers of `config`, at `now` when given. */
    const serveNotifying = async (config: Config, now?: Date) =>
      serve({
        config,
        ...(now ? { now: () => now } : {}),
        notify: await notificationsFor(config.notify, memoryLogger()),
      });
    /** The instant staging's token has exactly `rotateBefore` (7 days) left. */
    const stagingWindowOpens = async (): Promise<Date> => {
      const listing = await client().listAutomationTokens();
      const staging = listing.find((t) => t.id === exporterTokens.staging.id);
      assert.ok(staging?.expiresAt);
      return new Date(staging.expiresAt.getTime() - 7 * 86_400_000);
    };
    const events = (from: number) =>
      receiver.requests.slice(from).map((r) => r.json as Record<string, unknown>);

    it("tells of a token in use entering its window, not of one replaced, unmanaged or never expiring", async () => {
      const now = await stagingWindowOpens();
      // Integration's token (expired by then) has been replaced: its store holds staging's value.
      await writeFile(join(w.dir, "integration.txt"), `${exporterTokens.staging.token}\n`);
      const notifying = await notifyingConfig();
      const from = receiver.requests.length;
      const handle = await serveNotifying(notifying, now);
      const result = await handle.refresh();
      assert.equal(result.ok, true, result.errors.join("; "));
      const told = events(from);
      assert.deepEqual(
        told.map((e) => [e.event, e.environment, e.tokenId]),
        [["token-expiring", "staging", exporterTokens.staging.id]],
        JSON.stringify(told),
      );
    });

    it("tells of an expiring token whose environment's deployed value cannot be read", async () => {
      const now = await stagingWindowOpens();
      const notifying = await notifyingConfig();
      // Nothing is deployed for staging: no token has replaced its own, which still needs rotating.
      const secret = join(w.dir, "staging.txt");
      await rm(secret);
      try {
        const from = receiver.requests.length;
        const handle = await serveNotifying(notifying, now);
        const result = await handle.refresh();
        assert.equal(
          result.report?.environments.find((e) => e.name === "staging")?.deployed.status,
          "absent",
        );
        const told = events(from).filter((e) => e.event === "token-expiring" && e.environment === "staging");
        assert.deepEqual(
          told.map((e) => e.tokenId),
          [exporterTokens.staging.id],
          JSON.stringify(told),
        );
      } finally {
        await writeFile(secret, `${exporterTokens.staging.token}\n`);
      }
    });

    it("tells of an unfinished run again when no receiver took it, and keeps refreshing when the listing fails", async () => {
      const notifying = await notifyingConfig();
      stateDir = notifying.stateDir;
      writeJournal([
        record({ step: "start", status: "done", at: "2026-12-06T13:00:00.000Z" }),
        record({ step: "mint", status: "begin", at: "2026-12-06T13:00:00.000Z" }),
      ]);
      receiver.setMode({ kind: "status", status: 400 });
      const from = receiver.requests.length;
      const handle = await serveNotifying(notifying);
      await handle.refresh();
      const refused = events(from).filter((e) => e.event === "run-unfinished");
      assert.equal(refused.length, 1);
      receiver.setMode({ kind: "ok" });
      await w.admin.fault({ path: "/automation-tokens*", status: 500, count: 1 });
      const failed = await handle.refresh();
      assert.equal(failed.ok, false);
      assert.equal(failed.report, undefined);
      await handle.refresh();
      const unfinished = events(from).filter((e) => e.event === "run-unfinished");
      assert.equal(unfinished.length, 2, "told again once a receiver took it, then not again");
      assert.equal(unfinished[1]?.environment, "staging");
    });
  });
});

describe("SeriesGauge and labelPair, called as a library", () => {
  it("escapes a label value made only of characters that need it", () => {
    assert.equal(labelPair("x", '"'), 'x="\\""');
    assert.equal(labelPair("x", "\\"), 'x="\\\\"');
    assert.equal(labelPair("x", "\n"), 'x="\\n"');
    assert.equal(labelPair("x", "plain"), 'x="plain"');
  });

  it("keeps one series per label set when not told they are distinct", async () => {
    const gauge = new SeriesGauge({
      name: "serve_mutants_series",
      help: "h",
      labelNames: ["a"],
      registers: [],
    });
    gauge.replace(['a="1"', 'a="2"', 'a="1"'], [1, 2, 3]);
    assert.deepEqual(
      (await gauge.get()).values.map((v) => [v.labels.a, v.value]),
      [
        ["1", 3],
        ["2", 2],
      ],
    );
  });
});
