/**
 * Crash safety: `ftr rotate` runs as a real child process for one environment and is killed with
 * SIGKILL the moment one of its side effects reaches the world: a request reaches the emulator
 * (held there by a hook, before or after the emulator applies it), the secret store's files change,
 * the restart command starts. Then `ftr resume` finishes or rolls back the run. Whatever the kill
 * point, the end state is the same: exactly one live managed token, the one in the secret file,
 * valid and used by the consumer; no token of the run left alive besides it; and the consumer never
 * had a request refused.
 *
 * The kill never waits for a journal record: a rotator that journaled a step after its side effect
 * instead of before would be killed at the same point, with the record missing, and fail here (see
 * docs/testing.md, "Crash suite: what makes it fail").
 */
import assert from "node:assert/strict";
import { appendFileSync, existsSync, readdirSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { HookSpec } from "../src/emulator/index.ts";
import { journalPath, type JournalRecord } from "../src/rotation/journal.ts";
import { USER_AGENT } from "../src/version.ts";
import type { CliProcess } from "./helpers/cli.ts";
import {
  assertNoSecrets,
  assertSettled,
  settled,
  startRotationEnv,
  type RotationEnv,
} from "./helpers/rotation-env.ts";
import { whenInDir } from "./helpers/wait.ts";

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
const position = (r: JournalRecord | undefined) => (r ? ORDER.indexOf(key(r) as Mark) : -1);

/** A request of the rotator (never the consumer's or the test's own). */
const tool = (method: string, path: string, phase: "before" | "after"): HookSpec => ({
  method,
  path,
  phase,
  userAgent: `${USER_AGENT}*`,
  action: "hold",
});
const CREATE = "/automation-tokens";
const SELF = "/tokens/self";
const TOKEN_GET = "re:^/automation-tokens/[^/]+$";
const REVOKE = "re:^/tokens/[^/]+$";

/** Where the run is killed: the side effect that triggers the `kill -9`. */
type KillPoint =
  /** A request reached the emulator, which holds it (before or after applying it). */
  | { readonly request: HookSpec }
  /** The file store's `.pending` file exists (stage written). */
  | { readonly file: "pending" }
  /** The secret file holds a value other than the one before the run (promote written). */
  | { readonly file: "secret" }
  /** The restart command has started (its marker file exists). */
  | { readonly reload: true };

interface CrashCase {
  readonly name: string;
  /**
   * Requests to let pass first, each held until the next hook (or the kill point) is in place, so
   * that a kill point matching a request made earlier in the run (`GET /tokens/self`) fires on the
   * intended one.
   */
  readonly after?: readonly HookSpec[];
  readonly killOn: KillPoint;
  /** Hold the restart script until the case is over, so the run cannot get past the reload. */
  readonly holdReload?: boolean;
}

const CASES: readonly CrashCase[] = [
  {
    name: "mint: the create request reached Fastly, unprocessed",
    killOn: { request: tool("POST", CREATE, "before") },
  },
  // The token exists; its value was only ever in the answer the dead process never read.
  {
    name: "mint: the token was created, its answer lost",
    killOn: { request: tool("POST", CREATE, "after") },
  },
  {
    name: "test: the new token's self-check reached Fastly",
    after: [tool("POST", CREATE, "after")],
    killOn: { request: tool("GET", SELF, "before") },
  },
  { name: "stage: the pending value was written", killOn: { file: "pending" }, holdReload: true },
  { name: "promote: the secret file was replaced", killOn: { file: "secret" }, holdReload: true },
  { name: "reload: the restart command started", killOn: { reload: true }, holdReload: true },
  { name: "verify: its request reached Fastly", killOn: { request: tool("GET", TOKEN_GET, "before") } },
  {
    name: "revoke: the revoke request reached Fastly, unprocessed",
    killOn: { request: tool("DELETE", REVOKE, "before") },
  },
  {
    name: "revoke: the old token was revoked, the answer lost",
    killOn: { request: tool("DELETE", REVOKE, "after") },
  },
  {
    name: "prove: the old value's check reached Fastly",
    after: [tool("DELETE", REVOKE, "after")],
    killOn: { request: tool("GET", SELF, "before") },
  },
];

/** Rejects when `child` ends before `promise` settles: the run got past the kill point. */
function beforeExit<T>(child: CliProcess, what: string, promise: Promise<T>): Promise<T> {
  return Promise.race([
    promise,
    child.done.then((ended) => {
      throw new Error(`the run ended (${ended.code ?? ended.signal}) before ${what}:\n${ended.stderr}`);
    }),
  ]);
}

/**
 * Let the `after` requests through one by one, arm the kill point, and SIGKILL `child` when it is
 * reached. Every hook is armed while the run is held at the previous one, so none can be missed.
 */
async function killAtSideEffect(h: RotationEnv, child: CliProcess, crash: CrashCase, previous: string) {
  let held: string | undefined;
  for (const spec of crash.after ?? []) {
    const hook = await h.admin.hook(spec);
    if (held) await h.admin.releaseHook(held);
    await beforeExit(child, `${spec.method} ${spec.path}`, h.admin.waitForHook(hook.id));
    held = hook.id;
  }
  const point = crash.killOn;
  let reached: Promise<unknown>;
  if ("request" in point) {
    const hook = await h.admin.hook(point.request);
    reached = h.admin.waitForHook(hook.id);
  } else if ("file" in point) {
    const secretsDir = join(h.secretPath("integration"), "..");
    reached =
      point.file === "pending"
        ? whenInDir(secretsDir, () => existsSync(`${h.secretPath("integration")}.pending`))
        : whenInDir(secretsDir, () => {
            try {
              return h.readSecret("integration") !== previous;
            } catch {
              return false; // between unlink and rename on some file systems
            }
          });
  } else {
    const runDir = join(h.dir, "run");
    reached = whenInDir(runDir, () => readdirSync(runDir).some((n) => n.startsWith("reloading-")));
  }
  if (held) await h.admin.releaseHook(held);
  await beforeExit(child, crash.name, reached);
  child.child.kill("SIGKILL");
}

describe("ftr rotate killed with SIGKILL at each side effect, then ftr resume", () => {
  let h: RotationEnv;

  // A world per case: a case that fails leaves its orphans and files to itself.
  beforeEach(async () => {
    h = await startRotationEnv({
      environments: ["integration"],
      verifyTimeout: "60s",
      verifyInterval: "1s",
      stateDir: "state",
    });
    await mkdir(h.stateDir, { recursive: true, mode: 0o700 });
  });
  afterEach(async () => {
    await h?.close();
  });

  for (const crash of CASES) {
    it(`recovers from a kill at ${crash.name}`, async (t) => {
      const caseStart = (await h.admin.now()).getTime();
      const previousValue = h.readSecret("integration");
      const previous = (await h.tokenSelf(previousValue)).id!;
      const from = h.journal().length;
      await h.setReload("integration", crash.holdReload ? { hold: true } : {});

      const child = h.spawnCli(["rotate", "--config", h.configPath, "--yes", "--force"]);
      await killAtSideEffect(h, child, crash, previousValue);
      const ended = await child.done;
      assert.equal(ended.signal, "SIGKILL");

      // What the dead process left behind.
      const records = h.journal().slice(from);
      const last = records[records.length - 1];
      assert.ok(last, "the run journaled its start");
      assert.ok(!records.some((r) => r.step === "finish"), `the run finished before the kill (${key(last)})`);
      t.diagnostic(`killed after "${key(last)}"`);
      const runId = last.runId;
      const minted = records.find((r) => r.newTokenId)?.newTokenId;

      // Let what the dead process started run its course: a request the emulator holds, a restart
      // script it left behind. Then nothing else is moving.
      await h.admin.clearHooks();
      await h.setReload("integration", {});
      await settled(h);

      const resumed = await h.runCli(["resume", "--config", h.configPath]);
      // It names the run, the environment and the step it continues from.
      assert.match(resumed.stderr, new RegExp(`^resuming run ${runId}: integration from [a-z-]+`, "m"));
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
      assertNoSecrets(h.collectOutput(), h.knownSecrets());
    });
  }

  it("an `ftr rollback` killed after restoring is finished by `ftr resume`, never revoking the token in use", async () => {
    const before = (await h.tokenSelf(h.readSecret("integration"))).id!;
    const keep = await h.runCli(["rotate", "--config", h.configPath, "--yes", "--force", "--keep-old"]);
    assert.equal(keep.code, 0, keep.stdout + keep.stderr);
    const kept = (await h.tokenSelf(h.readSecret("integration"))).id!;
    assert.notEqual(kept, before);

    const keptValue = h.readSecret("integration");
    const from = h.journal().length;
    await h.setReload("integration", { hold: true });
    const child = h.spawnCli(["rollback", "--config", h.configPath, "--env", "integration"]);
    // Killed once the previous value is back in the secret file, while the reload is held.
    const secretsDir = join(h.secretPath("integration"), "..");
    await beforeExit(
      child,
      "the restore",
      whenInDir(secretsDir, () => {
        try {
          return h.readSecret("integration") !== keptValue;
        } catch {
          return false;
        }
      }),
    );
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
    assertNoSecrets(h.collectOutput(), h.knownSecrets());
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
    assertNoSecrets(h.collectOutput(), h.knownSecrets());
  });
});
