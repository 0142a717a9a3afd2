/**
 * Signals: `ftr` runs as a real child process and gets SIGTERM (as Kubernetes and systemd send it)
 * while a reload command blocks. The first signal names what it stops, aborts the running step
 * (killing the command's whole process group), starts nothing new, releases the lock and exits 143;
 * the journal leaves the run unfinished so that `ftr resume` completes it. A second signal exits at
 * once, still releasing the lock and killing the command's group. A read-only command waiting on a
 * stalled API stops promptly.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { JournalRecord } from "../../src/rotation/journal.ts";
import { USER_AGENT } from "../../src/version.ts";
import type { CliProcess } from "../helpers/cli.ts";
import { assertSettled, sleep, startRotationEnv, type RotationEnv } from "../helpers/rotation-env.ts";

/** A reload command that blocks while the file `block` exists ("ignore" in it: it ignores SIGTERM). */
const BLOCKER = `#!/bin/sh
if [ -e block ]; then
  if [ "$(cat block)" = ignore ]; then trap '' TERM; fi
  # Blocks until killed (the run's stop kills the whole process group).
  tail -f /dev/null &
  # Written once blocking (and ignoring SIGTERM where asked): the test signals after this. Renamed
  # into place, so the file never exists empty (a reader between create and write would see no pid).
  echo $$ > reload.pid.partial && mv reload.pid.partial reload.pid
  wait
fi
exit 0
`;

/** Live (not zombie) processes of process group `pgid`. */
function liveInGroup(pgid: number): number[] {
  const live: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // gone meanwhile
    }
    // pid (comm) state ppid pgrp ...: comm may hold spaces, so split after its closing parenthesis.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(pgrp) === pgid && state !== "Z") live.push(Number(entry));
  }
  return live;
}

/** Resolves once `test` holds; the deadline (two minutes unless told) bounds a hang, not a budget. */
async function waitFor(what: string, test: () => boolean, timeoutMs = 120_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * The child's end, which must come while what it would otherwise wait for is still held (never
 * released before it exits). A minute bounds a hang and fails with `what`.
 */
async function exitsWhileHeld(child: CliProcess, what: string): Promise<Awaited<CliProcess["done"]>> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new assert.AssertionError({ message: `it did not exit: it waited for ${what}` })),
      60_000,
    );
  });
  try {
    return await Promise.race([child.done, bound]);
  } finally {
    clearTimeout(timer);
  }
}

describe("signals", () => {
  let h: RotationEnv;
  const lockFile = () => join(h.stateDir, "lock");
  const pidFile = () => join(h.dir, "reload.pid");
  const blockFile = () => join(h.dir, "block");

  // A world per case: a case that fails (a run left holding the lock) leaves it to itself.
  beforeEach(async () => {
    h = await startRotationEnv({
      environments: ["integration"],
      verifyTimeout: "15s",
      verifyInterval: "1s",
      stateDir: "state",
      extraReload: () => [{ type: "exec", command: ["/bin/sh", "./blocker.sh"], timeout: "10m" }],
    });
    writeFileSync(join(h.dir, "blocker.sh"), BLOCKER, { mode: 0o755 });
    await mkdir(h.stateDir, { recursive: true, mode: 0o700 });
  });
  afterEach(async () => {
    if (h) rmSync(blockFile(), { force: true });
    await h?.close();
  });

  /** Start `ftr rotate` with the blocker holding the reload step; resolves once it blocks. */
  async function rotateUntilBlocked(mode: "" | "ignore") {
    rmSync(pidFile(), { force: true });
    writeFileSync(blockFile(), mode);
    const from = h.journal().length;
    const caseStart = (await h.admin.now()).getTime();
    const previous = (await h.tokenSelf(h.readSecret("integration"))).id!;
    const child = h.spawnCli(["rotate", "--config", h.configPath, "--yes", "--force"]);
    await waitFor(
      "the blocking reload command",
      () => existsSync(pidFile()) || child.child.exitCode !== null,
    );
    assert.ok(existsSync(pidFile()), `the run ended before its reload:\n${child.output().stderr}`);
    const pgid = Number(readFileSync(pidFile(), "utf8"));
    // A pid of 0 would match every process whose group lies outside this pid namespace.
    assert.ok(Number.isSafeInteger(pgid) && pgid > 1, `reload.pid holds a pid: ${pgid}`);
    // The command runs in its own process group: its pid is the group's id.
    assert.deepEqual(liveInGroup(pgid).length > 0, true, "the reload command's group is running");
    assert.ok(existsSync(lockFile()), "the run holds the lock");
    return { child, pgid, from, caseStart, previous };
  }

  /** Unblock, run `ftr resume`, and check the environment is consistent with no orphan token. */
  async function resumeAndCheck(from: number, caseStart: number, previous: string) {
    rmSync(blockFile(), { force: true });
    const records: JournalRecord[] = h.journal().slice(from);
    const runId = records[0]!.runId;
    const resumed = await h.runCli(["resume", "--config", h.configPath]);
    assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
    const finish = h
      .journal()
      .slice(from)
      .find((r) => r.runId === runId && r.step === "finish");
    assert.ok(finish, "resume finished the run");
    const deployed = await assertSettled(h, "integration");
    if (finish.outcome === "rotated") assert.equal(deployed, finish.newTokenId);
    else assert.equal(deployed, previous);
    const created = (await h.liveTokens()).filter(
      (t) => t.id !== previous && Date.parse(t.createdAt) >= caseStart - 1000,
    );
    assert.deepEqual(
      created.map((t) => t.id),
      deployed === previous ? [] : [deployed],
      "no orphan token",
    );
    assert.deepEqual(await h.consumerRefusals(), [], "the consumer never had a request refused");
  }

  // Timeouts: a command that ignores the signal fails the test rather than hanging the suite.
  it(
    "the first SIGTERM stops the running reload, releases the lock, exits 143, and resume finishes",
    { timeout: 300_000 },
    async (t) => {
      const { child, pgid, from, caseStart, previous } = await rotateUntilBlocked("");
      const sent = Date.now();
      child.child.kill("SIGTERM");
      // The reload command blocks until killed: a run that waited for it would not exit.
      const ended = await exitsWhileHeld(child, "the reload command");
      t.diagnostic(`exited ${Date.now() - sent} ms after SIGTERM`);
      assert.equal(ended.code, 143, ended.stderr);
      assert.match(ended.stderr, /stopping: integration reload…/);
      assert.ok(!existsSync(lockFile()), "the lock was released");
      assert.deepEqual(liveInGroup(pgid), [], "the reload command's process group is gone");

      // The aborted step is journaled as failed, nothing after it began, and the run is unfinished.
      const records = h.journal().slice(from);
      const reload = records.filter((r) => r.step === "reload").map((r) => `${r.status} ${r.detail ?? ""}`);
      assert.equal(reload.length, 2, reload.join("\n"));
      assert.equal(reload[0], "begin ");
      assert.match(reload[1]!, /^failed interrupted by SIGTERM\b/);
      const after = records.slice(records.findIndex((r) => r.step === "reload" && r.status === "failed") + 1);
      assert.deepEqual(
        after,
        [],
        "nothing was journaled after the interrupted step (no rollback, no finish)",
      );
      assert.match(ended.stdout, /interrupted/);

      await resumeAndCheck(from, caseStart, previous);
    },
  );

  it(
    "a second SIGTERM exits at once, still releasing the lock and killing the command's group",
    { timeout: 300_000 },
    async (t) => {
      // The blocker ignores SIGTERM, so the first signal's stop takes the 2 s kill grace, after
      // which the reload step would be journaled as failed and the run would end by itself.
      const { child, pgid, from, caseStart, previous } = await rotateUntilBlocked("ignore");
      child.child.kill("SIGTERM");
      await waitFor("the stopping line", () => child.output().stderr.includes("stopping: "));
      const second = Date.now();
      child.child.kill("SIGTERM");
      const ended = await child.done;
      t.diagnostic(`exited ${Date.now() - second} ms after the second SIGTERM`);
      assert.equal(ended.code, 143, ended.stderr);
      assert.match(ended.stderr, /stopping now/);
      // At once: the step it was in never ended, not even as failed (the grace never ran out).
      const records = h.journal().slice(from);
      const last = records.at(-1);
      assert.deepEqual(
        [last?.step, last?.status],
        ["reload", "begin"],
        `journaled after the second SIGTERM: ${JSON.stringify(records.slice(-3))}`,
      );
      assert.ok(!existsSync(lockFile()), "the lock was released");
      await waitFor("the group to be killed", () => liveInGroup(pgid).length === 0, 60_000);

      await resumeAndCheck(from, caseStart, previous);
    },
  );

  it(
    "SIGTERM while the create request is in flight: exit 143 at once, and resume leaves no orphan",
    { timeout: 300_000 },
    async () => {
      rmSync(blockFile(), { force: true });
      const from = h.journal().length;
      const caseStart = (await h.admin.now()).getTime();
      const previous = (await h.tokenSelf(h.readSecret("integration"))).id!;
      // The emulator creates the token and holds the answer until the test releases it, which it
      // does only after ftr has exited: a run that waited for the answer would never exit. The
      // journal keeps "mint begin" without "mint done", so resume searches for a token the create
      // made (by name and creation time) and revokes it, as after a kill -9 (test/rotate-crash.test.ts).
      const hook = await h.admin.hook({
        method: "POST",
        path: "/automation-tokens",
        userAgent: `${USER_AGENT}*`,
        action: "hold",
        phase: "after",
      });
      try {
        const child = h.spawnCli(["rotate", "--config", h.configPath, "--yes", "--force"]);
        await h.admin.waitForHook(hook.id);
        child.child.kill("SIGTERM");
        const ended = await exitsWhileHeld(child, "the create's answer");
        assert.equal(ended.code, 143, ended.stderr);
        assert.match(ended.stderr, /stopping: integration mint…/);
        assert.ok(!existsSync(lockFile()), "the lock was released");
      } finally {
        await h.admin.releaseHook(hook.id).catch(() => undefined);
        await h.admin.clearHooks();
      }
      // The create was carried out and answered to nobody; nothing else is in flight.
      const idleBy = Date.now() + 60_000;
      while ((await h.admin.state()).inFlight > 0) {
        assert.ok(Date.now() < idleBy, "the emulator still holds a request");
        await sleep(20);
      }
      await resumeAndCheck(from, caseStart, previous);
    },
  );

  it("plan waiting on a stalled API stops soon after SIGTERM", { timeout: 300_000 }, async (t) => {
    await h.admin.clearRequests();
    // Every service listing is held until the test lets it go, which it does only after plan has
    // exited: a plan that waited for the answer would never exit.
    const hook = await h.admin.hook({
      method: "GET",
      path: "/service",
      userAgent: `${USER_AGENT}*`,
      action: "hold",
      once: false,
    });
    try {
      const child = h.spawnCli(["plan", "--config", h.configPath]);
      // The service listing reached the emulator and is being held.
      await h.admin.waitForHook(hook.id);
      const sent = Date.now();
      child.child.kill("SIGTERM");
      const ended = await exitsWhileHeld(child, "the service listing");
      t.diagnostic(`plan exited ${Date.now() - sent} ms after SIGTERM (the target is 2 s)`);
      assert.equal(ended.code, 143, ended.stderr);
      assert.match(ended.stderr, /stopping: plan…/);
      assert.doesNotMatch(ended.stderr, /unexpected failure/);
    } finally {
      await h.admin.clearHooks();
    }
  });
  it("serve shuts down on the first SIGTERM and exits 0", { timeout: 60_000 }, async () => {
    const child = h.spawnCli(["serve", "--config", h.configPath, "--listen", "127.0.0.1:0"]);
    await waitFor(
      "serve to listen",
      () => /listening on/.test(child.output().stdout) || child.child.exitCode !== null,
    );
    child.child.kill("SIGTERM");
    const ended = await child.done;
    assert.equal(ended.code, 0, ended.stderr);
    assert.match(ended.stderr, /shutting down/);
  });
});
