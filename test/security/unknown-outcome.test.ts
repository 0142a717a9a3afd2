/**
 * A create whose answer is lost after Fastly made the token: the answer cut mid-body (headers and
 * 20 bytes, then a reset) or stalled (headers, then no body until the client's deadline). The run
 * must find the token by name and creation time and revoke it, say so, and never leave it live
 * behind "Nothing was deployed". A stalled read anywhere is one line, never an "unexpected
 * failure" with a stack.
 */
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { after, before, describe, it } from "node:test";
import { createSecretStore } from "../../src/adapters/registry.ts";
import type { SecretStore } from "../../src/adapters/types.ts";
import { reportError } from "../../src/cli/main.ts";
import { loadConfig } from "../../src/config/index.ts";
import { demoCredentials } from "../../src/emulator/index.ts";
import { createFastlyClient, FastlyApiError } from "../../src/fastly/index.ts";
import { gatherState, makePlan } from "../../src/plan/index.ts";
import { rotate } from "../../src/rotation/index.ts";
import {
  assertNoSecrets,
  assertSettled,
  startRotationEnv,
  type RotationEnv,
} from "../helpers/rotation-env.ts";

const { superuser } = demoCredentials;

describe("a create whose answer is lost", () => {
  let h: RotationEnv;

  before(async () => {
    h = await startRotationEnv({ environments: ["integration"], verifyTimeout: "15s" });
  });
  after(async () => {
    await h?.close();
  });

  /** The ids of live managed tokens other than the deployed one. */
  async function orphans(): Promise<string[]> {
    const deployed = (await h.tokenSelf(h.readSecret("integration"))).id;
    return (await h.managedLive("integration")).map((t) => t.id).filter((id) => id !== deployed);
  }

  it("cut mid-body (200 headers, 20 bytes, reset): the token it made is found, revoked, and named", async () => {
    const before = h.readSecret("integration");
    const createsBefore = (await h.admin.state()).automationTokens.length;
    await h.admin.fault({ method: "POST", path: "/automation-tokens", truncateAfter: 20 });
    const result = await h.runCli([
      "rotate",
      "--config",
      h.configPath,
      "--env",
      "integration",
      "--yes",
      "--force",
    ]);
    assert.equal(result.code, 1, result.stderr);
    assert.ok((await h.admin.state()).automationTokens.length > createsBefore, "the create took effect");
    assert.deepEqual(await orphans(), [], "no token of the run is left live");
    assert.match(result.stderr, /outcome is unknown/);
    assert.match(result.stderr, /which was revoked/);
    assert.doesNotMatch(result.stderr, /please report/);
    assert.equal(h.readSecret("integration"), before, "nothing was deployed");
    await assertSettled(h, "integration");
    assertNoSecrets(h.collectOutput(), h.knownSecrets());
  });

  it("when the token cannot be looked for, the run is left for resume, which revokes it", async () => {
    const before = h.readSecret("integration");
    const from = h.journal().length;
    // The create is held a moment, so the listing can be made to fail once the plan is done.
    await h.admin.fault({ method: "POST", path: "/automation-tokens", truncateAfter: 20, delayMs: 300 });
    const running = h.runCli([
      "rotate",
      "--config",
      h.configPath,
      "--env",
      "integration",
      "--yes",
      "--force",
    ]);
    await h.waitForJournal((r) => r.step === "mint" && r.status === "begin", { from, timeoutMs: 20_000 });
    await h.admin.fault({ method: "GET", path: "/automation-tokens", status: 503, count: 1000 });
    const failed = await running;
    assert.equal(failed.code, 1, failed.stderr);
    assert.match(failed.stdout + failed.stderr, /may be live: run `ftr resume/);
    assert.doesNotMatch(failed.stdout + failed.stderr, /Nothing was deployed/);
    assert.equal((await orphans()).length, 1, "the token it made is still live, and said so");
    await h.admin.clearFaults();
    const resumed = await h.runCli(["resume", "--config", h.configPath]);
    assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
    assert.deepEqual(await orphans(), [], "resume revoked it");
    assert.equal(h.readSecret("integration"), before);
  });

  it("stalled body (headers, then nothing): a timeout, the token found and revoked", async () => {
    const { config } = await loadConfig(h.configPath);
    const client = createFastlyClient({
      token: superuser.token,
      endpoint: h.emulator.url,
      retry: { baseDelayMs: 50, timeoutMs: 1500 },
    });
    const stores = new Map<string, SecretStore>();
    for (const env of config.environments) stores.set(env.name, await createSecretStore(env.secret));
    const state = await gatherState({ client, config, stores });
    const plan = makePlan(state, config, { now: new Date(), force: true, only: ["integration"] });
    await h.admin.fault({ method: "POST", path: "/automation-tokens", stallBody: true });
    const result = await rotate({
      config,
      client,
      plan,
      getPassword: () => Promise.resolve(superuser.password),
    });
    const env = result.environments[0];
    assert.equal(env?.outcome, "failed", JSON.stringify(env));
    assert.match(env.error ?? "", /outcome is unknown \(timed out\)/);
    assert.match(env.error ?? "", /which was revoked/);
    assert.deepEqual(await orphans(), [], "no token of the run is left live");
    await assertSettled(h, "integration");
  });

  it("a stalled read is one line naming the timeout, not an unexpected failure with a stack", async () => {
    const client = createFastlyClient({
      token: superuser.token,
      endpoint: h.emulator.url,
      retry: { retries: 1, baseDelayMs: 10, timeoutMs: 800 },
    });
    await h.admin.fault({ method: "GET", path: "/current_user", stallBody: true, count: 2 });
    const error: unknown = await client.getCurrentUser().then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(error instanceof FastlyApiError, `a FastlyApiError, not ${String(error)}`);
    assert.match(error.message, /timed out/);
    const stderr = new PassThrough();
    let text = "";
    stderr.on("data", (c: Buffer) => (text += c.toString()));
    const code = await reportError(
      {
        stdout: new PassThrough(),
        stderr,
        stdin: new PassThrough(),
        env: {},
        cwd: process.cwd(),
        interrupted: new Promise(() => {}),
      },
      error,
    );
    assert.equal(code, 1);
    assert.doesNotMatch(text, /unexpected failure|\n\s+at /);
    assert.equal(text.trim().split("\n").length, 1, text);
  });
});
