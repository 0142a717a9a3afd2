import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type {
  V1DaemonSet,
  V1DaemonSetStatus,
  V1Deployment,
  V1DeploymentStatus,
  V1StatefulSet,
  V1StatefulSetStatus,
} from "@kubernetes/client-node";
import { instantClock, type Clock } from "./poll.ts";
import { OBSERVING, restartInNewSecond, rolloutState } from "./rollout.ts";

// Fixtures typed as the Kubernetes client's objects: they reach rolloutState without a cast.
/** A Deployment at generation 3; `replicas: null` leaves spec.replicas unset. */
const deployment = (status: V1DeploymentStatus | undefined, replicas: number | null = 2): V1Deployment => ({
  metadata: { name: "exporter", generation: 3 },
  spec: { ...(replicas === null ? {} : { replicas }), selector: {}, template: {} },
  ...(status === undefined ? {} : { status }),
});

const statefulSet = (status: Partial<V1StatefulSetStatus>, partition?: number): V1StatefulSet => ({
  metadata: { name: "set", generation: 2 },
  spec: {
    replicas: 3,
    selector: {},
    serviceName: "set",
    template: {},
    updateStrategy: {
      type: "RollingUpdate",
      ...(partition === undefined ? {} : { rollingUpdate: { partition } }),
    },
  },
  status: { replicas: 3, ...status },
});

const daemonSet = (status: Partial<V1DaemonSetStatus>): V1DaemonSet => ({
  metadata: { name: "nodes", generation: 2 },
  spec: { selector: {}, template: {}, updateStrategy: { type: "RollingUpdate", rollingUpdate: {} } },
  status: {
    currentNumberScheduled: 3,
    desiredNumberScheduled: 3,
    numberMisscheduled: 0,
    numberReady: 3,
    ...status,
  },
});

describe("rolloutState of a Deployment (kubectl rollout status's rules)", () => {
  it("waits until the controller has observed the generation", () => {
    assert.deepEqual(rolloutState("Deployment", deployment({ observedGeneration: 2 }), 3), OBSERVING);
    assert.deepEqual(rolloutState("Deployment", deployment(undefined), 3), OBSERVING);
    assert.equal(OBSERVING.waiting, "waiting for the spec update to be observed");
  });

  it("waits for new replicas updated, then old ones gone, then the new ones available", () => {
    const observed = { observedGeneration: 3 };
    assert.deepEqual(
      rolloutState("Deployment", deployment({ ...observed, updatedReplicas: 1, replicas: 3 }), 3),
      { done: false, waiting: "1 of 2 new replicas updated" },
    );
    assert.deepEqual(
      rolloutState("Deployment", deployment({ ...observed, updatedReplicas: 2, replicas: 3 }), 3),
      { done: false, waiting: "1 old replicas pending termination" },
    );
    assert.deepEqual(
      rolloutState(
        "Deployment",
        deployment({ ...observed, updatedReplicas: 2, replicas: 2, availableReplicas: 1 }),
        3,
      ),
      { done: false, waiting: "1 of 2 updated replicas available" },
    );
    assert.deepEqual(
      rolloutState(
        "Deployment",
        deployment({ ...observed, updatedReplicas: 2, replicas: 2, availableReplicas: 2 }),
        3,
      ),
      { done: true },
    );
  });

  it("fails once Progressing says the progress deadline was exceeded, and only then", () => {
    const stuck = (reason: string) =>
      rolloutState(
        "Deployment",
        deployment({ observedGeneration: 3, conditions: [{ type: "Progressing", status: "False", reason }] }),
        3,
      );
    assert.deepEqual(stuck("ProgressDeadlineExceeded"), {
      done: false,
      failed: "the rollout exceeded its progress deadline",
    });
    assert.equal(stuck("ReplicaSetUpdated").failed, undefined);
    // The reason on another condition type is not the deadline.
    const other = deployment({
      observedGeneration: 3,
      conditions: [{ type: "Available", status: "False", reason: "ProgressDeadlineExceeded" }],
    });
    assert.equal(rolloutState("Deployment", other, 3).failed, undefined);
  });

  it("takes one replica when spec.replicas is unset, and none when it is 0", () => {
    const one = { observedGeneration: 3, updatedReplicas: 1, replicas: 1, availableReplicas: 1 };
    assert.deepEqual(rolloutState("Deployment", deployment(one, null), 3), { done: true });
    assert.equal(
      rolloutState("Deployment", deployment({ observedGeneration: 3 }, null), 3).waiting,
      "0 of 1 new replicas updated",
    );
    assert.deepEqual(rolloutState("Deployment", deployment({ observedGeneration: 3 }, 0), 3), { done: true });
  });
});

describe("rolloutState of a StatefulSet (kubectl's rules, RollingUpdate)", () => {
  it("waits until the generation is observed; an observedGeneration of 0 never counts", () => {
    assert.deepEqual(rolloutState("StatefulSet", statefulSet({ observedGeneration: 1 }), 2), OBSERVING);
    assert.deepEqual(rolloutState("StatefulSet", statefulSet({}), 2), OBSERVING);
    assert.deepEqual(rolloutState("StatefulSet", statefulSet({ observedGeneration: 0 }), 0), OBSERVING);
  });

  it("waits for every pod ready, then every pod at the new revision", () => {
    assert.deepEqual(
      rolloutState("StatefulSet", statefulSet({ observedGeneration: 2, readyReplicas: 2 }), 2),
      {
        done: false,
        waiting: "2 of 3 pods ready",
      },
    );
    assert.deepEqual(
      rolloutState(
        "StatefulSet",
        statefulSet({ observedGeneration: 2, readyReplicas: 3, updatedReplicas: 1 }),
        2,
      ),
      { done: false, waiting: "1 of 3 pods updated" },
    );
    assert.deepEqual(
      rolloutState(
        "StatefulSet",
        statefulSet({ observedGeneration: 2, readyReplicas: 3, updatedReplicas: 3 }),
        2,
      ),
      { done: true },
    );
  });

  it("with a partition, waits only for the pods above it, and says so", () => {
    const ready = { observedGeneration: 2, readyReplicas: 3 };
    assert.deepEqual(rolloutState("StatefulSet", statefulSet({ ...ready, updatedReplicas: 0 }, 2), 2), {
      done: false,
      waiting: "0 of 1 pods updated (partition 2)",
    });
    assert.deepEqual(rolloutState("StatefulSet", statefulSet({ ...ready, updatedReplicas: 1 }, 2), 2), {
      done: true,
    });
    // A partition of 0 is no partition.
    assert.equal(
      rolloutState("StatefulSet", statefulSet({ ...ready, updatedReplicas: 2 }, 0), 2).waiting,
      "2 of 3 pods updated",
    );
  });
});

describe("rolloutState of a DaemonSet (kubectl's rules, RollingUpdate)", () => {
  it("waits until the generation is observed", () => {
    assert.deepEqual(rolloutState("DaemonSet", daemonSet({ observedGeneration: 1 }), 2), OBSERVING);
    assert.deepEqual(rolloutState("DaemonSet", {}, 2), OBSERVING);
  });

  it("waits for the new pod on every node (updatedNumberScheduled), then available there", () => {
    assert.deepEqual(
      rolloutState("DaemonSet", daemonSet({ observedGeneration: 2, updatedNumberScheduled: 1 }), 2),
      { done: false, waiting: "1 of 3 new pods updated" },
    );
    // numberAvailable, as kubectl reads it; numberUnavailable is not consulted.
    assert.deepEqual(
      rolloutState(
        "DaemonSet",
        daemonSet({
          observedGeneration: 2,
          updatedNumberScheduled: 3,
          numberAvailable: 2,
          numberUnavailable: 0,
        }),
        2,
      ),
      { done: false, waiting: "2 of 3 updated pods available" },
    );
    assert.deepEqual(
      rolloutState(
        "DaemonSet",
        daemonSet({ observedGeneration: 2, updatedNumberScheduled: 3, numberAvailable: 3 }),
        2,
      ),
      { done: true },
    );
  });

  it("is done at once when no node should run the pod", () => {
    assert.deepEqual(
      rolloutState("DaemonSet", daemonSet({ observedGeneration: 2, desiredNumberScheduled: 0 }), 2),
      { done: true },
    );
  });
});

describe("rolloutState of another kind", () => {
  it("waits only for the generation observed, where the resource reports one", () => {
    assert.deepEqual(rolloutState("Rollout", { status: { observedGeneration: 1 } }, 2), OBSERVING);
    assert.deepEqual(rolloutState("Rollout", { status: { observedGeneration: 2 } }, 2), { done: true });
    assert.deepEqual(rolloutState("Rollout", {}, 2), { done: true });
    // Replica counts are a Deployment's rules, not applied to other kinds.
    assert.deepEqual(
      rolloutState(
        "Rollout",
        { spec: { replicas: 3 }, status: { observedGeneration: 2, updatedReplicas: 0 } },
        2,
      ),
      { done: true },
    );
  });
});

describe("rolloutState of a workload missing fields (a manifest as Argo CD holds it)", () => {
  it("takes one replica and no partition when the spec, its update strategy or rolling update is absent", () => {
    const observed = { observedGeneration: 2 };
    assert.equal(rolloutState("Deployment", { status: observed }, 2).waiting, "0 of 1 new replicas updated");
    assert.equal(
      rolloutState("StatefulSet", { status: { ...observed, readyReplicas: 1 } }, 2).waiting,
      "0 of 1 pods updated",
    );
    for (const spec of [{ replicas: 2 }, { replicas: 2, updateStrategy: {} }]) {
      assert.equal(
        rolloutState(
          "StatefulSet",
          { spec, status: { ...observed, readyReplicas: 2, updatedReplicas: 1 } },
          2,
        ).waiting,
        "1 of 2 pods updated",
      );
    }
  });
});

describe("restartInNewSecond", () => {
  const start = Date.UTC(2026, 0, 1, 12, 0, 0, 250);

  it("restarts once when the first restart changes the workload", async () => {
    const clock = instantClock(start);
    let calls = 0;
    const result = await restartInNewSecond(
      clock,
      undefined,
      async () => ++calls,
      () => true,
    );
    assert.deepEqual([result, calls, clock.sleeps], [1, 1, []]);
  });

  it("waits out the rest of the second and restarts again when the first changed nothing", async () => {
    const clock = instantClock(start);
    const seconds: number[] = [];
    const result = await restartInNewSecond(
      clock,
      undefined,
      async () => seconds.push(Math.floor(clock.now() / 1000)),
      (n) => n > 1,
    );
    assert.deepEqual([result, clock.sleeps], [2, [750]]);
    assert.equal(seconds[1], seconds[0]! + 1, "the second restart falls in the next second");
  });

  it("waits again when a pause ends before the second does, three times at most", async () => {
    const clock = instantClock(start);
    let calls = 0;
    const stamp = () => Math.floor(clock.now() / 1000);
    const first = stamp();
    // Each pause ends 1 ms short, so the first lands on .999 of the same second.
    const early: Clock = { now: () => clock.now(), sleep: async (ms) => clock.sleep(Math.max(1, ms - 1)) };
    const changed = await restartInNewSecond(
      early,
      undefined,
      async () => {
        calls += 1;
        return stamp();
      },
      (second) => second > first,
    );
    assert.deepEqual([changed - first, calls], [1, 3]);
    // Never changing: the first restart and three more, and the last result answered.
    let tries = 0;
    const unchanged = await restartInNewSecond(
      clock,
      undefined,
      async () => ++tries,
      () => false,
    );
    assert.deepEqual([unchanged, tries], [4, 4]);
  });
});
