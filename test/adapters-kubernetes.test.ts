/**
 * The `external-secret` and `kubernetes-rollout` reloaders, driven through the real
 * `@kubernetes/client-node` against a local server speaking the Kubernetes API
 * (src/sandbox/kubernetes-api-server.ts), whose controllers play the Deployment controller and
 * the External Secrets operator.
 */
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createExternalSecretReloader } from "../src/adapters/external-secret/index.ts";
import { createKubernetesRolloutReloader, RESTARTED_AT } from "../src/adapters/kubernetes-rollout/index.ts";
import { createKubernetesSecretStore } from "../src/adapters/kubernetes-secret/index.ts";
import { abortError, instantClock, systemClock, type Clock } from "../src/adapters/support/poll.ts";
import type { AdapterContext } from "../src/adapters/types.ts";
import type { FastlyClient } from "../src/fastly/types.ts";
import { memoryLogger } from "../src/util/log.ts";
import {
  KUBE_TEST_TOKEN,
  startKubernetesApi,
  type RunningKubernetesApi,
} from "../src/sandbox/kubernetes-api-server.ts";
import { until } from "./helpers/wait.ts";
import { world, type World } from "./helpers/world.ts";

let w: World<"kubernetes">;
let kube: RunningKubernetesApi;
let dir: string;
let kubeconfig: string;
const rollouts: string[] = [];
const syncs: string[] = [];
let failRollout = false;
let failSync = false;

before(async () => {
  w = await world({
    dir: "ftr-kube-",
    kubernetes: {
      controllerDelayMs: 30,
      onRollout: (ns, name) => {
        rollouts.push(`${ns}/${name}`);
        return failRollout ? Promise.reject(new Error("crash loop")) : Promise.resolve();
      },
      onSync: (ns, name) => {
        syncs.push(`${ns}/${name}`);
        return failSync ? Promise.reject(new Error("AccessDeniedException")) : Promise.resolve();
      },
    },
  });
  ({ kube, dir, kubeconfig } = w);
});
after(() => w.close());

/**
 * A clock starting at `start` whose time moves only by its own pauses (however long a run takes to
 * reach its restart), each `shortBy` ms less than asked; a pause takes at most 50 ms of real time.
 */
function pausedClock(start: number, shortBy = 0): Clock {
  let now = start;
  return {
    now: () => now,
    sleep: async (ms, signal) => {
      await systemClock.sleep(Math.min(ms, 50), signal);
      now += ms > shortBy ? ms - shortBy : ms;
    },
  };
}

/**
 * A clock whose pauses end when the run is aborted, as the system clock's do, or else only after a
 * real minute, which it notes (`ranOut`): a wait not cut short by the abort. `pausing` counts the
 * pauses under way, so a test aborts once the reloader is inside one.
 */
function abortableClock() {
  const state = { pausing: 0, ranOut: 0 };
  const clock: Clock = {
    now: () => Date.now(),
    sleep: (_ms, signal) =>
      new Promise((resolve, reject) => {
        if (signal?.aborted) return reject(abortError(signal));
        state.pausing += 1;
        const timer = setTimeout(() => {
          state.pausing -= 1;
          state.ranOut += 1;
          resolve();
        }, 60_000);
        signal?.addEventListener(
          "abort",
          () => {
            clearTimeout(timer);
            state.pausing -= 1;
            reject(abortError(signal));
          },
          { once: true },
        );
      }),
  };
  return { clock, state };
}

const ctx = (): AdapterContext & { log: ReturnType<typeof memoryLogger> } => ({
  environment: "integration",
  runId: "20261128T041153Z-1a2b3c4d",
  log: memoryLogger(),
});

describe("kubernetes-rollout reloader", () => {
  it("restarts like kubectl rollout restart and waits until the rollout is complete", async () => {
    kube.addDeployment("monitoring", "exporter", 2);
    const reloader = createKubernetesRolloutReloader({
      namespace: "monitoring",
      name: "exporter",
      kubeconfig,
      timeoutMs: 10_000,
      intervalMs: 50,
    });
    assert.equal(reloader.description, "kubernetes-rollout deployment monitoring/exporter");
    const before = rollouts.length;
    const c = ctx();
    await reloader.run(c);
    assert.deepEqual(rollouts.slice(before), ["monitoring/exporter"]);
    const dep = kube.deployment("monitoring", "exporter") as {
      metadata: { generation: number };
      spec: { template: { metadata: { annotations: Record<string, string> } } };
      status: { observedGeneration: number; updatedReplicas: number; availableReplicas: number };
    };
    assert.match(
      dep.spec.template.metadata.annotations[RESTARTED_AT] ?? "",
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
    );
    assert.equal(dep.metadata.generation, 2);
    assert.deepEqual(
      [dep.status.observedGeneration, dep.status.updatedReplicas, dep.status.availableReplicas],
      [2, 2, 2],
    );
    const patch = kube.requests.find((r) => r.method === "PATCH" && r.path.includes("/deployments/exporter"));
    assert.match(patch?.contentType ?? "", /^application\/strategic-merge-patch\+json/);
    assert.ok(c.log.lines.some((l) => l.message.includes("rolled out")));
  });

  /**
   * Two restarts of a new deployment `name`, each run's clock starting at the same whole second (so
   * both would write the same restartedAt), its pauses `shortBy` ms short: what they left.
   */
  async function twoRestartsInOneSecond(name: string, shortBy: number) {
    kube.addDeployment("monitoring", name);
    const second = Date.UTC(2026, 0, 1, 12, 0, 0);
    const run = () =>
      createKubernetesRolloutReloader(
        { namespace: "monitoring", name, kubeconfig, timeoutMs: 10_000, intervalMs: 50 },
        { clock: pausedClock(second, shortBy) },
      ).run(ctx());
    const before = rollouts.length;
    await run();
    await run();
    const dep = kube.deployment("monitoring", name) as {
      metadata: { generation: number };
      status: { observedGeneration: number };
      spec: { template: { metadata: { annotations: Record<string, string> } } };
    };
    return {
      rollouts: rollouts.length - before,
      generation: dep.metadata.generation,
      observedGeneration: dep.status.observedGeneration,
      restartedAt: dep.spec.template.metadata.annotations[RESTARTED_AT],
    };
  }
  const rolledTwice = {
    rollouts: 2,
    generation: 3,
    observedGeneration: 3,
    restartedAt: "2026-01-01T12:00:01Z",
  };

  it("a second restart within the same second still rolls out (kubectl's annotation has whole seconds)", async () => {
    assert.deepEqual(await twoRestartsInOneSecond("twice", 0), rolledTwice);
  });

  it("a second restart still rolls out when the timer ends before the wall clock's second does", async () => {
    // Each pause ends 1 ms short of what was asked (a timer can fire before the wall clock reaches
    // its end): the first wait for the next second ends at .999, still the second whose
    // restartedAt the deployment already has.
    assert.deepEqual(await twoRestartsInOneSecond("early", 1), rolledTwice);
  });

  it("says so when a restart cannot change the pod template, rather than wait on the old rollout", async () => {
    kube.addDeployment("monitoring", "stuck");
    // A clock that never moves: every restart writes the same whole second.
    const frozen: Clock = {
      now: () => Date.UTC(2026, 0, 1, 12, 0, 0),
      sleep: (ms, signal) => systemClock.sleep(Math.min(ms, 20), signal),
    };
    const reloader = createKubernetesRolloutReloader(
      { namespace: "monitoring", name: "stuck", kubeconfig, timeoutMs: 10_000, intervalMs: 50 },
      { clock: frozen },
    );
    await reloader.run(ctx());
    const before = rollouts.length;
    await assert.rejects(
      reloader.run(ctx()),
      /restarting deployment monitoring\/stuck did not change its pod template \(kubectl\.kubernetes\.io\/restartedAt stayed 2026-01-01T12:00:00Z\)/,
    );
    assert.equal(rollouts.length, before, "no rollout");
  });

  it("refuses a paused deployment without touching it", async () => {
    kube.addDeployment("monitoring", "paused", 1, { paused: true });
    const reloader = createKubernetesRolloutReloader({
      namespace: "monitoring",
      name: "paused",
      kubeconfig,
      timeoutMs: 5_000,
    });
    await assert.rejects(reloader.run(ctx()), /paused; resume it \(kubectl rollout resume\)/);
    assert.equal(
      (kube.deployment("monitoring", "paused") as { metadata: { generation: number } }).metadata.generation,
      1,
    );
  });

  it("says so when the rollout exceeds its progress deadline", async () => {
    kube.addDeployment("monitoring", "crashing");
    failRollout = true;
    try {
      const reloader = createKubernetesRolloutReloader({
        namespace: "monitoring",
        name: "crashing",
        kubeconfig,
        timeoutMs: 10_000,
        intervalMs: 50,
      });
      await assert.rejects(
        reloader.run(ctx()),
        /exceeded its progress deadline; see kubectl -n monitoring describe/,
      );
    } finally {
      failRollout = false;
    }
  });

  it("times out with what it was waiting for", async () => {
    kube.addDeployment("monitoring", "stuck");
    kube.pause("deployments");
    try {
      const reloader = createKubernetesRolloutReloader({
        namespace: "monitoring",
        name: "stuck",
        kubeconfig,
        timeoutMs: 400,
        intervalMs: 50,
      });
      await assert.rejects(
        reloader.run(ctx()),
        /did not finish rolling out within 400ms \(waiting for the spec update to be observed\)/,
      );
    } finally {
      kube.pause("deployments", false);
    }
  });

  it("an aborted run ends the wait at once, however long the timeout", async () => {
    kube.addDeployment("monitoring", "stuck-aborted");
    kube.pause("deployments");
    try {
      const { clock, state } = abortableClock();
      const reloader = createKubernetesRolloutReloader(
        {
          namespace: "monitoring",
          name: "stuck-aborted",
          kubeconfig,
          timeoutMs: 600_000,
          intervalMs: 60_000,
        },
        { clock },
      );
      const controller = new AbortController();
      const run = reloader.run({ ...ctx(), signal: controller.signal });
      await until(() => state.pausing > 0, "the reloader to pause between looks");
      controller.abort(new Error("interrupted by SIGINT"));
      await assert.rejects(run, /^Error: interrupted by SIGINT$/);
      assert.equal(state.ranOut, 0, "the pause was cut short by the abort");
    } finally {
      kube.pause("deployments", false);
    }
  });

  it("runs its wait on the injected clock", async () => {
    kube.addDeployment("monitoring", "stuck-clock");
    kube.pause("deployments");
    try {
      const clock = instantClock(Date.now());
      const reloader = createKubernetesRolloutReloader(
        {
          namespace: "monitoring",
          name: "stuck-clock",
          kubeconfig,
          timeoutMs: 3_600_000,
          intervalMs: 600_000,
        },
        { clock },
      );
      await assert.rejects(reloader.run(ctx()), /did not finish rolling out within 1h/);
      assert.deepEqual(clock.sleeps, [600_000, 600_000, 600_000, 600_000, 600_000, 600_000]);
    } finally {
      kube.pause("deployments", false);
    }
  });

  it("a missing deployment, bad credentials and an unknown context are one line each with the fix", async () => {
    const missing = createKubernetesRolloutReloader({
      namespace: "monitoring",
      name: "nope",
      kubeconfig,
      timeoutMs: 1_000,
    });
    await assert.rejects(
      missing.run(ctx()),
      /deployments.apps "nope" not found; check the namespace and name/,
    );

    const badConfig = join(dir, "bad-kubeconfig");
    await writeFile(
      badConfig,
      (await import("node:fs")).readFileSync(kubeconfig, "utf8").replace(KUBE_TEST_TOKEN, "wrong-token"),
    );
    const unauthorised = createKubernetesRolloutReloader({
      namespace: "monitoring",
      name: "exporter",
      kubeconfig: badConfig,
      timeoutMs: 1_000,
    });
    await assert.rejects(unauthorised.run(ctx()), (error: Error) => {
      assert.match(error.message, /refused the credentials/);
      assert.ok(!error.message.includes("wrong-token") && !error.message.includes(KUBE_TEST_TOKEN));
      return true;
    });

    const wrongContext = createKubernetesRolloutReloader({
      namespace: "monitoring",
      name: "exporter",
      kubeconfig,
      context: "production",
      timeoutMs: 1_000,
    });
    await assert.rejects(wrongContext.run(ctx()), /no context "production" \(it has integration\)/);

    // No kubeconfig anywhere and not in a pod: the client would try http://localhost:8080.
    const saved = {
      HOME: process.env.HOME,
      KUBECONFIG: process.env.KUBECONFIG,
      HOST: process.env.KUBERNETES_SERVICE_HOST,
    };
    process.env.HOME = dir;
    delete process.env.KUBECONFIG;
    delete process.env.KUBERNETES_SERVICE_HOST;
    try {
      const nowhere = createKubernetesRolloutReloader({
        namespace: "monitoring",
        name: "exporter",
        timeoutMs: 1_000,
      });
      await assert.rejects(
        nowhere.run(ctx()),
        /no Kubernetes cluster is configured .*set kubeconfig or context/,
      );
    } finally {
      process.env.HOME = saved.HOME;
      if (saved.KUBECONFIG !== undefined) process.env.KUBECONFIG = saved.KUBECONFIG;
      if (saved.HOST !== undefined) process.env.KUBERNETES_SERVICE_HOST = saved.HOST;
    }

    const unreadable = createKubernetesRolloutReloader({
      namespace: "monitoring",
      name: "exporter",
      kubeconfig: join(dir, "missing"),
      timeoutMs: 1_000,
    });
    await assert.rejects(unreadable.run(ctx()), /cannot load the kubeconfig .*missing/);
  });
});

describe("kubernetes-rollout reloader, StatefulSets and DaemonSets", () => {
  it("restarts a StatefulSet and waits until every pod is at the new revision", async () => {
    kube.addStatefulSet("monitoring", "exporter-sts", 2);
    const reloader = createKubernetesRolloutReloader({
      namespace: "monitoring",
      kind: "StatefulSet",
      name: "exporter-sts",
      kubeconfig,
      timeoutMs: 10_000,
      intervalMs: 50,
    });
    assert.equal(reloader.description, "kubernetes-rollout statefulset monitoring/exporter-sts");
    await reloader.run(ctx());
    const set = kube.statefulSet("monitoring", "exporter-sts") as {
      spec: { template: { metadata: { annotations: Record<string, string> } } };
      status: { currentRevision: string; updateRevision: string };
    };
    assert.ok(set.spec.template.metadata.annotations[RESTARTED_AT]);
    assert.equal(set.status.currentRevision, "exporter-sts-2");
  });

  it("refuses a StatefulSet with the OnDelete strategy before touching it", async () => {
    kube.addStatefulSet("monitoring", "ondelete", 1, { onDelete: true });
    const reloader = createKubernetesRolloutReloader({
      namespace: "monitoring",
      kind: "StatefulSet",
      name: "ondelete",
      kubeconfig,
      timeoutMs: 1_000,
    });
    await assert.rejects(reloader.run(ctx()), /OnDelete update strategy: a restart never rolls out/);
    assert.equal(
      (kube.statefulSet("monitoring", "ondelete") as { metadata: { generation: number } }).metadata
        .generation,
      1,
    );
  });

  it("restarts a DaemonSet and waits until every node runs an updated, available pod", async () => {
    kube.addDaemonSet("monitoring", "exporter-ds", 3);
    const reloader = createKubernetesRolloutReloader({
      namespace: "monitoring",
      kind: "DaemonSet",
      name: "exporter-ds",
      kubeconfig,
      timeoutMs: 10_000,
      intervalMs: 50,
    });
    await reloader.run(ctx());
    const set = kube.daemonSet("monitoring", "exporter-ds") as { status: { updatedNumberScheduled: number } };
    assert.equal(set.status.updatedNumberScheduled, 3);
  });
});

describe("external-secret reloader", () => {
  it("annotates force-sync with a merge patch and waits until the operator has synced", async () => {
    kube.addExternalSecret("monitoring", "govuk-fastly-api");
    const reloader = createExternalSecretReloader({
      namespace: "monitoring",
      name: "govuk-fastly-api",
      kubeconfig,
      timeoutMs: 10_000,
      intervalMs: 50,
    });
    assert.equal(reloader.description, "external-secret monitoring/govuk-fastly-api");
    const before = syncs.length;
    await reloader.run(ctx());
    assert.deepEqual(syncs.slice(before), ["monitoring/govuk-fastly-api"]);
    const es = kube.externalSecret("monitoring", "govuk-fastly-api") as {
      metadata: { annotations: Record<string, string> };
      status: { conditions: { type: string; status: string }[] };
    };
    assert.match(es.metadata.annotations["force-sync"] ?? "", /^\d{13}$/);
    assert.equal(es.status.conditions[0]?.status, "True");
    const patch = kube.requests.find((r) => r.method === "PATCH" && r.path.includes("/externalsecrets/"));
    assert.match(patch?.contentType ?? "", /^application\/merge-patch\+json/);

    // Again: a second force-sync is a new annotation value, so the operator syncs again.
    await reloader.run(ctx());
    assert.equal(syncs.length, before + 2);
  });

  it("fails with the operator's reason when the sync fails", async () => {
    kube.addExternalSecret("monitoring", "broken");
    failSync = true;
    try {
      const reloader = createExternalSecretReloader({
        namespace: "monitoring",
        name: "broken",
        kubeconfig,
        timeoutMs: 10_000,
        intervalMs: 50,
      });
      await assert.rejects(
        reloader.run(ctx()),
        /failed to sync: SecretSyncedError: could not get secret data from provider: AccessDeniedException/,
      );
    } finally {
      failSync = false;
    }
  });

  it("an ExternalSecret failing before and after says why when it times out", async () => {
    kube.addExternalSecret("monitoring", "still-broken", {}, "AccessDeniedException");
    failSync = true;
    try {
      const reloader = createExternalSecretReloader({
        namespace: "monitoring",
        name: "still-broken",
        kubeconfig,
        timeoutMs: 500,
        intervalMs: 50,
      });
      await assert.rejects(
        reloader.run(ctx()),
        /did not sync within 500ms \(Ready=False \(SecretSyncedError: could not get secret data from provider: AccessDeniedException\)/,
      );
    } finally {
      failSync = false;
    }
  });

  it("does not depend on the cluster's clock agreeing with this machine's", async () => {
    const skewed = await startKubernetesApi({ controllerDelayMs: 30, clusterClockSkewMs: -3_600_000 });
    try {
      skewed.addExternalSecret("monitoring", "skewed");
      const config = await skewed.writeKubeconfig(join(dir, "skewed-kubeconfig"), "skewed");
      const reloader = createExternalSecretReloader({
        namespace: "monitoring",
        name: "skewed",
        kubeconfig: config,
        timeoutMs: 5_000,
        intervalMs: 50,
      });
      await reloader.run(ctx());
    } finally {
      await skewed.close();
    }
  });

  it("refuses an ExternalSecret that would never sync again, before annotating it", async () => {
    kube.addExternalSecret("monitoring", "once", { refreshPolicy: "CreatedOnce" });
    kube.addExternalSecret("monitoring", "never", { refreshInterval: "0s" });
    for (const name of ["once", "never"]) {
      const reloader = createExternalSecretReloader({
        namespace: "monitoring",
        name,
        kubeconfig,
        timeoutMs: 1_000,
      });
      await assert.rejects(
        reloader.run(ctx()),
        /cannot be force-synced: its (refreshPolicy is CreatedOnce|refreshInterval is 0)/,
      );
      const es = kube.externalSecret("monitoring", name) as { metadata: { annotations?: unknown } };
      assert.equal(es.metadata.annotations, undefined);
    }
  });

  it("times out asking whether the operator runs", async () => {
    kube.addExternalSecret("monitoring", "idle");
    kube.pause("externalsecrets");
    try {
      const reloader = createExternalSecretReloader({
        namespace: "monitoring",
        name: "idle",
        kubeconfig,
        timeoutMs: 400,
        intervalMs: 50,
      });
      await assert.rejects(
        reloader.run(ctx()),
        /did not sync within 400ms .*is the External Secrets operator running\?/,
      );
    } finally {
      kube.pause("externalsecrets", false);
    }
  });

  it("an aborted run ends the wait at once, however long the timeout", async () => {
    kube.addExternalSecret("monitoring", "idle-aborted");
    kube.pause("externalsecrets");
    try {
      const { clock, state } = abortableClock();
      const reloader = createExternalSecretReloader(
        { namespace: "monitoring", name: "idle-aborted", kubeconfig, timeoutMs: 600_000, intervalMs: 60_000 },
        { clock },
      );
      const controller = new AbortController();
      const run = reloader.run({ ...ctx(), signal: controller.signal });
      await until(() => state.pausing > 0, "the reloader to pause between looks");
      controller.abort(new Error("interrupted by SIGTERM"));
      await assert.rejects(run, /^Error: interrupted by SIGTERM$/);
      assert.equal(state.ranOut, 0, "the pause was cut short by the abort");
    } finally {
      kube.pause("externalsecrets", false);
    }
  });
});

describe("controllers slower than the reloaders' poll, and an API server shedding load", () => {
  const SLOW_MS = 2_500;
  const until = async (condition: () => boolean): Promise<void> => {
    for (let i = 0; i < 2_000 && !condition(); i += 1) await new Promise((r) => setTimeout(r, 10));
    assert.ok(condition(), "the condition came true");
  };
  const POLL_MS = 1_000;

  it("kubernetes-rollout waits through seconds-long controller steps and a 429 with Retry-After", async () => {
    kube.addDeployment("monitoring", "slow", 2);
    kube.setControllerDelay(SLOW_MS);
    try {
      const reloader = createKubernetesRolloutReloader({
        namespace: "monitoring",
        name: "slow",
        kubeconfig,
        timeoutMs: 60_000,
        intervalMs: POLL_MS,
      });
      const c = ctx();
      const run = reloader.run(c);
      await until(
        () =>
          (kube.deployment("monitoring", "slow") as { metadata: { generation: number } }).metadata
            .generation === 2,
      );
      // Two reads of the rollout refused while it goes on: the reloader waits and reads again.
      kube.throttle("GET", "deployments", 2, 1);
      await run;
      const dep = kube.deployment("monitoring", "slow") as {
        status: { observedGeneration: number; updatedReplicas: number; replicas: number };
      };
      assert.deepEqual(
        [dep.status.observedGeneration, dep.status.updatedReplicas, dep.status.replicas],
        [2, 2, 2],
      );
      const reads = kube.requests.filter((r) => r.method === "GET" && r.path.endsWith("/deployments/slow"));
      assert.equal(reads.filter((r) => r.status === 429).length, 2);
      assert.ok(reads.length >= 6, `polled ${reads.length} times`);
      // It saw the stages in between, not only the end.
      const waits = c.log.lines
        .filter((l) => l.message.startsWith("deployment monitoring/slow: "))
        .map((l) => l.message);
      assert.ok(
        waits.some((m) => m.includes("new replicas updated")),
        waits.join("\n"),
      );
      assert.ok(
        waits.some((m) => m.includes("429")),
        waits.join("\n"),
      );
    } finally {
      kube.setControllerDelay(30);
    }
  });

  it("external-secret waits for a sync slower than its poll; Ready keeps its transition time", async () => {
    kube.addExternalSecret("monitoring", "slow");
    const before = kube.externalSecret("monitoring", "slow") as {
      status: { syncedResourceVersion: string; conditions: { lastTransitionTime: string }[] };
    };
    kube.setControllerDelay(SLOW_MS);
    try {
      const reloader = createExternalSecretReloader({
        namespace: "monitoring",
        name: "slow",
        kubeconfig,
        timeoutMs: 60_000,
        intervalMs: POLL_MS,
      });
      const started = Date.now();
      const run = reloader.run(ctx());
      await until(
        () =>
          (kube.externalSecret("monitoring", "slow") as { metadata: { annotations?: object } }).metadata
            .annotations !== undefined,
      );
      kube.throttle("GET", "externalsecrets", 1, 1);
      await run;
      assert.ok(Date.now() - started >= SLOW_MS, "returned only after the operator synced");
      const after = kube.externalSecret("monitoring", "slow") as typeof before;
      // The sync it waited for is the one after its annotation...
      assert.notEqual(after.status.syncedResourceVersion, before.status.syncedResourceVersion);
      // ...and Ready stayed True, so its lastTransitionTime did not move (as the operator does).
      assert.equal(
        after.status.conditions[0]?.lastTransitionTime,
        before.status.conditions[0]?.lastTransitionTime,
      );
      const reads = kube.requests.filter(
        (r) => r.method === "GET" && r.path.endsWith("/externalsecrets/slow"),
      );
      assert.equal(reads.filter((r) => r.status === 429).length, 1);
    } finally {
      kube.setControllerDelay(30);
    }
  });

  it("a 429 outside the wait is reported with the fix, not retried blindly", async () => {
    kube.addDeployment("monitoring", "busy");
    kube.throttle("PATCH", "deployments", 1, 30);
    const reloader = createKubernetesRolloutReloader({
      namespace: "monitoring",
      name: "busy",
      kubeconfig,
      timeoutMs: 5_000,
      intervalMs: 50,
    });
    await assert.rejects(
      reloader.run(ctx()),
      /restarting deployment monitoring\/busy failed: .*429 Too Many Requests\); run again/,
    );
  });
});

describe("kubernetes-secret store", () => {
  const OLD = "X-srxc_zLpchro9ngNBVgyofN_jqQFJ2";
  const NEW = "QoU3neoxQQ6IPL8g7eRkkCjyWcwdNI7J";
  const RUN = "20261128T041153Z-1a2b3c4d";
  let n = 0;
  const setup = (values?: Record<string, string>) => {
    n += 1;
    const name = `exporter-token-${n}`;
    if (values) kube.addSecret("monitoring", name, values);
    const store = createKubernetesSecretStore({ namespace: "monitoring", name, key: "token", kubeconfig });
    return { name, store };
  };

  it("stages in a companion Secret, promotes only its key, keeps the previous value, restores; idempotent", async () => {
    const { name, store } = setup({ token: OLD, other: "keep" });
    assert.equal(store.description, `kubernetes-secret monitoring/${name}#token`);
    assert.equal(store.durableStaging, true);
    assert.equal(await store.read(), OLD);

    await store.stage(NEW, RUN);
    assert.deepEqual(
      kube.secretValues("monitoring", name),
      { token: OLD, other: "keep" },
      "untouched by stage",
    );
    assert.deepEqual(kube.secretValues("monitoring", `${name}-ftr`), { pending: NEW, "pending-run": RUN });
    assert.equal(await store.readStaged(RUN), NEW);
    assert.equal(await store.readStaged("20261128T000000Z-00000000"), undefined);

    await store.promote(RUN);
    await store.promote(RUN); // a resume repeating a promote that had finished
    assert.deepEqual(kube.secretValues("monitoring", name), { token: NEW, other: "keep" });
    assert.equal(await store.readPrevious(), OLD);
    assert.equal(await store.readStaged(RUN), undefined);

    await store.restorePrevious(RUN);
    await store.restorePrevious(RUN);
    assert.deepEqual(kube.secretValues("monitoring", name), { token: OLD, other: "keep" });
    const patches = kube.requests.filter((r) => r.method === "PATCH" && r.path.endsWith(`/secrets/${name}`));
    assert.ok(patches.every((r) => r.contentType?.startsWith("application/merge-patch+json")));
  });

  it("restorePrevious before promotion keeps the current value and drops the pending one", async () => {
    const { name, store } = setup({ token: OLD });
    await store.stage(NEW, RUN);
    await store.restorePrevious(RUN);
    assert.equal(await store.read(), OLD);
    assert.equal(await store.readStaged(RUN), undefined);
    await store.discardStaged(RUN);
    assert.deepEqual(kube.secretValues("monitoring", `${name}-ftr`), {});
  });

  it("promote refuses another run's pending value", async () => {
    const { store } = setup({ token: OLD });
    await store.stage(NEW, RUN);
    await assert.rejects(
      store.promote("20261128T050000Z-99999999"),
      /belongs to run 20261128T041153Z-1a2b3c4d/,
    );
    assert.equal(await store.read(), OLD);
  });

  it("a missing Secret is an error with the command that creates it, and nothing is written", async () => {
    const { name, store } = setup();
    await assert.rejects(store.read(), new RegExp(`kubectl -n monitoring create secret generic ${name}`));
    await assert.rejects(store.stage(NEW, RUN), /does not exist/);
    assert.equal(kube.secretValues("monitoring", `${name}-ftr`), undefined);
  });

  it("a forbidden update names the fix, leaves the value alone and never shows a token", async () => {
    const { name, store } = setup({ token: OLD });
    await store.stage(NEW, RUN);
    kube.forbid("PATCH", "secrets");
    try {
      await assert.rejects(store.promote(RUN), (error: Error) => {
        assert.match(error.message, /forbidden.*grant the permission in a Role/);
        assert.ok(!error.message.includes(OLD) && !error.message.includes(NEW));
        return true;
      });
    } finally {
      kube.forbid("PATCH", "secrets", false);
    }
    assert.equal(kube.secretValues("monitoring", name)?.token, OLD);
    await store.promote(RUN); // once allowed, the same run completes
    assert.equal(await store.read(), NEW);
  });
});

describe("kubernetes-logs verifier (for the Role check below)", () => {
  it("reads the current pods' logs of a Deployment and passes when quiet", async () => {
    const { createKubernetesLogsVerifier } = await import("../src/adapters/kubernetes-logs/index.ts");
    kube.addDeployment("monitoring", "logs-for-role", 1);
    const result = await createKubernetesLogsVerifier({
      namespace: "monitoring",
      deployment: "logs-for-role",
      failOn: ["token may be invalid"],
      quietForMs: 50,
      timeoutMs: 5_000,
      intervalMs: 20,
      kubeconfig,
    }).verify({
      ...ctx(),
      tokenId: "t",
      otherTokenIds: [],
      since: new Date(Date.now() - 60_000),
      client: {} as FastlyClient,
      ownUserAgent: "ftr/test",
    });
    assert.equal(result.ok, true, result.detail);
  });
});

// Last: every request the tests above made the adapters send is allowed by the documented Role.
describe("deploy/rbac/rotate-role.yaml", () => {
  it("allows every request the Kubernetes adapters make, and no other verb", async () => {
    const { readFile } = await import("node:fs/promises");
    const { parseAllDocuments } = await import("yaml");
    const text = await readFile(new URL("../deploy/rbac/rotate-role.yaml", import.meta.url), "utf8");
    const role = parseAllDocuments(text)
      .map(
        (d) =>
          d.toJS() as {
            kind: string;
            rules?: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
          },
      )
      .find((d) => d.kind === "Role");
    const allowed = new Set(
      (role?.rules ?? []).flatMap((r) =>
        r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${v} ${g}/${res}`))),
      ),
    );
    const verbs: Record<string, string> = {
      GET: "get",
      PATCH: "patch",
      POST: "create",
      PUT: "update",
      DELETE: "delete",
    };
    const used = new Set<string>();
    for (const { method, path } of kube.requests) {
      // /api/v1/namespaces/N/RESOURCE[/NAME] or /apis/GROUP/VERSION/namespaces/N/RESOURCE[/NAME]
      // ... and a subresource: /pods/NAME/log.
      const m = /^\/(?:api\/v1|apis\/([^/]+)\/[^/]+)\/namespaces\/[^/]+\/([^/?]+)(\/[^/?]+)?(\/[^/?]+)?/.exec(
        path,
      );
      assert.ok(m, `unexpected request path ${path}`);
      const verb = m[3] === undefined && method === "GET" ? "list" : (verbs[method] ?? method);
      used.add(`${verb} ${m[1] ?? ""}/${m[2]}${m[4] ?? ""}`);
    }
    for (const request of used) assert.ok(allowed.has(request), `the Role does not allow ${request}`);
    // Every verb the Role grants is one some adapter uses (the resources list every rollout kind).
    const usedVerbs = new Set([...used].map((u) => u.split(" ")[0]));
    for (const a of allowed)
      assert.ok(usedVerbs.has(a.split(" ")[0]), `the Role grants ${a}, which nothing uses`);
  });
});
