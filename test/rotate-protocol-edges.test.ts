/**
 * The protocol's edges, driven through the library in this process against the emulator on a clock
 * shared with it (test/helpers/protocol.ts): what a run tells its notification sink and when it
 * waits for it, a run holding state it was given (the lock stays held), sudo refused for another
 * reason than the password, a create lost beside a recent token of the same name, a revoke answered
 * 404, a crash between a store's write and its journal record, and which rotation `rollback`
 * undoes and what it refuses.
 */
import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, it } from "node:test";
import { demoCredentials } from "../src/emulator/index.ts";
import { FastlyApiError } from "../src/fastly/index.ts";
import type { NotificationSink } from "../src/notify/dispatch.ts";
import type { NotificationEvent } from "../src/adapters/types.ts";
import {
  resume,
  rollbackLast,
  RollbackError,
  rotate,
  stateBackend,
  type JournalRecord,
  type RotationEvent,
} from "../src/rotation/index.ts";
import { Interrupted } from "../src/util/interrupt.ts";
import { USER_AGENT } from "../src/version.ts";
import {
  admin,
  clock,
  FORWARD,
  own,
  setup,
  stopAt,
  useProtocolEmulator,
  works,
  type Case,
} from "./helpers/protocol.ts";

const { superuser, exporterTokens } = demoCredentials;

useProtocolEmulator();

/** A sink that keeps what it is told, and counts the waits for delivery. */
function recordingSink(): NotificationSink & { events: NotificationEvent[]; flushes: number } {
  const sink = {
    events: [] as NotificationEvent[],
    flushes: 0,
    emit(event: NotificationEvent) {
      sink.events.push(event);
      return Promise.resolve(1);
    },
    flush() {
      sink.flushes += 1;
      return Promise.resolve(true);
    },
  };
  return sink;
}

const kinds = (sink: { events: NotificationEvent[] }) =>
  sink.events.map((e) => `${e.event}${"environment" in e ? ` ${String(e.environment)}` : ""}`);

describe("the protocol's edges", () => {
  let c: Case;
  afterEach(async () => {
    await admin.clearHooks();
    await admin.clearFaults();
    await c?.close();
  });

  it("notifications: rotate, resume and rollback each say started, per environment, finished, then wait", async () => {
    c = await setup({ environments: ["integration", "staging"] });
    const rotated = recordingSink();
    const kept = await c.run({ notify: rotated, keepOld: true });
    assert.equal(kept.ok, true);
    assert.deepEqual(
      kept.environments.map((e) => e.outcome),
      ["kept-old", "kept-old"],
      "a kept-old environment does not stop the next",
    );
    assert.deepEqual(kinds(rotated), [
      "run-started",
      "environment-rotated integration",
      "environment-rotated staging",
      "run-finished",
    ]);
    assert.equal(rotated.flushes, 1);

    const undone = recordingSink();
    const back = await rollbackLast({ ...c.context(), environment: "integration", notify: undone });
    assert.equal(back.ok, true);
    // Only integration's rotation is undone, although staging's was the same run.
    assert.equal(c.secret("integration"), exporterTokens.integration.token);
    assert.notEqual(c.secret("staging"), exporterTokens.staging.token);
    assert.equal(await works(c.secret("staging")), true);
    assert.deepEqual(back.environments[0]?.revoked, [kept.environments[0]?.newTokenId]);
    assert.deepEqual(kinds(undone), ["run-started", "environment-rolled-back integration", "run-finished"]);
    assert.equal(undone.flushes, 1);

    const stopped = await c.run({ only: ["integration"], ...stopAt((e) => e.step === "revoke") });
    assert.equal(stopped.environments[0]?.outcome, "interrupted");
    const resumed = recordingSink();
    const done = await resume(c.context({ notify: resumed }));
    assert.equal(done.ok, true);
    assert.deepEqual(kinds(resumed), ["run-started", "environment-rotated integration", "run-finished"]);
    assert.equal(resumed.flushes, 1);
    assert.equal(resumed.events[0]?.runId, stopped.runId);

    // Nothing to resume: nothing started, nothing said.
    const idle = recordingSink();
    await resume(c.context({ notify: idle }));
    assert.deepEqual(kinds(idle), []);

    // A run that throws still waits for what it said.
    const refused = recordingSink();
    await assert.rejects(
      c.run({ notify: refused, getPassword: () => Promise.resolve("wrong") }),
      (e: unknown) => e instanceof FastlyApiError,
    );
    assert.deepEqual(kinds(refused), []);
    assert.equal(refused.flushes, 1);
  });

  it("a stopped run never asks for approval", async () => {
    c = await setup({ extra: { integration: "    approval: required" } });
    const controller = new AbortController();
    controller.abort(new Interrupted("SIGINT"));
    const asked: string[] = [];
    await assert.rejects(
      c.run({
        signal: controller.signal,
        approve: (env) => {
          asked.push(env);
          return Promise.resolve(true);
        },
      }),
      /interrupted by SIGINT/,
    );
    assert.deepEqual(asked, []);
  });

  it("a run given the state holds it: the lock stays taken and the journal is on disk when it returns", async () => {
    c = await setup();
    const backend = await stateBackend(c.config, { clock });
    const session = await backend.acquire({ runId: "20260101T000000Z-held0000" });
    try {
      const plan = await c.plan();
      const result = await rotate({ ...c.context(), plan, state: session });
      assert.equal(result.ok, true);
      assert.deepEqual(
        c.journal().map((r) => `${r.step} ${r.status}`),
        FORWARD,
        "flushed before it returned",
      );
      assert.notEqual(await backend.holder(), undefined, "still held");
      await assert.rejects(async () => backend.acquire({}), /is rotating; wait for it/);
    } finally {
      await session.release();
    }
    // A run that takes the lock itself names its run id while it holds it.
    let holder: string | undefined;
    const seen = stopAt(() => false);
    const result = await c.run({
      onEvent: (e: RotationEvent) => {
        seen.onEvent(e);
        if (e.step === "reload" && e.status === "begin") {
          holder = readFileSync(join(c.stateDir, "lock"), "utf8");
        }
      },
    });
    assert.ok(holder?.includes(result.runId), holder);
    assert.equal(await backend.holder(), undefined, "released");
  });

  it("sudo refused for another reason than the password: not asked again, and nothing is written", async () => {
    c = await setup();
    await admin.fault({ method: "POST", path: "/sudo", status: 503, count: 20 });
    let again = 0;
    await assert.rejects(
      c.run({
        passwordAgain: () => {
          again += 1;
          return Promise.resolve(superuser.password);
        },
      }),
      (e: unknown) => e instanceof FastlyApiError,
    );
    assert.equal(again, 0);
    assert.deepEqual(c.journal(), []);
  });

  it("a lost create beside a recent token of the same name revokes only the one the run made", async () => {
    c = await setup();
    await c.client.sudo({ password: superuser.password });
    const recent = await c.client.createAutomationToken({
      name: exporterTokens.integration.name,
      role: "engineer",
      scope: "global:read",
      services: [],
      expiresAt: new Date(clock.now() + 86_400_000),
    });
    const plan = await c.plan();
    assert.ok(plan.environments[0]?.revoke.includes(recent.id), "the plan names it as an old token");
    await admin.fault({ method: "POST", path: "/automation-tokens", truncateAfter: 20 });
    const result = await c.run({ plan });
    const r = result.environments[0]!;
    assert.equal(r.outcome, "failed");
    assert.match(r.error ?? "", /which was revoked/);
    const state = await admin.state();
    const live = state.automationTokens
      .filter((t) => t.name === exporterTokens.integration.name && t.revokedAt === null)
      .map((t) => t.id)
      .sort();
    assert.deepEqual(live, [exporterTokens.integration.id, recent.id].sort());
  });

  it("a revoke answered 404 counts as done: the rollback ends rolled back", async () => {
    c = await setup();
    await c.touch("idle-integration");
    const result = await c.run({
      onEvent: (e) => {
        if (e.step === "verify" && e.status === "failed") void c.remove("idle-integration");
        if (e.step === "revoke-new" && e.status === "begin") {
          void admin.fault({ method: "DELETE", path: "re:^/tokens/", status: 404 });
        }
      },
    });
    const r = result.environments[0]!;
    assert.equal(r.outcome, "rolled-back", JSON.stringify(r));
    assert.deepEqual(r.revoked, [r.newTokenId]);
  });

  it("a crash after the store's write, before its record: resume promotes what was staged", async () => {
    c = await setup();
    const stopped = await c.run(stopAt((e) => e.step === "stage" && e.status === "done"));
    assert.equal(stopped.environments[0]?.outcome, "interrupted");
    // The process died between the staged file's rename and the journal's `stage done`.
    dropLast(c, (r) => r.step === "stage" && r.status === "done");
    const resumed = await resume(c.context());
    assert.equal(resumed.environments[0]?.outcome, "rotated", JSON.stringify(resumed));
    assert.equal(await works(c.secret("integration")), true);
    assert.equal(await works(exporterTokens.integration.token), false);
  });

  it("a crash while staging, nothing staged yet: resume revokes the new token", async () => {
    c = await setup();
    const stopped = await c.run(stopAt((e) => e.step === "stage" && e.status === "done"));
    const newId = stopped.environments[0]!.newTokenId!;
    dropLast(c, (r) => r.step === "stage" && r.status === "done");
    rmSync(join(c.dir, "integration.txt.pending"));
    const resumed = await resume(c.context());
    assert.equal(resumed.environments[0]?.outcome, "rolled-back", JSON.stringify(resumed));
    assert.notEqual((await c.token(newId))?.revokedAt ?? null, null);
    assert.equal(c.secret("integration"), exporterTokens.integration.token);
  });

  it("a resumed promote that fails is rolled back with a restore, and says when that fails too", async () => {
    c = await setup();
    const stopped = await c.run(stopAt((e) => e.step === "stage" && e.status === "done"));
    const newId = stopped.environments[0]!.newTokenId!;
    // Someone removed the secret and its pending version: promote cannot write, and was not refused.
    rmSync(join(c.dir, "integration.txt.pending"));
    rmSync(join(c.dir, "integration.txt"));
    const resumed = await resume(c.context());
    const r = resumed.environments[0]!;
    assert.equal(r.outcome, "failed", JSON.stringify(r));
    assert.match(r.error ?? "", /^promote failed \(.*nothing staged.*\); the rollback then failed too \(/);
    assert.equal(
      (await c.token(newId))?.revokedAt ?? null,
      null,
      "left valid: the consumer's state is unknown",
    );
  });

  it("a create stopped before its answer is found by the name it was minted with, after the config renamed it", async () => {
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
    assert.equal((await run).environments[0]?.outcome, "interrupted");
    await admin.releaseHook(hook.id);
    const orphan = (await admin.state()).automationTokens.find(
      (t) => t.name === exporterTokens.integration.name && t.id !== exporterTokens.integration.id,
    )!;
    const renamed = {
      ...c.config,
      environments: c.config.environments.map((e) => ({
        ...e,
        token: { ...e.token, name: "renamed token" },
      })),
    };
    const resumed = await resume(c.context({ config: renamed }));
    assert.equal(resumed.environments[0]?.outcome, "rolled-back", JSON.stringify(resumed));
    assert.notEqual((await c.token(orphan.id))?.revokedAt ?? null, null);
  });

  it("a run resume cannot take up is reported whole: nothing revoked, no steps, what to do", async () => {
    c = await setup();
    const stopped = await c.run(stopAt((e) => e.step === "reload"));
    const runId = stopped.runId;
    const controller = new AbortController();
    controller.abort(new Interrupted("SIGINT"));
    const notResumed = await resume(c.context({ signal: controller.signal }));
    assert.deepEqual(notResumed.environments, [
      {
        environment: "integration",
        outcome: "interrupted",
        runId,
        revoked: [],
        steps: [],
        error: "not resumed: interrupted by SIGINT",
        advice: "Run `ftr resume` again",
      },
    ]);
    const gone = await resume(c.context({ config: { ...c.config, environments: [] } }));
    assert.deepEqual(gone.environments, [
      {
        environment: "integration",
        outcome: "failed",
        runId,
        revoked: [],
        steps: [],
        error: `run ${runId} of environment "integration" is unfinished, but the config no longer has that environment`,
        advice: "Restore the environment in the config and run `ftr resume` again",
      },
    ]);
  });

  it("a rollback stopped before promote never restores: an older rotation's previous value stays put", async () => {
    c = await setup();
    assert.equal((await c.run()).ok, true, "a first rotation leaves a previous value, since revoked");
    const deployed = c.secret("integration");
    // The second rotation's test step fails, and its rollback is stopped as it begins.
    const plan = await c.plan();
    await admin.fault({ method: "GET", path: "/tokens/self", status: 200, body: { id: "someone-else" } });
    const stop = stopAt((e) => e.step === "rollback" && e.status === "begin");
    const stopped = await c.run({ plan, signal: stop.signal, onEvent: stop.onEvent });
    assert.equal(stopped.environments[0]?.outcome, "interrupted", JSON.stringify(stopped.environments[0]));
    const resumed = await resume(c.context());
    assert.equal(resumed.environments[0]?.outcome, "rolled-back", JSON.stringify(resumed));
    assert.equal(c.secret("integration"), deployed, "the current value kept");
    assert.equal(await works(deployed), true);
    assert.notEqual((await c.token(stopped.environments[0].newTokenId!))?.revokedAt ?? null, null);
  });

  it("a resume that cannot reach Fastly throws, after waiting for what it said", async () => {
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
    assert.equal((await run).environments[0]?.outcome, "interrupted");
    await admin.releaseHook(hook.id);
    await admin.fault({ method: "GET", path: "/automation-tokens", status: 503, count: 50 });
    const sink = recordingSink();
    await assert.rejects(resume(c.context({ notify: sink })), (e: unknown) => e instanceof FastlyApiError);
    assert.deepEqual(kinds(sink), ["run-started"]);
    assert.equal(sink.flushes, 1);
    assert.ok(!c.journal().some((r) => r.step === "finish"), "still unfinished");
  });

  it("an `ftr rollback` stopped before it restored anything: resume restores and revokes", async () => {
    c = await setup();
    const kept = await c.run({ keepOld: true });
    const newId = kept.environments[0]!.newTokenId!;
    const stop = stopAt((e) => e.step === "start");
    const stopped = await rollbackLast({ ...c.context(), ...stop, environment: "integration" });
    assert.equal(stopped.ok, false);
    assert.equal(stopped.environments[0]?.outcome, "interrupted");
    assert.equal(stopped.environments[0]?.error, "start interrupted by SIGTERM");
    assert.equal(c.secret("integration") === exporterTokens.integration.token, false, "not restored yet");
    const resumed = await resume(c.context());
    assert.equal(resumed.environments[0]?.outcome, "rolled-back", JSON.stringify(resumed));
    assert.equal(c.secret("integration"), exporterTokens.integration.token);
    assert.notEqual((await c.token(newId))?.revokedAt ?? null, null);
  });

  it("rollback undoes the last completed rotation, whatever was rolled back before it", async () => {
    c = await setup();
    // A rotation rolled back by itself (its reload failed) is not "already undone".
    await c.touch("fail-reload-integration");
    const failed = await c.run({
      onEvent: (e) => {
        if (e.step === "reload" && e.status === "failed") void c.remove("fail-reload-integration");
      },
    });
    assert.equal(failed.environments[0]?.outcome, "rolled-back");
    const first = await c.run({ keepOld: true });
    const second = await c.run({ keepOld: true });
    const value = c.secret("integration");
    const undone = await rollbackLast({ ...c.context(), environment: "integration" });
    assert.equal(undone.ok, true, JSON.stringify(undone));
    assert.equal(undone.rollbackOf, second.runId);
    assert.notEqual(c.secret("integration"), value);
    assert.notEqual((await c.token(second.environments[0]!.newTokenId!))?.revokedAt ?? null, null);
    assert.equal((await c.token(first.environments[0]!.newTokenId!))?.revokedAt ?? null, null);
  });

  it("rollback refuses a rotation that had no previous token, and passes on a Fastly failure as it is", async () => {
    c = await setup();
    writeFileSync(join(c.dir, "integration.txt"), "not-a-token-value-0000000000000\n");
    const kept = await c.run({ keepOld: true });
    assert.equal(kept.environments[0]?.outcome, "kept-old", JSON.stringify(kept.environments[0]));
    await assert.rejects(
      rollbackLast({ ...c.context(), environment: "integration" }),
      (e: unknown) => e instanceof RollbackError && /had no previous token to go back to/.test(e.message),
    );
    const again = await c.run({ keepOld: true });
    assert.equal(again.environments[0]?.outcome, "kept-old");
    await admin.fault({ method: "GET", path: "re:^/automation-tokens/", status: 500, count: 20 });
    await assert.rejects(
      rollbackLast({ ...c.context(), environment: "integration" }),
      (e: unknown) => e instanceof FastlyApiError && !(e instanceof RollbackError),
    );
    assert.ok(own(await c.requests()).some((r) => r.status === 500));
  });
});

/** Remove the last journal record of `c` that `which` holds of (a crash before it was written). */
function dropLast(c: Case, which: (r: JournalRecord) => boolean): void {
  const path = join(c.stateDir, "journal.jsonl");
  const lines = readFileSync(path, "utf8").split("\n").filter(Boolean);
  const index = lines.findLastIndex((l) => which(JSON.parse(l) as JournalRecord));
  assert.ok(index >= 0, "the record is there");
  lines.splice(index, 1);
  writeFileSync(path, lines.map((l) => l + "\n").join(""));
}
