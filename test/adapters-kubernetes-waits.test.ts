/**
 * Reloaders that must wait for someone else, against the local Kubernetes API server: an
 * ExternalSecret already Ready (from its last sync) when the force-sync is sent, with an operator
 * slower than the reloader's poll; `restart: false` with Reloader's rollout arriving after the step
 * began, and never. Each checks, before the awaited thing happens, that the reloader has looked
 * several times and is still waiting; a reloader that took the state before as done would have
 * returned.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createExternalSecretReloader } from "../src/adapters/external-secret/index.ts";
import { createKubernetesRolloutReloader, RESTARTED_AT } from "../src/adapters/kubernetes-rollout/index.ts";
import type { AdapterContext } from "../src/adapters/types.ts";
import { memoryLogger } from "../src/util/log.ts";
import { KUBE_TEST_TOKEN, type RunningKubernetesApi } from "../src/sandbox/kubernetes-api-server.ts";
import { gate } from "./helpers/wait.ts";
import { world, type World } from "./helpers/world.ts";

const NS = "monitoring";
let w: World<"kubernetes">;
let kube: RunningKubernetesApi;
let kubeconfig: string;
/** Syncs of these ExternalSecrets wait until their gate opens: an operator slower than any poll. */
const slowSyncs = new Map<string, ReturnType<typeof gate>>();

before(async () => {
  w = await world({
    kubernetes: {
      controllerDelayMs: 30,
      reloader: "env-vars",
      onSync: (_ns, name) => slowSyncs.get(name)?.wait ?? Promise.resolve(),
    },
  });
  ({ kube, kubeconfig } = w);
});
after(() => w.close());

const ctx = (): AdapterContext & { log: ReturnType<typeof memoryLogger> } => ({
  environment: "integration",
  runId: "20261128T041153Z-1a2b3c4d",
  log: memoryLogger(),
});

/** A promise's settlement, observable without awaiting it. */
function track<T>(promise: Promise<T>): { readonly settled: () => boolean; readonly promise: Promise<T> } {
  let done = false;
  const tracked = promise.finally(() => {
    done = true;
  });
  tracked.catch(() => undefined);
  return { settled: () => done, promise: tracked };
}

/** Resolves once `condition` holds, looked at every 10 ms; a minute bounds a hang and says what hung. */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!condition()) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** GETs of one object's path answered since request `from`. */
const reads = (from: number, path: string): number =>
  kube.requests.slice(from).filter((r) => r.method === "GET" && r.path.split("?")[0] === path).length;

describe("external-secret: already Ready before the force-sync, with a slow operator", () => {
  it("waits for the sync that follows its own annotation, not the Ready of the last one", async () => {
    kube.addExternalSecret(NS, "ready-slow");
    const initial = kube.externalSecret(NS, "ready-slow") as {
      status: { syncedResourceVersion: string; conditions: { type: string; status: string }[] };
    };
    assert.equal(initial.status.conditions[0]?.status, "True", "Ready from its last sync");
    const operator = gate();
    slowSyncs.set("ready-slow", operator);
    const reloader = createExternalSecretReloader({
      namespace: NS,
      name: "ready-slow",
      kubeconfig,
      timeoutMs: 120_000,
      intervalMs: 50,
    });
    const from = kube.requests.length;
    const run = track(reloader.run(ctx()));
    const path = `/apis/external-secrets.io/v1/namespaces/${NS}/externalsecrets/ready-slow`;
    const annotated = () =>
      kube.requests.slice(from).findIndex((r) => r.method === "PATCH" && r.path.split("?")[0] === path);
    // Annotated, then read again and again while the operator has not synced: still waiting.
    await until(
      () => run.settled() || (annotated() >= 0 && reads(from + annotated(), path) >= 3),
      "the reloader to read the ExternalSecret after annotating it",
    );
    assert.equal(
      run.settled(),
      false,
      "it returned before the operator synced (Ready was from the last sync)",
    );
    operator.open();
    await run.promise;
    const synced = kube.externalSecret(NS, "ready-slow") as typeof initial;
    assert.notEqual(synced.status.syncedResourceVersion, initial.status.syncedResourceVersion);
    slowSyncs.delete("ready-slow");
  });
});

describe("kubernetes-rollout with restart: false: Reloader late, and never", () => {
  /** Changes a Secret's value through the API, as a secret store's promote does. */
  async function setSecret(name: string, value: string): Promise<void> {
    const response = await fetch(`${kube.url}/api/v1/namespaces/${NS}/secrets/${name}`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${KUBE_TEST_TOKEN}`, "content-type": "application/merge-patch+json" },
      body: JSON.stringify({ data: { token: Buffer.from(value).toString("base64") } }),
    });
    assert.equal(response.status, 200, await response.text());
  }
  interface Dep {
    metadata: { generation: number };
    spec: { template: { metadata: { annotations?: Record<string, string> } } };
    status: { observedGeneration: number; updatedReplicas: number };
  }
  const dep = (name: string): Dep => kube.deployment(NS, name) as unknown as Dep;
  const waiting = (name: string, timeoutMs: number) =>
    createKubernetesRolloutReloader({
      namespace: NS,
      name,
      kubeconfig,
      restart: false,
      timeoutMs,
      intervalMs: 50,
    });

  it("waits for a rollout Reloader starts only after the step began", async () => {
    kube.addSecret(NS, "token-late", { token: "old" });
    kube.addDeployment(NS, "late", 1, {
      secret: "token-late",
      annotations: { "reloader.stakater.com/auto": "true" },
    });
    const reloader = waiting("late", 120_000);
    const c = ctx();
    await reloader.prepare!(c);
    // Reloader reacts a long controller step after the change (the rollout after it is quick again).
    kube.setControllerDelay(15_000);
    try {
      await setSecret("token-late", "new");
    } finally {
      kube.setControllerDelay(30);
    }
    const from = kube.requests.length;
    const run = track(reloader.run(c));
    const path = `/apis/apps/v1/namespaces/${NS}/deployments/late`;
    await until(() => run.settled() || reads(from, path) >= 3, "the reloader to look at the Deployment");
    if (dep("late").metadata.generation === 1) {
      assert.equal(run.settled(), false, "it returned although Reloader had not started a rollout");
    }
    await run.promise;
    const d = dep("late");
    assert.equal(d.metadata.generation, 2, "the rollout it waited for: Reloader's");
    assert.deepEqual([d.status.observedGeneration, d.status.updatedReplicas], [2, 1]);
    assert.equal(d.spec.template.metadata.annotations?.[RESTARTED_AT], undefined, "ftr restarted nothing");
  });

  it("fails when Reloader never starts a rollout, though the Deployment asks for it", async () => {
    kube.addSecret(NS, "token-never", { token: "old" });
    kube.addDeployment(NS, "never", 1, {
      secret: "token-never",
      annotations: { "reloader.stakater.com/auto": "true" },
    });
    const reloader = waiting("never", 1_000);
    const c = ctx();
    await reloader.prepare!(c);
    kube.setReloader(undefined); // Reloader is not running
    try {
      await setSecret("token-never", "new");
      await assert.rejects(reloader.run(c), (error: Error) => {
        assert.match(error.message, /deployment monitoring\/never did not start a rollout within 1s/);
        assert.match(error.message, /check that Reloader is running/);
        assert.doesNotMatch(error.message, /it has neither/);
        return true;
      });
    } finally {
      kube.setReloader("env-vars");
    }
    assert.equal(dep("never").metadata.generation, 1);
  });
});
