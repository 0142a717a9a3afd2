/**
 * Rotation where Stakater Reloader, not ftr, restarts the exporter: a `kubernetes-secret` store, a
 * `kubernetes-rollout` reloader with `restart: false`, and a `kubernetes-logs` verifier reading the
 * new pod's log (real `@kubernetes/client-node`, local Kubernetes API server whose Reloader changes
 * the Deployment's pod template when the Secret changes and whose Deployment controller copies the
 * Secret's key into the file the exporter stand-in reads and restarts it; the stand-in's log lines
 * become the new pod's log).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { RotationResult } from "../src/rotation/rotate.ts";
import { demoCredentials } from "../src/emulator/index.ts";
import {
  KUBE_TEST_TOKEN,
  kubeRolloutStep,
  kubeSecretStoreConfig,
} from "../src/sandbox/kubernetes-api-server.ts";
import { assertNoSecrets, assertSettled, type ConfigDoc, type RotationEnv } from "./helpers/rotation-env.ts";
import { world, type World } from "./helpers/world.ts";

const NAMESPACE = "monitoring";
const SECRET = "fastly-exporter-token";
const DEPLOYMENT = "fastly-exporter";

describe("ftr rotate with Reloader restarting the exporter (restart: false) and a kubernetes-logs check", () => {
  let w: World<"kubernetes">;
  let h: RotationEnv;
  let mirrored = 0;
  let mirror: NodeJS.Timeout | undefined;
  /** The next new pod logs the real exporter's refusal, with the token it started with in it. */
  let refuseNext = false;

  /** The stand-in's log lines, as the current pods' logs (what `kubectl logs` would show). */
  const copyLogs = (): void => {
    const text = h.exporters.get("integration")?.logs ?? "";
    const end = text.lastIndexOf("\n") + 1;
    if (end <= mirrored) return;
    const lines = text.slice(mirrored, end).split("\n").filter(Boolean);
    mirrored = end;
    for (const pod of w.kube.currentPods(NAMESPACE, DEPLOYMENT)) {
      for (const line of lines) w.kube.appendLog(NAMESPACE, pod.name, line);
    }
  };

  before(async () => {
    w = await world({
      kubernetes: {
        controllerDelayMs: 300,
        reloader: "env-vars",
        onRollout: async () => {
          const value = w.kube.secretValues(NAMESPACE, SECRET)?.["fastly-api-token"] ?? "";
          await h.writeSecret("integration", value);
          copyLogs();
          await h.restartExporter("integration");
          if (refuseNext) {
            refuseNext = false;
            for (const pod of w.kube.currentPods(NAMESPACE, DEPLOYMENT)) {
              w.kube.appendLog(
                NAMESPACE,
                pod.name,
                `level=error component=rt service_id=SU1Z0isxPaozGVKXdv0eY status_code=403 response_ts=0 err="key ${value} not allowed" msg="token may be invalid"\u001b[31m\r`,
              );
            }
          }
        },
      },
    });
    w.kube.addSecret(NAMESPACE, SECRET, {
      "fastly-api-token": demoCredentials.exporterTokens.integration.token,
    });
    w.kube.addDeployment(NAMESPACE, DEPLOYMENT, 1, {
      secret: SECRET,
      annotations: { "reloader.stakater.com/auto": "true" },
    });
    h = await w.startRotationEnv({
      environments: ["integration"],
      verifyTimeout: "20s",
      verifyInterval: "1s",
      configure: (doc) => {
        const env = doc.environments[0]!;
        env.secret = kubeSecretStoreConfig(w.kubeconfig, NAMESPACE, SECRET, "fastly-api-token");
        env.reload = [kubeRolloutStep(w.kubeconfig, NAMESPACE, DEPLOYMENT, { restart: false })];
        env.verify = [
          {
            type: "kubernetes-logs",
            namespace: NAMESPACE,
            deployment: DEPLOYMENT,
            kubeconfig: w.kubeconfig,
            quietFor: "3s",
            timeout: "20s",
            interval: "1s",
          },
          ...(env.verify ?? []),
        ];
      },
    });
    mirror = setInterval(copyLogs, 100);
  });
  after(async () => {
    if (mirror) clearInterval(mirror);
    await w?.close();
  });

  const generation = (): number =>
    (w.kube.deployment(NAMESPACE, DEPLOYMENT) as { metadata: { generation: number } }).metadata.generation;

  it("rotates: Reloader's rollout is waited for, the new pod's log is quiet, no consumer refusals", async () => {
    const before = generation();
    const rotated = await h.runCli(["rotate", "--config", h.configPath, "--yes", "--json"]);
    assert.equal(rotated.code, 0, rotated.stdout + rotated.stderr);
    const { result } = JSON.parse(rotated.stdout) as { result: RotationResult };
    const steps = result.environments[0]!.steps;
    assert.match(steps.find((s) => s.step === "reload")?.detail ?? "", /waits for Reloader/);
    assert.match(steps.find((s) => s.step === "verify")?.detail ?? "", /kubernetes-logs .*quiet for 3s/);
    await assertSettled(h, "integration");
    assert.equal(generation(), before + 1, "one rollout, Reloader's; ftr restarted nothing");
    const template = w.kube.deployment(NAMESPACE, DEPLOYMENT) as {
      spec: { template: { metadata: { annotations?: Record<string, string> } } };
    };
    assert.equal(
      template.spec.template.metadata.annotations?.["kubectl.kubernetes.io/restartedAt"],
      undefined,
    );
    assert.deepEqual(await h.consumerRefusals(), []);
  });

  it("the new pod logs an authentication error: verify fails, the rotation rolls back and quotes the line redacted and escaped", async () => {
    refuseNext = true;
    const failed = await h.runCli(["rotate", "--config", h.configPath, "--yes", "--force"]);
    assert.equal(failed.code, 1, failed.stdout + failed.stderr);
    assert.match(failed.stdout, /integration\s+rolled-back/);
    const text = failed.stdout + failed.stderr;
    assert.match(text, /logged a line matching \/token may be invalid\//);
    assert.match(text, /err="key \[REDACTED\] not allowed"/);
    assert.match(text, /\\x1b\[31m\\x0d/);
    assert.ok(!text.includes("\u001b"), "no raw escape character");
    await assertSettled(h, "integration");
  });

  it("without Reloader running, the wait times out naming its annotation and the rotation rolls back", async () => {
    w.kube.setReloader(undefined);
    const doc: ConfigDoc = h.config();
    const reload = doc.environments[0]!.reload![0]!;
    reload.timeout = "4s";
    await h.writeConfig(doc);
    const before = generation();
    try {
      const failed = await h.runCli(["rotate", "--config", h.configPath, "--yes", "--force"]);
      assert.equal(failed.code, 1, failed.stdout + failed.stderr);
      assert.match(failed.stdout, /integration\s+rolled-back/);
      const text = failed.stdout + failed.stderr;
      assert.match(text, /did not start a rollout within 4s/);
      assert.match(text, /reloader\.stakater\.com\/auto: "true"/);
      assert.equal(generation(), before, "nothing rolled out, nothing needed to");
      await assertSettled(h, "integration");
      assert.deepEqual(await h.consumerRefusals(), []);
    } finally {
      w.kube.setReloader("env-vars");
    }
  });

  it("printed no token value, password or Kubernetes token anywhere", () => {
    assertNoSecrets(
      [...h.collectOutput(), { source: "Kubernetes request log", text: JSON.stringify(w.kube.requests) }],
      [...h.knownSecrets(), { label: "Kubernetes token", value: KUBE_TEST_TOKEN }],
    );
  });
});
