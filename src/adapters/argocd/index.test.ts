import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { rolloutState } from "../support/rollout.ts";
import { parseManifest } from "./index.ts";

// The rollout rules themselves are tested in ../support/rollout.test.ts; here, that a live manifest
// read through Argo CD reaches them as parsed.
describe("parseManifest (a live manifest read through Argo CD, judged by the rollout rules)", () => {
  it("keeps the fields the rules read", () => {
    const manifest = parseManifest({
      apiVersion: "apps/v1",
      kind: "StatefulSet",
      metadata: { name: "set", generation: 5 },
      spec: { replicas: 3, updateStrategy: { type: "RollingUpdate", rollingUpdate: { partition: 1 } } },
      status: { observedGeneration: 5, readyReplicas: 3, updatedReplicas: 1 },
    });
    assert.equal(rolloutState("StatefulSet", manifest, 5).waiting, "1 of 2 pods updated (partition 1)");
    const deployment = parseManifest({
      spec: { replicas: 2 },
      status: {
        observedGeneration: 3,
        conditions: [{ type: "Progressing", status: "False", reason: "ProgressDeadlineExceeded" }],
      },
    });
    assert.equal(
      rolloutState("Deployment", deployment, 3).failed,
      "the rollout exceeded its progress deadline",
    );
  });

  it("reads Argo Rollouts' observedGeneration, which it writes as a string", () => {
    assert.equal(
      rolloutState("Rollout", parseManifest({ status: { observedGeneration: "1" } }), 2).done,
      false,
    );
    assert.equal(
      rolloutState("Rollout", parseManifest({ status: { observedGeneration: "2" } }), 2).done,
      true,
    );
  });

  it("refuses a field of the wrong type", () => {
    assert.throws(() => parseManifest({ status: { updatedReplicas: "two" } }));
  });
});
