import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseManifest, rolloutState } from "./index.ts";

describe("rolloutState (kubectl rollout status's rules, on a manifest read through Argo CD)", () => {
  it("a Deployment: observed, updated, old replicas gone, available; a deadline fails", () => {
    const spec = { replicas: 2 };
    assert.equal(
      rolloutState("Deployment", { spec, status: { observedGeneration: 2 } }, 3).waiting,
      "waiting for the spec update to be observed",
    );
    assert.equal(
      rolloutState("Deployment", { spec, status: { observedGeneration: 3, updatedReplicas: 1 } }, 3).waiting,
      "1 of 2 new replicas updated",
    );
    assert.equal(
      rolloutState(
        "Deployment",
        { spec, status: { observedGeneration: 3, updatedReplicas: 2, replicas: 3 } },
        3,
      ).waiting,
      "1 old replicas pending termination",
    );
    assert.deepEqual(
      rolloutState(
        "Deployment",
        { spec, status: { observedGeneration: 3, updatedReplicas: 2, replicas: 2, availableReplicas: 2 } },
        3,
      ),
      { done: true },
    );
    assert.equal(
      rolloutState(
        "Deployment",
        {
          spec,
          status: {
            observedGeneration: 3,
            conditions: [{ type: "Progressing", reason: "ProgressDeadlineExceeded" }],
          },
        },
        3,
      ).failed,
      "the Deployment exceeded its progress deadline",
    );
  });

  it("a StatefulSet: every pod ready, those above the partition updated", () => {
    const spec = { replicas: 3, updateStrategy: { rollingUpdate: { partition: 1 } } };
    assert.equal(
      rolloutState("StatefulSet", { spec, status: { observedGeneration: 5, readyReplicas: 2 } }, 5).waiting,
      "2 of 3 pods ready",
    );
    assert.equal(
      rolloutState(
        "StatefulSet",
        { spec, status: { observedGeneration: 5, readyReplicas: 3, updatedReplicas: 1 } },
        5,
      ).waiting,
      "1 of 2 pods updated",
    );
    assert.deepEqual(
      rolloutState(
        "StatefulSet",
        { spec, status: { observedGeneration: 5, readyReplicas: 3, updatedReplicas: 2 } },
        5,
      ),
      { done: true },
    );
  });

  it("a DaemonSet: every node updated and available", () => {
    const status = {
      observedGeneration: 2,
      desiredNumberScheduled: 3,
      updatedNumberScheduled: 3,
      numberAvailable: 2,
    };
    assert.equal(rolloutState("DaemonSet", { status }, 2).waiting, "2 of 3 updated pods available");
    assert.deepEqual(rolloutState("DaemonSet", { status: { ...status, numberAvailable: 3 } }, 2), {
      done: true,
    });
  });

  it("another kind: the new generation observed where it reports one", () => {
    assert.equal(rolloutState("Rollout", { status: { observedGeneration: 1 } }, 2).done, false);
    assert.equal(rolloutState("Rollout", { status: { observedGeneration: 2 } }, 2).done, true);
    assert.equal(rolloutState("Rollout", {}, 2).done, true);
    // Argo Rollouts' string form, as parsed from the live manifest.
    assert.equal(
      rolloutState("Rollout", parseManifest({ status: { observedGeneration: "1" } }), 2).done,
      false,
    );
  });
});
