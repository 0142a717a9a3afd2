/**
 * The lock of the state directory has one holder, always, and is stale only when its holder is
 * gone: processes race for it over many trials (from no lock, and from a stale one), a lock naming a
 * live process with its real start time blocks with a message naming it, a PID that lives but
 * started at another time (reused; PID 1 of a new container) does not block, and a second
 * `ftr rotate` during a live run names that run instead of advising `ftr resume`.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { acquireLock, LockedError } from "../../src/rotation/journal.ts";
import { runCliProcess, TSX_LOADER } from "../helpers/cli.ts";
import { STATE_ONLY_CONFIG } from "../helpers/world.ts";

const JOURNAL_MODULE = fileURLToPath(new URL("../../src/rotation/journal.ts", import.meta.url));

/** Start times come from /proc: Linux only (elsewhere ftr checks the PID alone). */
const needsProc = process.platform === "linux" ? false : "reads process start times from /proc (Linux)";

const RACERS = 6;
const TRIALS = 40;

/** A state directory of its own (0700, like the ones ftr creates). */
const stateDir = () => mkdtempSync(join(tmpdir(), "ftr-lock-"));

/**
 * When `pid` started, read here from /proc independently of the code under test: field 22 of
 * /proc/<pid>/stat, with the boot id.
 */
function startOf(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const ticks = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  const boot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  return `${boot}/${ticks}`;
}

/** A lock file as ftr writes it. */
function lockRecord(pid: number, processStart: string, startedAt = "2026-11-29T10:00:00.000Z"): string {
  return `${JSON.stringify({ v: 1, id: `test-${pid}-${processStart}`, pid, host: hostname(), startedAt, processStart })}\n`;
}

/**
 * A process that tries for the lock when told: `go <dir>` answers `held` or `locked` (or `error
 * …`), `release` lets go of a lock it holds. Long-lived, so 40 trials cost 6 process starts.
 */
const RACER = `
import { createInterface } from "node:readline";
const { acquireLock, LockedError } = await import(${JSON.stringify(JOURNAL_MODULE)});
let release;
process.stdout.write("ready\\n");
for await (const line of createInterface({ input: process.stdin })) {
  const [command, dir] = line.split(" ");
  if (command === "go") {
    try {
      release = acquireLock(dir);
      process.stdout.write("held\\n");
    } catch (error) {
      process.stdout.write(error instanceof LockedError ? "locked\\n" : "error " + String(error.message).split("\\n")[0] + "\\n");
    }
  } else if (command === "release") {
    release?.();
    release = undefined;
    process.stdout.write("released\\n");
  }
}
`;

interface Racer {
  readonly child: ChildProcessWithoutNullStreams;
  next(): Promise<string>;
}

function startRacer(): Racer {
  const child = spawn(process.execPath, ["--import", TSX_LOADER, "--input-type=module", "-e", RACER], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  const lines: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  createInterface({ input: child.stdout }).on("line", (line) => {
    const waiter = waiting.shift();
    if (waiter) waiter(line);
    else lines.push(line);
  });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<never>((_, reject) =>
    child.once("exit", (code) => reject(new Error(`racer exited (${code}): ${stderr}`))),
  );
  return {
    child,
    next: () => {
      const line = lines.shift();
      if (line !== undefined) return Promise.resolve(line);
      return Promise.race([new Promise<string>((resolve) => waiting.push(resolve)), exited]);
    },
  };
}

describe("the state directory's lock", { timeout: 300_000 }, () => {
  const racers: Racer[] = [];
  const sleepers: ChildProcessWithoutNullStreams[] = [];
  after(() => {
    for (const r of racers) r.child.kill("SIGKILL");
    for (const s of sleepers) s.kill("SIGKILL");
  });

  /** Runs TRIALS races of RACERS processes; `seed` prepares each trial's directory. */
  async function race(seed: (dir: string) => void): Promise<void> {
    if (racers.length === 0) {
      for (let i = 0; i < RACERS; i++) racers.push(startRacer());
      for (const r of racers) assert.equal(await r.next(), "ready");
    }
    const doubles: number[] = [];
    for (let trial = 0; trial < TRIALS; trial++) {
      const dir = stateDir();
      seed(dir);
      // Every racer is told at once; none lets go until all have answered, so two `held` answers
      // in one trial are two holders at the same time.
      for (const r of racers) r.child.stdin.write(`go ${dir}\n`);
      const answers = await Promise.all(racers.map((r) => r.next()));
      const errors = answers.filter((a) => a.startsWith("error"));
      const held = answers.filter((a) => a === "held").length;
      if (held !== 1 || errors.length > 0) doubles.push(trial);
      assert.equal(errors.length, 0, `trial ${trial}: ${errors.join("; ")}`);
      assert.ok(held <= 1, `trial ${trial}: ${held} processes held the lock at once`);
      assert.equal(held, 1, `trial ${trial}: nobody took the lock (${answers.join(", ")})`);
      for (const r of racers) r.child.stdin.write("release\n");
      for (const r of racers) assert.equal(await r.next(), "released");
    }
    assert.deepEqual(doubles, []);
  }

  it(`${RACERS} processes racing for a free lock: one holder in each of ${TRIALS} trials`, async () => {
    await race(() => {});
  });

  it(`${RACERS} processes racing to take over a stale lock: one holder in each of ${TRIALS} trials`, async () => {
    // A PID above any pid_max: certainly not alive. Written as an older version wrote it (the PID
    // alone), which both the old and the new lock read.
    await race((dir) => writeFileSync(join(dir, "lock"), "999999999"));
    // The same with a stale lock in today's format.
    await race((dir) => writeFileSync(join(dir, "lock"), lockRecord(999999999, "boot/1")));
  });

  it(
    "a live holder, with its real start time, blocks and is named with its pid and start",
    { skip: needsProc },
    async () => {
      const sleeper = spawn("sleep", ["600"]);
      sleepers.push(sleeper);
      const pid = sleeper.pid ?? 0;
      const dir = stateDir();
      writeFileSync(join(dir, "lock"), lockRecord(pid, startOf(pid), "2026-11-29T10:00:00.000Z"));
      assert.throws(
        () => acquireLock(dir),
        (error: unknown) =>
          error instanceof LockedError &&
          error.message.includes(
            `another run (pid ${pid}, started 2026-11-29T10:00:00Z) is rotating; wait for it`,
          ),
      );
      // The lock is untouched: still the sleeper's.
      assert.match(readFileSync(join(dir, "lock"), "utf8"), new RegExp(`"pid":${pid},`));
    },
  );

  it(
    "a lock naming PID 1 is judged by its start time: the real one blocks, another one is taken over",
    { skip: needsProc },
    () => {
      const dir = stateDir();
      writeFileSync(join(dir, "lock"), lockRecord(1, startOf(1)));
      assert.throws(() => acquireLock(dir), LockedError);
      // PID 1 lives, but started at another time: the lock was left by an earlier PID 1 (a container
      // that was replaced, keeping its hostname and volume).
      const [boot, ticks] = startOf(1).split("/");
      writeFileSync(join(dir, "lock"), lockRecord(1, `${boot}/${Number(ticks) + 12345}`));
      const release = acquireLock(dir);
      assert.match(readFileSync(join(dir, "lock"), "utf8"), new RegExp(`"pid":${process.pid},`));
      release();
    },
  );

  it("a lock naming the process's own PID, left by an earlier process with that PID, is taken over", async () => {
    // ftr runs as PID 1 in a container; the container is replaced and the new ftr is PID 1 too.
    // The old lock names the new process's own PID, which is alive (it is the new process).
    const dir = stateDir();
    const script = `
      import { writeFileSync } from "node:fs";
      const { acquireLock } = await import(${JSON.stringify(JOURNAL_MODULE)});
      writeFileSync(${JSON.stringify(join(dir, "lock"))}, String(process.pid));
      try { acquireLock(${JSON.stringify(dir)})(); console.log("taken"); }
      catch (error) { console.log(error.message); }
    `;
    const child = spawn(process.execPath, ["--import", TSX_LOADER, "--input-type=module", "-e", script]);
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    await new Promise((resolve) => child.once("close", resolve));
    assert.equal(out.trim(), "taken");
  });

  it(
    "a second `ftr rotate` during a live run names that run (exit 1), not `ftr resume`",
    { skip: needsProc },
    async () => {
      const sleeper = spawn("sleep", ["600"]);
      sleepers.push(sleeper);
      const pid = sleeper.pid ?? 0;
      const root = mkdtempSync(join(tmpdir(), "ftr-lock-cli-"));
      const dir = join(root, "state");
      const config = join(root, "ftr.yaml");
      writeFileSync(config, STATE_ONLY_CONFIG);
      // What the live run has journaled so far: started, not finished.
      const { openJournal } = await import("../../src/rotation/journal.ts");
      const journal = openJournal(dir);
      journal.append({
        runId: "20261129T100000Z-live",
        environment: "staging",
        step: "start",
        status: "done",
      });
      journal.close();
      writeFileSync(join(dir, "lock"), lockRecord(pid, startOf(pid), "2026-11-29T10:00:00.000Z"));

      const result = await runCliProcess(["rotate", "--config", config, "--yes"], {
        env: { FASTLY_API_TOKEN: "not-used", FASTLY_API_ENDPOINT: "http://127.0.0.1:9" },
      });
      assert.equal(result.code, 1, result.stderr);
      assert.match(
        result.stderr,
        new RegExp(`another run \\(pid ${pid}, started 2026-11-29T10:00:00Z\\) is rotating; wait for it`),
      );
      assert.doesNotMatch(result.stderr, /resume/);
    },
  );
});
