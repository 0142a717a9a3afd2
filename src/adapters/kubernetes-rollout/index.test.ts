import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { V1Deployment } from "@kubernetes/client-node";
import { daemonSetStatus, rolloutStatus, statefulSetStatus } from "./index.ts";

const deployment = (status: NonNullable<V1Deployment["status"]>, replicas = 2): V1Deployment => ({
  metadata: { name: "exporter", generation: 3 },
  spec: { replicas, selector: {}, template: {} },
  status,
});

describe("rolloutStatus (kubectl rollout status's rules)", () => {
  it("waits for the new generation to be observed", () => {
    assert.deepEqual(rolloutStatus(deployment({ observedGeneration: 2 }), 3), {
      done: false,
      waiting: "waiting for the spec update to be observed",
    });
  });

  it("waits for updated, then old replicas gone, then availability", () => {
    assert.equal(
      rolloutStatus(deployment({ observedGeneration: 3, updatedReplicas: 1, replicas: 3 }), 3).waiting,
      "1 of 2 new replicas updated",
    );
    assert.equal(
      rolloutStatus(deployment({ observedGeneration: 3, updatedReplicas: 2, replicas: 3 }), 3).waiting,
      "1 old replicas pending termination",
    );
    assert.equal(
      rolloutStatus(
        deployment({ observedGeneration: 3, updatedReplicas: 2, replicas: 2, availableReplicas: 1 }),
        3,
      ).waiting,
      "1 of 2 updated replicas available",
    );
    assert.deepEqual(
      rolloutStatus(
        deployment({ observedGeneration: 3, updatedReplicas: 2, replicas: 2, availableReplicas: 2 }),
        3,
      ),
      { done: true },
    );
  });

  it("fails on an exceeded progress deadline", () => {
    const state = rolloutStatus(
      deployment({
        observedGeneration: 3,
        conditions: [{ type: "Progressing", status: "False", reason: "ProgressDeadlineExceeded" }],
      }),
      3,
    );
    assert.equal(state.failed, "deployment exporter exceeded its progress deadline");
  });

  it("takes one replica when spec.replicas is unset", () => {
    const d = deployment({ observedGeneration: 3, updatedReplicas: 1, replicas: 1, availableReplicas: 1 });
    delete d.spec!.replicas;
    assert.deepEqual(rolloutStatus(d, 3), { done: true });
  });
});

describe("statefulSetStatus and daemonSetStatus (kubectl's rules)", () => {
  it("a StatefulSet waits for ready pods, then for the revision; a partition counts", () => {
    const set = (status: object, partition?: number) => ({
      metadata: { name: "s", generation: 2 },
      spec: {
        replicas: 3,
        selector: {},
        serviceName: "s",
        template: {},
        updateStrategy: { type: "RollingUpdate", ...(partition ? { rollingUpdate: { partition } } : {}) },
      },
      status: { replicas: 3, ...status },
    });
    assert.equal(
      statefulSetStatus(set({ observedGeneration: 1 }), 2).waiting,
      "waiting for the spec update to be observed",
    );
    assert.equal(
      statefulSetStatus(set({ observedGeneration: 2, readyReplicas: 2 }), 2).waiting,
      "2 of 3 pods ready",
    );
    assert.equal(
      statefulSetStatus(set({ observedGeneration: 2, readyReplicas: 3, updatedReplicas: 1 }), 2).waiting,
      "1 of 3 pods updated",
    );
    assert.deepEqual(
      statefulSetStatus(set({ observedGeneration: 2, readyReplicas: 3, updatedReplicas: 3 }), 2),
      {
        done: true,
      },
    );
    assert.equal(
      statefulSetStatus(set({ observedGeneration: 2, readyReplicas: 3, updatedReplicas: 0 }, 2), 2).waiting,
      "0 of 1 pods updated (partition 2)",
    );
    assert.deepEqual(
      statefulSetStatus(set({ observedGeneration: 2, readyReplicas: 3, updatedReplicas: 1 }, 2), 2),
      { done: true },
    );
  });

  it("a DaemonSet waits for updated, then available pods on every node", () => {
    const set = (status: object) => ({
      metadata: { name: "d", generation: 2 },
      spec: { selector: {}, template: {} },
      status: {
        currentNumberScheduled: 3,
        desiredNumberScheduled: 3,
        numberMisscheduled: 0,
        numberReady: 3,
        ...status,
      },
    });
    assert.equal(
      daemonSetStatus(set({ observedGeneration: 2, updatedNumberScheduled: 1 }), 2).waiting,
      "1 of 3 new pods updated",
    );
    assert.equal(
      daemonSetStatus(set({ observedGeneration: 2, updatedNumberScheduled: 3, numberAvailable: 2 }), 2)
        .waiting,
      "2 of 3 updated pods available",
    );
    assert.deepEqual(
      daemonSetStatus(set({ observedGeneration: 2, updatedNumberScheduled: 3, numberAvailable: 3 }), 2),
      {
        done: true,
      },
    );
  });
});
