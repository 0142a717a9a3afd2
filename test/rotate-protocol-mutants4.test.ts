/**
 * What the rotation protocol never takes as proof or as done, driven through the library in this
 * process against the emulator on a clock shared with it (test/helpers/protocol.ts): prove's look
 * answered 500 (by the old value, or by id) is not a dead token, and a revoke answered 404 is taken
 * as done only to be proved. Part of the `rotation-protocol` mutation group.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, it } from "node:test";
import { demoCredentials } from "../src/emulator/index.ts";
import type { Plan } from "../src/plan/index.ts";
import { rotate } from "../src/rotation/index.ts";
import { USER_AGENT } from "../src/version.ts";
import {
  admin,
  clock,
  setup,
  stopAt,
  trail,
  useProtocolEmulator,
  works,
  type Case,
} from "./helpers/protocol.ts";
import { beforeTimer } from "./helpers/wait.ts";

const { exporterTokens, superuser } = demoCredentials;
const OLD = exporterTokens.integration;
const UA = `${USER_AGENT.split(" ")[0]}*`;

useProtocolEmulator();

describe("prove never takes a failed look for a dead token", () => {
  let c: Case;
  afterEach(async () => {
    await admin.clearHooks();
    await admin.clearFaults();
    await c?.close();
  });

  /** Hold the revoke of `id` once it is done, break the looks with `fault`, then let the run go on. */
  async function breakLooksAfterRevoke(id: string, fault: Parameters<typeof admin.fault>[0], plan?: Plan) {
    const hook = await admin.hook({
      method: "DELETE",
      path: `/tokens/${id}`,
      phase: "after",
      userAgent: UA,
      action: "hold",
    });
    const run = rotate({ ...c.context(), plan: plan ?? (await c.plan()) });
    await admin.waitForHook(hook.id);
    await admin.fault(fault);
    await admin.releaseHook(hook.id);
    return (await run).environments[0]!;
  }

  it("the old value's look answered 500: the run fails at prove", async () => {
    c = await setup();
    const r = await breakLooksAfterRevoke(OLD.id, {
      method: "GET",
      path: "/tokens/self",
      status: 500,
      count: 1000,
    });
    assert.equal(r.outcome, "failed", JSON.stringify(r));
    assert.deepEqual(trail(c.journal()).slice(-2), ["prove begin", "prove failed"]);
  });

  it("an old id's look answered 500: the run fails at prove", async () => {
    c = await setup();
    const plan = await c.plan();
    await c.client.sudo({ password: superuser.password });
    const extra = await c.client.createAutomationToken({
      name: OLD.name,
      role: "engineer",
      scope: "global:read",
      services: [],
      expiresAt: new Date(clock.now() + 30 * 86_400_000),
      tlsAccess: false,
    });
    const withExtra: Plan = {
      ...plan,
      environments: [{ ...plan.environments[0]!, revoke: [extra.id, OLD.id] }],
    };
    const r = await breakLooksAfterRevoke(
      OLD.id,
      { method: "GET", path: `/automation-tokens/${extra.id}`, status: 500, count: 1000 },
      withExtra,
    );
    assert.equal(r.outcome, "failed", JSON.stringify(r));
    assert.deepEqual(trail(c.journal()).slice(-2), ["prove begin", "prove failed"]);
  });

  it("a revoke answered 404 counts as done, and prove then finds the token still working", async () => {
    c = await setup();
    // Both revoke endpoints (the client tries the automation token's when /tokens/{id} is 404).
    await admin.fault({
      method: "DELETE",
      path: `re:^/(automation-)?tokens/${OLD.id}$`,
      status: 404,
      count: 1000,
    });
    const r = (await c.run()).environments[0]!;
    assert.equal(r.outcome, "failed", JSON.stringify(r));
    assert.deepEqual(r.revoked, [OLD.id]);
    assert.match(r.error ?? "", new RegExp(`token ${OLD.id} still works after it was revoked`));
    assert.equal(await works(OLD.token), true);
  });
});

describe("what the reloaders and verifiers are told", () => {
  let c: Case;
  afterEach(async () => {
    await c?.close();
  });

  it("the reload command is told the environment and the run id", async () => {
    c = await setup();
    const consumer = join(c.dir, "consumer.sh");
    const original = readFileSync(consumer, "utf8");
    await writeFile(consumer, `echo "$FTR_ENVIRONMENT $FTR_RUN_ID" >> told.log\n${original}`, {
      mode: 0o755,
    });
    const result = await c.run();
    assert.equal(result.environments[0]?.outcome, "rotated");
    assert.equal(readFileSync(join(c.dir, "told.log"), "utf8"), `integration ${result.runId}\n`);
  });

  it("a run stopped while the reload command runs stops the command", async () => {
    c = await setup();
    // A consumer that never finishes restarting, stopped as soon as the reload begins: the run
    // ends only if the stop ends the command.
    await writeFile(join(c.dir, "consumer.sh"), "exec tail -f /dev/null\n", { mode: 0o755 });
    const result = await beforeTimer(30_000, "the stop ends the reload command", () =>
      c.run(stopAt((e) => e.step === "reload" && e.status === "begin")),
    );
    assert.equal(result.environments[0]?.outcome, "interrupted");
  });

  it("a verifier's waits are passed on with the environment's name", async () => {
    c = await setup();
    await c.touch("idle-integration");
    const waits: string[] = [];
    const result = await c.run({
      onWaiting: (environment, reason) => waits.push(`${environment}: ${reason}`),
    });
    assert.notEqual(result.environments[0]?.outcome, "rotated");
    assert.ok(waits.length > 0);
    assert.ok(
      waits.every((w) => w.startsWith("integration: ")),
      waits.join("\n"),
    );
  });
});
