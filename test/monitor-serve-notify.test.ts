/**
 * `ftr serve` notifications: against the emulator with the demo account (whose exporter tokens
 * expire in 6, 18 and 27 days) and a local signed-webhook receiver. A token entering its
 * environment's rotateBefore window is notified once: not again at the next refresh, not after a
 * restart, and again only when a receiver failed to take it.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { NotificationEvent } from "../src/adapters/types.ts";
import { loadConfig, type Config } from "../src/config/index.ts";
import { demoCredentials, demoSeed } from "../src/emulator/index.ts";
import { createFastlyClient } from "../src/fastly/index.ts";
import { startServe } from "../src/monitor/index.ts";
import { notificationsFor } from "../src/notify/dispatch.ts";
import { NOTICES_FILE } from "../src/notify/expiring.ts";
import { memoryLogger } from "../src/util/log.ts";
import { startNotifyReceiver, type NotifyReceiver } from "./helpers/notify-receiver.ts";
import { fileConfig, world, type World } from "./helpers/world.ts";

const { superuser, exporterTokens } = demoCredentials;
const SECRET = "serve-notify-signing-key-55aa";
const ENVS = ["integration", "staging", "production"] as const;

describe("ftr serve notifies tokens entering their warning window", () => {
  let w: World<"fastly">;
  let receiver: NotifyReceiver;
  let offsetMs = 0;
  const now = () => new Date(Date.now() + offsetMs);

  /** A config in its own directory (so its own state dir) with `rotateBefore`. */
  const writeConfig = async (name: string, rotateBefore: string): Promise<Config> => {
    const head = [
      `state: { dir: ./state-${name} }`,
      `defaults: { token: { rotateBefore: ${rotateBefore} } }`,
      "notify:",
      `  - { type: webhook, url: "${receiver.url}/serve", signingSecretEnv: HOOK_KEY, timeout: 2s }`,
    ].join("\n");
    const environments = ENVS.map((env) => ({
      name: env,
      token: exporterTokens[env].name,
      services: "{ all: true }",
    }));
    const path = await w.writeConfig(fileConfig(w.emulator.url, environments, head), `${name}.yaml`);
    return (await loadConfig(path)).config;
  };

  const serve = async (config: Config, log = memoryLogger()) =>
    startServe({
      config,
      client: createFastlyClient({ token: superuser.token, endpoint: w.emulator.url }),
      listen: "127.0.0.1:0",
      intervalMs: 3_600_000,
      now,
      log,
      notify: await notificationsFor(config.notify, log, { env: { HOOK_KEY: SECRET } }),
    });

  const expiring = (from: number) =>
    receiver.requests.slice(from).map((r) => {
      assert.equal(r.verified, true, "signed");
      return r.json as NotificationEvent;
    });

  before(async () => {
    w = await world({ dir: "ftr-serve-notify-", fastly: demoSeed });
    receiver = w.adopt(await startNotifyReceiver({ secret: SECRET }));
    for (const env of ENVS) await w.writeSecret(`${env}.txt`, exporterTokens[env].token);
  });
  after(() => w?.close());

  it("once per token per window: not at the next refresh, not after a restart; a token entering later is told", async () => {
    const config = await writeConfig("window", "20d");
    const from = receiver.requests.length;
    let handle = await serve(config);
    try {
      await handle.refresh();
      await handle.refresh();
    } finally {
      await handle.close();
    }
    // integration (6 days) and staging (18 days) are inside 20 days; production (27) is not.
    const first = expiring(from);
    assert.deepEqual(first.map((e) => e.environment).sort(), ["integration", "staging"]);
    for (const e of first) {
      const env = e.environment as (typeof ENVS)[number];
      assert.equal(e.event, "token-expiring");
      assert.equal(e.source, "serve");
      assert.equal(e.tokenId, exporterTokens[env].id);
      assert.ok(Date.parse(e.expiresAt ?? "") > Date.now());
      assert.equal(e.daysLeft, env === "integration" ? 5 : 17);
      assert.equal(e.nextStep, `ftr rotate --config ${config.configPath} --env ${env}`);
      assert.match(e.summary, new RegExp(`^${env}: token ${exporterTokens[env].id} expires in \\d+ days`));
    }
    const file = join(config.stateDir, NOTICES_FILE);
    assert.ok(existsSync(file));
    const saved = JSON.parse(readFileSync(file, "utf8")) as { tokenExpiring: Record<string, unknown> };
    assert.deepEqual(
      Object.keys(saved.tokenExpiring).sort(),
      [exporterTokens.integration.id, exporterTokens.staging.id].sort(),
    );

    // A restart (a new process would read the same file): nothing new.
    const afterRestart = receiver.requests.length;
    handle = await serve(config);
    try {
      await handle.refresh();
      assert.equal(receiver.requests.length, afterRestart, "nothing sent again after a restart");
      // Eight days on, production (27 days) enters the 20-day window; the others stay told.
      offsetMs = (await w.admin.advanceClock("8d")).getTime() - Date.now();
      await handle.refresh();
    } finally {
      await handle.close();
    }
    assert.deepEqual(
      expiring(afterRestart).map((e) => [e.environment, e.tokenId]),
      [["production", exporterTokens.production.id]],
    );
    await w.admin.reset();
    offsetMs = 0;
  });

  it("a notification no receiver took is sent again at the next refresh, then not again", async () => {
    const config = await writeConfig("retry", "10d");
    receiver.setMode({ kind: "status", status: 503, body: "maintenance" });
    const log = memoryLogger();
    const from = receiver.requests.length;
    const handle = await serve(config, log);
    try {
      const refreshed = await handle.refresh();
      assert.equal(refreshed.ok, true, "a failed notification does not fail the refresh");
      assert.ok(
        log.lines.some(
          (l) =>
            l.level === "warn" && /token-expiring to webhook .* answered 503: "maintenance"/.test(l.message),
        ),
      );
      receiver.setMode({ kind: "ok" });
      await handle.refresh();
      await handle.refresh();
    } finally {
      receiver.setMode({ kind: "ok" });
      await handle.close();
    }
    // Only integration (6 days) is inside 10 days: refused once (the server's first refresh is the
    // one joined above), then delivered once, then remembered.
    assert.deepEqual(
      expiring(from).map((e) => e.environment),
      ["integration", "integration"],
    );
  });

  it("a run left unfinished in the journal is notified once, with the step and the resume command", async () => {
    const config = await writeConfig("unfinished", "1d");
    const at = new Date().toISOString();
    const line = (step: string, status: string) =>
      JSON.stringify({ v: 1, runId: "20261206T000000Z-dead0001", environment: "staging", step, status, at });
    mkdirSync(config.stateDir, { recursive: true, mode: 0o700 });
    writeFileSync(
      join(config.stateDir, "journal.jsonl"),
      [line("start", "done"), line("mint", "begin"), line("mint", "done"), line("reload", "begin")].join(
        "\n",
      ) + "\n",
      { mode: 0o600 },
    );
    const from = receiver.requests.length;
    const handle = await serve(config);
    try {
      await handle.refresh();
      await handle.refresh();
      const text = await (await fetch(`${handle.url}/metrics`)).text();
      assert.match(
        text,
        /fastly_token_rotator_unfinished_run_timestamp_seconds\{environment="staging",run_id="20261206T000000Z-dead0001",step="reload",running="false"\} \d+/,
      );
    } finally {
      await handle.close();
    }
    const events = expiring(from).filter((e) => e.event === "run-unfinished");
    assert.equal(events.length, 1, JSON.stringify(expiring(from)));
    assert.equal(events[0]?.environment, "staging");
    assert.equal(events[0]?.step, "reload");
    assert.match(events[0]?.nextStep ?? "", /^ftr resume --config .*unfinished\.yaml$/);
  });
});
