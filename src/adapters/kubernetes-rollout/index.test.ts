import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { V1Deployment } from "@kubernetes/client-node";
import { rolloutStatus } from "./index.ts";

const deployment = (status: NonNullable<V1Deployment["status"]>, replicas = 2): V1Deployment => ({
  metadata: { name: "exporter", generation: 3 },
  spec: { replicas, selector: {}, template: {} },
  status,
});

describe("rolloutStatus (kubectl rollout status's rules)", () => {
  it("waits for the new generation to be observed", () => {
    assert.deepEqual(rolloutStatus(deployment({ observedGeneration: 2 }), 3), {
      done: false,
      waiting: "waiting for the deployment spec update to be observed",
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
