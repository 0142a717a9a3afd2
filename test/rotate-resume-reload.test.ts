/**
 * Resume after a kill between promote and the consumer's restart: `ftr rotate` runs as a child
 * process and is killed with SIGKILL once the new value is in the secret store but before the
 * consumer has restarted with it (at the store's write; at the restart command, held before it does
 * anything and never let go; at verify). `ftr resume` must then reload and verify again itself and
 * end *rotated*: reload and verify journaled by the resumed run, the old token revoked only after
 * verify is done. A resume that trusted the journal's "promote done" or "reload done" and skipped
 * the reload or the verify would leave the consumer on the old token (and roll back) or revoke
 * before anything proved the consumer uses the new one.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { USER_AGENT } from "../src/version.ts";
import type { JournalRecord } from "../src/rotation/journal.ts";
import type { CliProcess } from "./helpers/cli.ts";
import {
  assertNoSecrets,
  assertSettled,
  sleep,
  startRotationEnv,
  type RotationEnv,
} from "./helpers/rotation-env.ts";
import { whenInDir } from "./helpers/wait.ts";

const key = (r: JournalRecord) => `${r.step} ${r.status}`;

/** Rejects when `child` ends before `promise` settles: the run got past the kill point. */
function beforeExit<T>(child: CliProcess, what: string, promise: Promise<T>): Promise<T> {
  return Promise.race([
    promise,
    child.done.then((ended) => {
      throw new Error(`the run ended (${ended.code ?? ended.signal}) before ${what}:\n${ended.stderr}`);
    }),
  ]);
}

/** Pids of the restart scripts running now (their marker files, `run/reloading-<pid>`). */
function restartMarkers(h: RotationEnv): string[] {
  return readdirSync(join(h.dir, "run")).filter((n) => n.startsWith("reloading-"));
}

/**
 * Stop, before it does anything, every restart script the killed run left held: the restart never
 * takes effect, as a rollout request the API server never received. Its marker goes with it.
 */
function abandonHeldRestarts(h: RotationEnv): number {
  const markers = restartMarkers(h);
  for (const marker of markers) {
    const pid = Number(marker.slice("reloading-".length));
    try {
      process.kill(pid, "SIGKILL");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
    }
    rmSync(join(h.dir, "run", marker), { force: true });
  }
  return markers.length;
}

type KillPoint = "store-write" | "restart-held" | "verify";

describe("ftr rotate killed after promote, before the consumer restarted; ftr resume reloads", () => {
  let h: RotationEnv;

  beforeEach(async () => {
    h = await startRotationEnv({
      environments: ["integration"],
      verifyTimeout: "120s",
      verifyInterval: "1s",
      stateDir: "state",
    });
    await mkdir(h.stateDir, { recursive: true, mode: 0o700 });
  });
  afterEach(async () => {
    await h?.close();
  });

  const cases: readonly { name: string; point: KillPoint }[] = [
    { name: "the store's write (the secret file replaced, the restart held)", point: "store-write" },
    { name: "the restart command, held before it takes effect and never let go", point: "restart-held" },
    { name: "verify's request (reload journaled done)", point: "verify" },
  ];

  for (const { name, point } of cases) {
    it(`a kill at ${name}: resume reloads and verifies, then revokes, and ends rotated`, async (t) => {
      const previousValue = h.readSecret("integration");
      const previous = (await h.tokenSelf(previousValue)).id!;
      const pidsBefore = h.exporters.get("integration")!.pids.length;
      const from = h.journal().length;
      await h.setReload("integration", point === "verify" ? {} : { hold: true });

      const child = h.spawnCli(["rotate", "--config", h.configPath, "--yes", "--force"]);
      let reached: Promise<unknown>;
      if (point === "store-write") {
        const secretsDir = join(h.secretPath("integration"), "..");
        reached = whenInDir(secretsDir, () => {
          try {
            return h.readSecret("integration") !== previousValue;
          } catch {
            return false;
          }
        });
      } else if (point === "restart-held") {
        const runDir = join(h.dir, "run");
        reached = whenInDir(runDir, () => restartMarkers(h).length > 0);
      } else {
        const hook = await h.admin.hook({
          method: "GET",
          path: "re:^/automation-tokens/[^/]+$",
          phase: "before",
          userAgent: `${USER_AGENT}*`,
          action: "hold",
        });
        reached = h.admin.waitForHook(hook.id);
      }
      await beforeExit(child, name, reached);
      child.child.kill("SIGKILL");
      assert.equal((await child.done).signal, "SIGKILL");

      const killed = h.journal().slice(from);
      const last = killed[killed.length - 1]!;
      t.diagnostic(`killed after "${key(last)}"`);
      const runId = last.runId;
      const newTokenId = killed.find((r) => r.newTokenId)?.newTokenId;
      assert.ok(newTokenId, "the run had minted its token");
      assert.notEqual(h.readSecret("integration"), previousValue, "the new value is in the store");
      if (point === "restart-held") {
        assert.ok(
          killed.some((r) => key(r) === "promote done"),
          "killed after promote was journaled done",
        );
        assert.ok(!killed.some((r) => key(r) === "reload done"), "killed before the reload was done");
      }
      if (point === "verify") {
        assert.ok(
          killed.some((r) => key(r) === "reload done"),
          "killed after reload was journaled done",
        );
        assert.ok(!killed.some((r) => key(r) === "verify done"), "killed before verify was done");
      }

      // What the dead run left: a held restart never takes effect; a held request is dropped.
      const abandoned = abandonHeldRestarts(h);
      if (point === "restart-held") assert.equal(abandoned, 1, "one restart was held when the run died");
      await h.admin.clearHooks();
      await h.setReload("integration", {});
      const idleBy = Date.now() + 120_000;
      while ((await h.admin.state()).inFlight > 0) {
        assert.ok(Date.now() < idleBy, "the emulator still holds a request");
        await sleep(20);
      }
      await h.reloadsIdle(120_000);
      if (point !== "verify") {
        assert.equal(
          h.exporters.get("integration")!.pids.length,
          pidsBefore,
          "the consumer has not restarted: it still runs with the old token",
        );
      }

      const resumedFrom = h.journal().length;
      const resumed = await h.runCli(["resume", "--config", h.configPath]);
      const records = h
        .journal()
        .slice(resumedFrom)
        .filter((r) => r.runId === runId);
      const marks = records.map(key);
      const finish = records.find((r) => r.step === "finish");
      assert.equal(finish?.outcome, "rotated", `${marks.join(", ")}\n${resumed.stdout}\n${resumed.stderr}`);
      assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);

      // The resumed run itself reloaded and verified, and revoked only after verify was done.
      const at = (mark: string) => marks.indexOf(mark);
      for (const mark of ["reload begin", "reload done", "verify begin", "verify done", "revoke begin"]) {
        assert.ok(at(mark) >= 0, `the resumed run journaled "${mark}": ${marks.join(", ")}`);
      }
      assert.ok(at("reload done") < at("verify begin"), marks.join(", "));
      assert.ok(at("verify done") < at("revoke begin"), `revoked before verify: ${marks.join(", ")}`);
      // Fastly saw the verify's look-up of the new token before the old token's revoke.
      const requests = await h.toolRequests();
      const lastVerify = requests.map((r) => r.path).lastIndexOf(`/automation-tokens/${newTokenId}`);
      const revoke = requests.findIndex((r) => r.method === "DELETE" && r.path === `/tokens/${previous}`);
      assert.ok(revoke >= 0, "the old token was revoked");
      assert.ok(lastVerify >= 0 && lastVerify < revoke, "the old token was revoked after the last verify");

      assert.equal(await assertSettled(h, "integration"), newTokenId, "the run's new token is deployed");
      assert.ok(h.exporters.get("integration")!.pids.length > pidsBefore, "the consumer restarted");
      const old = (await h.admin.state()).automationTokens.find((x) => x.id === previous);
      assert.notEqual(old?.revokedAt ?? null, null, "the old token is revoked");
      assert.deepEqual(await h.consumerRefusals(), [], "the consumer never had a request refused");
      assert.ok(!existsSync(join(h.stateDir, "lock")), "the lock was released");
      assertNoSecrets(h.collectOutput(), h.knownSecrets());
    });
  }
});
