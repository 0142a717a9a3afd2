/**
 * Rotation with the token in a Kubernetes Secret read directly by the consumer: a
 * `kubernetes-secret` store and a `kubernetes-rollout` reloader (real `@kubernetes/client-node`,
 * local Kubernetes API server whose Deployment controller copies the Secret's key into the file
 * the exporter stand-in reads, as a kubelet projects a Secret, and restarts the stand-in).
 * Each case starts a world of its own and ends by searching what it printed for secrets. The
 * `kill -9` cases stop the rotator the moment its PATCH of the Secret or of the Deployment's restart
 * annotation reaches the API server, then `ftr resume` must reach a consistent end.
 */
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { demoCredentials } from "../src/emulator/index.ts";
import {
  KUBE_TEST_TOKEN,
  kubeRolloutStep,
  kubeSecretStoreConfig,
} from "../src/sandbox/kubernetes-api-server.ts";
import { assertNoSecrets, assertSettled, type RotationEnv } from "./helpers/rotation-env.ts";
import { world, type World } from "./helpers/world.ts";

const NAMESPACE = "monitoring";
const SECRET = "fastly-exporter-token";
const DEPLOYMENT = "fastly-exporter";

describe("ftr rotate with a kubernetes-secret store and a kubernetes-rollout reloader", () => {
  let w: World<"kubernetes">;
  let h: RotationEnv;
  let failRollouts = 0;

  beforeEach(async () => {
    failRollouts = 0;
    w = await world({
      kubernetes: {
        // Each controller step slower than the reloaders' 1 s poll, so their waits are exercised.
        controllerDelayMs: 1_200,
        onRollout: async () => {
          if (failRollouts > 0) {
            failRollouts -= 1;
            throw new Error("CrashLoopBackOff");
          }
          // The new pod starts with the Secret as it is now.
          const value = w.kube.secretValues(NAMESPACE, SECRET)?.["fastly-api-token"] ?? "";
          await h.writeSecret("integration", value);
          await h.restartExporter("integration");
        },
      },
    });
    w.kube.addSecret(NAMESPACE, SECRET, {
      "fastly-api-token": demoCredentials.exporterTokens.integration.token,
      "other-key": "kept",
    });
    w.kube.addDeployment(NAMESPACE, DEPLOYMENT);
    h = await w.startRotationEnv({
      environments: ["integration"],
      verifyTimeout: "10s",
      verifyInterval: "1s",
      configure: (doc) => {
        const env = doc.environments[0]!;
        env.secret = kubeSecretStoreConfig(w.kubeconfig, NAMESPACE, SECRET, "fastly-api-token");
        env.reload = [kubeRolloutStep(w.kubeconfig, NAMESPACE, DEPLOYMENT)];
      },
    });
  });
  afterEach(() => w?.close());

  /** No token value, password or Kubernetes token in what the world printed or journaled. */
  const assertNothingPrinted = (): void =>
    assertNoSecrets(
      [...h.collectOutput(), { source: "Kubernetes request log", text: JSON.stringify(w.kube.requests) }],
      [
        ...h.knownSecrets(),
        {
          label: "previous value in the companion Secret",
          value: w.kube.secretValues(NAMESPACE, `${SECRET}-ftr`)?.previous ?? "",
        },
        { label: "Kubernetes token", value: KUBE_TEST_TOKEN },
      ],
    );

  it("rotates: the Secret's key holds the new token, the other keys are kept, the previous value is kept aside", async () => {
    const rotated = await h.runCli(["rotate", "--config", h.configPath, "--yes"]);
    assert.equal(rotated.code, 0, rotated.stdout + rotated.stderr);
    await assertSettled(h, "integration");
    const values = w.kube.secretValues(NAMESPACE, SECRET)!;
    assert.equal(values["fastly-api-token"], h.readSecret("integration"));
    assert.equal(values["other-key"], "kept");
    assert.equal(
      w.kube.secretValues(NAMESPACE, `${SECRET}-ftr`)?.previous,
      demoCredentials.exporterTokens.integration.token,
    );
    assert.deepEqual(await h.consumerRefusals(), []);
    assertNothingPrinted();
  });

  it("a rollout past its progress deadline restores the Secret and rolls out the old token again", async () => {
    const before = w.kube.secretValues(NAMESPACE, SECRET)?.["fastly-api-token"];
    assert.equal(before, demoCredentials.exporterTokens.integration.token);
    failRollouts = 1;
    const failed = await h.runCli(["rotate", "--config", h.configPath, "--yes", "--force"]);
    assert.equal(failed.code, 1, failed.stdout + failed.stderr);
    assert.match(failed.stdout, /integration\s+rolled-back/);
    assert.match(failed.stdout, /exceeded its progress deadline/);
    assert.equal(w.kube.secretValues(NAMESPACE, SECRET)!["fastly-api-token"], before);
    await assertSettled(h, "integration");
    assert.deepEqual(await h.consumerRefusals(), []);
    assertNothingPrinted();
  });

  // Killed the moment a write reaches the API server, never on a journal record: the fake holds the
  // PATCH (before carrying it out, or after, with the answer lost) and the rotator dies then.
  // `mustRotate`: killed after promote was journaled done and before the restart took effect, so
  // resume must reload and verify itself; the consumer's pods never restarted, and a resume that
  // skipped the reload would roll back.
  const KILLS: readonly {
    what: string;
    resource: "secrets" | "deployments";
    name: string;
    phase: "before" | "after";
    mustRotate?: boolean;
  }[] = [
    { what: "the Secret's PATCH (promote)", resource: "secrets", name: SECRET, phase: "before" },
    { what: "the Secret's PATCH (promote)", resource: "secrets", name: SECRET, phase: "after" },
    {
      what: "the restart annotation's PATCH (reload)",
      resource: "deployments",
      name: DEPLOYMENT,
      phase: "before",
      mustRotate: true,
    },
    {
      what: "the restart annotation's PATCH (reload)",
      resource: "deployments",
      name: DEPLOYMENT,
      phase: "after",
    },
  ];
  for (const kill of KILLS) {
    it(`a rotate killed when ${kill.what} reached the API server (held ${kill.phase} it is carried out) is finished by ftr resume`, async (t) => {
      const before = w.kube.secretValues(NAMESPACE, SECRET)!["fastly-api-token"];
      const beforeId = (await h.tokenSelf(before!)).id;
      const from = h.journal().length;
      w.kube.hold("PATCH", kill.resource, kill.phase, kill.name);
      const child = h.spawnCli(["rotate", "--config", h.configPath, "--yes", "--force"]);
      await Promise.race([
        w.kube.held(),
        child.done.then((ended) => {
          throw new Error(`the run ended before ${kill.what}: ${ended.stdout}${ended.stderr}`);
        }),
      ]);
      child.child.kill("SIGKILL");
      const ended = await child.done;
      assert.equal(ended.signal, "SIGKILL");
      await w.kube.idle(); // the held request ends with its connection
      w.kube.release();
      const left = h.journal().slice(from);
      t.diagnostic(`killed after "${left.at(-1)?.step} ${left.at(-1)?.status}"`);
      const runId = left.at(-1)?.runId;

      const resumedFrom = h.journal().length;
      const resumed = await h.runCli(["resume", "--config", h.configPath]);
      assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
      if (kill.mustRotate) {
        const marks = h
          .journal()
          .slice(resumedFrom)
          .filter((r) => r.runId === runId)
          .map((r) => `${r.step} ${r.status}`);
        assert.ok(
          left.some((r) => r.step === "promote" && r.status === "done"),
          "killed after promote",
        );
        const at = (mark: string) => marks.indexOf(mark);
        assert.ok(at("reload done") >= 0 && at("verify done") > at("reload done"), marks.join(", "));
        assert.ok(at("revoke begin") > at("verify done"), `revoked before verify: ${marks.join(", ")}`);
        assert.ok(marks.includes("finish done"), marks.join(", "));
      }
      const finish = h
        .journal()
        .slice(from)
        .find((r) => r.runId === runId && r.step === "finish");
      assert.ok(finish, resumed.stdout + resumed.stderr);
      const deployed = await assertSettled(h, "integration");
      const values = w.kube.secretValues(NAMESPACE, SECRET)!;
      if (kill.mustRotate) assert.equal(finish.outcome, "rotated", resumed.stdout + resumed.stderr);
      if (finish.outcome === "rotated") {
        assert.equal(deployed, finish.newTokenId);
      } else {
        assert.equal(finish.outcome, "rolled-back", resumed.stdout + resumed.stderr);
        assert.equal(deployed, beforeId, "the previous token is still deployed");
        assert.equal(values["fastly-api-token"], before, "the Secret holds the previous value");
      }
      assert.equal(values["fastly-api-token"], h.readSecret("integration"));
      assert.equal(values["other-key"], "kept");
      assert.deepEqual(await h.consumerRefusals(), []);
      assertNothingPrinted();
    });
  }
});
