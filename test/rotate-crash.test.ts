/**
 * Crash safety: `ftr rotate` runs as a real child process for one environment and is killed with
 * SIGKILL the moment its journal shows a given step boundary; then `ftr resume` finishes or rolls
 * back the run. Whatever the boundary, the end state is the same: exactly one live managed token,
 * the one in the secret file, valid and used by the consumer; no token of the run left alive
 * besides it; and the consumer never had a request refused.
 *
 * Most boundaries pass in microseconds, so each case holds the run near its boundary: an emulator
 * fault delays the request that follows it, or the restart script waits before acting. A kill may
 * still land a little later than intended; the test then checks that it landed at or after the
 * intended record and before the run finished.
 */
import assert from "node:assert/strict";
import { appendFileSync, watch } from "node:fs";
import { mkdir } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import type { FaultSpec } from "../src/emulator/index.ts";
import { journalPath, readJournal, type JournalRecord } from "../src/rotation/journal.ts";
import type { CliProcess } from "./helpers/cli.ts";
import {
  assertNoSecrets,
  assertSettled,
  sleep,
  startRotationEnv,
  type RotationEnv,
} from "./helpers/rotation-env.ts";

/** The journal records of a rotation without failures, in order. */
const ORDER = [
  "start done",
  "mint begin",
  "mint done",
  "test begin",
  "test done",
  "stage begin",
  "stage done",
  "promote begin",
  "promote done",
  "reload begin",
  "reload done",
  "verify begin",
  "verify done",
  "revoke begin",
  "revoke done",
  "prove begin",
  "prove done",
  "finish done",
] as const;
type Mark = (typeof ORDER)[number];

const key = (r: JournalRecord) => `${r.step} ${r.status}`;
const position = (r: JournalRecord) => ORDER.indexOf(key(r) as Mark);

/** How long a slowed request or reload holds the run. */
const HOLD_MS = 1000;

const DELAY = (method: string, path: string, delayMs = HOLD_MS): FaultSpec => ({ method, path, delayMs });
const CREATE = DELAY("POST", "/automation-tokens");
const SELF = DELAY("GET", "/tokens/self");
const TOKEN_GET = DELAY("GET", "re:^/automation-tokens/[^/]+$");
const REVOKE = DELAY("DELETE", "re:^/tokens/[^/]+$");

interface CrashCase {
  readonly killAt: Mark;
  /** Faults in place when the run starts. */
  readonly faults?: readonly FaultSpec[];
  /** Faults added when the journal shows a record. */
  readonly arm?: readonly { readonly at: Mark; readonly fault: FaultSpec }[];
  /** The restart script waits this long before restarting the stand-in. */
  readonly reloadSleepMs?: number;
}

const CASES: readonly CrashCase[] = [
  // The create request is in flight (held by the emulator) when the process dies.
  { killAt: "mint begin", faults: [CREATE] },
  // The token exists, its value only in the dead process's memory: the test request is in flight.
  { killAt: "mint done", faults: [{ ...CREATE, delayMs: 300 }], arm: [{ at: "mint begin", fault: SELF }] },
  // Staging and promoting are local file writes; the reload that follows waits, so the kill lands
  // somewhere between the boundary and the restart at the latest.
  { killAt: "test done", reloadSleepMs: HOLD_MS },
  { killAt: "stage begin", reloadSleepMs: HOLD_MS },
  { killAt: "stage done", reloadSleepMs: HOLD_MS },
  { killAt: "promote begin", reloadSleepMs: HOLD_MS },
  { killAt: "promote done", reloadSleepMs: HOLD_MS },
  // The restart script outlives the process it was started by.
  { killAt: "reload begin", reloadSleepMs: HOLD_MS },
  { killAt: "reload done", arm: [{ at: "reload begin", fault: TOKEN_GET }] },
  // The revoke request is in flight: the emulator completes it after the process died.
  { killAt: "verify done", arm: [{ at: "verify begin", fault: REVOKE }] },
  { killAt: "revoke begin", arm: [{ at: "verify begin", fault: REVOKE }] },
  // Proving the old value dead, with the old token already revoked.
  { killAt: "revoke done", arm: [{ at: "verify begin", fault: SELF }] },
  { killAt: "prove begin", arm: [{ at: "verify begin", fault: SELF }] },
];

/**
 * Watch the journal (inotify plus a 5 ms poll) from record `from` on: add the armed faults as their
 * records appear, and SIGKILL `child` at the first record at or after `killAt`. Resolves with the
 * time of the kill, or undefined when the child ended first.
 */
function killWhen(
  h: RotationEnv,
  child: CliProcess,
  from: number,
  crash: CrashCase,
): Promise<number | undefined> {
  const target = ORDER.indexOf(crash.killAt);
  const pending = [...(crash.arm ?? [])];
  return new Promise((resolve, reject) => {
    let finished = false;
    const stop = (value: number | undefined, error?: Error) => {
      if (finished) return;
      finished = true;
      watcher.close();
      clearInterval(timer);
      if (error) reject(error);
      else resolve(value);
    };
    const check = () => {
      if (finished) return;
      const records = readJournal(h.stateDir).slice(from);
      if (records.some((r) => position(r) >= target)) {
        child.child.kill("SIGKILL");
        stop(Date.now());
        return;
      }
      for (const arm of [...pending]) {
        if (records.some((r) => key(r) === arm.at)) {
          pending.splice(pending.indexOf(arm), 1);
          h.admin.fault(arm.fault).catch((error: Error) => stop(undefined, error));
        }
      }
    };
    const watcher = watch(h.stateDir, check);
    const timer = setInterval(check, 5);
    void child.done.then(() => {
      check();
      stop(undefined);
    });
  });
}

/**
 * Wait until what a killed run left in motion has stopped: no request held by the emulator and no
 * restart script running. Conditions, not a sleep: under load a held request can take far longer
 * than its delay.
 */
async function settled(h: RotationEnv): Promise<void> {
  const deadline = Date.now() + 120_000;
  while ((await h.admin.state()).inFlight > 0) {
    if (Date.now() > deadline) throw new Error("the emulator still holds a request after 120 s");
    await sleep(20);
  }
  await h.reloadsIdle(120_000);
}

describe("ftr rotate killed with SIGKILL at each step boundary, then ftr resume", () => {
  let h: RotationEnv;

  before(async () => {
    h = await startRotationEnv({
      environments: ["integration"],
      verifyTimeout: "60s",
      verifyInterval: "1s",
      stateDir: "state",
    });
    await mkdir(h.stateDir, { recursive: true, mode: 0o700 });
  });
  after(async () => {
    await h?.close();
  });

  for (const crash of CASES) {
    it(`recovers from a kill at "${crash.killAt}"`, async (t) => {
      const caseStart = (await h.admin.now()).getTime();
      const previous = (await h.tokenSelf(h.readSecret("integration"))).id!;
      const from = h.journal().length;
      await h.setReload("integration", { sleepMs: crash.reloadSleepMs ?? 0 });
      if (crash.faults?.length) await h.admin.fault(crash.faults);

      const child = h.spawnCli(["rotate", "--config", h.configPath, "--yes", "--force"]);
      const killedAt = await killWhen(h, child, from, crash);
      const ended = await child.done;
      assert.ok(killedAt !== undefined, `the run ended before reaching "${crash.killAt}":\n${ended.stderr}`);
      assert.equal(ended.signal, "SIGKILL");

      // What the dead process left behind.
      const records = h.journal().slice(from);
      const last = records[records.length - 1]!;
      assert.ok(
        position(last) >= ORDER.indexOf(crash.killAt),
        `killed at "${key(last)}", before "${crash.killAt}"`,
      );
      assert.ok(!records.some((r) => r.step === "finish"), `the run finished before the kill (${key(last)})`);
      t.diagnostic(`killed after "${key(last)}"`);
      const runId = last.runId;
      const minted = records.find((r) => r.newTokenId)?.newTokenId;

      // Let what the dead process started run its course: a request the emulator holds, a restart
      // script it left behind. Then nothing else is moving.
      await h.admin.clearFaults();
      await h.setReload("integration", {});
      await settled(h);

      const resumed = await h.runCli(["resume", "--config", h.configPath]);
      const finish = h
        .journal()
        .slice(from)
        .find((r) => r.runId === runId && r.step === "finish");
      assert.ok(finish, `resume finished run ${runId}:\n${resumed.stdout}\n${resumed.stderr}`);

      const deployed = await assertSettled(h, "integration");
      if (finish.outcome === "rotated") {
        assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
        assert.equal(deployed, finish.newTokenId, "the run's new token is deployed");
        assert.notEqual(deployed, previous);
      } else {
        // A rollback is the other consistent end. Before the new value was stored it is the only
        // one; after that, resume reloads and verifies again and rolls back when that fails (a
        // consumer slow to come back on a busy machine), which is legitimate until verify is done.
        assert.equal(finish.outcome, "rolled-back", resumed.stdout + resumed.stderr);
        assert.ok(position(last) < ORDER.indexOf("verify done"), `rolled back after "${key(last)}"`);
        // The resume did its job: the environment is consistent again (rolled back).
        assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
        if (position(last) < ORDER.indexOf("stage done")) {
          assert.match(resumed.stdout, /interrupted/);
          assert.match(resumed.stdout, /→ .*run (the rotation )?again/);
        } else {
          t.diagnostic(`resume rolled back a run killed after "${key(last)}"`);
        }
        assert.equal(deployed, previous, "the previous token is still deployed");
        if (minted) {
          const token = (await h.admin.state()).automationTokens.find((t) => t.id === minted);
          assert.ok(token, `the run's new token ${minted} is known to the emulator`);
          assert.notEqual(token.revokedAt, null, "the run's new token is revoked");
        }
      }
      // No token created during this case is alive, except the deployed one.
      const created = (await h.liveTokens()).filter(
        (t) => t.id !== previous && Date.parse(t.createdAt) >= caseStart - 1000,
      );
      assert.deepEqual(
        created.map((t) => t.id),
        deployed === previous ? [] : [deployed],
        "no orphan token",
      );
      assert.deepEqual(await h.consumerRefusals(), [], "the consumer never had a request refused");

      const again = await h.runCli(["resume", "--config", h.configPath]);
      assert.equal(again.code, 0);
      assert.match(again.stderr, /Nothing to resume/);
    });
  }

  it("an `ftr rollback` killed after restoring is finished by `ftr resume`, never revoking the token in use", async () => {
    const before = (await h.tokenSelf(h.readSecret("integration"))).id!;
    const keep = await h.runCli(["rotate", "--config", h.configPath, "--yes", "--force", "--keep-old"]);
    assert.equal(keep.code, 0, keep.stdout + keep.stderr);
    const kept = (await h.tokenSelf(h.readSecret("integration"))).id!;
    assert.notEqual(kept, before);

    const from = h.journal().length;
    await h.setReload("integration", { sleepMs: HOLD_MS });
    const child = h.spawnCli(["rollback", "--config", h.configPath, "--env", "integration"]);
    // Killed once the previous value is back in the secret, while the reload is held.
    await h.waitForJournal((r) => key(r) === "restore done", { from, timeoutMs: 120_000 });
    child.child.kill("SIGKILL");
    const ended = await child.done;
    assert.equal(ended.signal, "SIGKILL");
    await h.setReload("integration", {});
    await settled(h);

    const resumed = await h.runCli(["resume", "--config", h.configPath]);
    assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
    const finish = h
      .journal()
      .slice(from)
      .find((r) => r.step === "finish");
    assert.equal(finish?.outcome, "rolled-back", resumed.stdout + resumed.stderr);
    assert.equal(await assertSettled(h, "integration"), before, "the previous token is in use again");
    const state = await h.admin.state();
    const undone = state.automationTokens.find((t) => t.id === kept);
    assert.ok(undone, `the undone token ${kept} is known to the emulator`);
    assert.notEqual(undone.revokedAt, null, "the undone token is revoked");
    assert.deepEqual(await h.consumerRefusals(), []);
  });

  it("an `ftr rollback` that died before restoring is finished by `ftr resume`: restore first, then revoke", async () => {
    const before = (await h.tokenSelf(h.readSecret("integration"))).id!;
    const keep = await h.runCli(["rotate", "--config", h.configPath, "--yes", "--force", "--keep-old"]);
    assert.equal(keep.code, 0, keep.stdout + keep.stderr);
    const kept = (await h.tokenSelf(h.readSecret("integration"))).id!;
    const rotation = h
      .journal()
      .reverse()
      .find((r) => r.step === "finish" && r.outcome === "kept-old")!;
    // What `ftr rollback` journals before its first side effect, as a process killed right then
    // leaves it (the window is too short to hit with a kill from outside).
    const runId = "20261128T120000Z-deadbeef";
    const base = { v: 1, runId, environment: "integration", newTokenId: kept };
    const at = new Date().toISOString();
    appendFileSync(
      journalPath(h.stateDir),
      [
        { ...base, step: "start", status: "done", at, deployedTokenId: before, rollbackOf: rotation.runId },
        {
          ...base,
          step: "rollback",
          status: "begin",
          at,
          detail: `requested rollback of run ${rotation.runId}`,
        },
      ]
        .map((r) => JSON.stringify(r))
        .join("\n") + "\n",
    );

    const resumed = await h.runCli(["resume", "--config", h.configPath]);
    assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
    const finish = h.journal().find((r) => r.runId === runId && r.step === "finish");
    assert.equal(finish?.outcome, "rolled-back", resumed.stdout + resumed.stderr);
    assert.equal(await assertSettled(h, "integration"), before, "the previous token is in use again");
    const state = await h.admin.state();
    const undone = state.automationTokens.find((t) => t.id === kept);
    assert.ok(undone, `the undone token ${kept} is known to the emulator`);
    assert.notEqual(undone.revokedAt, null, "the undone token is revoked");
    assert.deepEqual(await h.consumerRefusals(), []);
  });

  it("printed no token value or password anywhere", () => {
    assertNoSecrets(h.collectOutput(), h.knownSecrets());
  });
});
