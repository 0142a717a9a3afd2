/**
 * The Kubernetes state backend (src/rotation/state/kubernetes.ts) through the real
 * `@kubernetes/client-node` against the Kubernetes API fake: the Lease as the lock (refusal naming
 * the holder, takeover only after expiry or from a dead process on this host, renewal, a lost Lease
 * aborting the session), and the journal in a Secret or ConfigMap (409 on a stale resourceVersion
 * re-read and appended again, compaction). Time is a manual clock: nothing waits on the wall clock.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { CoordinationV1Api, CoreV1Api } from "@kubernetes/client-node";
import { KubernetesError, makeApiClient } from "../src/adapters/support/kubernetes.ts";
import { abortError, instantClock, type Clock } from "../src/adapters/support/poll.ts";
import type { JournalRecord } from "../src/rotation/journal.ts";
import { LockedError, processStart } from "../src/rotation/lock.ts";
import {
  COMPACT_AT_BYTES,
  compactJournal,
  formatIdentity,
  JOURNAL_KEY,
  kubernetesState,
  LeaseLostError,
  parseIdentity,
  type KubernetesStateConfig,
} from "../src/rotation/state/kubernetes.ts";
import { stateBackend } from "../src/rotation/state/index.ts";
import type { Config } from "../src/config/types.ts";
import { clearSecrets, registerSecret } from "../src/util/redact.ts";
import type { RunningKubernetesApi } from "../src/sandbox/kubernetes-api-server.ts";
import { world, type World } from "./helpers/world.ts";

const NS = "monitoring";
const T0 = Date.parse("2026-12-01T10:00:00.000Z");
const ROOT = fileURLToPath(new URL("..", import.meta.url));

let w: World<"kubernetes">;
let kube: RunningKubernetesApi;
let kubeconfig: string;
let names = 0;

before(async () => {
  w = await world({ dir: "ftr-state-kube-", kubernetes: true });
  ({ kube, kubeconfig } = w);
});
after(() => w.close());

/** A clock that moves only when told; sleepers wake when their time has come. */
interface ManualClock extends Clock {
  advance(ms: number): void;
  set(ms: number): void;
  readonly sleepers: number;
}
function manualClock(start = T0): ManualClock {
  let now = start;
  const waiters = new Set<{ at: number; wake: () => void }>();
  const wakeDue = (): void => {
    for (const waiter of [...waiters]) {
      if (waiter.at <= now) {
        waiters.delete(waiter);
        waiter.wake();
      }
    }
  };
  return {
    now: () => now,
    sleep: (ms, signal) =>
      new Promise((resolve, reject) => {
        if (signal?.aborted) {
          reject(abortError(signal));
          return;
        }
        const waiter = { at: now + ms, wake: () => resolve() };
        waiters.add(waiter);
        signal?.addEventListener(
          "abort",
          () => {
            waiters.delete(waiter);
            reject(abortError(signal));
          },
          { once: true },
        );
      }),
    advance(ms) {
      now += ms;
      wakeDue();
    },
    set(ms) {
      now = ms;
      wakeDue();
    },
    get sleepers() {
      return waiters.size;
    },
  };
}

/** Polls `check` until it holds (what the test waits for happens soon; no fixed sleep). */
async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const config = (name: string, extra: Partial<KubernetesStateConfig> = {}): KubernetesStateConfig => ({
  type: "kubernetes",
  namespace: NS,
  name,
  resource: "secret",
  kubeconfig,
  leaseDurationMs: 60_000,
  ...extra,
});
const fresh = (): string => `ftr-state-${++names}`;

interface LeaseJson {
  metadata: { resourceVersion: string; labels?: Record<string, string> };
  spec: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}
const leaseOf = (name: string): LeaseJson => {
  const lease = kube.object("leases", NS, name);
  assert.ok(lease, `Lease ${name} exists`);
  return lease as unknown as LeaseJson;
};
const journalText = (name: string): string => {
  const values = kube.secretValues(NS, name);
  return values?.[JOURNAL_KEY] ?? "";
};
const record = (
  runId: string,
  environment: string,
  step: JournalRecord["step"],
  status: JournalRecord["status"] = "done",
  extra: Partial<JournalRecord> = {},
): Omit<JournalRecord, "v" | "at"> => ({ runId, environment, step, status, ...extra });

describe("Kubernetes state: the Lease", () => {
  it("is created naming this process, refuses a second holder with one line naming it, and is released", async () => {
    const name = fresh();
    const clock = manualClock();
    const first = await kubernetesState(config(name), { clock });
    assert.equal(first.description, `Kubernetes Lease ${NS}/${name}`);
    assert.equal(await first.holder(), undefined, "nobody holds a Lease that does not exist");
    const session = await first.acquire();

    const lease = leaseOf(name);
    const identity = parseIdentity(lease.spec.holderIdentity ?? "");
    assert.ok(identity, `holderIdentity ${lease.spec.holderIdentity} is ftr's`);
    assert.equal(identity.host, hostname());
    assert.equal(identity.pid, process.pid);
    assert.equal(identity.processStart, processStart(process.pid));
    assert.match(identity.id, /^[0-9a-f]{24}$/);
    assert.equal(lease.spec.leaseDurationSeconds, 60);
    assert.equal(lease.spec.leaseTransitions, 0);
    // MicroTime: RFC 3339 with six fractional digits, as the API server parses it.
    assert.equal(lease.spec.acquireTime, "2026-12-01T10:00:00.000000Z");
    assert.equal(lease.spec.renewTime, "2026-12-01T10:00:00.000000Z");
    assert.equal(lease.metadata.labels?.["app.kubernetes.io/managed-by"], "fastly-token-rotator");

    // Another backend (another process as far as the Lease knows: another acquisition id).
    const second = await kubernetesState(config(name), { clock });
    clock.advance(10_000); // less than a third of the duration: no renewal yet
    const refused = await second.acquire().then(
      () => assert.fail("a live holder's Lease was taken"),
      (error: unknown) => error,
    );
    assert.ok(refused instanceof LockedError);
    assert.equal(refused.pid, process.pid);
    assert.equal(refused.host, hostname());
    assert.doesNotMatch(refused.message, /\n/);
    assert.match(refused.message, new RegExp(`host ${hostname()}, pid ${process.pid}`));
    assert.match(refused.message, /last renewed it at 2026-12-01T10:00:00Z/);
    assert.match(refused.message, /expires at 2026-12-01T10:01:00Z/);
    assert.match(refused.message, /wait for that run to finish/);
    assert.equal((await second.holder())?.message, refused.message);
    assert.equal(leaseOf(name).spec.holderIdentity, lease.spec.holderIdentity, "refusing writes nothing");

    await session.release();
    assert.equal(leaseOf(name).spec.holderIdentity, undefined, "release clears holderIdentity");
    assert.equal(await second.holder(), undefined);
    await session.release(); // twice is harmless
    const again = await second.acquire();
    assert.equal(leaseOf(name).spec.leaseTransitions, 1);
    assert.notEqual(leaseOf(name).spec.holderIdentity, lease.spec.holderIdentity);
    await again.release();
  });

  it("is taken from another host's run only once renewTime + leaseDurationSeconds has passed", async () => {
    const name = fresh();
    const other = formatIdentity({
      host: "ftr-rotate-29012345-abcde",
      pid: 1,
      id: "0123456789abcdef01234567",
    });
    kube.addLease(NS, name, {
      holderIdentity: other,
      leaseDurationSeconds: 60,
      acquireTime: "2026-12-01T09:59:00.000000Z",
      renewTime: "2026-12-01T10:00:00.000000Z",
      leaseTransitions: 4,
    });
    const clock = manualClock(T0 + 59_000);
    const backend = await kubernetesState(config(name), { clock });
    const refused = await backend.acquire().then(
      () => assert.fail("a Lease renewed 59 s ago was taken"),
      (error: unknown) => error,
    );
    assert.ok(refused instanceof LockedError);
    assert.match(
      refused.message,
      /another run \(host ftr-rotate-29012345-abcde, pid 1\) holds the Kubernetes Lease/,
    );
    assert.match(refused.message, /expires at 2026-12-01T10:01:00Z/);
    assert.ok(await backend.holder());
    clock.set(T0 + 60_000);
    await assert.rejects(backend.acquire(), LockedError, "at the moment of expiry it is still held");

    clock.set(T0 + 61_000);
    assert.equal(await backend.holder(), undefined, "an expired Lease has no live holder");
    const session = await backend.acquire();
    const lease = leaseOf(name);
    assert.equal(parseIdentity(lease.spec.holderIdentity ?? "")?.pid, process.pid);
    assert.equal(lease.spec.leaseTransitions, 5);
    assert.equal(lease.spec.acquireTime, "2026-12-01T10:01:01.000000Z");
    await session.release();
  });

  it("a holder that is not ftr's is named as it is and waited for until expiry, whatever its duration", async () => {
    const name = fresh();
    kube.addLease(NS, name, {
      holderIdentity: "someone\nelse",
      leaseDurationSeconds: 30,
      renewTime: "2026-12-01T10:00:00.000000Z",
    });
    const backend = await kubernetesState(config(name), { clock: manualClock() });
    await assert.rejects(backend.acquire(), (error: Error) => {
      assert.ok(error instanceof LockedError);
      assert.match(error.message, /another run \(holder "someone\?else"\)/);
      assert.match(error.message, /expires at 2026-12-01T10:00:30Z/);
      assert.doesNotMatch(error.message, /\n/);
      return true;
    });
    kube.addLease(NS, name, {
      holderIdentity: "forever",
      leaseDurationSeconds: Number.MAX_SAFE_INTEGER,
      renewTime: "2026-12-01T10:00:00.000000Z",
    });
    await assert.rejects(backend.acquire(), /holder "forever"\) .* it expires at never unless renewed/);
  });

  it("is taken at once from a process on this host that was killed (kill -9) while holding it", async () => {
    const name = fresh();
    const script = join(w.dir, "hold-lease.mts");
    await writeFile(
      script,
      [
        `import { kubernetesState } from ${JSON.stringify(join(ROOT, "src/rotation/state/kubernetes.ts"))};`,
        `const backend = await kubernetesState(${JSON.stringify(config(name))});`,
        "const session = await backend.acquire();",
        `session.journal.append({ runId: "child-run", environment: "production", step: "promote", status: "done" });`,
        "await session.journal.flush();",
        `process.stdout.write("held\\n");`,
        "setInterval(() => {}, 60_000);",
      ].join("\n"),
    );
    const child = spawn(process.execPath, ["--import", "tsx", script], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
    await until(() => out.includes("held") || child.exitCode !== null, "the child holds the Lease");
    assert.equal(out, "held\n", `the child failed: ${err}`);

    // The same moment: the Lease is far from expiry.
    const backend = await kubernetesState(config(name));
    const holder = parseIdentity(leaseOf(name).spec.holderIdentity ?? "");
    assert.equal(holder?.pid, child.pid);
    await assert.rejects(backend.acquire(), LockedError, "a live process on this host keeps it");

    const exited = once(child, "exit");
    child.kill("SIGKILL");
    await exited;
    assert.equal(await backend.holder(), undefined, "a dead process on this host holds nothing");
    const session = await backend.acquire();
    assert.equal(parseIdentity(leaseOf(name).spec.holderIdentity ?? "")?.pid, process.pid);
    assert.deepEqual(
      (await session.readJournal()).map((r) => `${r.runId} ${r.step} ${r.status}`),
      ["child-run promote done"],
      "the killed run's journal is there to resume",
    );
    await session.release();
  });

  it("a PID of this host alive but started at another time (reused) does not hold it", async () => {
    const name = fresh();
    kube.addLease(NS, name, {
      holderIdentity: formatIdentity({
        host: hostname(),
        pid: process.pid,
        processStart: "00000000-0000-0000-0000-000000000000/1",
        id: "feedfacefeedfacefeedface",
      }),
      leaseDurationSeconds: 60,
      renewTime: "2026-12-01T10:00:00.000000Z",
    });
    const backend = await kubernetesState(config(name), { clock: manualClock() });
    const session = await backend.acquire();
    await session.release();
  });

  it("is renewed every third of its duration, and a renewed Lease is not taken", async () => {
    const name = fresh();
    const clock = manualClock();
    const backend = await kubernetesState(config(name), { clock });
    const session = await backend.acquire();
    for (let i = 1; i <= 4; i++) {
      await until(() => clock.sleepers === 1, "the renewal waits");
      clock.advance(20_000);
      const expected = new Date(T0 + i * 20_000).toISOString().replace("Z", "000Z");
      await until(() => leaseOf(name).spec.renewTime === expected, `renewal ${i} at ${expected}`);
    }
    // 80 s after it was taken, the first acquisition alone would have expired.
    const other = await kubernetesState(config(name), { clock });
    await assert.rejects(other.acquire(), /last renewed it at 2026-12-01T10:01:20Z/);
    assert.equal(session.lost.aborted, false);
    await session.release();
    assert.equal(clock.sleepers, 0, "release stops renewing");
  });

  it("an instant clock (sleeps return at once) does not make renewal a stream of requests", async () => {
    const name = fresh();
    const clock = instantClock(T0);
    const backend = await kubernetesState(config(name), { clock });
    const session = await backend.acquire();
    const started = Date.now();
    const renewals = (): number =>
      kube.requests.filter((r) => r.method === "PUT" && r.path.includes(`/leases/${name}`)).length;
    await until(() => renewals() >= 3, "three renewals");
    // The first renewal follows acquisition by a second at least, and each next one by another:
    // without that floor, the instant clock renews as fast as the fake answers.
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 2_000, `three renewals in ${elapsed} ms`);
    await session.release();
  });

  it("aborts the session's lost signal when a renewal finds the Lease taken over", async () => {
    const name = fresh();
    const clock = manualClock();
    const backend = await kubernetesState(config(name), { clock });
    const session = await backend.acquire();
    // Another run whose clock is past the expiry (renewTime + 60 s) takes it over.
    const usurper = await kubernetesState(config(name), { clock: manualClock(T0 + 120_000) });
    const theirs = await usurper.acquire();
    const taken = leaseOf(name).spec.holderIdentity;

    await until(() => clock.sleepers === 1, "the renewal waits");
    clock.advance(20_000);
    await until(() => session.lost.aborted, "the session is told it lost the Lease");
    const reason: unknown = session.lost.reason;
    assert.ok(reason instanceof LeaseLostError);
    assert.match(reason.message, /was taken over by ".*" while this run held it/);
    assert.doesNotMatch(reason.message, /\n/);
    assert.equal(leaseOf(name).spec.holderIdentity, taken, "the renewal overwrote nothing");

    await session.release();
    assert.equal(leaseOf(name).spec.holderIdentity, taken, "release leaves another holder's Lease alone");
    await theirs.release();
  });

  it("aborts lost when the Lease is deleted while held, and release then leaves it alone", async () => {
    const name = fresh();
    const clock = manualClock();
    const backend = await kubernetesState(config(name), { clock });
    const session = await backend.acquire();
    const core = await makeApiClient({ kubeconfig }, CoordinationV1Api);
    await core.deleteNamespacedLease({ name, namespace: NS });
    await until(() => clock.sleepers === 1, "the renewal waits");
    clock.advance(20_000);
    await until(() => session.lost.aborted, "the session is told");
    assert.match((session.lost.reason as Error).message, /was released or deleted while this run held it/);
    await session.release();
    assert.equal(kube.object("leases", NS, name), undefined, "release creates nothing");
  });

  it("a renewal failing past the Lease's duration aborts lost; a failing one before it is tried again", async () => {
    const name = fresh();
    const clock = manualClock();
    const backend = await kubernetesState(config(name), { clock });
    const session = await backend.acquire();
    kube.forbid("PUT", "leases");
    try {
      await until(() => clock.sleepers === 1, "the renewal waits");
      clock.advance(20_000);
      await until(() => clock.sleepers === 1, "the failed renewal waits for the next tick");
      assert.equal(session.lost.aborted, false);
      clock.advance(20_000);
      await until(() => clock.sleepers === 1, "the second failed renewal waits");
      clock.advance(20_000);
      await until(() => session.lost.aborted, "the session is told");
      assert.match(
        String((session.lost.reason as Error).message),
        /could not be renewed for longer than its duration \(updating Lease monitoring\/ftr-state-\d+ failed: .*forbidden/,
      );
    } finally {
      kube.forbid("PUT", "leases", false);
    }
    await session.release();
  });
});

describe("Kubernetes state: the journal", () => {
  it("is queued by append, written by flush as JSON lines in a labelled Secret, and read without the lock", async () => {
    const name = fresh();
    const clock = manualClock();
    const backend = await kubernetesState(config(name), { clock });
    assert.deepEqual(await backend.readJournal(), []);
    const session = await backend.acquire();
    assert.equal(session.journal.path, `Kubernetes Secret ${NS}/${name} (key journal.jsonl)`);
    const first = session.journal.append(record("run-1", "production", "start", "begin"));
    assert.equal(first.at, "2026-12-01T10:00:00.000Z");
    assert.equal(first.v, 1);
    assert.equal(kube.object("secrets", NS, name), undefined, "append alone writes nothing");
    await session.journal.flush();
    session.journal.append(record("run-1", "production", "mint", "begin", { tokenName: "t" }));
    session.journal.append(record("run-1", "production", "mint", "done", { newTokenId: "tok2" }));
    await session.journal.flush();
    const secret = kube.object("secrets", NS, name) as {
      metadata: { labels: Record<string, string> };
      type: string;
    };
    assert.equal(secret.metadata.labels["app.kubernetes.io/managed-by"], "fastly-token-rotator");
    assert.equal(secret.type, "Opaque");
    const lines = journalText(name).trimEnd().split("\n");
    assert.equal(lines.length, 3);
    assert.deepEqual(JSON.parse(lines[0]!), first);
    // Read by another backend, holding no lock (a monitor's view).
    const reader = await kubernetesState(config(name), { clock });
    const before = kube.requests.length;
    assert.deepEqual(
      (await reader.readJournal()).map((r) => `${r.step} ${r.status}`),
      ["start begin", "mint begin", "mint done"],
    );
    assert.ok(await reader.holder());
    assert.deepEqual(
      kube.requests.slice(before).map((r) => r.method),
      ["GET", "GET"],
      "reading the journal and the holder changes nothing",
    );
    // The session's own read flushes first: what it plans from includes what it appended.
    session.journal.append(record("run-1", "production", "test", "begin"));
    assert.equal((await session.readJournal()).length, 4);
    session.journal.append(record("run-1", "production", "test", "done"));
    await session.release();
    assert.equal((await reader.readJournal()).length, 5, "release flushes");
  });

  it("a 409 on flush (someone wrote since it was read) is read again and appended again, keeping both writers' lines", async () => {
    const name = fresh();
    const backend = await kubernetesState(config(name), { clock: manualClock() });
    const session = await backend.acquire();
    session.journal.append(record("run-1", "production", "start", "begin"));
    await session.journal.flush();
    session.journal.append(record("run-1", "production", "mint", "begin"));

    kube.hold("PUT", "secrets", "before", name);
    const flushing = session.journal.flush();
    await kube.held();
    // Another writer appends while ftr's PUT (with the resourceVersion it read) waits.
    const core = await makeApiClient({ kubeconfig }, CoreV1Api);
    const current = await core.readNamespacedSecret({ name, namespace: NS });
    const theirs = `${JSON.stringify({ v: 1, runId: "other", environment: "staging", step: "start", status: "begin", at: "2026-12-01T10:00:01.000Z" })}\n`;
    const text = Buffer.from(current.data![JOURNAL_KEY]!, "base64").toString() + theirs;
    await core.replaceNamespacedSecret({
      name,
      namespace: NS,
      body: { ...current, data: { [JOURNAL_KEY]: Buffer.from(text).toString("base64") } },
    });
    kube.release();
    await flushing;

    const puts = kube.requests.filter((r) => r.method === "PUT" && r.path.includes(`/secrets/${name}`));
    assert.ok(
      puts.some((r) => r.status === 409),
      "the stale write was refused",
    );
    assert.deepEqual(
      (await backend.readJournal()).map((r) => `${r.runId} ${r.step}`),
      ["run-1 start", "other start", "run-1 mint"],
    );
    await session.release();
  });

  it("a ConfigMap journal holds the same lines as plain text", async () => {
    const name = fresh();
    const backend = await kubernetesState(config(name, { resource: "configmap" }), { clock: manualClock() });
    const session = await backend.acquire();
    assert.equal(session.journal.path, `Kubernetes ConfigMap ${NS}/${name} (key journal.jsonl)`);
    const written = session.journal.append(record("run-1", "production", "start", "begin"));
    await session.journal.flush();
    session.journal.append(record("run-1", "production", "finish", "done", { outcome: "rotated" }));
    await session.release();
    assert.equal(kube.object("secrets", NS, name), undefined);
    const map = kube.object("configmaps", NS, name) as {
      data: Record<string, string>;
      metadata: { labels: Record<string, string> };
    };
    assert.equal(map.metadata.labels["app.kubernetes.io/managed-by"], "fastly-token-rotator");
    const lines = map.data[JOURNAL_KEY]!.trimEnd().split("\n");
    assert.deepEqual(JSON.parse(lines[0]!), written);
    assert.equal((await backend.readJournal()).length, 2);
  });

  it("holds no secret value: details are redacted before they are queued", async () => {
    const token = "FASTLY-TOKEN-VALUE-abcdefghijklmnop";
    registerSecret(token);
    try {
      const name = fresh();
      const backend = await kubernetesState(config(name), { clock: manualClock() });
      const session = await backend.acquire();
      const stored = session.journal.append(
        record("run-1", "production", "test", "failed", { detail: `refused ${token}` }),
      );
      assert.doesNotMatch(JSON.stringify(stored), /FASTLY-TOKEN-VALUE/);
      await session.release();
      const text = journalText(name);
      assert.match(text, /refused \[REDACTED\]/);
      assert.doesNotMatch(text, /FASTLY-TOKEN-VALUE/);
      assert.doesNotMatch(JSON.stringify(kube.object("secrets", NS, name)), /FASTLY-TOKEN-VALUE/);
      assert.doesNotMatch(JSON.stringify(kube.object("leases", NS, name)), /FASTLY-TOKEN-VALUE/);
    } finally {
      clearSecrets();
    }
  });

  it("past ~700 KiB, flush drops the oldest finished runs and keeps every unfinished one", async () => {
    const name = fresh();
    const padding = "x".repeat(900);
    const lines: string[] = [];
    const at = "2026-01-01T00:00:00.000Z";
    const add = (r: Omit<JournalRecord, "v" | "at">): void => {
      lines.push(JSON.stringify({ v: 1, ...r, at }));
    };
    add(record("unfinished-old", "production", "start", "begin"));
    add(record("unfinished-old", "production", "promote", "done"));
    for (let i = 0; i < 800; i++) {
      add(record(`old-${i}`, "staging", "start", "begin", { detail: padding }));
      add(record(`old-${i}`, "staging", "finish", "done", { outcome: "rotated" }));
    }
    kube.addSecret(NS, name, { [JOURNAL_KEY]: `${lines.join("\n")}\n` });
    assert.ok(journalText(name).length > COMPACT_AT_BYTES);
    const backend = await kubernetesState(config(name), { clock: manualClock() });
    const session = await backend.acquire();
    session.journal.append(record("new-run", "staging", "start", "begin"));
    await session.release();
    const text = journalText(name);
    assert.ok(text.length <= COMPACT_AT_BYTES, `${text.length} bytes after compaction`);
    const runs = new Set((await backend.readJournal()).map((r) => r.runId));
    assert.ok(runs.has("unfinished-old"), "an unfinished run is kept");
    assert.ok(runs.has("old-799"), "the latest finished run of the environment is kept");
    assert.ok(runs.has("new-run"));
    assert.ok(!runs.has("old-0"), "the oldest finished run went");
  });
});

describe("compactJournal", () => {
  const line = (r: Omit<JournalRecord, "v" | "at">): string =>
    JSON.stringify({ v: 1, ...r, at: "2026-01-01T00:00:00.000Z" });
  const text = [
    line(record("a", "prod", "start", "begin")),
    line(record("a", "prod", "finish", "done", { outcome: "rotated" })),
    "torn {",
    line(record("b", "prod", "start", "begin")),
    line(record("b", "prod", "finish", "done", { outcome: "rotated" })),
    line(record("c", "stage", "start", "begin")),
    line(record("c", "stage", "finish", "done", { outcome: "rotated" })),
    line(record("d", "prod", "start", "begin")),
    line(record("e", "prod", "start", "begin", { rollbackOf: "b" })),
    line(record("e", "prod", "finish", "done", { outcome: "rolled-back" })),
    line(record("f", "stage", "start", "begin")),
    line(record("f", "stage", "finish", "done", { outcome: "rotated" })),
    "",
  ].join("\n");
  const runsOf = (out: string): string[] => [
    ...new Set(
      out
        .trimEnd()
        .split("\n")
        .map((l) => (JSON.parse(l) as JournalRecord).runId),
    ),
  ];

  it("leaves a journal under the limit exactly as it is", () => {
    assert.equal(compactJournal(text, text.length, 0), text);
  });

  it("keeps unfinished runs, the latest finished run per environment and what a kept rollback undoes", () => {
    // Target 0: everything that may go, goes.
    assert.deepEqual(runsOf(compactJournal(text, 10, 0)), ["b", "d", "e", "f"]);
  });

  it("drops only as many of the oldest finished runs as the target needs", () => {
    const withoutA = compactJournal(text, 10, text.length - 150);
    assert.deepEqual(runsOf(withoutA), ["b", "c", "d", "e", "f"]);
    assert.doesNotMatch(withoutA, /torn/);
  });
});

describe("Kubernetes state: failures", () => {
  it("a 403 names the object and the Role rules it needs, in one line", async () => {
    const name = fresh();
    const backend = await kubernetesState(config(name), { clock: manualClock() });
    kube.forbid("GET", "leases");
    try {
      await assert.rejects(backend.acquire(), (error: Error) => {
        assert.ok(error instanceof KubernetesError);
        assert.equal(error.status, 403);
        assert.doesNotMatch(error.message, /\n/);
        assert.match(error.message, new RegExp(`^reading Lease ${NS}/${name} failed: `));
        assert.match(
          error.message,
          /the Role bound to this identity needs get, create and update on leases \(coordination\.k8s\.io\) and secrets in namespace monitoring/,
        );
        return true;
      });
    } finally {
      kube.forbid("GET", "leases", false);
    }
    const session = await backend.acquire();
    session.journal.append(record("run-1", "production", "start", "begin"));
    kube.forbid("POST", "secrets");
    try {
      await assert.rejects(
        session.journal.flush(),
        new RegExp(`^KubernetesError: creating Secret ${NS}/${name} failed: .*needs get, create and update`),
      );
    } finally {
      kube.forbid("POST", "secrets", false);
    }
    await session.release(); // the queued record is written now
    assert.equal((await backend.readJournal()).length, 1);
  });

  it("stateBackend picks it for a config with state type kubernetes", async () => {
    const name = fresh();
    const backend = await stateBackend({ stateDir: w.dir, state: config(name) } as unknown as Config, {
      clock: manualClock(),
    });
    assert.equal(backend.description, `Kubernetes Lease ${NS}/${name}`);
    const session = await backend.acquire();
    assert.ok(leaseOf(name).spec.holderIdentity);
    await session.release();
  });

  it("a 429 is tried again after the Retry-After it asks for; one that persists fails in one line", async () => {
    const name = fresh();
    const clock = manualClock();
    const backend = await kubernetesState(config(name), { clock });
    kube.throttle("GET", "leases", 1, 2);
    const acquiring = backend.acquire();
    await until(() => clock.sleepers === 1, "the call waits after the 429");
    clock.advance(1_999);
    assert.equal(clock.sleepers, 1, "not before the Retry-After");
    clock.advance(1);
    const session = await acquiring;
    const leaseGets = kube.requests.filter((r) => r.method === "GET" && r.path.includes(`/leases/${name}`));
    assert.deepEqual(
      leaseGets.map((r) => r.status),
      [429, 404],
    );

    session.journal.append(record("run-1", "production", "start", "begin"));
    kube.throttle("GET", "secrets", 4, 1);
    const flushing = session.journal.flush().then(
      () => assert.fail("a persistent 429 was ignored"),
      (error: unknown) => error,
    );
    for (let i = 0; i < 3; i++) {
      // The renewal sleeps too: wait for both.
      await until(() => clock.sleepers === 2, `wait ${i + 1} after a 429`);
      clock.advance(1_000);
    }
    const error = await flushing;
    assert.ok(error instanceof KubernetesError);
    assert.equal(error.status, 429);
    assert.match(error.message, new RegExp(`^reading Secret ${NS}/${name} failed: .*429 Too Many Requests`));
    await session.release();
    assert.equal((await backend.readJournal()).length, 1, "written at release");
  });

  it("a kubeconfig without the context named fails when the backend is made", async () => {
    await assert.rejects(
      kubernetesState(config(fresh(), { context: "nope" }), {}),
      /the kubeconfig has no context "nope" \(it has integration\); fix context in the config/,
    );
  });
});
