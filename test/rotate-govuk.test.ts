/**
 * The whole GOV.UK runbook, with no exec step: the token lives in AWS Secrets Manager
 * (`aws-secrets-manager` store, real AWS SDK, local Secrets Manager server), an `external-secret`
 * reloader force-syncs the ExternalSecret and a `kubernetes-rollout` reloader restarts the exporter
 * Deployment (real `@kubernetes/client-node`, local Kubernetes API server whose operators copy
 * `AWSCURRENT` into the file the exporter stand-in reads and restart the stand-in), then
 * `token-in-use` and a real Prometheus scraping the stand-in prove the new token in use.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { demoCredentials } from "../src/emulator/index.ts";
import type { RotationResult } from "../src/rotation/rotate.ts";
import {
  awsSecrets,
  awsStoreConfig,
  sentValues,
  useAwsTestCredentials,
} from "../src/sandbox/aws-secrets-manager-server.ts";
import { KUBE_TEST_TOKEN } from "../src/sandbox/kubernetes-api-server.ts";
import { skipWithoutPrometheus } from "./helpers/prometheus.ts";
import { assertNoSecrets, assertSettled, type RotationEnv } from "./helpers/rotation-env.ts";
import { world, type World } from "./helpers/world.ts";

const SECRET = "govuk/fastly/api";
const KEY = "fastly-api-token";
const NAMESPACE = "monitoring";
const EXTERNAL_SECRET = "govuk-fastly-api";
const DEPLOYMENT = "fastly-exporter-prometheus-fastly-exporter";

useAwsTestCredentials();

// A real Prometheus proves the new token in use: without one the suite skips, saying why (on CI a
// missing binary fails instead).
const skip = skipWithoutPrometheus();

describe("the GOV.UK pipeline: Secrets Manager, External Secrets, a Deployment rollout", { skip }, () => {
  let w: World<"aws" | "kubernetes">;
  let h: RotationEnv;
  let failSyncs = 0;

  before(async () => {
    w = await world({
      aws: {
        [SECRET]: JSON.stringify({
          [KEY]: demoCredentials.exporterTokens.integration.token,
          "other-key": "kept",
        }),
      },
      kubernetes: {
        // Each controller step slower than the reloaders' 1 s poll, so their waits are exercised.
        controllerDelayMs: 1_200,
        // The operator copies AWSCURRENT into the Secret, here the file the stand-in reads.
        onSync: async () => {
          if (failSyncs > 0) {
            failSyncs -= 1;
            throw new Error("AccessDeniedException: not authorized to perform secretsmanager:GetSecretValue");
          }
          await h.writeSecret("integration", current()[KEY] ?? "");
        },
        // The Deployment controller replaces the pod: the stand-in restarts and reads the file.
        onRollout: () => h.restartExporter("integration"),
      },
    });
    w.kube.addExternalSecret(NAMESPACE, EXTERNAL_SECRET);
    w.kube.addDeployment(NAMESPACE, DEPLOYMENT);

    h = await w.startRotationEnv({
      environments: ["integration"],
      prometheus: true,
      verifyTimeout: "20s",
      verifyInterval: "1s",
      stateDir: "state",
      configure: (doc) => {
        const env = doc.environments[0]!;
        env.secret = awsStoreConfig(w.aws, SECRET, KEY);
        const access = { kubeconfig: w.kubeconfig, context: "integration", timeout: "20s", interval: "1s" };
        env.reload = [
          { type: "external-secret", namespace: NAMESPACE, name: EXTERNAL_SECRET, ...access },
          { type: "kubernetes-rollout", namespace: NAMESPACE, deployment: DEPLOYMENT, ...access },
        ];
      },
    });
  });
  after(() => w?.close());

  const current = (): Record<string, string> =>
    JSON.parse(w.aws.valueAt(SECRET) ?? "{}") as Record<string, string>;

  it("rotates with no exec step and proves the new token in use through Fastly and Prometheus", async () => {
    assert.ok(h.prometheusUrl, "Prometheus runs");
    const rotated = await h.runCli(["rotate", "--config", h.configPath, "--yes", "--json"]);
    assert.equal(rotated.code, 0, rotated.stdout + rotated.stderr);
    const { result } = JSON.parse(rotated.stdout) as { result: RotationResult };
    const env = result.environments[0]!;
    assert.deepEqual(
      env.steps.map((s) => s.step),
      ["mint", "test", "stage", "promote", "reload", "verify", "revoke", "prove"],
    );
    const reload = env.steps.find((s) => s.step === "reload");
    assert.match(reload?.detail ?? "", /external-secret monitoring\/govuk-fastly-api/);
    assert.match(reload?.detail ?? "", /kubernetes-rollout deployment monitoring\/fastly-exporter/);
    const verify = env.steps.find((s) => s.step === "verify");
    assert.match(verify?.detail ?? "", /prometheus/);

    const deployed = await assertSettled(h, "integration");
    assert.equal(deployed, env.newTokenId);
    assert.equal(current()[KEY], h.readSecret("integration"));
    assert.equal(current()["other-key"], "kept");
    const es = w.kube.externalSecret(NAMESPACE, EXTERNAL_SECRET) as {
      metadata: { annotations: Record<string, string> };
    };
    assert.ok(es.metadata.annotations["force-sync"]);
    const dep = w.kube.deployment(NAMESPACE, DEPLOYMENT) as { metadata: { generation: number } };
    assert.equal(dep.metadata.generation, 2, "one rollout restart");
    assert.deepEqual(await h.consumerRefusals(), []);
    // The fake keeps what AWS received: the new value was sent there (and is searched for in our
    // output, never in AWS's log, at the end).
    assert.ok(
      sentValues(w.aws, SECRET, KEY).includes(h.readSecret("integration")),
      "the new token was sent to AWS",
    );
  });

  it("a failed ExternalSecret sync rolls back: AWSCURRENT restored, synced and rolled out again", async () => {
    const before = current()[KEY]!;
    const beforeId = (await h.tokenSelf(before)).id;
    failSyncs = 1;
    const failed = await h.runCli(["rotate", "--config", h.configPath, "--yes", "--force"]);
    assert.equal(failed.code, 1, failed.stdout + failed.stderr);
    assert.match(failed.stdout, /integration\s+rolled-back/);
    assert.match(failed.stdout, /failed to sync: SecretSyncedError/);
    assert.equal(current()[KEY], before);
    assert.equal(await assertSettled(h, "integration"), beforeId);
    assert.deepEqual(await h.consumerRefusals(), []);
  });

  it("printed no token value, password, AWS key or Kubernetes token anywhere", () => {
    assertNoSecrets(
      [...h.collectOutput(), { source: "Kubernetes request log", text: JSON.stringify(w.kube.requests) }],
      [
        ...h.knownSecrets(),
        ...awsSecrets(w.aws, SECRET, KEY),
        { label: "Kubernetes token", value: KUBE_TEST_TOKEN },
      ],
    );
  });
});
