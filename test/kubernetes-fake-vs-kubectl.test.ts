/**
 * The Kubernetes fake (src/sandbox/kubernetes-api-server.ts) checked against an independent
 * client: Debian's `kubectl`, pointed at it with a generated kubeconfig, must see and do what it
 * would against a real API server for the verbs ftr's Kubernetes adapters stand in for (`get -o
 * json`, `annotate`, `patch --type strategic|merge|json`, `rollout restart`), and kubectl's own
 * rollout logic (`rollout status`) must reach the verdict ftr's rules reach on the same timelines:
 * complete, progressing, progress deadline exceeded, paused.
 *
 * kubectl sends a kubeconfig's credentials only over TLS, so the fake serves HTTPS here with a
 * certificate made by `openssl` (the kubeconfig skips verification). Without kubectl the file
 * skips with one line, except under CI=true, where a missing kubectl fails.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createKubernetesRolloutReloader, RESTARTED_AT } from "../src/adapters/kubernetes-rollout/index.ts";
import { rolloutState } from "../src/adapters/support/rollout.ts";
import { memoryLogger } from "../src/util/log.ts";
import { startKubernetesApi, type RunningKubernetesApi } from "../src/sandbox/kubernetes-api-server.ts";
import { untilNextSecond } from "./helpers/wait.ts";

const which = (command: string): string | undefined =>
  (process.env.PATH ?? "")
    .split(delimiter)
    .map((dir) => join(dir, command))
    .find((path) => existsSync(path));

const KUBECTL = which("kubectl");
const OPENSSL = which("openssl");
const missing = !KUBECTL ? "kubectl" : !OPENSSL ? "openssl" : undefined;
const skip =
  missing && process.env.CI !== "true"
    ? `${missing} is not installed (Debian package ${missing}); the Kubernetes fake is not checked against kubectl`
    : false;

const NS = "monitoring";

interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

describe("the Kubernetes fake agrees with kubectl", { skip }, () => {
  let kube: RunningKubernetesApi;
  let dir: string;
  let kubeconfig: string;
  /** What the next rollouts' new pod does: undefined starts it, a promise holds it, a throw crashes it. */
  let onRollout: (() => Promise<void>) | undefined;

  const kubectl = (...args: string[]): Promise<Ran> =>
    new Promise((resolve) => {
      execFile(
        KUBECTL ?? "kubectl",
        ["--kubeconfig", kubeconfig, "-n", NS, "--request-timeout=30s", ...args],
        // HOME: kubectl's discovery cache stays in the temporary directory.
        { env: { PATH: process.env.PATH ?? "", HOME: dir }, maxBuffer: 16 * 1024 * 1024 },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
          resolve({ code, stdout, stderr });
        },
      );
    });
  const ok = async (...args: string[]): Promise<string> => {
    const ran = await kubectl(...args);
    assert.equal(ran.code, 0, `kubectl ${args.join(" ")}: ${ran.stderr}`);
    return ran.stdout;
  };
  const deployment = (
    name: string,
  ): Record<string, unknown> & {
    metadata: { generation: number; resourceVersion: string; annotations?: Record<string, string> };
    spec: {
      template: {
        metadata: { annotations?: Record<string, string> };
        spec: { containers: { name: string; image?: string; env?: { name: string; value: string }[] }[] };
      };
    };
  } => {
    const found = kube.deployment(NS, name);
    assert.ok(found, `deployment ${name} exists`);
    return found as ReturnType<typeof deployment>;
  };

  before(async () => {
    if (missing)
      assert.fail(
        `${missing} is missing: CI installs it (.ci/run), so the fake must be checked against kubectl`,
      );
    dir = await mkdtemp(join(tmpdir(), "ftr-kubectl-"));
    await new Promise<void>((resolve, reject) =>
      execFile(
        OPENSSL ?? "openssl",
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"].concat([
          "-keyout",
          join(dir, "key.pem"),
          "-out",
          join(dir, "cert.pem"),
        ]),
        (error) => (error ? reject(new Error(`openssl: ${error.message}`)) : resolve()),
      ),
    );
    kube = await startKubernetesApi({
      controllerDelayMs: 300,
      tls: {
        key: await readFile(join(dir, "key.pem"), "utf8"),
        cert: await readFile(join(dir, "cert.pem"), "utf8"),
      },
      onRollout: () => onRollout?.() ?? Promise.resolve(),
    });
    kubeconfig = await kube.writeKubeconfig(join(dir, "kubeconfig"), "fake");
  });
  after(async () => {
    await kube?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("get -o json returns the object the fake holds", async () => {
    kube.addDeployment(NS, "get-me", 2);
    kube.addSecret(NS, "get-me", { token: "not-a-real-token" });
    kube.addExternalSecret(NS, "get-me");
    assert.deepEqual(
      JSON.parse(await ok("get", "deployment", "get-me", "-o", "json")),
      kube.deployment(NS, "get-me"),
    );
    const secret = JSON.parse(await ok("get", "secret", "get-me", "-o", "json")) as {
      data: { token: string };
    };
    assert.equal(Buffer.from(secret.data.token, "base64").toString(), "not-a-real-token");
    assert.deepEqual(
      JSON.parse(await ok("get", "externalsecret", "get-me", "-o", "json")),
      kube.externalSecret(NS, "get-me"),
    );
    const missingOne = await kubectl("get", "deployment", "nope", "-o", "json");
    assert.equal(missingOne.code, 1);
    assert.match(missingOne.stderr, /Error from server \(NotFound\): deployments.apps "nope" not found/);
  });

  it("pods and their logs: get -l, logs --since-time and -c, logs deployment/ picks the current pods", async () => {
    kube.addDeployment(NS, "logged", 2);
    const pods = kube.currentPods(NS, "logged");
    assert.equal(pods.length, 2);
    const listed = JSON.parse(await ok("get", "pods", "-l", "app=logged", "-o", "json")) as {
      kind: string;
      items: { metadata: { name: string; labels: Record<string, string> }; status: { phase: string } }[];
    };
    assert.equal(listed.kind, "List");
    assert.deepEqual(listed.items.map((p) => p.metadata.name).sort(), pods.map((p) => p.name).sort());
    assert.ok(listed.items.every((p) => p.metadata.labels["pod-template-hash"] === pods[0]!.podTemplateHash));
    assert.ok(listed.items.every((p) => p.status.phase === "Running"));
    const names = await ok(
      "get",
      "pods",
      "-l",
      `app=logged,pod-template-hash=${pods[0]!.podTemplateHash}`,
      "-o",
      "name",
    );
    assert.deepEqual(names.trim().split("\n").sort(), pods.map((p) => `pod/${p.name}`).sort());
    assert.equal(
      (await ok("get", "pods", "-l", "app=logged,pod-template-hash=nope", "-o", "name")).trim(),
      "",
    );
    const sets = JSON.parse(await ok("get", "replicasets", "-l", "app=logged", "-o", "json")) as {
      items: { metadata: { annotations: Record<string, string> } }[];
    };
    assert.equal(sets.items[0]?.metadata.annotations["deployment.kubernetes.io/revision"], "1");

    const pod = pods[0]!.name;
    kube.appendLog(NS, pod, "level=info msg=first");
    await untilNextSecond();
    const cut = new Date().toISOString();
    kube.appendLog(NS, pod, 'level=error msg="token may be invalid"');
    assert.equal(await ok("logs", pod), 'level=info msg=first\nlevel=error msg="token may be invalid"\n');
    assert.equal(
      await ok("logs", pod, "-c", "logged", `--since-time=${cut}`),
      'level=error msg="token may be invalid"\n',
    );
    assert.equal(await ok("logs", pod, "--tail=1"), 'level=error msg="token may be invalid"\n');
    const stamped = await ok("logs", pod, "--timestamps", "--tail=1");
    assert.match(stamped, /^\d{4}-\d\d-\d\dT[\d:.]+Z level=error/);
    const wrong = await kubectl("logs", pod, "-c", "nope");
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /container nope is not valid for pod/);
    const gone = await kubectl("logs", "nope-pod");
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /pods "nope-pod" not found/);
    // kubectl picks one of the Deployment's pods by its selector.
    const viaDeployment = await ok("logs", "deployment/logged");
    assert.ok(viaDeployment === "" || viaDeployment.startsWith("level="), viaDeployment);
  });

  it("annotate changes metadata only, and a stale --resource-version is a 409 Conflict", async () => {
    kube.addDeployment(NS, "annotated");
    const before = deployment("annotated");
    await ok("annotate", "deployment", "annotated", "team=observability");
    const after = deployment("annotated");
    assert.equal(after.metadata.annotations?.team, "observability");
    assert.equal(after.metadata.generation, before.metadata.generation, "metadata is not spec");
    assert.ok(Number(after.metadata.resourceVersion) > Number(before.metadata.resourceVersion));

    const stale = await kubectl(
      "annotate",
      "deployment",
      "annotated",
      "team=payments",
      "--overwrite",
      `--resource-version=${before.metadata.resourceVersion}`,
    );
    assert.equal(stale.code, 1);
    assert.match(stale.stderr, /Error from server \(Conflict\).*the object has been modified/);
    assert.equal(deployment("annotated").metadata.annotations?.team, "observability");
    const current = await ok(
      "annotate",
      "deployment",
      "annotated",
      "team=payments",
      "--overwrite",
      `--resource-version=${after.metadata.resourceVersion}`,
    );
    assert.match(current, /annotated/);
    assert.equal(deployment("annotated").metadata.annotations?.team, "payments");

    // The External Secrets operator syncs again on a new annotation, as ftr's force-sync relies on.
    kube.addExternalSecret(NS, "annotated");
    const synced = (kube.externalSecret(NS, "annotated") as { status: { syncedResourceVersion: string } })
      .status.syncedResourceVersion;
    await ok("annotate", "externalsecret", "annotated", `force-sync=${Date.now()}`);
    for (let i = 0; i < 100; i += 1) {
      const now = kube.externalSecret(NS, "annotated") as { status: { syncedResourceVersion: string } };
      if (now.status.syncedResourceVersion !== synced) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.notEqual(
      (kube.externalSecret(NS, "annotated") as { status: { syncedResourceVersion: string } }).status
        .syncedResourceVersion,
      synced,
    );
  });

  it("patch --type strategic merges containers and env by name; --type merge replaces the list", async () => {
    kube.addDeployment(NS, "patched");
    const env = JSON.stringify({
      spec: { template: { spec: { containers: [{ name: "patched", env: [{ name: "A", value: "1" }] }] } } },
    });
    await ok("patch", "deployment", "patched", "--type", "strategic", "-p", env);
    await ok(
      "patch",
      "deployment",
      "patched",
      "--type",
      "strategic",
      "-p",
      JSON.stringify({
        spec: { template: { spec: { containers: [{ name: "patched", env: [{ name: "B", value: "2" }] }] } } },
      }),
    );
    let containers = deployment("patched").spec.template.spec.containers;
    assert.deepEqual(containers, [
      {
        name: "patched",
        image: "fastly-exporter",
        env: [
          { name: "A", value: "1" },
          { name: "B", value: "2" },
        ],
      },
    ]);
    // $patch: delete removes one element by its merge key.
    await ok(
      "patch",
      "deployment",
      "patched",
      "--type",
      "strategic",
      "-p",
      JSON.stringify({
        spec: {
          template: { spec: { containers: [{ name: "patched", env: [{ name: "A", $patch: "delete" }] }] } },
        },
      }),
    );
    assert.deepEqual(deployment("patched").spec.template.spec.containers[0]?.env, [
      { name: "B", value: "2" },
    ]);

    await ok("patch", "deployment", "patched", "--type", "merge", "-p", env);
    containers = deployment("patched").spec.template.spec.containers;
    assert.deepEqual(
      containers,
      [{ name: "patched", env: [{ name: "A", value: "1" }] }],
      "a merge patch replaces lists",
    );

    await ok(
      "patch",
      "deployment",
      "patched",
      "--type",
      "json",
      "-p",
      JSON.stringify([
        { op: "add", path: "/spec/template/spec/containers/0/image", value: "fastly-exporter:v2" },
      ]),
    );
    assert.equal(deployment("patched").spec.template.spec.containers[0]?.image, "fastly-exporter:v2");

    // A custom resource has no strategic merge, as on a real server.
    kube.addExternalSecret(NS, "patched");
    const refused = await kubectl(
      "patch",
      "externalsecret",
      "patched",
      "--type",
      "strategic",
      "-p",
      '{"metadata":{"labels":{"a":"b"}}}',
    );
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /UnsupportedMediaType|unknown format|not supported/);
  });

  it("rollout restart sets the annotation ftr sets, as a new generation; both refuse a paused deployment", async () => {
    kube.addDeployment(NS, "restarted");
    await ok("rollout", "restart", "deployment", "restarted");
    const restarted = deployment("restarted");
    assert.equal(restarted.metadata.generation, 2);
    assert.match(
      restarted.spec.template.metadata.annotations?.[RESTARTED_AT] ?? "",
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
    );
    await ok("rollout", "status", "deployment", "restarted", "--timeout=60s");

    kube.addDeployment(NS, "paused", 1, { paused: true });
    const refused = await kubectl("rollout", "restart", "deployment", "paused");
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /can't restart paused deployment \(run rollout resume first\)/);
    const reloader = createKubernetesRolloutReloader({
      namespace: NS,
      name: "paused",
      kubeconfig,
      timeoutMs: 5_000,
    });
    await assert.rejects(reloader.run({ environment: "test", runId: "r", log: memoryLogger() }), /is paused/);
    assert.equal(deployment("paused").metadata.generation, 1, "neither touched it");
  });

  /**
   * A verdict in one comparable form: kubectl's line or ftr's state become the stage the rollout
   * is at and the counts it gives.
   */
  type Verdict = string;
  const fromKubectl = (line: string): Verdict => {
    const numbers = (line.match(/\d+/g) ?? []).join(",");
    if (/successfully rolled out/.test(line)) return "done";
    if (/exceeded its progress deadline/.test(line)) return "failed";
    if (/spec update to be observed/.test(line)) return "observing";
    if (/new replicas have been updated/.test(line)) return `updating ${numbers}`;
    if (/old replicas are pending termination/.test(line)) return `terminating ${numbers}`;
    if (/updated replicas are available/.test(line)) return `available ${numbers}`;
    return `unknown: ${line}`;
  };
  const fromFtr = (object: Record<string, unknown>, generation: number): Verdict => {
    const state = rolloutState("Deployment", object, generation);
    if (state.done) return "done";
    if (state.failed) return "failed";
    const waiting = state.waiting ?? "";
    const numbers = (waiting.match(/\d+/g) ?? []).join(",");
    if (/observed/.test(waiting)) return "observing";
    if (/new replicas updated/.test(waiting)) return `updating ${numbers}`;
    if (/old replicas pending/.test(waiting)) return `terminating ${numbers}`;
    if (/updated replicas available/.test(waiting)) return `available ${numbers}`;
    return `unknown: ${waiting}`;
  };
  const kubectlVerdicts = (ran: Ran): Verdict[] =>
    `${ran.stdout}${ran.stderr}`
      .split("\n")
      .filter((l) => /Waiting|successfully|exceeded/.test(l))
      .map(fromKubectl);
  /** ftr's verdicts on every version of the deployment since the restart produced `generation`. */
  const ftrVerdicts = (name: string, generation: number): Verdict[] =>
    kube
      .history("deployments", NS, name)
      .filter((d) => (d.metadata as { generation: number }).generation >= generation)
      .map((d) => fromFtr(d, generation));
  const generationOf = (name: string): number => deployment(name).metadata.generation;
  const waitForGeneration = async (name: string, generation: number): Promise<void> => {
    for (let i = 0; i < 600 && generationOf(name) < generation; i += 1)
      await new Promise((r) => setTimeout(r, 50));
  };

  /** kubectl watched a suffix of the versions ftr judged (it lists once, then sees every change). */
  const assertSameTimeline = (kubectlSaw: Verdict[], ftrSaw: Verdict[]): void => {
    assert.ok(kubectlSaw.length > 0, "kubectl reported something");
    assert.deepEqual(
      kubectlSaw,
      ftrSaw.slice(ftrSaw.length - kubectlSaw.length),
      `kubectl ${JSON.stringify(kubectlSaw)} vs ftr ${JSON.stringify(ftrSaw)}`,
    );
  };

  it("complete: ftr's reloader and kubectl rollout status both see the rollout through, step by step", async () => {
    kube.addDeployment(NS, "complete", 2);
    kube.setControllerDelay(700);
    try {
      const reloader = createKubernetesRolloutReloader({
        namespace: NS,
        name: "complete",
        kubeconfig,
        timeoutMs: 60_000,
        intervalMs: 250,
      });
      const log = memoryLogger();
      const ftr = reloader.run({ environment: "test", runId: "r", log });
      await waitForGeneration("complete", 2);
      const watched = await kubectl("rollout", "status", "deployment", "complete", "--timeout=60s");
      await ftr;
      assert.equal(watched.code, 0, watched.stderr);
      const kubectlSaw = kubectlVerdicts(watched);
      assert.equal(kubectlSaw.at(-1), "done");
      const ftrSaw = ftrVerdicts("complete", 2);
      assertSameTimeline(kubectlSaw, ftrSaw);
      // Every stage of kubectl's rules was passed through, so each was compared.
      assert.deepEqual(
        [...new Set(ftrSaw.map((v) => v.split(" ")[0]))],
        ["observing", "updating", "terminating", "done"],
      );
      assert.ok(log.lines.some((l) => l.message.includes("rolled out")));
    } finally {
      kube.setControllerDelay(300);
    }
  });

  it("progressing: a rollout held mid-way is still waiting for kubectl and for ftr, on the same counts", async () => {
    kube.addDeployment(NS, "progressing", 3);
    let release = (): void => {};
    onRollout = () => new Promise<void>((resolve) => (release = resolve));
    try {
      await ok("rollout", "restart", "deployment", "progressing");
      // The new ReplicaSet's first pod is starting and held there.
      for (
        let i = 0;
        i < 600 &&
        (kube.deployment(NS, "progressing") as { status: { updatedReplicas?: number } }).status
          .updatedReplicas !== 1;
        i += 1
      ) {
        await new Promise((r) => setTimeout(r, 50));
      }
      const once = await kubectl("rollout", "status", "deployment", "progressing", "--watch=false");
      assert.equal(once.code, 0, once.stderr);
      assert.deepEqual(kubectlVerdicts(once), [fromFtr(deployment("progressing"), 2)]);
      assert.deepEqual(kubectlVerdicts(once), ["updating 1,3"]);
      const timedOut = await kubectl("rollout", "status", "deployment", "progressing", "--timeout=2s");
      assert.equal(timedOut.code, 1);
      assert.match(timedOut.stderr, /timed out waiting for the condition/);
      assert.equal(kubectlVerdicts(timedOut).at(-1), fromFtr(deployment("progressing"), 2));
    } finally {
      onRollout = undefined;
      release();
    }
    await ok("rollout", "status", "deployment", "progressing", "--timeout=60s");
    assert.equal(fromFtr(deployment("progressing"), 2), "done");
  });

  it("deadline exceeded: both fail; the next rollout resets Progressing and both see it complete", async () => {
    kube.addDeployment(NS, "stuck");
    onRollout = () => Promise.reject(new Error("CrashLoopBackOff"));
    try {
      const reloader = createKubernetesRolloutReloader({
        namespace: NS,
        name: "stuck",
        kubeconfig,
        timeoutMs: 60_000,
        intervalMs: 250,
      });
      const ftr = assert.rejects(
        reloader.run({ environment: "test", runId: "r", log: memoryLogger() }),
        /exceeded its progress deadline/,
      );
      await waitForGeneration("stuck", 2);
      const watched = await kubectl("rollout", "status", "deployment", "stuck", "--timeout=60s");
      await ftr;
      assert.equal(watched.code, 1);
      assert.match(watched.stderr, /deployment "stuck" exceeded its progress deadline/);
      assertSameTimeline(kubectlVerdicts(watched), ftrVerdicts("stuck", 2));
    } finally {
      onRollout = undefined;
    }

    // kubectl refuses a second restart within the same second (restartedAt has whole seconds).
    await untilNextSecond();
    // A new generation: the Deployment controller sets Progressing=ReplicaSetUpdated again, so
    // neither kubectl nor ftr reads the old deadline as this rollout's.
    await ok("rollout", "restart", "deployment", "stuck");
    const watched = await kubectl("rollout", "status", "deployment", "stuck", "--timeout=60s");
    assert.equal(watched.code, 0, watched.stderr);
    assertSameTimeline(kubectlVerdicts(watched), ftrVerdicts("stuck", 3));
    assert.equal(fromFtr(deployment("stuck"), 3), "done");
  });

  it("StatefulSets and DaemonSets: kubectl and ftr agree on every version through a restart; OnDelete is refused by both", async () => {
    onRollout = undefined;
    kube.addStatefulSet(NS, "set", 2);
    kube.addDaemonSet(NS, "nodes", 3);
    for (const [resource, name, kind] of [
      ["statefulsets", "set", "StatefulSet"],
      ["daemonsets", "nodes", "DaemonSet"],
    ] as const) {
      await ok("rollout", "restart", resource, name);
      const watched = await kubectl("rollout", "status", resource, name, "--timeout=60s");
      assert.equal(watched.code, 0, watched.stderr);
      const kubectlSaw = `${watched.stdout}`
        .split("\n")
        .filter((l) => l.trim() !== "")
        .map((l) => (/rolling update complete|successfully rolled out/.test(l) ? "done" : "waiting"));
      const ftrSaw = kube
        .history(resource, NS, name)
        .filter((o) => (o.metadata as { generation: number }).generation >= 2)
        .map((o) => (rolloutState(kind, o, 2).done ? "done" : "waiting"));
      assertSameTimeline(kubectlSaw, ftrSaw);
      assert.equal(kubectlSaw.at(-1), "done");
    }

    kube.addStatefulSet(NS, "on-delete", 1, { onDelete: true });
    const status = await kubectl("rollout", "status", "statefulset", "on-delete", "--timeout=5s");
    assert.equal(status.code, 1);
    assert.match(status.stderr, /only available for RollingUpdate strategy type/);
    const reloader = createKubernetesRolloutReloader({
      namespace: NS,
      kind: "StatefulSet",
      name: "on-delete",
      kubeconfig,
      timeoutMs: 5_000,
    });
    await assert.rejects(reloader.run({ environment: "test", runId: "r", log: memoryLogger() }), /OnDelete/);
  });

  it("Leases: create -f (AlreadyExists twice), get -o json, replace with a stale resourceVersion is a Conflict, delete", async () => {
    const manifest = join(dir, "lease.json");
    const lease = {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name: "ftr-state", namespace: NS },
      spec: {
        holderIdentity: "rotate-job-abcde/1/-/0123456789abcdef01234567",
        leaseDurationSeconds: 60,
        acquireTime: "2026-12-01T10:00:00.000000Z",
        renewTime: "2026-12-01T10:00:20.123456Z",
        leaseTransitions: 3,
      },
    };
    await writeFile(manifest, JSON.stringify(lease));
    // --validate=false: the fake serves no OpenAPI document for kubectl's client-side validation.
    assert.match(
      await ok("create", "-f", manifest, "--validate=false"),
      /lease.coordination.k8s.io\/ftr-state created/,
    );
    const stored = kube.object("leases", NS, "ftr-state") as typeof lease & {
      metadata: { resourceVersion: string; uid: string };
    };
    assert.deepEqual(stored.spec, lease.spec, "MicroTimes are kept as written");
    assert.deepEqual(JSON.parse(await ok("get", "lease", "ftr-state", "-o", "json")), stored);
    const twice = await kubectl("create", "-f", manifest, "--validate=false");
    assert.equal(twice.code, 1);
    assert.match(
      twice.stderr,
      /Error from server \(AlreadyExists\).*leases.coordination.k8s.io "ftr-state" already exists/,
    );

    // A replace with the resourceVersion read: done; with the same one again (stale now): Conflict.
    const renewed = {
      ...lease,
      metadata: { ...lease.metadata, resourceVersion: stored.metadata.resourceVersion },
      spec: { ...lease.spec, renewTime: "2026-12-01T10:00:40.000000Z" },
    };
    await writeFile(manifest, JSON.stringify(renewed));
    assert.match(
      await ok("replace", "-f", manifest, "--validate=false"),
      /lease.coordination.k8s.io\/ftr-state replaced/,
    );
    const after = kube.object("leases", NS, "ftr-state") as typeof stored;
    assert.equal(after.spec.renewTime, "2026-12-01T10:00:40.000000Z");
    assert.equal(after.metadata.uid, stored.metadata.uid);
    assert.equal(
      (after.metadata as { generation?: number }).generation,
      undefined,
      "a Lease has no generation",
    );
    await writeFile(
      manifest,
      JSON.stringify({ ...renewed, spec: { ...renewed.spec, holderIdentity: "someone-else/2/-/x" } }),
    );
    const stale = await kubectl("replace", "-f", manifest, "--validate=false");
    assert.equal(stale.code, 1);
    assert.match(
      stale.stderr,
      /Error from server \(Conflict\).*Operation cannot be fulfilled on leases.coordination.k8s.io "ftr-state": the object has been modified/,
    );
    assert.equal(
      (kube.object("leases", NS, "ftr-state") as typeof stored).spec.holderIdentity,
      lease.spec.holderIdentity,
      "the stale replace changed nothing",
    );

    assert.match(await ok("delete", "lease", "ftr-state"), /lease.coordination.k8s.io "ftr-state" deleted/);
    const gone = await kubectl("get", "lease", "ftr-state", "-o", "json");
    assert.equal(gone.code, 1);
    assert.match(
      gone.stderr,
      /Error from server \(NotFound\): leases.coordination.k8s.io "ftr-state" not found/,
    );
  });

  it("ConfigMaps and Secrets: made from literals, get -o json, AlreadyExists, a stale replace is a Conflict for both", async () => {
    const line =
      '{"v":1,"runId":"r","environment":"e","step":"start","status":"begin","at":"2026-12-01T10:00:00.000Z"}';
    // kubectl's typed `create configmap` speaks protobuf, which the fake does not: kubectl renders
    // the object (--dry-run=client) and `create -f` sends it as JSON, as a manifest would be.
    const made = async (...args: string[]): Promise<string> => {
      const manifest = join(dir, `${args[0]}-made.json`);
      await writeFile(manifest, await ok("create", ...args, "--dry-run=client", "-o", "json"));
      return manifest;
    };
    const mapManifest = await made("configmap", "ftr-journal", `--from-literal=journal.jsonl=${line}`);
    assert.match(await ok("create", "-f", mapManifest, "--validate=false"), /configmap\/ftr-journal created/);
    const map = kube.object("configmaps", NS, "ftr-journal") as {
      data: Record<string, string>;
      metadata: { resourceVersion: string };
    };
    assert.equal(map.data["journal.jsonl"], line);
    assert.deepEqual(JSON.parse(await ok("get", "cm", "ftr-journal", "-o", "json")), map);
    const again = await kubectl("create", "-f", mapManifest, "--validate=false");
    assert.equal(again.code, 1);
    assert.match(
      again.stderr,
      /Error from server \(AlreadyExists\).*configmaps "ftr-journal" already exists/,
    );

    const secretManifest = await made(
      "secret",
      "generic",
      "ftr-journal",
      `--from-literal=journal.jsonl=${line}`,
    );
    assert.match(await ok("create", "-f", secretManifest, "--validate=false"), /secret\/ftr-journal created/);
    const secret = kube.object("secrets", NS, "ftr-journal") as {
      type: string;
      metadata: { resourceVersion: string };
    };
    assert.equal(secret.type, "Opaque");
    assert.equal(kube.secretValues(NS, "ftr-journal")?.["journal.jsonl"], line);
    assert.deepEqual(JSON.parse(await ok("get", "secret", "ftr-journal", "-o", "json")), secret);

    for (const [kind, object] of [
      ["configmaps", map],
      ["secrets", secret],
    ] as const) {
      const manifest = join(dir, `${kind}.json`);
      // First with the resourceVersion read (done), then with it again, stale now (Conflict).
      await writeFile(
        manifest,
        JSON.stringify({ ...object, data: { "journal.jsonl": kind === "secrets" ? "eA==" : "x" } }),
      );
      assert.match(await ok("replace", "-f", manifest, "--validate=false"), /replaced/);
      const stale = await kubectl("replace", "-f", manifest, "--validate=false");
      assert.equal(stale.code, 1, `${kind}: ${stale.stdout}`);
      assert.match(
        stale.stderr,
        new RegExp(
          `Error from server \\(Conflict\\).*Operation cannot be fulfilled on ${kind} "ftr-journal": the object has been modified`,
        ),
      );
    }
    assert.equal((kube.object("configmaps", NS, "ftr-journal") as typeof map).data["journal.jsonl"], "x");
  });
});
