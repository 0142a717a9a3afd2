/**
 * `ftr rotate` end to end with the `argocd` reloader: the emulator and a fastly-exporter stand-in
 * (test/helpers/rotation-env.ts), and a local Argo CD (test/helpers/argocd-api-server.ts) whose
 * Deployment restart restarts the stand-in, as the restart script of the exec reloader does. The CLI
 * runs as a real process, reading the Argo CD token from its environment.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { RotationResult } from "../src/rotation/index.ts";
import { ARGOCD_TEST_TOKEN, startArgoCdApi, type RunningArgoCdApi } from "./helpers/argocd-api-server.ts";
import {
  assertNoSecrets,
  assertSettled,
  startRotationEnv,
  type RotationEnv,
} from "./helpers/rotation-env.ts";

const TOKEN_ENV = "FTR_TEST_ARGOCD_TOKEN";

describe("ftr rotate with the argocd reloader (emulator, exporter stand-in, Argo CD API)", () => {
  let h: RotationEnv;
  let api: RunningArgoCdApi;
  /** Set to make the next rollout fail: the new pod never becomes ready (Degraded). */
  let failNextRollout = false;

  before(async () => {
    const world: { h?: RotationEnv } = {};
    api = await startArgoCdApi({
      delayMs: 100,
      onRestart: async () => {
        if (failNextRollout) {
          failNextRollout = false;
          throw new Error("the new pod never became ready");
        }
        await world.h?.restartExporter("integration");
      },
    });
    h = world.h = await startRotationEnv({
      environments: ["integration"],
      configure: (doc) => {
        doc.environments[0]!.reload = [
          {
            type: "argocd",
            server: api.url,
            app: "fastly-exporter",
            project: "default",
            action: "restart",
            resource: { kind: "Deployment", name: "fastly-exporter", namespace: "monitoring" },
            tokenEnv: TOKEN_ENV,
            timeout: "30s",
            interval: "1s",
          },
        ];
      },
    });
  });
  after(async () => {
    await h?.close();
    await api?.close();
  });

  const rotate = (...extra: string[]) =>
    h.runCliProcess(["rotate", "--config", h.configPath, "--yes", "--json", ...extra], {
      [TOKEN_ENV]: ARGOCD_TEST_TOKEN,
    });

  const secrets = () => [...h.knownSecrets(), { label: "Argo CD token", value: ARGOCD_TEST_TOKEN }];

  it("validates the config with the argocd entry", async () => {
    const { code, stdout, stderr } = await h.runCli(["validate", "--config", h.configPath]);
    assert.equal(code, 0, stdout + stderr);
  });

  it("stops before minting when the token's variable is not set", async () => {
    const { code, stdout, stderr } = await h.runCliProcess(["rotate", "--config", h.configPath, "--yes"]);
    assert.equal(code, 2, stdout + stderr);
    assert.match(
      stderr,
      /^error: argocd reloader for app fastly-exporter: FTR_TEST_ARGOCD_TOKEN is not set; set it to an Argo CD API token/m,
    );
    assert.doesNotMatch(stderr, /unexpected failure|\n\s+at /);
    assert.deepEqual(
      (await h.toolRequests()).filter((r) => r.method === "POST" && r.path === "/automation-tokens"),
      [],
      "nothing was minted",
    );
    assert.equal(api.requests.length, 0);
  });

  it("rotates through an Argo CD restart, with no refusal seen by the consumer", async () => {
    const { code, stdout, stderr } = await rotate();
    assert.equal(code, 0, `${stdout}\n${stderr}`);
    const { result } = JSON.parse(stdout) as { result: RotationResult };
    assert.equal(result.environments[0]?.outcome, "rotated");
    const reload = result.environments[0]?.steps.find((s) => s.step === "reload");
    assert.equal(reload?.ok, true);

    const newId = await assertSettled(h, "integration");
    assert.equal(newId, result.environments[0]?.newTokenId);
    assert.deepEqual(await h.consumerRefusals(), [], "the stand-in was never refused");
    const actions = api.requests.filter((r) => r.method === "POST");
    assert.deepEqual(
      actions.map((r) => [r.path, r.status]),
      [["/api/v1/applications/fastly-exporter/resource/actions/v2", 200]],
    );
    assert.ok(api.requests.every((r) => r.authorization === `Bearer ${ARGOCD_TEST_TOKEN}`));
    assertNoSecrets(h.collectOutput(), secrets());
  });

  it("rolls back when the rollout ends Degraded, and the old token serves again", async () => {
    const before = await assertSettled(h, "integration");
    const previousValue = h.readSecret("integration");
    const from = api.requests.length;
    failNextRollout = true;
    const { code, stdout, stderr } = await rotate("--force");
    assert.equal(code, 1, `${stdout}\n${stderr}`);
    const { result } = JSON.parse(stdout) as { result: RotationResult };
    const env = result.environments[0]!;
    assert.equal(env.outcome, "rolled-back", JSON.stringify(env));
    assert.match(env.error ?? "", /exceeded its progress deadline/);

    // The rollback restarted through Argo CD again (a second action within the second of the first
    // is repeated once the second is over), and the stand-in runs with the old token.
    assert.ok(api.requests.slice(from).filter((r) => r.method === "POST").length >= 2);
    assert.equal(h.readSecret("integration"), previousValue);
    assert.equal(await assertSettled(h, "integration"), before);
    assert.deepEqual(await h.consumerRefusals(), [], "the stand-in was never refused");
    assertNoSecrets(h.collectOutput(), secrets());
  });
});
