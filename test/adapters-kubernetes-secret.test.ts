/**
 * The `kubernetes-secret` store's edges, through the real `@kubernetes/client-node` against the
 * local Kubernetes API server: the companion Secret as created (name, labels, only the keys it
 * holds), a companion created by someone else between the store's two requests, values refused or
 * absent, promote and restore when there is nothing of this run's, a crash after the switch, and
 * errors other than "not found" passed on. Each test has its own Secret.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { companionName, createKubernetesSecretStore } from "../src/adapters/kubernetes-secret/index.ts";
import type { RunningKubernetesApi } from "../src/sandbox/kubernetes-api-server.ts";
import { world, type World } from "./helpers/world.ts";

const NS = "monitoring";
const OLD = "X-srxc_zLpchro9ngNBVgyofN_jqQFJ2";
const NEW = "QoU3neoxQQ6IPL8g7eRkkCjyWcwdNI7J";
const RUN = "20261128T041153Z-1a2b3c4d";
const OTHER = "20261128T050000Z-99999999";

let w: World<"kubernetes">;
let kube: RunningKubernetesApi;
let kubeconfig: string;

before(async () => {
  w = await world({ dir: "ftr-kube-secret-", kubernetes: { controllerDelayMs: 30 } });
  ({ kube, kubeconfig } = w);
});
after(() => w.close());

let n = 0;
function setup(values?: Record<string, string>) {
  n += 1;
  const name = `token-${n}`;
  if (values) kube.addSecret(NS, name, values);
  const store = createKubernetesSecretStore({ namespace: NS, name, key: "token", kubeconfig });
  return { name, companion: `${name}-ftr`, store };
}

describe("kubernetes-secret store, edges", () => {
  it("names the companion <name>-ftr, cut to a Secret name's 253 characters", () => {
    assert.equal(companionName("exporter"), "exporter-ftr");
    const long = "a".repeat(252);
    assert.equal(companionName(long), `${long}-`);
    assert.equal(companionName(long).length, 253);
  });

  it("creates the companion labelled as this tool's, naming its Secret, holding only set keys", async () => {
    const { name, companion, store } = setup({ token: OLD });
    await store.stage(NEW, RUN);
    const created = kube.object("secrets", NS, companion) as {
      type: string;
      metadata: { labels: Record<string, string>; annotations: Record<string, string> };
      data: Record<string, string>;
    };
    assert.equal(created.type, "Opaque");
    assert.deepEqual(created.metadata.labels, { "app.kubernetes.io/managed-by": "fastly-token-rotator" });
    assert.deepEqual(created.metadata.annotations, { "fastly-token-rotator/for": name });
    assert.deepEqual(Object.keys(created.data).sort(), ["pending", "pending-run"]);
    // Discarding with no companion writes none.
    const fresh = setup({ token: OLD });
    await fresh.store.discardStaged(RUN);
    assert.equal(kube.secretValues(NS, fresh.companion), undefined);
  });

  it("a companion created by someone else between the not-found and the create is written into", async () => {
    const { companion, store } = setup({ token: OLD });
    kube.hold("POST", "secrets", "before");
    const staging = store.stage(NEW, RUN);
    await kube.held();
    kube.addSecret(NS, companion, { unrelated: "kept" });
    kube.release();
    await staging;
    assert.deepEqual(kube.secretValues(NS, companion), {
      unrelated: "kept",
      pending: NEW,
      "pending-run": RUN,
    });
    assert.equal(await store.readStaged(RUN), NEW);
  });

  it("a missing Secret is a 404 error keeping the API's answer as its cause", async () => {
    const { store } = setup();
    await assert.rejects(store.read(), (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.equal((error as { status?: number }).status, 404);
      assert.ok(error.cause instanceof Error, "the client's error is kept as the cause");
      return true;
    });
  });

  it("refuses a value with a line break before writing anything", async () => {
    const { companion, store } = setup({ token: OLD });
    for (const value of [`${NEW}\n`, `${NEW}\r`, `a\r\nb`]) {
      await assert.rejects(store.stage(value, RUN), /refusing to store a value with a line break/);
    }
    assert.equal(kube.secretValues(NS, companion), undefined);
  });

  it("an empty or absent key reads as no value; a missing companion has nothing staged or previous", async () => {
    const { store } = setup({ token: "" });
    assert.equal(await store.read(), undefined);
    assert.equal(await store.readStaged(RUN), undefined);
    assert.equal(await store.readPrevious(), undefined);
    const other = setup({ other: "x" });
    assert.equal(await other.store.read(), undefined);
  });

  it("promoting over an absent key records no previous value, and a restore then says so", async () => {
    const { name, companion, store } = setup({ other: "keep" });
    await store.stage(NEW, RUN);
    await store.promote(RUN);
    assert.deepEqual(kube.secretValues(NS, name), { other: "keep", token: NEW });
    assert.deepEqual(kube.secretValues(NS, companion), { "promoted-run": RUN });
    assert.equal(await store.readPrevious(), undefined);
    await assert.rejects(
      store.restorePrevious(RUN),
      /monitoring\/token-\d+ has no previous value to restore/,
    );
    assert.equal(await store.read(), NEW);
  });

  it("promoting over an absent key clears an earlier run's previous value", async () => {
    const { companion, store } = setup({ other: "keep" });
    kube.addSecret(NS, companion, { previous: "from-an-earlier-run" });
    await store.stage(NEW, RUN);
    await store.promote(RUN);
    assert.equal(await store.readPrevious(), undefined);
    assert.deepEqual(kube.secretValues(NS, companion), { "promoted-run": RUN });
  });

  it("a restore with no companion says there is no previous value", async () => {
    const { store } = setup({ token: OLD });
    await assert.rejects(
      store.restorePrevious(RUN),
      /monitoring\/token-\d+ has no previous value to restore/,
    );
    assert.equal(await store.read(), OLD);
  });

  it("promote with nothing staged, or after another run's promote, refuses; this run's repeats", async () => {
    const { store } = setup({ token: OLD });
    await assert.rejects(
      store.promote(RUN),
      new RegExp(`nothing staged for run ${RUN} in secret monitoring/token-\\d+$`),
    );
    await store.stage(NEW, RUN);
    await store.promote(RUN);
    await assert.rejects(store.promote(OTHER), new RegExp(`nothing staged for run ${OTHER}`));
    await store.promote(RUN);
    assert.equal(await store.read(), NEW);
  });

  it("a promote that crashed after the switch finishes without touching the Secret again", async () => {
    const { name, companion, store } = setup({ token: OLD });
    await store.stage(NEW, RUN);
    // The switch was made, the companion not yet updated (the crash): previous kept, pending left.
    kube.addSecret(NS, companion, { pending: NEW, "pending-run": RUN, previous: OLD });
    kube.addSecret(NS, name, { token: NEW });
    const before = kube.requests.length;
    await store.promote(RUN);
    const patches = kube.requests
      .slice(before)
      .filter((r) => r.method === "PATCH" && r.path.endsWith(`/secrets/${name}`));
    assert.deepEqual(patches, []);
    assert.deepEqual(kube.secretValues(NS, companion), { previous: OLD, "promoted-run": RUN });
    assert.equal(await store.readPrevious(), OLD);
  });

  it("restore after promotion drops only this run's pending value; another run's is kept", async () => {
    const { name, companion, store } = setup({ token: OLD });
    await store.stage(NEW, RUN);
    await store.promote(RUN);
    // Another run has staged since.
    await store.stage("third-value", OTHER);
    await store.restorePrevious(RUN);
    assert.equal(kube.secretValues(NS, name)?.token, OLD);
    assert.equal(await store.readStaged(OTHER), "third-value");
    // This run's pending value, after promotion elsewhere went through: restored and dropped.
    const second = setup({ token: OLD });
    await second.store.stage(NEW, RUN);
    await second.store.promote(RUN);
    kube.addSecret(NS, second.companion, { previous: OLD, pending: NEW, "pending-run": RUN });
    await second.store.restorePrevious(RUN);
    assert.equal(kube.secretValues(NS, second.name)?.token, OLD);
    assert.deepEqual(kube.secretValues(NS, second.companion), { previous: OLD });
    assert.equal(kube.secretValues(NS, companion)?.["pending-run"], OTHER);
  });

  it("restore before promotion with another run's pending value restores the previous one", async () => {
    const { name, companion, store } = setup({ token: NEW });
    kube.addSecret(NS, companion, { previous: OLD, pending: "third-value", "pending-run": OTHER });
    await store.restorePrevious(RUN);
    assert.equal(kube.secretValues(NS, name)?.token, OLD);
    assert.deepEqual(kube.secretValues(NS, companion), {
      previous: OLD,
      pending: "third-value",
      "pending-run": OTHER,
    });
  });

  it("discardStaged drops this run's pending value only", async () => {
    const { companion, store } = setup({ token: OLD });
    await store.stage(NEW, OTHER);
    await store.discardStaged(RUN);
    assert.deepEqual(kube.secretValues(NS, companion), { pending: NEW, "pending-run": OTHER });
    await store.discardStaged(OTHER);
    assert.deepEqual(kube.secretValues(NS, companion), {});
  });

  it("a refused write of the companion is passed on, not taken for a missing companion", async () => {
    const { companion, store } = setup({ token: OLD });
    await store.stage(NEW, RUN);
    kube.forbid("PATCH", "secrets");
    const before = kube.requests.length;
    try {
      await assert.rejects(store.stage(NEW, OTHER), /forbidden/);
    } finally {
      kube.forbid("PATCH", "secrets", false);
    }
    // Not taken for a missing companion: no create was tried.
    assert.deepEqual(
      kube.requests.slice(before).filter((r) => r.method === "POST"),
      [],
    );
    assert.deepEqual(kube.secretValues(NS, companion), { pending: NEW, "pending-run": RUN });
    // A refused create too.
    const fresh = setup({ token: OLD });
    kube.forbid("POST", "secrets");
    try {
      await assert.rejects(fresh.store.stage(NEW, RUN), /forbidden/);
    } finally {
      kube.forbid("POST", "secrets", false);
    }
    assert.equal(kube.secretValues(NS, fresh.companion), undefined);
    // A refused read of the companion is not "nothing staged".
    kube.forbid("GET", "secrets");
    try {
      await assert.rejects(store.readStaged(RUN), /forbidden/);
    } finally {
      kube.forbid("GET", "secrets", false);
    }
  });
});
