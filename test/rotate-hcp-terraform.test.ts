/**
 * Rotation with the token kept in a sensitive HCP Terraform variable: the rotator speaks HCP
 * Terraform's JSON:API to a local server following its API documentation. The consumer is the
 * workspace's plans: the `hcp-terraform-run` verifier queues a plan-only run, which plans with the
 * workspace's variables against the Fastly emulator, and `token-in-use` then sees the new token.
 *
 * A sensitive variable cannot be read back: the plan says so, a failed plan leaves the new token
 * deployed, the old one valid and the run unfinished (resume finishes it once plans work), a refused
 * write is rolled back, an HCL variable is refused before anything runs, a variable set's missing
 * variable is created, a 429 is waited out, and kills at the write are finished or left honestly
 * unfinished by `ftr resume`. Every case searches the output and journal for every secret.
 */
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { afterEach, beforeEach, describe, it } from "node:test";
import { demoCredentials } from "../src/emulator/index.ts";
import { assertNoSecrets, startRotationEnv, type RotationEnv } from "./helpers/rotation-env.ts";
import { startTerraformApi, type RunningTerraformApi } from "./helpers/terraform-api-server.ts";

const TFE_TOKEN = "ftrtest.atlasv1.0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ";
const TOKEN_ENV = "FTR_TEST_TFE_TOKEN";
const ORG = "govuk";
const WS = "govuk-fastly-integration";
const KEY = "FASTLY_API_KEY";
const OLD = demoCredentials.exporterTokens.integration;

process.env[TOKEN_ENV] = TFE_TOKEN;

describe("ftr rotate with an hcp-terraform store", () => {
  let h: RotationEnv;
  let tfe: RunningTerraformApi;

  beforeEach(async () => {
    // An in-process command moves the variables the config names as secrets out of process.env
    // (they are kept from child processes): each case starts with it set again.
    process.env[TOKEN_ENV] = TFE_TOKEN;
    h = await startRotationEnv({ environments: ["integration"], exporters: false, stateDir: "state" });
    tfe = await startTerraformApi({ token: TFE_TOKEN, fastlyEndpoint: h.emulator.url });
    tfe.addWorkspace(ORG, WS);
    tfe.setVariable({ workspace: WS }, KEY, OLD.token);
    await configure({ workspace: WS });
    await mkdir(h.stateDir, { recursive: true, mode: 0o700 });
  });
  afterEach(async () => {
    await tfe?.close();
    await h?.close();
  });

  const configure = async (
    where: { workspace: string } | { variableSet: string },
    runWorkspace = WS,
  ): Promise<void> => {
    const doc = h.config();
    const env = doc.environments[0]!;
    const access = { tokenEnv: TOKEN_ENV, address: tfe.address };
    env.secret = { type: "hcp-terraform", organization: ORG, ...where, key: KEY, category: "env", ...access };
    env.reload = [];
    env.verify = [
      {
        type: "hcp-terraform-run",
        organization: ORG,
        workspace: runWorkspace,
        timeout: "30s",
        interval: "1s",
        ...access,
      },
      { type: "token-in-use", timeout: "15s", interval: "1s" },
    ];
    await h.writeConfig(doc);
  };
  const deployed = (where: { workspace: string } | { varset: string } = { workspace: WS }) =>
    tfe.variable(where, KEY)?.value ?? "";
  const assertNothingPrinted = (): void =>
    assertNoSecrets(h.collectOutput(), [
      ...h.knownSecrets(),
      { label: "TFE token", value: TFE_TOKEN },
      ...(tfe.variable({ workspace: WS }, KEY)?.history ?? []).map((value, i) => ({
        label: `variable value #${i}`,
        value,
      })),
    ]);
  const assertSettled = async (value: string): Promise<string> => {
    const self = await h.tokenSelf(value);
    assert.equal(self.status, 200, "the deployed token is refused");
    assert.deepEqual(
      (await h.managedLive("integration")).map((t) => t.id),
      [self.id],
      "one live managed token, the deployed one",
    );
    return self.id!;
  };

  it("plans saying the variable cannot be read back, and updates it in place, sensitive", async () => {
    const plan = await h.runCli(["plan", "--config", h.configPath, "--json"]);
    assert.equal(plan.code, 0, plan.stderr);
    const env = (
      JSON.parse(plan.stdout) as { environments: { deployed: { status: string }; notes?: string[] }[] }
    ).environments[0]!;
    assert.equal(env.deployed.status, "write-only");
    assert.match(env.notes?.join(" ") ?? "", /cannot be read back/);

    const rotated = await h.runCli(["rotate", "--config", h.configPath, "--yes", "--force"]);
    assert.equal(rotated.code, 0, rotated.stdout + rotated.stderr);
    const variable = tfe.variable({ workspace: WS }, KEY)!;
    assert.equal(variable.count, 1, "updated in place, not a second variable");
    assert.equal(variable.sensitive, true);
    assert.notEqual(variable.value, OLD.token);
    await assertSettled(variable.value);
    assert.equal((await h.tokenSelf(OLD.token)).status, 401);
    assert.ok(tfe.runs().some((r) => r.planOnly && r.status === "planned_and_finished"));
    assert.match(
      rotated.stdout + rotated.stderr,
      /\/app\/govuk\/workspaces\/govuk-fastly-integration\/runs\/run-/,
    );
    assert.ok(tfe.requests.some((r) => r.operation === "update-workspace-var"));
    assert.ok(!tfe.requests.some((r) => r.operation === "create-workspace-var"));
    assertNothingPrinted();
  });

  it("creates a missing variable in a variable set, sensitive, which the workspace's plans use", async () => {
    const shared = "govuk-fastly-shared";
    tfe.addWorkspace(ORG, shared);
    tfe.addVarSet(ORG, "fastly credentials", [shared]);
    tfe.setVariable({ workspace: shared }, "OTHER", "x");
    await configure({ variableSet: "fastly credentials" }, shared);
    const rotated = await h.runCli(["rotate", "--config", h.configPath, "--yes", "--force"]);
    assert.equal(rotated.code, 0, rotated.stdout + rotated.stderr);
    const created = tfe.variable({ varset: "fastly credentials" }, KEY)!;
    assert.equal(created.sensitive, true);
    assert.equal(created.count, 1);
    assert.ok(tfe.requests.some((r) => r.operation === "create-varset-var" && r.status === 201));
    await assertSettled(created.value);
    assert.equal(
      (await h.tokenSelf(OLD.token)).status,
      401,
      "proven in use by the plan, the old token is revoked",
    );
    assertNothingPrinted();
  });

  it("a failed plan leaves the new token deployed and the old one valid, unfinished; resume finishes it", async () => {
    tfe.setPlansFailing(true);
    const failed = await h.runCli(["rotate", "--config", h.configPath, "--yes", "--force"]);
    assert.equal(failed.code, 1, failed.stdout + failed.stderr);
    assert.match(failed.stdout + failed.stderr, /ended errored/);
    assert.match(failed.stdout + failed.stderr, /cannot be read back.*ftr resume/s);
    const newValue = deployed();
    assert.notEqual(newValue, OLD.token);
    assert.equal((await h.tokenSelf(OLD.token)).status, 200);
    tfe.setPlansFailing(false);
    const resumed = await h.runCli(["resume", "--config", h.configPath]);
    assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
    assert.equal(deployed(), newValue);
    await assertSettled(newValue);
    assert.equal((await h.tokenSelf(OLD.token)).status, 401);
    assertNothingPrinted();
  });

  it("a write refused (404: no permission) is rolled back; an HCL variable is refused in the plan; a 429 is waited out", async () => {
    tfe.deny("update-workspace-var");
    const failed = await h.runCli(["rotate", "--config", h.configPath, "--yes", "--force"]);
    tfe.deny("update-workspace-var", false);
    assert.equal(failed.code, 1, failed.stdout + failed.stderr);
    assert.match(failed.stdout, /rolled-back/);
    assert.match(failed.stdout + failed.stderr, /HTTP 404: not found.*"Read and write variables"/);
    assert.equal(deployed(), OLD.token);
    assert.equal(await assertSettled(OLD.token), OLD.id);

    tfe.fail({
      operation: "list-workspace-vars",
      status: 429,
      body: { errors: [{ status: "429", title: "Too many requests" }] },
      headers: { "Retry-After": "1" },
    });
    const rotated = await h.runCli(["rotate", "--config", h.configPath, "--yes", "--force"]);
    assert.equal(rotated.code, 0, rotated.stdout + rotated.stderr);
    assert.ok(tfe.requests.some((r) => r.status === 429));

    tfe.setVariable({ workspace: WS }, "HCL_ONE", "x", { hcl: true, sensitive: false });
    const doc = h.config();
    doc.environments[0]!.secret = { ...doc.environments[0]!.secret, key: "HCL_ONE" };
    await h.writeConfig(doc);
    const plan = await h.runCli(["plan", "--config", h.configPath]);
    assert.equal(plan.code, 1, plan.stdout + plan.stderr);
    assert.match(plan.stdout + plan.stderr, /is an HCL variable/);
    assertNothingPrinted();
  });

  const KILLS = [
    { phase: "before", finished: false },
    { phase: "after", finished: true },
  ] as const;
  for (const kill of KILLS) {
    it(`a rotate killed when the variable's update reached HCP Terraform (held ${kill.phase} it is carried out) is ${kill.finished ? "finished" : "left honestly unfinished"} by ftr resume`, async (t) => {
      const from = h.journal().length;
      tfe.fail(
        kill.phase === "before"
          ? { operation: "update-workspace-var", hold: true }
          : { operation: "update-workspace-var", holdAfter: true },
      );
      const child = h.spawnCli(["rotate", "--config", h.configPath, "--yes", "--force"]);
      await Promise.race([
        tfe.held(),
        child.done.then((ended) => {
          throw new Error(`the run ended before the update: ${ended.stdout}${ended.stderr}`);
        }),
      ]);
      child.child.kill("SIGKILL");
      assert.equal((await child.done).signal, "SIGKILL");
      await tfe.idle();
      tfe.release();
      const left = h.journal().slice(from);
      t.diagnostic(`killed after "${left.at(-1)?.step} ${left.at(-1)?.status}"`);
      const runId = left.at(-1)?.runId;
      const resumed = await h.runCli(["resume", "--config", h.configPath]);
      const finish = h
        .journal()
        .slice(from)
        .find((r) => r.runId === runId && r.step === "finish");
      if (kill.finished) {
        assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
        assert.equal(finish?.outcome, "rotated");
        assert.equal(await assertSettled(deployed()), finish.newTokenId);
      } else {
        assert.equal(resumed.code, 1, resumed.stdout + resumed.stderr);
        assert.equal(finish, undefined);
        assert.equal(deployed(), OLD.token);
        assert.equal((await h.tokenSelf(OLD.token)).status, 200, "the old token was not revoked");
      }
      assertNothingPrinted();
    });
  }
});
