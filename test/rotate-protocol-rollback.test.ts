/**
 * Rollback, driven through the library in this process against the emulator on a clock shared with
 * it (test/helpers/protocol.ts): a failed reload or verify rolls back (the old secret restored,
 * reloaded and verified, the new token revoked); a rollback that fails is reported and finished by
 * `resume`; `rollbackLast` undoes a `--keep-old` rotation once, and refuses what it cannot undo.
 */
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { demoCredentials } from "../src/emulator/index.ts";
import {
  abandonRun,
  AlreadyRolledBack,
  openJournal,
  resume,
  rollbackLast,
  RollbackError,
  runStates,
  type RotationEvent,
} from "../src/rotation/index.ts";
import {
  admin,
  FORWARD,
  own,
  ROLLED_BACK_AFTER,
  setup,
  stopAt,
  trail,
  useProtocolEmulator,
  works,
  type Case,
  collectNotifications,
} from "./helpers/protocol.ts";

const { exporterTokens } = demoCredentials;

useProtocolEmulator();

describe("rollback", () => {
  let c: Case;
  afterEach(async () => {
    await admin.clearHooks();
    await admin.clearFaults();
    await c?.close();
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

  it("a rollback's notifications name its environment, from start to finish", async () => {
    c = await setup();
    const kept = await c.run({ keepOld: true });
    assert.equal(kept.environments[0]?.outcome, "kept-old");
    const { notify, events } = collectNotifications();
    const undone = await rollbackLast({ ...c.context(), notify, environment: "integration" });
    assert.equal(undone.ok, true, JSON.stringify(undone));
    const started = events.find((e) => e.event === "run-started");
    assert.deepEqual(
      started && { source: started.source, runId: started.runId, environments: started.environments },
      { source: "rollback", runId: undone.runId, environments: ["integration"] },
    );
    assert.deepEqual(
      events.map((e) => e.event),
      ["run-started", "environment-rolled-back", "run-finished"],
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

  it("a failed rollback, abandoned, is not taken for one that undid the rotation: rollback runs again", async () => {
    c = await setup();
    const kept = await c.run({ keepOld: true });
    const newId = kept.environments[0]!.newTokenId!;
    await c.touch("fail-reload-integration");
    const failed = await rollbackLast({ ...c.context(), environment: "integration" });
    assert.equal(failed.environments[0]?.outcome, "failed");
    // A person settles the failed rollback by hand (ftr resume --abandon): finished, not undone.
    const journal = openJournal(c.stateDir);
    const abandoned = abandonRun(
      journal,
      runStates(c.journal()).filter((r) => r.runId === failed.runId),
    );
    await journal.flush();
    assert.deepEqual(
      abandoned.map((a) => a.runId),
      [failed.runId],
    );
    assert.equal(c.journal().at(-1)?.outcome, "failed");
    await c.remove("fail-reload-integration");
    // The rotation was never undone: rolling it back is still possible, and does it.
    const again = await rollbackLast({ ...c.context(), environment: "integration" });
    assert.equal(again.ok, true, JSON.stringify(again));
    assert.equal(again.rollbackOf, kept.runId);
    assert.equal(again.environments[0]?.outcome, "rolled-back");
    assert.notEqual((await c.token(newId))?.revokedAt ?? null, null);
    assert.equal(c.secret("integration"), exporterTokens.integration.token);
    // Now it is undone: a third rollback is refused as such.
    await assert.rejects(
      rollbackLast({ ...c.context(), environment: "integration" }),
      (e: unknown) =>
        e instanceof AlreadyRolledBack && new RegExp(`already undone by run ${again.runId}`).test(e.message),
    );
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
});
