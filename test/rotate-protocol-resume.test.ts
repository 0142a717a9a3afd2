/**
 * `resume`, driven through the library in this process against the emulator on a clock shared with
 * it (test/helpers/protocol.ts): runs stopped as SIGTERM stops them at each step are continued from
 * their last durable step, or rolled back where the protocol says so; a failed revoke or prove is
 * finished; the token a lost create made is found and revoked.
 */
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import type { Config } from "../src/config/index.ts";
import { demoCredentials } from "../src/emulator/index.ts";
import { resume, type JournalRecord, type RotationEvent } from "../src/rotation/index.ts";
import { Interrupted } from "../src/util/interrupt.ts";
import { USER_AGENT } from "../src/version.ts";
import {
  admin,
  advanceClock,
  clock,
  FORWARD,
  setup,
  stopAt,
  trail,
  useProtocolEmulator,
  works,
  type Case,
  type CaseOptions,
  collectNotifications,
} from "./helpers/protocol.ts";

const { superuser, exporterTokens } = demoCredentials;

useProtocolEmulator();

describe("resume finishes what a failed step left", () => {
  let c: Case;
  afterEach(async () => {
    await admin.clearHooks();
    await admin.clearFaults();
    await c?.close();
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

  const live = async () =>
    (await admin.state()).automationTokens
      .filter((t) => t.name === exporterTokens.integration.name && t.revokedAt === null)
      .map((t) => t.id);

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
    advanceClock(10 * 60_000);
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

  it("resume's notifications name the environments it continues", async () => {
    c = await setup();
    const stopped = await c.run(stopAt((e) => e.step === "promote" && e.status === "done"));
    assert.equal(stopped.environments[0]?.outcome, "interrupted");
    const { notify, events } = collectNotifications();
    const resumed = await resume({ ...c.context(), notify });
    assert.equal(resumed.ok, true, JSON.stringify(resumed));
    const started = events.find((e) => e.event === "run-started");
    assert.deepEqual(started && { source: started.source, environments: started.environments }, {
      source: "resume",
      environments: ["integration"],
    });
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
    advanceClock(5000);
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
