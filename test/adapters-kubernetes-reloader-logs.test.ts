/**
 * `kubernetes-rollout` with `restart: false` (waiting for Reloader) and the `kubernetes-logs`
 * verifier, driven through the real `@kubernetes/client-node` against the local Kubernetes API
 * server, whose Deployment controller makes ReplicaSets and pods and whose Reloader changes a
 * Deployment's pod template when a Secret it uses changes.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createKubernetesRolloutReloader, RESTARTED_AT } from "../src/adapters/kubernetes-rollout/index.ts";
import { createKubernetesLogsVerifier, escapeControl } from "../src/adapters/kubernetes-logs/index.ts";
import { FASTLY_EXPORTER_FAIL_ON } from "../src/adapters/kubernetes-logs/schema.ts";
import type { AdapterContext, VerifyContext } from "../src/adapters/types.ts";
import type { FastlyClient } from "../src/fastly/types.ts";
import { memoryLogger } from "../src/util/log.ts";
import { clearSecrets, registerSecret } from "../src/util/redact.ts";
import { KUBE_TEST_TOKEN, type RunningKubernetesApi } from "../src/sandbox/kubernetes-api-server.ts";
import { untilNextSecond } from "./helpers/wait.ts";
import { world, type World } from "./helpers/world.ts";

const NS = "monitoring";

/** Resolves once `condition` holds, looked at every 10 ms; a minute bounds a hang, and says what hung. */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!condition()) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
let w: World<"kubernetes">;
let kube: RunningKubernetesApi;
let kubeconfig: string;

before(async () => {
  w = await world({ kubernetes: { controllerDelayMs: 30, reloader: "env-vars" } });
  ({ kube, kubeconfig } = w);
});
after(() => w.close());

const ctx = (): AdapterContext & { log: ReturnType<typeof memoryLogger> } => ({
  environment: "integration",
  runId: "20261128T041153Z-1a2b3c4d",
  log: memoryLogger(),
});

const verifyCtx = (since: Date): VerifyContext => ({
  ...ctx(),
  tokenId: "new-token-id",
  otherTokenIds: ["old-token-id"],
  since,
  client: {} as FastlyClient,
  ownUserAgent: "ftr/test",
});

/** Changes a Secret's value through the API, as a secret store's promote does. */
async function setSecret(name: string, value: string): Promise<void> {
  const response = await fetch(`${kube.url}/api/v1/namespaces/${NS}/secrets/${name}`, {
    method: "PATCH",
    headers: {
      authorization: `Bearer ${KUBE_TEST_TOKEN}`,
      "content-type": "application/merge-patch+json",
    },
    body: JSON.stringify({ data: { token: Buffer.from(value).toString("base64") } }),
  });
  assert.equal(response.status, 200, await response.text());
}

interface Dep {
  metadata: { generation: number };
  spec: {
    template: {
      metadata: { annotations?: Record<string, string> };
      spec: { containers: { env?: { name: string; value: string }[] }[] };
    };
  };
  status: { observedGeneration: number; updatedReplicas: number };
}
const dep = (name: string): Dep => kube.deployment(NS, name) as unknown as Dep;

const waiting = (name: string, timeoutMs = 10_000) =>
  createKubernetesRolloutReloader({
    namespace: NS,
    name,
    kubeconfig,
    restart: false,
    timeoutMs,
    intervalMs: 50,
  });

describe("kubernetes-rollout with restart: false", () => {
  it("restarts nothing and waits for the rollout Reloader starts when the Secret changes", async () => {
    kube.addSecret(NS, "token-a", { token: "old" });
    kube.addDeployment(NS, "auto", 2, {
      secret: "token-a",
      annotations: { "reloader.stakater.com/auto": "true" },
    });
    const reloader = waiting("auto");
    assert.match(reloader.description, /waits for Reloader/);
    const c = ctx();
    await reloader.prepare!(c);
    await setSecret("token-a", "new");
    await reloader.run(c);
    const d = dep("auto");
    assert.equal(d.metadata.generation, 2, "one rollout: Reloader's");
    assert.deepEqual([d.status.observedGeneration, d.status.updatedReplicas], [2, 2]);
    assert.equal(d.spec.template.metadata.annotations?.[RESTARTED_AT], undefined, "ftr restarted nothing");
    assert.ok(d.spec.template.spec.containers[0]!.env?.some((e) => e.name === "STAKATER_TOKEN_A_SECRET"));
    assert.ok(kube.requests.every((r) => r.method === "GET" || !r.path.includes("/deployments/")));
  });

  it("counts a rollout Reloader started before the step began (noted before the secret changed)", async () => {
    kube.addSecret(NS, "token-b", { token: "old" });
    kube.addDeployment(NS, "early", 1, { annotations: { "secret.reloader.stakater.com/reload": "token-b" } });
    const reloader = waiting("early");
    const c = ctx();
    await reloader.prepare!(c);
    await setSecret("token-b", "new");
    // Reloader has changed the template and the rollout is done before the step starts.
    await until(() => {
      const d = dep("early");
      return d.status.observedGeneration === 2 && d.status.updatedReplicas === 1;
    }, "Reloader's rollout to finish");
    const writes = kube.requests.length;
    await reloader.run(c);
    assert.equal(dep("early").metadata.generation, 2);
    assert.ok(
      kube.requests.slice(writes).every((r) => r.method === "GET"),
      "ftr restarted nothing: the rollout it waited for was Reloader's",
    );
  });

  it("with Reloader's annotations strategy too", async () => {
    kube.setReloader("annotations");
    try {
      kube.addSecret(NS, "token-c", { token: "old" });
      kube.addDeployment(NS, "annotated", 1, {
        secret: "token-c",
        annotations: { "reloader.stakater.com/auto": "true" },
      });
      const reloader = waiting("annotated");
      const c = ctx();
      await reloader.prepare!(c);
      await setSecret("token-c", "new");
      await reloader.run(c);
      const from =
        dep("annotated").spec.template.metadata.annotations?.["reloader.stakater.com/last-reloaded-from"];
      assert.match(from ?? "", /"name":"token-c"/);
    } finally {
      kube.setReloader("env-vars");
    }
  });

  it("times out naming Reloader's annotations when no rollout starts; the restore after it waits for nothing", async () => {
    kube.addSecret(NS, "token-d", { token: "old" });
    kube.addDeployment(NS, "unwatched", 1, { secret: "token-d" });
    const reloader = waiting("unwatched", 300);
    const c = ctx();
    await reloader.prepare!(c);
    await setSecret("token-d", "new");
    await assert.rejects(reloader.run(c), (error: Error) => {
      assert.match(error.message, /deployment monitoring\/unwatched did not start a rollout within/);
      assert.match(error.message, /reloader\.stakater\.com\/auto: "true"/);
      assert.match(error.message, /secret\.reloader\.stakater\.com\/reload: "<the Secret's name>"/);
      assert.match(error.message, /\(it has neither\)/);
      return true;
    });
    // The rollback: the pods never restarted, so they run what the restore puts back.
    await reloader.prepare!(c);
    await setSecret("token-d", "old");
    // Without waiting: a reloader that waited would time out (300 ms) and reject here.
    await reloader.run(c);
    assert.ok(c.log.lines.some((l) => l.message.includes("nothing to wait for")));
    assert.equal(dep("unwatched").metadata.generation, 1);
  });

  it("a paused Deployment fails at once, as with a restart", async () => {
    kube.addDeployment(NS, "paused-r", 1, { paused: true });
    const reloader = waiting("paused-r");
    await reloader.prepare!(ctx());
    await assert.rejects(reloader.run(ctx()), /is paused/);
  });
});

describe("kubernetes-logs verifier", () => {
  const logs = (
    extra: { deployment?: string; selector?: string; quietForMs?: number; timeoutMs?: number } = {},
  ) =>
    createKubernetesLogsVerifier({
      namespace: NS,
      ...extra,
      failOn: [...FASTLY_EXPORTER_FAIL_ON],
      quietForMs: extra.quietForMs ?? 300,
      timeoutMs: extra.timeoutMs ?? 5_000,
      intervalMs: 50,
      kubeconfig,
    });

  it("passes once the new pods have been Ready and quiet for quietFor; old pods' lines do not count", async () => {
    kube.addDeployment(NS, "quiet", 2);
    const [old] = kube.currentPods(NS, "quiet");
    const since = new Date();
    // A restart: a new ReplicaSet, new pods.
    await fetch(`${kube.url}/apis/apps/v1/namespaces/${NS}/deployments/quiet`, {
      method: "PATCH",
      headers: {
        authorization: `Bearer ${KUBE_TEST_TOKEN}`,
        "content-type": "application/strategic-merge-patch+json",
      },
      body: JSON.stringify({
        spec: { template: { metadata: { annotations: { [RESTARTED_AT]: since.toISOString() } } } },
      }),
    });
    kube.appendLog(NS, old!.name, 'level=error msg="token may be invalid"');
    const rolledOut = (): boolean => {
      const now = kube.currentPods(NS, "quiet");
      return now.length === 2 && now.every((p) => p.ready && p.podTemplateHash !== old!.podTemplateHash);
    };
    await until(rolledOut, "the restart to roll out");
    const pods = kube.currentPods(NS, "quiet");
    assert.notEqual(pods[0]!.podTemplateHash, old!.podTemplateHash);
    for (const pod of pods)
      kube.appendLog(NS, pod.name, 'level=info component=rt service_id=abc msg="subscribed"');
    const result = await logs({ deployment: "quiet" }).verify(verifyCtx(since));
    assert.equal(result.ok, true, result.detail);
    assert.match(result.detail, /2 pods of the current ReplicaSet Ready and quiet for/);
  });

  it("waits out quietFor: an error line logged after the pods are Ready, but inside quietFor, fails it", async () => {
    kube.addDeployment(NS, "late-error", 1);
    const [pod] = kube.currentPods(NS, "late-error");
    assert.ok(pod?.ready, "the pod is Ready before the verifier starts");
    const logReads = () =>
      kube.requests.filter((r) => r.path.startsWith(`/api/v1/namespaces/${NS}/pods/${pod.name}/log`)).length;
    const before = logReads();
    // quietFor far beyond anything the test waits for: only the line can end the wait.
    const verdict = logs({ deployment: "late-error", quietForMs: 600_000, timeoutMs: 600_000 }).verify(
      verifyCtx(new Date(Date.now() - 60_000)),
    );
    // The verifier has read the (clean) log of a Ready pod: it is inside quietFor now.
    await until(() => logReads() > before, "the verifier to read the pod's log");
    kube.appendLog(
      NS,
      pod.name,
      'level=error component=rt service_id=abc status_code=403 msg="token may be invalid"',
    );
    const result = await verdict;
    assert.equal(result.ok, false, `passed before quietFor was over: ${result.detail}`);
    assert.match(result.detail, new RegExp(`pod ${pod.name} logged a line matching /`));
  });

  it("fails on an authentication error, quoting the line redacted and escaped", async () => {
    kube.addDeployment(NS, "refused", 1);
    const [pod] = kube.currentPods(NS, "refused");
    const secret = "0123456789abcdef-leaked-token";
    registerSecret(secret);
    try {
      kube.appendLog(
        NS,
        pod!.name,
        `level=error component=rt service_id=abc status_code=401 err="bad key ${secret}" msg="token may be invalid"\u001b[2J\r`,
      );
      const result = await logs({ deployment: "refused" }).verify(verifyCtx(new Date(Date.now() - 60_000)));
      assert.equal(result.ok, false);
      assert.match(
        result.detail,
        new RegExp(`pod ${pod!.name} logged a line matching /token may be invalid/`),
      );
      assert.ok(!result.detail.includes(secret), result.detail);
      assert.match(result.detail, /\[REDACTED\]/);
      assert.match(result.detail, /\\x1b\[2J\\x0d/);
      assert.ok(![...result.detail].some((c) => c.charCodeAt(0) < 0x20), "no control characters");
    } finally {
      clearSecrets();
    }
  });

  it("with a selector, reads only the pods created since the reload began", async () => {
    kube.addDeployment(NS, "selected", 1);
    const [old] = kube.currentPods(NS, "selected");
    kube.appendLog(NS, old!.name, "status_code=403 refused");
    await untilNextSecond();
    const since = new Date();
    const before = await logs({ selector: "app=selected", timeoutMs: 400, quietForMs: 100 }).verify(
      verifyCtx(since),
    );
    assert.equal(before.ok, false);
    assert.match(before.detail, /no pods selected by app=selected created since the reload began/);
    await fetch(`${kube.url}/apis/apps/v1/namespaces/${NS}/deployments/selected`, {
      method: "PATCH",
      headers: {
        authorization: `Bearer ${KUBE_TEST_TOKEN}`,
        "content-type": "application/strategic-merge-patch+json",
      },
      body: JSON.stringify({
        spec: { template: { metadata: { annotations: { [RESTARTED_AT]: since.toISOString() } } } },
      }),
    });
    const result = await logs({ selector: "app=selected", quietForMs: 200 }).verify(verifyCtx(since));
    assert.equal(result.ok, true, result.detail);
  });

  it("a refused pods/log read fails with the permission to add", async () => {
    kube.addDeployment(NS, "secretive", 1);
    kube.forbid("GET", "pods/log");
    try {
      const result = await logs({ deployment: "secretive" }).verify(verifyCtx(new Date(Date.now() - 60_000)));
      assert.equal(result.ok, false);
      assert.match(result.detail, /reading the log of pod .* failed: .*forbidden/i);
    } finally {
      kube.forbid("GET", "pods/log", false);
    }
  });

  it("escapeControl keeps printable text and escapes the rest", () => {
    assert.equal(escapeControl("a\tb\u009bc\\d é"), "a\\x09b\\x9bc\\\\d é");
  });
});
