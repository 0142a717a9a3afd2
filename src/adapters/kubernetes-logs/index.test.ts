/**
 * The `kubernetes-logs` verifier in-process, against the local Kubernetes API server on port 0 (its
 * Deployment controller making ReplicaSets and pods, a step after each change) with an instant
 * clock: which pods it reads, the `quietFor` window, `failOn` matching, the log window it asks for,
 * and what it says when it fails or times out.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hookedClock, until } from "../../../test/helpers/wait.ts";
import { after, before, describe, it } from "node:test";
import { type Clock } from "../support/poll.ts";
import type { VerifyContext } from "../types.ts";
import type { FastlyClient } from "../../fastly/types.ts";
import { memoryLogger } from "../../util/log.ts";
import {
  KUBE_TEST_TOKEN,
  startKubernetesApi,
  type RunningKubernetesApi,
} from "../../sandbox/kubernetes-api-server.ts";
import { FASTLY_EXPORTER_FAIL_ON } from "./schema.ts";
import {
  createKubernetesLogsVerifier,
  escapeControl,
  quoteLogLine,
  type KubernetesLogsOptions,
} from "./index.ts";

const NS = "monitoring";
let kube: RunningKubernetesApi;
let dir: string;
let kubeconfig: string;
/** The new pod of a rollout of these Deployments (by name) starts when this settles. */
const rolloutOutcome = new Map<string, () => Promise<void>>();

before(async () => {
  kube = await startKubernetesApi({
    controllerDelayMs: 1,
    onRollout: (_ns, name) => rolloutOutcome.get(name)?.() ?? Promise.resolve(),
  });
  dir = await mkdtemp(join(tmpdir(), "ftr-klogs-"));
  kubeconfig = await kube.writeKubeconfig(join(dir, "kubeconfig"));
});
after(async () => {
  await kube.close();
  await rm(dir, { recursive: true, force: true });
});

const verifyCtx = (since: Date, signal?: AbortSignal) => {
  const waits: string[] = [];
  const context: VerifyContext = {
    environment: "integration",
    runId: "20261128T041153Z-1a2b3c4d",
    log: memoryLogger(),
    onWaiting: (reason) => waits.push(reason),
    tokenId: "new-token-id",
    otherTokenIds: ["old-token-id"],
    since,
    client: {} as FastlyClient,
    ownUserAgent: "ftr/test",
    ...(signal ? { signal } : {}),
  };
  return { context, waits };
};

const verifier = (options: Partial<KubernetesLogsOptions>, clock: Clock) =>
  createKubernetesLogsVerifier(
    {
      namespace: NS,
      failOn: [...FASTLY_EXPORTER_FAIL_ON],
      quietForMs: 10_000,
      timeoutMs: 60_000,
      intervalMs: 1_000,
      kubeconfig,
      ...options,
    },
    { clock },
  );

/** A restart as `kubectl rollout restart` makes it: a new pod template. */
async function restart(name: string): Promise<void> {
  const response = await fetch(`${kube.url}/apis/apps/v1/namespaces/${NS}/deployments/${name}`, {
    method: "PATCH",
    headers: {
      authorization: `Bearer ${KUBE_TEST_TOKEN}`,
      "content-type": "application/strategic-merge-patch+json",
    },
    body: JSON.stringify({
      spec: {
        template: { metadata: { annotations: { "kubectl.kubernetes.io/restartedAt": String(Date.now()) } } },
      },
    }),
  });
  assert.equal(response.status, 200, await response.text());
}

const logReads = (from: number) =>
  kube.requests.slice(from).filter((r) => /^\/api\/v1\/namespaces\/[^/]+\/pods\/[^/]+\/log/.test(r.path));

const ERROR = 'level=error component=rt service_id=abc status_code=403 msg="token may be invalid"';

describe("kubernetes-logs verifier, in-process", () => {
  it("passes once every pod has been Ready for quietFor, counted in pauses of one interval", async () => {
    kube.addDeployment(NS, "quiet", 2);
    const now = Date.now();
    const clock = hookedClock(now);
    const { context, waits } = verifyCtx(new Date(now - 1_000));
    const result = await verifier({ deployment: "quiet" }, clock).verify(context);
    assert.deepEqual(result, {
      ok: true,
      detail: "2 pods of the current ReplicaSet Ready and quiet for 10s (no line matching failOn)",
    });
    assert.deepEqual(clock.sleeps, Array(10).fill(1_000), "ten pauses: quiet for 0s, 1s … 10s");
    assert.equal(waits[0], "2 pods of the current ReplicaSet Ready, quiet for 0ms of 10s");
    assert.equal(waits[9], "2 pods of the current ReplicaSet Ready, quiet for 9s of 10s");
    assert.equal(waits.length, 10);
  });

  it("pauses 2 s between looks without an interval", async () => {
    kube.addDeployment(NS, "default-interval", 1);
    const clock = hookedClock(Date.now());
    const result = await createKubernetesLogsVerifier(
      {
        namespace: NS,
        deployment: "default-interval",
        failOn: [...FASTLY_EXPORTER_FAIL_ON],
        quietForMs: 10_000,
        timeoutMs: 60_000,
        kubeconfig,
      },
      { clock },
    ).verify(verifyCtx(new Date()).context);
    assert.equal(result.ok, true, result.detail);
    assert.match(result.detail, /^1 pod of the current ReplicaSet Ready/);
    assert.deepEqual(clock.sleeps, Array(5).fill(2_000));
  });

  it("a line matching failOn logged inside quietFor, after the pods were Ready, fails it", async () => {
    kube.addDeployment(NS, "late-error", 1);
    const [pod] = kube.currentPods(NS, "late-error");
    const clock = hookedClock(Date.now(), (n) => {
      if (n === 5) kube.appendLog(NS, pod!.name, ERROR);
    });
    const result = await verifier({ deployment: "late-error" }, clock).verify(verifyCtx(new Date()).context);
    assert.deepEqual(result, {
      ok: false,
      detail: `pod ${pod!.name} logged a line matching /token may be invalid/: "${ERROR}"`,
    });
    assert.equal(clock.sleeps.length, 5);
  });

  it("asks for the log since the reload began, with a minute's allowance, of each container by name", async () => {
    kube.addDeployment(NS, "window", 1);
    const [pod] = kube.currentPods(NS, "window");
    const since = Date.now();
    const from = kube.requests.length;
    const result = await verifier({ deployment: "window", quietForMs: 0 }, hookedClock(since + 5_500)).verify(
      verifyCtx(new Date(since)).context,
    );
    assert.equal(result.ok, true, result.detail);
    const [read] = logReads(from);
    const query = new URLSearchParams(read!.path.split("?")[1]);
    assert.equal(read!.path.split("?")[0], `/api/v1/namespaces/${NS}/pods/${pod!.name}/log`);
    assert.equal(query.get("sinceSeconds"), "66");
    assert.equal(query.get("container"), "window");
  });

  it("reads only the current ReplicaSet's pods, and waits while they are not Ready", async () => {
    kube.addDeployment(NS, "rolling", 1);
    const [old] = kube.currentPods(NS, "rolling");
    let started = (): void => undefined;
    const starting = new Promise<void>((resolve) => (started = resolve));
    rolloutOutcome.set("rolling", () => starting);
    await restart("rolling");
    // The new pod runs, not Ready yet; the old one logs an error (it is not read).
    await until(() => kube.currentPods(NS, "rolling")[0]?.name !== old!.name, "the new ReplicaSet's pod");
    kube.appendLog(NS, old!.name, ERROR);
    const clock = hookedClock(Date.now(), (n) => {
      if (n === 3) started();
    });
    const { context, waits } = verifyCtx(new Date(Date.now() - 1_000));
    const result = await verifier({ deployment: "rolling", timeoutMs: 600_000 }, clock).verify(context);
    assert.equal(result.ok, true, result.detail);
    assert.equal(waits[0], "0 of 1 pod of the current ReplicaSet Ready");
    assert.equal(waits.at(-1), "1 pod of the current ReplicaSet Ready, quiet for 9s of 10s");
  });

  it("pods that stop being Ready (a new rollout) start quietFor again once Ready", async () => {
    kube.addDeployment(NS, "requiet", 1);
    const [old] = kube.currentPods(NS, "requiet");
    let started = (): void => undefined;
    rolloutOutcome.set("requiet", () => new Promise<void>((resolve) => (started = resolve)));
    const clock = hookedClock(Date.now(), async (n) => {
      if (n === 3) {
        await restart("requiet");
        await until(() => kube.currentPods(NS, "requiet")[0]?.name !== old!.name, "the new pod");
      }
      if (n === 6) started();
    });
    const { context, waits } = verifyCtx(new Date(Date.now() - 1_000));
    const result = await verifier({ deployment: "requiet", timeoutMs: 600_000 }, clock).verify(context);
    assert.equal(result.ok, true, result.detail);
    assert.deepEqual(
      waits.slice(0, 3),
      [0, 1, 2].map(
        (s) => `1 pod of the current ReplicaSet Ready, quiet for ${s === 0 ? "0ms" : `${s}s`} of 10s`,
      ),
    );
    const readyAgain = waits.lastIndexOf("0 of 1 pod of the current ReplicaSet Ready") + 1;
    assert.ok(readyAgain >= 4, waits.join("; "));
    assert.deepEqual(
      waits.slice(readyAgain),
      Array.from(
        { length: 10 },
        (_, s) => `1 pod of the current ReplicaSet Ready, quiet for ${s === 0 ? "0ms" : `${s}s`} of 10s`,
      ),
      "quiet counted from Ready again",
    );
  });

  it("a container that has not started is not read; the pods not Ready time out saying so", async () => {
    kube.addDeployment(NS, "crashing", 1);
    const [old] = kube.currentPods(NS, "crashing");
    rolloutOutcome.set("crashing", () => Promise.reject(new Error("crash loop")));
    await restart("crashing");
    const crashed = () => kube.currentPods(NS, "crashing").find((p) => p.name !== old!.name);
    await until(() => {
      const pod = kube.object("pods", NS, crashed()?.name ?? "") as
        { status?: { containerStatuses?: { state?: { waiting?: unknown } }[] } } | undefined;
      return pod?.status?.containerStatuses?.[0]?.state?.waiting !== undefined;
    }, "the new pod to crash");
    kube.appendLog(NS, crashed()!.name, ERROR);
    const from = kube.requests.length;
    const result = await verifier(
      { deployment: "crashing", timeoutMs: 20_000 },
      hookedClock(Date.now()),
    ).verify(verifyCtx(new Date(Date.now() - 1_000)).context);
    assert.deepEqual(result, {
      ok: false,
      detail: `not quiet for 10s within 20s: 0 of 1 pod of the current ReplicaSet Ready; see kubectl -n ${NS} get pods`,
    });
    assert.deepEqual(logReads(from), []);
  });

  it("only the configured container is read, and a pod of several names the container", async () => {
    kube.addDeployment(NS, "sidecar", 1);
    const [old] = kube.currentPods(NS, "sidecar");
    const response = await fetch(`${kube.url}/apis/apps/v1/namespaces/${NS}/deployments/sidecar`, {
      method: "PATCH",
      headers: {
        authorization: `Bearer ${KUBE_TEST_TOKEN}`,
        "content-type": "application/strategic-merge-patch+json",
      },
      body: JSON.stringify({
        spec: { template: { spec: { containers: [{ name: "proxy", image: "envoy" }] } } },
      }),
    });
    assert.equal(response.status, 200, await response.text());
    await until(() => {
      const pods = kube.currentPods(NS, "sidecar");
      const status = (
        kube.deployment(NS, "sidecar") as { status: { replicas: number; updatedReplicas: number } }
      ).status;
      return (
        pods.length === 1 &&
        pods[0]!.ready &&
        pods[0]!.podTemplateHash !== old!.podTemplateHash &&
        status.replicas === 1 &&
        status.updatedReplicas === 1
      );
    }, "the two-container pod, alone");
    const [pod] = kube.currentPods(NS, "sidecar");
    kube.appendLog(NS, pod!.name, ERROR, "proxy");
    const clock = () => hookedClock(Date.now());
    const since = new Date(Date.now() - 1_000);
    const main = await verifier({ deployment: "sidecar", container: "sidecar" }, clock()).verify(
      verifyCtx(since).context,
    );
    assert.equal(main.ok, true, main.detail);
    const all = await verifier({ deployment: "sidecar" }, clock()).verify(verifyCtx(since).context);
    assert.deepEqual(all, {
      ok: false,
      detail: `pod ${pod!.name} (container proxy) logged a line matching /token may be invalid/: "${ERROR}"`,
    });
    // The configured container itself is read: its own error line fails it.
    kube.appendLog(NS, pod!.name, ERROR, "sidecar");
    const own = await verifier({ deployment: "sidecar", container: "sidecar" }, clock()).verify(
      verifyCtx(since).context,
    );
    assert.deepEqual(own, {
      ok: false,
      detail: `pod ${pod!.name} logged a line matching /token may be invalid/: "${ERROR}"`,
    });
  });

  it("with a selector, only the pods it selects are read, not the namespace's others", async () => {
    const since = new Date(Math.floor(Date.now() / 1000) * 1000);
    kube.addDeployment(NS, "picked", 1);
    kube.addDeployment(NS, "unpicked", 1);
    const [picked] = kube.currentPods(NS, "picked");
    const [unpicked] = kube.currentPods(NS, "unpicked");
    kube.appendLog(NS, unpicked!.name, ERROR);
    const from = kube.requests.length;
    const result = await verifier({ selector: "app=picked" }, hookedClock(Date.now())).verify(
      verifyCtx(since).context,
    );
    assert.deepEqual(result, {
      ok: true,
      detail:
        "1 pod of the selector created since the reload Ready and quiet for 10s (no line matching failOn)",
    });
    const read = new Set(logReads(from).map((r) => r.path.split("/")[6]));
    assert.deepEqual([...read], [picked!.name]);
  });

  it("reads its own Deployment's pods when another Deployment's selector overlaps it, at the same revision", async () => {
    // Both select app=overlap, both at revision 1: the ReplicaSets listed by the selector are both
    // Deployments'; only the one the Deployment owns is its current one. The other, listed first,
    // logs an error line; then the Deployment's own pod does.
    kube.addDeployment(NS, "overlap-other", 1, { labels: { app: "overlap" } });
    kube.addDeployment(NS, "overlap-main", 1, { labels: { app: "overlap" } });
    const [other] = kube.currentPods(NS, "overlap-other");
    const [main] = kube.currentPods(NS, "overlap-main");
    assert.notEqual(other!.podTemplateHash, main!.podTemplateHash);
    kube.appendLog(NS, other!.name, ERROR);
    const from = kube.requests.length;
    const result = await verifier({ deployment: "overlap-main" }, hookedClock(Date.now())).verify(
      verifyCtx(new Date(Date.now() - 1_000)).context,
    );
    assert.equal(result.ok, true, result.detail);
    assert.deepEqual([...new Set(logReads(from).map((r) => r.path.split("/")[6]))], [main!.name]);
    kube.appendLog(NS, main!.name, ERROR);
    const failed = await verifier({ deployment: "overlap-main" }, hookedClock(Date.now())).verify(
      verifyCtx(new Date(Date.now() - 1_000)).context,
    );
    assert.equal(failed.ok, false);
    assert.match(failed.detail, new RegExp(main!.name));
  });

  it("matches the first 4096 characters of a line and quotes at most 300, escaped", async () => {
    kube.addDeployment(NS, "long-lines", 1);
    const [pod] = kube.currentPods(NS, "long-lines");
    kube.appendLog(NS, pod!.name, `${"x".repeat(4_096)}token may be invalid`);
    const since = new Date(Date.now() - 1_000);
    const run = () =>
      verifier(
        { deployment: "long-lines", failOn: ["token may be invalid"] },
        hookedClock(Date.now()),
      ).verify(verifyCtx(since).context);
    const beyond = await run();
    assert.equal(beyond.ok, true, beyond.detail);
    const line = `${"y".repeat(4_076)}token may be invalid`;
    kube.appendLog(NS, pod!.name, line);
    const within = await run();
    assert.equal(within.ok, false);
    assert.equal(
      within.detail,
      `pod ${pod!.name} logged a line matching /token may be invalid/: "${"y".repeat(300)}…"`,
    );
  });

  it("with a selector, reads the pods created since the reload began (in whole seconds)", async () => {
    kube.addDeployment(NS, "selected", 1);
    const [pod] = kube.currentPods(NS, "selected");
    const created = Date.parse(
      (kube.object("pods", NS, pod!.name) as { metadata: { creationTimestamp: string } }).metadata
        .creationTimestamp,
    );
    const sameSecond = await verifier({ selector: "app=selected" }, hookedClock(Date.now())).verify(
      verifyCtx(new Date(created + 999)).context,
    );
    assert.deepEqual(sameSecond, {
      ok: true,
      detail:
        "1 pod of the selector created since the reload Ready and quiet for 10s (no line matching failOn)",
    });
    const clock = hookedClock(Date.now());
    const later = await verifier({ selector: "app=selected", timeoutMs: 5_000 }, clock).verify(
      verifyCtx(new Date(created + 1_000)).context,
    );
    assert.deepEqual(later, {
      ok: false,
      detail: `not quiet for 10s within 5s: no pods selected by app=selected created since the reload began yet; see kubectl -n ${NS} get pods -l app=selected`,
    });
    assert.deepEqual(clock.sleeps, Array(5).fill(1_000), "until the deadline");
  });

  it("a Deployment with no pods of its revision waits, and says so at the deadline", async () => {
    kube.addDeployment(NS, "empty", 0);
    const result = await verifier({ deployment: "empty", timeoutMs: 3_000 }, hookedClock(Date.now())).verify(
      verifyCtx(new Date()).context,
    );
    assert.equal(
      result.detail,
      `not quiet for 10s within 3s: no pods of the current ReplicaSet of deployment ${NS}/empty yet; see kubectl -n ${NS} get pods`,
    );
  });

  it("says why it waits while there are no pods yet, at every look", async () => {
    kube.addDeployment(NS, "none-yet", 0);
    const { context, waits } = verifyCtx(new Date());
    await verifier({ deployment: "none-yet", timeoutMs: 3_000 }, hookedClock(Date.now())).verify(context);
    assert.deepEqual(
      waits,
      Array(4).fill(`no pods of the current ReplicaSet of deployment ${NS}/none-yet yet`),
    );
  });

  it("a 429 pauses as long as Retry-After asks; other API errors fail at once, explained", async () => {
    kube.addDeployment(NS, "shed", 1);
    const clock = hookedClock(Date.now(), (n) => {
      if (n === 1) kube.throttle("GET", "pods", 1, 4);
    });
    const { context, waits } = verifyCtx(new Date());
    const result = await verifier({ deployment: "shed" }, clock).verify(context);
    assert.equal(result.ok, true, result.detail);
    assert.equal(clock.sleeps[1], 4_000);
    assert.equal(waits[1], "the API server asked to slow down (429)");

    const missing = await verifier({ deployment: "missing" }, hookedClock(Date.now())).verify(
      verifyCtx(new Date()).context,
    );
    assert.equal(missing.ok, false);
    assert.match(
      missing.detail,
      /^reading deployment monitoring\/missing failed: .*; check the namespace and name/,
    );

    kube.forbid("GET", "pods/log");
    try {
      const refused = await verifier({ deployment: "shed" }, hookedClock(Date.now())).verify(
        verifyCtx(new Date()).context,
      );
      assert.equal(refused.ok, false);
      assert.match(
        refused.detail,
        /^reading the log of pod monitoring\/shed-[^ ]+ failed: .*grant the permission/,
      );
    } finally {
      kube.forbid("GET", "pods/log", false);
    }

    kube.forbid("GET", "pods");
    try {
      const bySelector = verifier({ selector: "app=shed" }, hookedClock(Date.now()));
      assert.equal(bySelector.description, "kubernetes-logs pods app=shed in monitoring");
      const refused = await bySelector.verify(verifyCtx(new Date()).context);
      assert.equal(refused.ok, false);
      assert.match(refused.detail, /^listing pods app=shed in monitoring failed: .*grant the permission/);
    } finally {
      kube.forbid("GET", "pods", false);
    }
  });

  it("an abort ends the wait, during a pause or a request, saying it was interrupted", async () => {
    kube.addDeployment(NS, "aborted", 1);
    const controller = new AbortController();
    const clock = hookedClock(Date.now(), (n) => {
      if (n === 2) controller.abort(new Error("interrupted by SIGTERM"));
    });
    const paused = await verifier({ deployment: "aborted" }, clock).verify(
      verifyCtx(new Date(), controller.signal).context,
    );
    assert.deepEqual(paused, {
      ok: false,
      detail: `not quiet for 10s within 1m: 1 pod of the current ReplicaSet Ready, quiet for 1s of 10s (interrupted); see kubectl -n ${NS} get pods`,
    });

    const during = new AbortController();
    kube.hold("GET", "pods", "before");
    const verdict = verifier({ selector: "app=aborted" }, hookedClock(Date.now())).verify(
      verifyCtx(new Date(0), during.signal).context,
    );
    await kube.held();
    during.abort(new Error("interrupted by SIGTERM"));
    const result = await verdict;
    kube.release();
    assert.deepEqual(result, {
      ok: false,
      detail: `not quiet for 10s within 1m: no pods yet (interrupted); see kubectl -n ${NS} get pods -l app=aborted`,
    });
  });

  it("an unreadable kubeconfig fails the check, saying why", async () => {
    const result = await verifier(
      { deployment: "quiet", kubeconfig: join(dir, "missing-kubeconfig") },
      hookedClock(Date.now()),
    ).verify(verifyCtx(new Date()).context);
    assert.equal(result.ok, false);
    assert.match(result.detail, /missing-kubeconfig/);
  });
});

describe("quoting log lines", () => {
  it("escapes control characters and backslashes, keeps the rest", () => {
    assert.equal(
      escapeControl("\u0000\u001f \u007e\u007f\u009f\u00a0\\"),
      "\\x00\\x1f ~\\x7f\\x9f\u00a0\\\\",
    );
  });

  it("cuts a line longer than 300 characters", () => {
    assert.equal(quoteLogLine("z".repeat(300)), "z".repeat(300));
    assert.equal(quoteLogLine("z".repeat(301)), `${"z".repeat(300)}…`);
  });
});
