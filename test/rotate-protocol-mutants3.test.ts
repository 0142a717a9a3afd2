/**
 * The rotation protocol's rollback and test step at their edges, driven through the library in this
 * process against the emulator on a clock shared with it (test/helpers/protocol.ts): a new token
 * gone before the rollback revokes it, a rollback with no valid token to go back to, scopes and
 * services in another order, every service asked, and an old token of another name refused without
 * asking the store. Part of the `rotation-protocol` mutation group.
 */
import assert from "node:assert/strict";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, it } from "node:test";
import { demoCredentials } from "../src/emulator/index.ts";
import type { Plan } from "../src/plan/index.ts";
import { rotate, type RotationEvent } from "../src/rotation/index.ts";
import { USER_AGENT } from "../src/version.ts";
import {
  admin,
  setup,
  trail,
  useProtocolEmulator,
  works,
  type Case,
  createdToken,
} from "./helpers/protocol.ts";

const { exporterTokens, superuser } = demoCredentials;
const OLD = exporterTokens.integration;
const UA = `${USER_AGENT.split(" ")[0]}*`;

useProtocolEmulator();

const detailOf = (r: { steps: readonly { step: string; detail?: string }[] }, step: string) =>
  r.steps.find((s) => s.step === step)?.detail;

describe("rollback at its edges", () => {
  let c: Case;
  afterEach(async () => {
    await admin.clearHooks();
    await admin.clearFaults();
    await c?.close();
  });

  /** Fail the reload once: the consumer is fixed before the rollback's reload. */
  const failReloadOnce = async (): Promise<(e: RotationEvent) => void> => {
    await c.touch("fail-reload-integration");
    return (e) => {
      if (e.step === "restore") rmSync(join(c.dir, "fail-reload-integration"), { force: true });
    };
  };

  it("a new token revoked by someone else before the rollback revokes it: said to be gone already", async () => {
    c = await setup();
    const plan = await c.plan();
    const onEvent = await failReloadOnce();
    // Held at the rollback's verify (the first look at the old token by id), while it is revoked.
    const hook = await admin.hook({
      method: "GET",
      path: `/automation-tokens/${OLD.id}`,
      phase: "before",
      userAgent: UA,
      action: "hold",
    });
    const run = rotate({ ...c.context(), plan, onEvent });
    await admin.waitForHook(hook.id);
    const created = await createdToken(OLD.name, OLD.id);
    await c.client.sudo({ password: superuser.password });
    await c.client.revokeToken(created.id);
    await admin.releaseHook(hook.id);
    const r = (await run).environments[0]!;
    assert.equal(r.outcome, "rolled-back", JSON.stringify(r));
    assert.equal(detailOf(r, "revoke-new"), `${created.id} was already gone`);
    assert.deepEqual(r.revoked, []);
    assert.equal(await works(OLD.token), true);
  });

  it("no valid token was deployed: the rollback restores and reloads, with nothing to verify", async () => {
    c = await setup();
    writeFileSync(join(c.dir, "integration.txt"), "not-a-token\n");
    const plan = await c.plan();
    assert.notEqual(plan.environments[0]?.deployed.status, "valid");
    assert.equal(plan.environments[0]?.rotate, true);
    const fixed = await failReloadOnce();
    // The consumer restarted with the old value back cannot call Fastly with it.
    const onEvent = (e: RotationEvent) => {
      fixed(e);
      if (e.step === "restore") writeFileSync(join(c.dir, "idle-integration"), "");
    };
    const r = (await rotate({ ...c.context(), plan, onEvent })).environments[0]!;
    assert.equal(r.outcome, "rolled-back", JSON.stringify(r));
    const journal = trail(c.journal());
    assert.ok(journal.includes("rollback-reload done"), journal.join(", "));
    assert.ok(!journal.some((x) => x.startsWith("rollback-verify")), journal.join(", "));
    assert.equal(c.secret("integration"), "not-a-token");
  });
});

describe("the test step and the old tokens, at their edges", () => {
  let c: Case;
  afterEach(async () => {
    await admin.clearHooks();
    await admin.clearFaults();
    await c?.close();
  });

  it("scopes asked in another order than Fastly sorts them pass", async () => {
    c = await setup();
    const plan = await c.plan();
    const config = {
      ...c.config,
      environments: c.config.environments.map((e) => ({
        ...e,
        token: { ...e.token, scope: "purge_select global:read", scopes: ["purge_select", "global:read"] },
      })),
    } as typeof c.config;
    const r = (await rotate({ ...c.context({ config }), plan, keepOld: true })).environments[0]!;
    assert.equal(r.outcome, "kept-old", JSON.stringify(r));
    assert.match(detailOf(r, "test") ?? "", /: global:read purge_select, /);
  });

  it("services planned in another order than Fastly lists them pass", async () => {
    c = await setup();
    const plan = await c.plan();
    const env = plan.environments[0]!;
    assert.ok(env.create.services.length > 1);
    const reordered: Plan = {
      ...plan,
      environments: [
        { ...env, create: { ...env.create, services: [...env.create.services].sort().reverse() } },
      ],
    };
    const r = (await rotate({ ...c.context(), plan: reordered, keepOld: true })).environments[0]!;
    assert.equal(r.outcome, "kept-old", JSON.stringify(r));
  });

  it("every service asked, and the token reaches every service: passes", async () => {
    c = await setup({ services: "{ all: true }" });
    const r = (await c.run({ keepOld: true })).environments[0]!;
    assert.equal(r.outcome, "kept-old", JSON.stringify(r));
    assert.match(detailOf(r, "test") ?? "", /, all services, /);
  });

  it("an old token of another name, not the deployed one, is refused without reading the store's previous value", async () => {
    c = await setup();
    const plan = await c.plan();
    const forged: Plan = {
      ...plan,
      environments: [{ ...plan.environments[0]!, revoke: [exporterTokens.staging.id] }],
    };
    await admin.clearRequests();
    const r = (await rotate({ ...c.context(), plan: forged })).environments[0]!;
    assert.equal(r.outcome, "failed", JSON.stringify(r));
    assert.match(r.error ?? "", /refusing to revoke/);
    const asOld = (await c.requests()).filter((x) => x.tokenId === OLD.id);
    assert.deepEqual(asOld, [], "the previous value was never sent");
  });
});
