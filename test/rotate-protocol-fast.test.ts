/**
 * The rotation protocol forward, driven through the library in this process (`rotate`) against the
 * emulator on a clock shared with it (test/helpers/protocol.ts): each step journaled before its
 * side effect and done after, create before revoke, revoke only after verify, prove, the test
 * step's checks of the new token, sudo, approval, the start gates, a lost create, and which old
 * tokens may be revoked. The first file of the `rotation-protocol` mutation group: it is fast.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, it } from "node:test";
import { demoCredentials, demoServiceIds } from "../src/emulator/index.ts";
import type { Plan } from "../src/plan/index.ts";
import { rotate, stateBackend, type RotationEvent } from "../src/rotation/index.ts";
import { Interrupted } from "../src/util/interrupt.ts";
import { USER_AGENT } from "../src/version.ts";
import {
  admin,
  clock,
  emulator,
  FORWARD,
  own,
  setup,
  stopAt,
  trail,
  useProtocolEmulator,
  works,
  type Case,
  createdToken,
  selfAnswerFor,
} from "./helpers/protocol.ts";

const { superuser, exporterTokens } = demoCredentials;

useProtocolEmulator();

describe("the rotation protocol, in process", () => {
  let c: Case;
  afterEach(async () => {
    await admin.clearHooks();
    await admin.clearFaults();
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
    const created = await createdToken(exporterTokens.integration.name, exporterTokens.integration.id);
    const self = selfAnswerFor(template, created, (iso) => iso.replace(/\.\d{3}Z$/, "Z"));
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

describe("a create whose answer is lost", () => {
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
