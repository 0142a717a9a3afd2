/**
 * The `external-secret` reloader in-process, against the local Kubernetes API server on port 0
 * (its External Secrets operator syncing a step after each change) with an instant clock: what it
 * annotates, how it polls, and which `Ready` conditions end the wait, fail it or leave it waiting.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hookedClock, until } from "../../../test/helpers/wait.ts";
import { after, before, describe, it } from "node:test";
import { instantClock } from "../support/poll.ts";
import type { AdapterContext } from "../types.ts";
import { memoryLogger } from "../../util/log.ts";
import { startKubernetesApi, type RunningKubernetesApi } from "../../sandbox/kubernetes-api-server.ts";
import { createExternalSecretReloader, FORCE_SYNC, syncBlocker } from "./index.ts";

const NS = "monitoring";
let kube: RunningKubernetesApi;
let dir: string;
let kubeconfig: string;
/** How the operator's sync of each ExternalSecret (by name) ends: a rejection fails it. */
const syncOutcome = new Map<string, () => Promise<void>>();

before(async () => {
  kube = await startKubernetesApi({
    controllerDelayMs: 1,
    onSync: (_ns, name) => syncOutcome.get(name)?.() ?? Promise.resolve(),
  });
  dir = await mkdtemp(join(tmpdir(), "ftr-es-"));
  kubeconfig = await kube.writeKubeconfig(join(dir, "kubeconfig"));
});
after(async () => {
  await kube.close();
  await rm(dir, { recursive: true, force: true });
});

const ctx = (extra: Partial<AdapterContext> = {}) => {
  const log = memoryLogger();
  const waits: string[] = [];
  return {
    log,
    waits,
    context: {
      environment: "integration",
      runId: "20261128T041153Z-1a2b3c4d",
      log,
      onWaiting: (reason: string) => waits.push(reason),
      ...extra,
    } satisfies AdapterContext,
  };
};

const START = Date.parse("2026-11-28T04:11:53.123Z");
const path = (name: string): string =>
  `/apis/external-secrets.io/v1/namespaces/${NS}/externalsecrets/${name}`;
const requestsTo = (from: number, name: string) =>
  kube.requests.slice(from).filter((r) => r.path.split("?")[0] === path(name));

interface Es {
  metadata: { annotations?: Record<string, string> };
  status: { syncedResourceVersion: string; refreshTime: string };
}

describe("external-secret reloader, in-process", () => {
  it("annotates with the start time, waits one interval first, and logs the sync's refreshTime", async () => {
    kube.addExternalSecret(NS, "ok");
    const clock = instantClock(START);
    const reloader = createExternalSecretReloader(
      { namespace: NS, name: "ok", kubeconfig, timeoutMs: 600_000, intervalMs: 1_000 },
      { clock },
    );
    const { log, context } = ctx();
    const from = kube.requests.length;
    await reloader.run(context);
    const es = kube.externalSecret(NS, "ok") as unknown as Es;
    assert.equal(es.metadata.annotations?.[FORCE_SYNC], String(START));
    assert.notEqual(es.status.syncedResourceVersion, "1-0000000000000000");
    const calls = requestsTo(from, "ok").map((r) => r.method);
    assert.deepEqual(calls.slice(0, 2), ["GET", "PATCH"]);
    assert.ok(calls.slice(2).every((m) => m === "GET") && calls.length >= 3, calls.join(" "));
    assert.ok(clock.sleeps.length >= 1, "it paused before its first look after annotating");
    assert.ok(
      clock.sleeps.every((ms) => ms === 1_000),
      `every pause one interval: ${clock.sleeps.join(",")}`,
    );
    assert.equal(clock.sleeps.length, calls.length - 2, "one pause before each look");
    const synced = log.lines.find((l) => l.message === `externalsecret ${NS}/ok synced`);
    assert.equal(synced?.level, "info");
    assert.deepEqual(synced?.fields, { environment: "integration", refreshTime: es.status.refreshTime });
    assert.deepEqual(log.lines.find((l) => l.message === `asked externalsecret ${NS}/ok to sync`)?.fields, {
      environment: "integration",
    });
  });

  it("polls every 2 s without an interval, and reads the version named by apiVersion", async () => {
    kube.addExternalSecret(NS, "default-interval");
    const clock = instantClock(START);
    await createExternalSecretReloader(
      {
        namespace: NS,
        name: "default-interval",
        kubeconfig,
        timeoutMs: 600_000,
        apiVersion: "external-secrets.io/v1",
      },
      { clock },
    ).run(ctx().context);
    assert.ok(clock.sleeps.length >= 1);
    assert.ok(
      clock.sleeps.every((ms) => ms === 2_000),
      clock.sleeps.join(","),
    );

    // A version the API server does not serve is asked for as configured (and not found).
    kube.addExternalSecret(NS, "beta");
    await assert.rejects(
      createExternalSecretReloader(
        {
          namespace: NS,
          name: "beta",
          kubeconfig,
          timeoutMs: 10_000,
          apiVersion: "external-secrets.io/v1beta1",
        },
        { clock: instantClock(START) },
      ).run(ctx().context),
      /^KubernetesError: reading externalsecret monitoring\/beta failed: .*check the namespace and name/,
    );
  });

  it("an ExternalSecret Ready from its last sync, with no new sync, times out at the deadline saying so", async () => {
    kube.addExternalSecret(NS, "stale");
    kube.pause("externalsecrets");
    try {
      const clock = instantClock(START);
      const { context, waits } = ctx();
      await assert.rejects(
        createExternalSecretReloader(
          { namespace: NS, name: "stale", kubeconfig, timeoutMs: 10_000, intervalMs: 1_000 },
          { clock },
        ).run(context),
        (error: Error) => {
          assert.equal(error.name, "KubernetesError");
          assert.equal(
            error.message,
            `externalsecret ${NS}/stale did not sync within 10s (Ready=True (SecretSynced), last sync 2026-01-01T00:00:00Z); is the External Secrets operator running?`,
          );
          return true;
        },
      );
      assert.equal(
        clock.sleeps.reduce((a, b) => a + b, 0),
        10_000,
        "it waited until the deadline, counted from the annotation",
      );
      assert.equal(clock.sleeps.length, 10);
      assert.deepEqual(
        new Set(waits),
        new Set(["Ready=True (SecretSynced), last sync 2026-01-01T00:00:00Z"]),
      );
    } finally {
      kube.pause("externalsecrets", false);
    }
  });

  it("fails at once when Ready turns False, quoting the operator's reason and message", async () => {
    kube.addExternalSecret(NS, "turns-false");
    syncOutcome.set("turns-false", () => Promise.reject(new Error("AccessDeniedException")));
    const clock = instantClock(START);
    await assert.rejects(
      createExternalSecretReloader(
        { namespace: NS, name: "turns-false", kubeconfig, timeoutMs: 600_000, intervalMs: 1_000 },
        { clock },
      ).run(ctx().context),
      (error: Error) => {
        assert.equal(error.name, "KubernetesError");
        assert.equal(
          error.message,
          `externalsecret ${NS}/turns-false failed to sync: SecretSyncedError: could not get secret data from provider: AccessDeniedException; see kubectl -n ${NS} describe externalsecret turns-false`,
        );
        return true;
      },
    );
    assert.ok(clock.sleeps.length < 600, "it did not wait for the deadline");
  });

  it("failing before with the same error is no new failure: it waits, and says why at the deadline", async () => {
    kube.addExternalSecret(NS, "still-failing", {}, "AccessDeniedException");
    syncOutcome.set("still-failing", () => Promise.reject(new Error("AccessDeniedException")));
    const synced = kube.history("externalsecrets", NS, "still-failing").length;
    // After its first look, the reloader's clock stands still until the operator has failed again.
    const clock = hookedClock(START, (n) =>
      n === 2
        ? until(() => kube.history("externalsecrets", NS, "still-failing").length > synced, "the failed sync")
        : undefined,
    );
    const { context, waits } = ctx();
    await assert.rejects(
      createExternalSecretReloader(
        { namespace: NS, name: "still-failing", kubeconfig, timeoutMs: 60_000, intervalMs: 1_000 },
        { clock },
      ).run(context),
      (error: Error) => {
        assert.match(
          error.message,
          /did not sync within 1m \(Ready=False \(SecretSyncedError: could not get secret data from provider: AccessDeniedException\), last sync 2026-01-01T00:00:00Z\)/,
        );
        return true;
      },
    );
    assert.ok(
      kube.history("externalsecrets", NS, "still-failing").length > synced,
      "the operator did try (and fail the same way)",
    );
    assert.equal(clock.sleeps.length, 60);
    assert.ok(waits.length >= 59);
  });

  it("failing before, a failure with another message fails at once", async () => {
    kube.addExternalSecret(NS, "fails-otherwise", {}, "AccessDeniedException");
    syncOutcome.set("fails-otherwise", () => Promise.reject(new Error("ResourceNotFoundException")));
    await assert.rejects(
      createExternalSecretReloader(
        { namespace: NS, name: "fails-otherwise", kubeconfig, timeoutMs: 600_000, intervalMs: 1_000 },
        { clock: instantClock(START) },
      ).run(ctx().context),
      /failed to sync: SecretSyncedError: could not get secret data from provider: ResourceNotFoundException;/,
    );
  });

  it("failing before, a successful sync ends the wait", async () => {
    kube.addExternalSecret(NS, "recovers", {}, "AccessDeniedException");
    await createExternalSecretReloader(
      { namespace: NS, name: "recovers", kubeconfig, timeoutMs: 600_000, intervalMs: 1_000 },
      { clock: instantClock(START) },
    ).run(ctx().context);
  });

  it("a 429 while waiting pauses as long as Retry-After asks, then goes on", async () => {
    kube.addExternalSecret(NS, "throttled");
    // Once annotated (the first pause), the next read is shed.
    const clock = hookedClock(START, (n) => {
      if (n === 1) kube.throttle("GET", "externalsecrets", 1, 7);
    });
    const { context, waits } = ctx();
    await createExternalSecretReloader(
      { namespace: NS, name: "throttled", kubeconfig, timeoutMs: 600_000, intervalMs: 1_000 },
      { clock },
    ).run(context);
    assert.equal(clock.sleeps[0], 1_000);
    assert.equal(clock.sleeps[1], 7_000, "the pause after the 429 is the server's Retry-After");
    assert.equal(waits[0], "the API server asked to slow down (429)");
  });

  it("another error while waiting fails at once, saying what it was reading", async () => {
    kube.addExternalSecret(NS, "forbidden");
    kube.pause("externalsecrets");
    const clock = hookedClock(START, (n) => {
      if (n === 1) kube.forbid("GET", "externalsecrets");
    });
    try {
      await assert.rejects(
        createExternalSecretReloader(
          { namespace: NS, name: "forbidden", kubeconfig, timeoutMs: 600_000, intervalMs: 1_000 },
          { clock },
        ).run(ctx().context),
        /^KubernetesError: reading externalsecret monitoring\/forbidden failed: .*grant the permission/,
      );
      assert.equal(clock.sleeps.length, 1);
    } finally {
      kube.forbid("GET", "externalsecrets", false);
      kube.pause("externalsecrets", false);
    }
  });

  it("a refused annotation fails before any wait, naming the annotation", async () => {
    kube.addExternalSecret(NS, "no-patch");
    kube.forbid("PATCH", "externalsecrets");
    const clock = instantClock(START);
    try {
      await assert.rejects(
        createExternalSecretReloader(
          { namespace: NS, name: "no-patch", kubeconfig, timeoutMs: 600_000, intervalMs: 1_000 },
          { clock },
        ).run(ctx().context),
        /^KubernetesError: annotating externalsecret monitoring\/no-patch failed: /,
      );
    } finally {
      kube.forbid("PATCH", "externalsecrets", false);
    }
    assert.deepEqual(clock.sleeps, []);
  });

  it("refuses before annotating when the ExternalSecret cannot be read", async () => {
    await assert.rejects(
      createExternalSecretReloader(
        { namespace: NS, name: "missing", kubeconfig, timeoutMs: 1_000 },
        { clock: instantClock(START) },
      ).run(ctx().context),
      /^KubernetesError: reading externalsecret monitoring\/missing failed: /,
    );
  });

  it("an abort during the wait ends it with the abort's reason", async () => {
    kube.addExternalSecret(NS, "aborted");
    kube.pause("externalsecrets");
    const controller = new AbortController();
    const clock = hookedClock(START, (n) => {
      if (n === 3) controller.abort(new Error("interrupted by SIGTERM"));
    });
    try {
      await assert.rejects(
        createExternalSecretReloader(
          { namespace: NS, name: "aborted", kubeconfig, timeoutMs: 600_000, intervalMs: 1_000 },
          { clock },
        ).run(ctx({ signal: controller.signal }).context),
        /^Error: interrupted by SIGTERM$/,
      );
    } finally {
      kube.pause("externalsecrets", false);
    }
    assert.equal(clock.sleeps.length, 2);
  });
});

describe("syncBlocker", () => {
  it("lets Periodic with an interval and OnChange through", () => {
    assert.equal(syncBlocker({}), undefined);
    for (const refreshInterval of ["1h", "10s", "0h30m", "30s0", "00m5s"]) {
      assert.equal(syncBlocker({ spec: { refreshInterval } }), undefined, refreshInterval);
    }
    assert.equal(syncBlocker({ spec: { refreshPolicy: "Periodic", refreshInterval: "1h" } }), undefined);
  });

  it("refuses a zero interval however written", () => {
    for (const refreshInterval of [" 0 ", "0", "000s", "0h"]) {
      assert.equal(
        syncBlocker({ spec: { refreshPolicy: "Periodic", refreshInterval } }),
        "its refreshInterval is 0 with the Periodic policy, so it never syncs again",
        JSON.stringify(refreshInterval),
      );
    }
    assert.equal(
      syncBlocker({ spec: { refreshPolicy: "CreatedOnce", refreshInterval: "1h" } }),
      "its refreshPolicy is CreatedOnce, so it never syncs again",
    );
  });
});
