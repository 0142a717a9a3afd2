/**
 * Faults on every call of the rotation protocol, injected through the emulator's fault API (429,
 * 500, 503, a dropped connection, an answer later than the client waits), and failures of the
 * consumer's side (a reload that exits 1, a verify that never passes). Each run either completes,
 * retrying, or rolls back; after each: the old token is never revoked before the new one was
 * verified in use, no token of the run is left alive besides the deployed one, and the consumer
 * never had a request refused.
 */
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { createSecretStore } from "../src/adapters/registry.ts";
import type { SecretStore } from "../src/adapters/types.ts";
import { loadConfig } from "../src/config/index.ts";
import { demoCredentials, type FaultSpec } from "../src/emulator/index.ts";
import { EXPORTER_USER_AGENT } from "../src/emulator/exporter.ts";
import { createFastlyClient } from "../src/fastly/index.ts";
import { gatherState, makePlan } from "../src/plan/index.ts";
import { rotate, type RotationResult } from "../src/rotation/index.ts";
import { USER_AGENT } from "../src/version.ts";
import {
  assertNoSecrets,
  assertSettled,
  startRotationEnv,
  tokenName,
  type ConfigDoc,
  type DemoEnv,
  type RotationEnv,
} from "./helpers/rotation-env.ts";

const { superuser, exporterTokens } = demoCredentials;

/** Every call of the protocol that is safe to repeat, as fault paths. */
const IDEMPOTENT_CALLS: readonly { method: string; path: string }[] = [
  { method: "POST", path: "/sudo" },
  { method: "GET", path: "/current_user" },
  { method: "GET", path: "/automation-tokens" },
  { method: "GET", path: "/service" },
  // The first is the plan's look at the deployed value; the test step's is armed at `mint begin`.
  { method: "GET", path: "/tokens/self" },
  // token-in-use polls the new token; revoke deletes the old one.
  { method: "GET", path: "re:^/automation-tokens/[^/]+$" },
  { method: "DELETE", path: "re:^/tokens/[^/]+$" },
];

const FAULT_KINDS: readonly { name: string; fault: Partial<FaultSpec>; logged: number }[] = [
  { name: "429", fault: { status: 429 }, logged: 429 },
  { name: "500", fault: { status: 500 }, logged: 500 },
  { name: "503", fault: { status: 503 }, logged: 503 },
  { name: "a dropped connection", fault: { drop: true }, logged: 0 },
];

function matches(path: string, pattern: string): boolean {
  const bare = path.split("?")[0]!;
  return pattern.startsWith("re:") ? new RegExp(pattern.slice(3)).test(bare) : bare === pattern;
}

/** How long a create is held while a fault is armed for the new token's first request. */
const ARM_HOLD_MS = 2000;

/** The automation token `id` exists in the emulator and is revoked. */
async function assertRevoked(h: RotationEnv, id: string, what: string): Promise<void> {
  const token = (await h.admin.state()).automationTokens.find((t) => t.id === id);
  assert.ok(token, `${what} (${id}) is known to the emulator`);
  assert.notEqual(token.revokedAt, null, `${what} (${id}) is revoked`);
}

describe("rotation under API faults and failing consumers", () => {
  let h: RotationEnv;
  let original: ConfigDoc;

  // A world per case: a case that fails leaves its faults, orphans and files to itself.
  beforeEach(async () => {
    h = await startRotationEnv({ environments: ["integration", "staging"], verifyTimeout: "15s" });
    original = h.config();
  });
  afterEach(async () => {
    await h?.close();
  });

  /** What a run starts from. */
  async function snapshot(env: DemoEnv = "integration") {
    return {
      from: h.journal().length,
      requestsFrom: (await h.admin.requests()).length,
      since: (await h.admin.now()).getTime(),
      previous: (await h.tokenSelf(h.readSecret(env))).id!,
      previousValue: h.readSecret(env),
    };
  }
  type Snapshot = Awaited<ReturnType<typeof snapshot>>;

  /**
   * The invariants after any run: settled; the previous token deleted only after `verify done`
   * (after the verify's last request, in the order Fastly received them) and after the consumer used
   * the new token; no live token made by the run except the deployed one; no refused consumer
   * request; no secret printed or journaled; every environment's consumer named and holding one
   * live token. Returns the deployed token id.
   */
  async function assertInvariants(s: Snapshot, env: DemoEnv = "integration"): Promise<string> {
    const deployed = await assertSettled(h, env);
    const records = h
      .journal()
      .slice(s.from)
      .filter((r) => r.environment === env);
    const verified = records.find((r) => r.step === "verify" && r.status === "done");
    const log = await h.admin.requests();
    const deletes = log
      .map((entry, index) => ({ entry, index }))
      .filter(
        ({ entry }) =>
          entry.method === "DELETE" &&
          (entry.path === `/tokens/${s.previous}` || entry.path === `/automation-tokens/${s.previous}`),
      );
    if (!verified) {
      assert.deepEqual(deletes, [], "the old token was deleted although the new one was never verified");
    } else {
      // The verify step's look-ups of the new token (token-in-use), in the order Fastly got them.
      const lastVerify = log.findLastIndex(
        (r) =>
          r.userAgent?.startsWith(USER_AGENT) === true &&
          r.method === "GET" &&
          r.path === `/automation-tokens/${verified.newTokenId}` &&
          r.status === 200,
      );
      assert.ok(lastVerify >= 0, "the verify step looked the new token up");
      const firstUse = log.findIndex(
        (r) => r.userAgent === EXPORTER_USER_AGENT && r.tokenId === verified.newTokenId && r.status === 200,
      );
      for (const { entry, index } of deletes) {
        assert.ok(
          index > lastVerify,
          `a DELETE of the old token (${entry.path}) precedes the verify's last request`,
        );
        assert.ok(
          firstUse >= 0 && firstUse < index,
          "the old token was deleted before the consumer used the new one",
        );
      }
    }
    // This environment's tokens only: another environment's rotation may have finished within
    // the second before (the emulator's times have one-second resolution).
    const created = (await h.managedLive(env)).filter(
      (t) => t.id !== s.previous && Date.parse(t.createdAt) >= s.since - 1000,
    );
    assert.deepEqual(
      created.map((t) => t.id),
      deployed === s.previous ? [] : [deployed],
      `no orphan token: ${JSON.stringify({ since: new Date(s.since).toISOString(), previous: s.previous, deployed, created })}`,
    );
    assert.deepEqual(await h.consumerRefusals(), [], "the consumer never had a request refused");
    assertNoSecrets(h.collectOutput(), h.knownSecrets());
    for (const other of h.environments) {
      const live = await h.managedLive(other);
      assert.equal(live.length, 1, `${other}: ${live.map((t) => t.id).join(", ")}`);
      assert.equal(live[0]!.name, tokenName(other));
    }
    return deployed;
  }

  /**
   * Add `fault` when the journal shows `mint begin` after record `from`. The create is held
   * ARM_HOLD_MS so that the fault is in place before the new token's first request; the hold is
   * a window, generous so that a busy machine still arms in time.
   */
  async function armAtMint(from: number, fault: FaultSpec): Promise<void> {
    await h.waitForJournal((r) => r.step === "mint" && r.status === "begin", { from, timeoutMs: 120_000 });
    await h.admin.fault(fault);
  }

  const rotateIntegration = (extra: string[] = []) =>
    h.runCli(["rotate", "--config", h.configPath, "--yes", "--force", "--env", "integration", ...extra]);

  for (const kind of FAULT_KINDS) {
    it(`retries ${kind.name} on every call that is safe to repeat, and completes`, async () => {
      const s = await snapshot();
      await h.admin.fault([
        ...IDEMPOTENT_CALLS.map((call) => ({ ...call, ...kind.fault })),
        { method: "POST", path: "/automation-tokens", delayMs: ARM_HOLD_MS },
      ]);
      const armed = armAtMint(s.from, { method: "GET", path: "/tokens/self", ...kind.fault });
      const { code, stdout, stderr } = await rotateIntegration();
      await armed;
      assert.equal(code, 0, stdout + stderr);
      assert.match(stdout, /integration\s+rotated/);
      assert.deepEqual((await h.admin.state()).faults, [], "every fault was met");

      const log = (await h.admin.requests()).slice(s.requestsFrom);
      for (const call of IDEMPOTENT_CALLS) {
        const hits = log.filter(
          (r) => r.method === call.method && matches(r.path, call.path) && r.status === kind.logged,
        );
        const want = call.path === "/tokens/self" ? 2 : 1;
        assert.equal(hits.length, want, `${call.method} ${call.path} met the fault`);
      }
      const deployed = await assertInvariants(s);
      assert.notEqual(deployed, s.previous);
      // The secrets check searched for the values this run wrote, not only the demo's.
      assert.ok(h.knownSecrets().some((secret) => secret.label.startsWith("value seen in")));
    });
  }

  it("retries a create answered 429 (known not to have taken effect)", async () => {
    const s = await snapshot();
    await h.admin.fault({ method: "POST", path: "/automation-tokens", status: 429, count: 2 });
    const { code, stdout, stderr } = await rotateIntegration();
    assert.equal(code, 0, stdout + stderr);
    const creates = (await h.admin.requests())
      .slice(s.requestsFrom)
      .filter((r) => r.method === "POST" && r.path === "/automation-tokens");
    assert.deepEqual(
      creates.map((r) => r.status),
      [429, 429, 200],
    );
    assert.notEqual(await assertInvariants(s), s.previous);
  });

  for (const kind of FAULT_KINDS.filter((k) => k.name !== "429")) {
    it(`stops without deploying anything when the create meets ${kind.name} (outcome unknown)`, async () => {
      const s = await snapshot();
      await h.admin.fault({ method: "POST", path: "/automation-tokens", ...kind.fault });
      const { code, stdout, stderr } = await rotateIntegration();
      assert.equal(code, 1, stdout + stderr);
      assert.match(stdout, /integration\s+failed/);
      assert.match(stdout, /mint failed: .*outcome is unknown/);
      assert.match(stdout, /→ Nothing was deployed and no token was created; run the rotation again/);
      // Never sent again blindly.
      const creates = (await h.admin.requests())
        .slice(s.requestsFrom)
        .filter((r) => r.method === "POST" && r.path === "/automation-tokens");
      assert.equal(creates.length, 1);
      assert.equal(await assertInvariants(s), s.previous);
      assert.equal(h.readSecret("integration"), s.previousValue);
    });
  }

  it("stops before any write when a read keeps failing", async () => {
    const s = await snapshot();
    await h.admin.fault({ method: "GET", path: "/current_user", status: 503, count: 10 });
    const { code, stdout, stderr } = await rotateIntegration();
    await h.admin.clearFaults();
    assert.equal(code, 1, stdout + stderr);
    assert.match(stderr, /GET \/current_user: the Fastly API failed with 503.*try again later/);
    const writes = (await h.admin.requests())
      .slice(s.requestsFrom)
      .filter((r) => r.method !== "GET" && r.userAgent !== EXPORTER_USER_AGENT);
    assert.deepEqual(writes, []);
    assert.equal(await assertInvariants(s), s.previous);
  });

  it("rolls back when the new token keeps failing its test", async () => {
    const s = await snapshot();
    await h.admin.fault({ method: "POST", path: "/automation-tokens", delayMs: ARM_HOLD_MS });
    const armed = armAtMint(s.from, { method: "GET", path: "/tokens/self", status: 503, count: 10 });
    const { code, stdout, stderr } = await rotateIntegration();
    await armed;
    await h.admin.clearFaults();
    assert.equal(code, 1, stdout + stderr);
    assert.match(stdout, /integration\s+rolled-back/);
    assert.match(stdout, /test failed/);
    const minted = h
      .journal()
      .slice(s.from)
      .find((r) => r.newTokenId)!.newTokenId!;
    await assertRevoked(h, minted, "the new token");
    assert.equal(await assertInvariants(s), s.previous);
    assert.equal(h.readSecret("integration"), s.previousValue);
  });

  describe("answers later than the client waits (library, 800 ms client timeout)", () => {
    const TIMEOUT_MS = 800;
    /**
     * A fetch that gives up waiting after TIMEOUT_MS, as the client's own timeout would, while the
     * request carries on to the server and is processed there: a client's timeout never cancels
     * what Fastly already received.
     */
    const impatient: typeof fetch = (input, init) => {
      const { signal: _ignored, ...rest } = init ?? {};
      const sent = fetch(input, rest);
      let timer: NodeJS.Timeout | undefined;
      let late = false;
      const gaveUp = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          late = true;
          reject(new DOMException("The operation was aborted due to timeout", "TimeoutError"));
        }, TIMEOUT_MS);
      });
      // A late answer is read and dropped.
      sent.then((r) => (late ? r.arrayBuffer() : undefined)).catch(() => undefined);
      return Promise.race([sent, gaveUp]).finally(() => clearTimeout(timer));
    };

    /** What `ftr rotate --force --env integration --yes` does, with the impatient fetch everywhere. */
    async function rotateImpatiently(): Promise<RotationResult> {
      const { config } = await loadConfig(h.configPath);
      const client = createFastlyClient({
        token: superuser.token,
        endpoint: h.emulator.url,
        fetch: impatient,
        retry: { baseDelayMs: 50 },
      });
      assert.equal((await client.getCurrentUser()).role, "superuser");
      const stores = new Map<string, SecretStore>();
      for (const env of config.environments.filter((e) => e.name === "integration")) {
        stores.set(env.name, await createSecretStore(env.secret));
      }
      const state = await gatherState({ client, config, stores, fetch: impatient });
      const plan = makePlan(state, config, { now: new Date(), force: true, only: ["integration"] });
      return rotate({
        config,
        client,
        plan,
        fetch: impatient,
        getPassword: () => Promise.resolve(superuser.password),
      });
    }

    it("retries every call that is safe to repeat, and completes", async () => {
      const s = await snapshot();
      const late = { delayMs: TIMEOUT_MS + 700 };
      await h.admin.fault([
        ...IDEMPOTENT_CALLS.map((call) => ({ ...call, ...late })),
        { method: "POST", path: "/automation-tokens", delayMs: 300 },
      ]);
      const armed = armAtMint(s.from, { method: "GET", path: "/tokens/self", ...late });
      const result = await rotateImpatiently();
      await armed;
      assert.deepEqual((await h.admin.state()).faults, []);
      assert.equal(result.ok, true, JSON.stringify(result.environments[0]));
      assert.equal(result.environments[0]?.outcome, "rotated");
      assert.notEqual(await assertInvariants(s), s.previous);
    });

    it("a create answered too late: the token it made is found by the repeated search and revoked", async () => {
      const s = await snapshot();
      await h.admin.fault({ method: "POST", path: "/automation-tokens", delayMs: TIMEOUT_MS + 700 });
      const result = await rotateImpatiently();
      assert.equal(result.environments[0]?.outcome, "failed");
      assert.match(result.environments[0]?.error ?? "", /outcome is unknown/);
      // Fastly (here the emulator) finished the create after the client gave up; the search, which
      // looks again for a few seconds, found that token and revoked it.
      assert.match(
        result.environments[0]?.error ?? "",
        /it had created \S+ \(found by name and creation time\), which was revoked/,
      );
      const late = (await h.managedLive("integration")).filter((t) => t.id !== s.previous);
      assert.deepEqual(late, [], "no token is left valid and held by nobody");
      assert.equal(h.readSecret("integration"), s.previousValue);
      assert.equal(await h.exporterTokenId("integration"), s.previous);
      const again = await rotateIntegration();
      assert.equal(again.code, 0, again.stdout + again.stderr);
      await assertInvariants(s);
    });
  });

  it("rolls back when a reload command exits 1", async () => {
    const s = await snapshot();
    const pids = h.exporters.get("integration")!.pids.length;
    await h.setReload("integration", { failTimes: 1 });
    const { code, stdout, stderr } = await rotateIntegration();
    await h.setReload("integration", {});
    assert.equal(code, 1, stdout + stderr);
    assert.match(stdout, /integration\s+rolled-back/);
    assert.match(stdout, /reload failed: reload command .* exited with code 1/);
    assert.match(stdout, /→ The previous token is back in place; fix the cause and run again/);
    // Restarted with the new token, then with the old one again.
    assert.equal(h.exporters.get("integration")!.pids.length, pids + 2);
    assert.equal(h.readSecret("integration"), s.previousValue, "the previous secret is restored");
    assert.equal(await assertInvariants(s), s.previous, "the old token is in use again");
    const minted = h
      .journal()
      .slice(s.from)
      .find((r) => r.newTokenId)!.newTokenId!;
    await assertRevoked(h, minted, "the new token");
  });

  it("rolls back when the consumer never uses the new token, and does not start later environments", async () => {
    const doc = h.config();
    doc.environments[0]!.verify = [{ type: "token-in-use", timeout: "3s", interval: "1s" }];
    await h.writeConfig(doc);
    await h.setReload("integration", { skip: true });
    const s = await snapshot();
    const staging = await snapshot("staging");
    try {
      const { code, stdout, stderr } = await h.runCli([
        "rotate",
        "--config",
        h.configPath,
        "--yes",
        "--force",
      ]);
      assert.equal(code, 1, stdout + stderr);
      assert.match(stdout, /integration\s+rolled-back/);
      assert.match(stdout, /verify failed: token-in-use .* not used since/);
      assert.match(stdout, /→ Check the consumer's logs and the reload commands/);
      assert.match(stdout, /staging\s+skipped/);
      assert.match(stdout, /staging: not started: an earlier environment failed/);
    } finally {
      await h.setReload("integration", {});
      await h.writeConfig(original);
    }
    assert.equal(h.readSecret("integration"), s.previousValue);
    assert.equal(await assertInvariants(s), s.previous);
    // Staging: not a single record, request or token.
    assert.deepEqual(
      h
        .journal()
        .slice(s.from)
        .filter((r) => r.environment === "staging"),
      [],
    );
    assert.equal(await assertInvariants(staging, "staging"), staging.previous);
    assert.equal(staging.previous, exporterTokens.staging.id);
    assert.deepEqual(
      (await h.managedLive("staging")).map((t) => t.id),
      [exporterTokens.staging.id],
    );
  });

  it("rolls back when a verify command fails for the new token", async () => {
    const s = await snapshot();
    const doc = h.config();
    // Passes only for the token deployed before the run: the rollback's check succeeds.
    doc.environments[0]!.verify = [
      {
        type: "exec",
        command: ["sh", "-c", `test "$FTR_TOKEN_ID" = "${s.previous}"`],
        timeout: "2s",
        interval: "1s",
      },
    ];
    await h.writeConfig(doc);
    try {
      const { code, stdout, stderr } = await rotateIntegration();
      assert.equal(code, 1, stdout + stderr);
      assert.match(stdout, /integration\s+rolled-back/);
      assert.match(stdout, /verify failed: exec sh -c/);
    } finally {
      await h.writeConfig(original);
    }
    assert.equal(h.readSecret("integration"), s.previousValue);
    assert.equal(await assertInvariants(s), s.previous);
  });

  it(
    "when the rollback cannot verify the old token either, `ftr resume` (as advised) leaves no orphan",
    {},
    async () => {
      const s = await snapshot();
      const doc = h.config();
      doc.environments[0]!.verify = [{ type: "exec", command: ["false"], timeout: "2s", interval: "1s" }];
      await h.writeConfig(doc);
      let advice = "";
      try {
        const { code, stdout, stderr } = await rotateIntegration();
        assert.equal(code, 1, stdout + stderr);
        assert.match(stdout, /integration\s+failed/);
        assert.match(stdout, /the rollback then failed too/);
        advice = /→ (.*)/.exec(stdout)?.[1] ?? "";
        assert.match(advice, /ftr resume/);
      } finally {
        await h.writeConfig(original);
      }
      // The secret was restored and the consumer restarted with it; only the check failed.
      assert.equal(h.readSecret("integration"), s.previousValue);
      // Do what the advice says.
      const resumed = await h.runCli(["resume", "--config", h.configPath]);
      assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
      await assertInvariants(s);
    },
  );
});
