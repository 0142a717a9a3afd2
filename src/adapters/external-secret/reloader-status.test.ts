/**
 * The `external-secret` reloader in-process against the local Kubernetes API server on port 0, on
 * the statuses an ExternalSecret can show around a force-sync besides "Ready from its last sync":
 * none yet (just created, or deleted and created again while waiting), a status without
 * conditions, another condition listed before `Ready`, and a `Ready=False` of which one field
 * changed. The clock is instant; the operator's syncs are held by the test where it matters.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { gate, hookedClock, until } from "../../../test/helpers/wait.ts";
import type { AdapterContext } from "../types.ts";
import { memoryLogger } from "../../util/log.ts";
import { startKubernetesApi, type RunningKubernetesApi } from "../../sandbox/kubernetes-api-server.ts";
import { createExternalSecretReloader } from "./index.ts";

const NS = "monitoring";
const START = Date.parse("2026-11-28T04:11:53.123Z");
let kube: RunningKubernetesApi;
let dir: string;
let kubeconfig: string;
let api: CustomObjectsApi;
/** How the operator's sync of each ExternalSecret (by name) ends: a rejection fails it. */
const syncOutcome = new Map<string, () => Promise<void>>();

before(async () => {
  kube = await startKubernetesApi({
    controllerDelayMs: 1,
    onSync: (_ns, name) => syncOutcome.get(name)?.() ?? Promise.resolve(),
  });
  dir = await mkdtemp(join(tmpdir(), "ftr-es-status-"));
  kubeconfig = await kube.writeKubeconfig(join(dir, "kubeconfig"));
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  api = kc.makeApiClient(CustomObjectsApi);
});
after(async () => {
  await kube.close();
  await rm(dir, { recursive: true, force: true });
});

const ref = (name: string) => ({
  group: "external-secrets.io",
  version: "v1",
  namespace: NS,
  plural: "externalsecrets",
  name,
});

/** Creates an ExternalSecret through the API, as `kubectl apply` or Argo CD would. */
const create = (name: string) =>
  api.createNamespacedCustomObject({
    ...ref(name),
    body: {
      apiVersion: "external-secrets.io/v1",
      kind: "ExternalSecret",
      metadata: { name, namespace: NS },
      spec: {
        refreshInterval: "1h",
        secretStoreRef: { name: "aws-secretsmanager", kind: "ClusterSecretStore" },
        target: { name, creationPolicy: "Owner" },
      },
      // A manifest exported with its status (`kubectl get -o yaml`): the API server drops it.
      status: { refreshTime: "2020-01-01T00:00:00Z", conditions: [{ type: "Ready", status: "True" }] },
    },
  });

const run = (name: string, clock: ReturnType<typeof hookedClock>, timeoutMs = 600_000) => {
  const waits: string[] = [];
  const context: AdapterContext = {
    environment: "integration",
    runId: "20261128T041153Z-1a2b3c4d",
    log: memoryLogger(),
    onWaiting: (reason: string) => waits.push(reason),
  };
  const done = createExternalSecretReloader(
    { namespace: NS, name, kubeconfig, timeoutMs, intervalMs: 1_000 },
    { clock },
  ).run(context);
  return { done, waits };
};

interface Status {
  syncedResourceVersion?: string;
  conditions?: { type: string; status: string }[];
}
const statusOf = (name: string): Status | undefined =>
  (kube.externalSecret(NS, name) as { status?: Status } | undefined)?.status;

/** Ready=False as External Secrets writes it when the provider refuses (its message has no detail). */
const FAILING = {
  type: "Ready",
  status: "False",
  reason: "SecretSyncedError",
  message: "could not get secret data from provider",
  lastTransitionTime: "2026-01-01T00:00:00Z",
};
/** The operator's `Deleted` condition, a type other than `Ready`. */
const DELETED = {
  type: "Deleted",
  status: "False",
  reason: "SecretDeleted",
  message: "Secret was deleted",
  lastTransitionTime: "2025-12-01T00:00:00Z",
};

describe("external-secret reloader: statuses around the force-sync", () => {
  it("an ExternalSecret just created, with no status yet, is waited for until the operator's first sync", async () => {
    // The operator has the new object but has not finished its first sync when the reloader reads it.
    const first = gate();
    syncOutcome.set("fresh", () => first.wait);
    await create("fresh");
    assert.equal(statusOf("fresh"), undefined, "a new object has no status, as from a real API server");
    assert.equal(
      (kube.externalSecret(NS, "fresh") as { metadata: { generation: number } }).metadata.generation,
      1,
    );
    const clock = hookedClock(START, async (n) => {
      if (n !== 2) return;
      first.open();
      await until(() => statusOf("fresh")?.syncedResourceVersion !== undefined, "the first sync");
    });
    const { done, waits } = run("fresh", clock);
    await done;
    assert.deepEqual(waits, ["no Ready condition"], "it looked once before the operator wrote a status");
    assert.equal(clock.sleeps.length, 2);
  });

  it("a status without conditions before the force-sync is no Ready condition: the sync ends the wait", async () => {
    kube.addExternalSecret(NS, "no-conditions");
    // What the operator's status patch holds before it has judged the object (Go's empty status).
    kube.writeExternalSecretStatus(NS, "no-conditions", { refreshTime: null, binding: {} });
    const clock = hookedClock(START);
    await run("no-conditions", clock).done;
    assert.equal(statusOf("no-conditions")?.conditions?.[0]?.status, "True");
  });

  it("deleted and created again while waiting (Argo CD replacing it): waits without a Ready condition, then takes its first sync", async () => {
    kube.addExternalSecret(NS, "replaced");
    const uid = (o: unknown) => (o as { metadata: { uid: string } }).metadata.uid;
    const old = uid(kube.externalSecret(NS, "replaced"));
    // The operator's syncs (the force-sync's, then the new object's) end only when the test says.
    const syncs = gate();
    syncOutcome.set("replaced", () => syncs.wait);
    const clock = hookedClock(START, async (n) => {
      if (n === 1) {
        await api.deleteNamespacedCustomObject(ref("replaced"));
        await create("replaced");
      }
      if (n === 2) {
        syncs.open();
        await until(() => statusOf("replaced")?.syncedResourceVersion !== undefined, "the new object's sync");
      }
    });
    const { done, waits } = run("replaced", clock);
    await done;
    assert.deepEqual(waits, ["no Ready condition"]);
    assert.equal(clock.sleeps.length, 2);
    // The force-sync's sync ended after its object was deleted: nothing of it was written.
    const uids = kube.history("externalsecrets", NS, "replaced").map(uid);
    const created = uid(kube.externalSecret(NS, "replaced"));
    assert.notEqual(created, old);
    assert.ok(uids.lastIndexOf(old) < uids.indexOf(created), uids.join(" "));
  });

  it("another condition listed before Ready is not taken for it: a sync ends the wait", async () => {
    kube.addExternalSecret(NS, "two-conditions");
    const [ready] = (statusOf("two-conditions")?.conditions ?? []) as object[];
    kube.writeExternalSecretStatus(NS, "two-conditions", {
      ...statusOf("two-conditions"),
      conditions: [DELETED, ready],
    });
    await run("two-conditions", hookedClock(START)).done;
    assert.deepEqual(
      statusOf("two-conditions")?.conditions?.map((c) => `${c.type}=${c.status}`),
      ["Deleted=False", "Ready=True"],
    );
  });

  it("another condition listed before a Ready=False that stays the same: no new failure, it waits to the deadline", async () => {
    kube.addExternalSecret(NS, "two-failing");
    kube.writeExternalSecretStatus(NS, "two-failing", {
      refreshTime: "2026-01-01T00:00:00Z",
      syncedResourceVersion: "1-0000000000000000",
      conditions: [DELETED, FAILING],
    });
    kube.pause("externalsecrets");
    try {
      const clock = hookedClock(START);
      const { done, waits } = run("two-failing", clock, 3_000);
      await assert.rejects(done, (error: Error) => {
        assert.equal(
          error.message,
          `externalsecret ${NS}/two-failing did not sync within 3s (Ready=False (SecretSyncedError: could not get secret data from provider), last sync 2026-01-01T00:00:00Z); is the External Secrets operator running?`,
        );
        return true;
      });
      assert.equal(waits.length, 3);
    } finally {
      kube.pause("externalsecrets", false);
    }
  });

  // Each field of a Ready=False that differs from the one before the force-sync is a new failure.
  const alone: [string, Record<string, string>, Record<string, string>][] = [
    ["status", { status: "Unknown" }, {}],
    // External Secrets gives the same message under both reasons (a Secret target, or a manifest).
    ["reason", {}, { reason: "ResourceSyncedError" }],
    ["message", {}, { message: "could not update secret" }],
    ["lastTransitionTime", {}, { lastTransitionTime: "2026-11-28T04:11:54Z" }],
  ];
  for (const [field, was, now] of alone) {
    it(`a Ready=False whose ${field} alone changed after the force-sync fails at once`, async () => {
      const name = `changed-${field.toLowerCase()}`;
      kube.addExternalSecret(NS, name);
      const status = (ready: object) => ({
        refreshTime: "2026-01-01T00:00:00Z",
        syncedResourceVersion: "1-0000000000000000",
        conditions: [ready],
      });
      kube.writeExternalSecretStatus(NS, name, status({ ...FAILING, ...was }));
      kube.pause("externalsecrets");
      try {
        const clock = hookedClock(START, (n) => {
          if (n === 1) kube.writeExternalSecretStatus(NS, name, status({ ...FAILING, ...now }));
        });
        const expected = { ...FAILING, ...now };
        await assert.rejects(run(name, clock).done, (error: Error) => {
          assert.equal(
            error.message,
            `externalsecret ${NS}/${name} failed to sync: ${expected.reason}: ${expected.message}; see kubectl -n ${NS} describe externalsecret ${name}`,
          );
          return true;
        });
        assert.equal(clock.sleeps.length, 1, "at its first look");
      } finally {
        kube.pause("externalsecrets", false);
      }
    });
  }

  it("a sync that succeeded and a later one that failed the same way, both between two looks: fails at once", async () => {
    // Failing before, with the message External Secrets' stand-in gives a refused provider.
    kube.addExternalSecret(NS, "flaps", {}, "AccessDeniedException");
    const before = statusOf("flaps")?.syncedResourceVersion;
    const writes = () => kube.history("externalsecrets", NS, "flaps").length;
    const clock = hookedClock(START, async (n) => {
      if (n !== 1) return;
      // The force-sync's sync succeeds; then another change (a label, as another tool's refresh)
      // makes the operator sync again, and the provider refuses as before.
      await until(() => statusOf("flaps")?.conditions?.[0]?.status === "True", "the successful sync");
      syncOutcome.set("flaps", () => Promise.reject(new Error("AccessDeniedException")));
      const from = writes();
      await api.patchNamespacedCustomObject(
        { ...ref("flaps"), body: { metadata: { labels: { refreshed: "yes" } } } },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      );
      await until(() => writes() > from + 1, "the failed sync");
    });
    await assert.rejects(
      run("flaps", clock).done,
      /^KubernetesError: externalsecret monitoring\/flaps failed to sync: SecretSyncedError: could not get secret data from provider: AccessDeniedException;/,
    );
    assert.notEqual(statusOf("flaps")?.syncedResourceVersion, before, "the successful sync moved it");
    assert.equal(clock.sleeps.length, 1);
  });
});
