/**
 * Rotation with the token kept in a GitHub Actions secret of a deployment environment: the rotator
 * drives the real Octokit against a local server speaking GitHub's REST API, every request and answer
 * checked against GitHub's OpenAPI description, the written value opened with the environment's
 * private key. The consumer is a deploy workflow: dispatched by the `github-workflow` verifier, its
 * run uses the secret against the Fastly emulator, which `token-in-use` then sees.
 *
 * GitHub secrets cannot be read back: the plan says so, a failed verification leaves the new token
 * deployed, the old one valid and the run unfinished (then `ftr resume` finishes it once the
 * workflow is fixed), a refused write is rolled back, and `ftr rollback` refuses. Kills at the
 * write and at the dispatch are finished, or left honestly unfinished, by `ftr resume`. Every case
 * ends by searching the output and journal for every secret.
 */
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { afterEach, beforeEach, describe, it } from "node:test";
import { demoCredentials } from "../src/emulator/index.ts";
import type { RotationResult } from "../src/rotation/rotate.ts";
import { startGitHubApi, type RunningGitHubApi } from "./helpers/github-api-server.ts";
import { assertNoSecrets, startRotationEnv, type RotationEnv } from "./helpers/rotation-env.ts";

const GH_TOKEN = "github_pat_11FTRTEST0123456789_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMN";
const TOKEN_ENV = "FTR_TEST_GITHUB_TOKEN";
const REPO = "alphagov/govuk-fastly";
const NAME = "FASTLY_API_TOKEN";
const TARGET = { repository: REPO, environment: "integration" } as const;
const OLD = demoCredentials.exporterTokens.integration;

// The rotator (in-process, and the children it starts) reads the GitHub token here.
process.env[TOKEN_ENV] = GH_TOKEN;

describe("ftr rotate with a github-actions store", () => {
  let h: RotationEnv;
  let gh: RunningGitHubApi;

  beforeEach(async () => {
    // An in-process command moves the variables the config names as secrets out of process.env
    // (they are kept from child processes): each case starts with it set again.
    process.env[TOKEN_ENV] = GH_TOKEN;
    h = await startRotationEnv({ environments: ["integration"], exporters: false, stateDir: "state" });
    gh = await startGitHubApi({ token: GH_TOKEN, fastlyEndpoint: h.emulator.url });
    gh.addRepository(REPO, ["integration"]);
    await gh.setSecret(TARGET, NAME, OLD.token);
    gh.addWorkflow(REPO, "deploy.yml", { ...TARGET, name: NAME });
    const doc = h.config();
    const env = doc.environments[0]!;
    const github = { tokenEnv: TOKEN_ENV, apiUrl: gh.apiUrl };
    env.secret = { type: "github-actions", ...TARGET, name: NAME, ...github };
    env.reload = [];
    env.verify = [
      {
        type: "github-workflow",
        repository: REPO,
        workflow: "deploy.yml",
        timeout: "30s",
        interval: "1s",
        ...github,
      },
      { type: "token-in-use", timeout: "15s", interval: "1s" },
    ];
    await h.writeConfig(doc);
    await mkdir(h.stateDir, { recursive: true, mode: 0o700 });
  });
  afterEach(async () => {
    await gh?.close();
    await h?.close();
  });

  const deployed = (): string => gh.secretValue(TARGET, NAME) ?? "";
  const assertNothingPrinted = (): void =>
    assertNoSecrets(h.collectOutput(), [
      ...h.knownSecrets(),
      { label: "GitHub token", value: GH_TOKEN },
      ...gh.secretHistory(TARGET, NAME).map((value, i) => ({ label: `secret value #${i}`, value })),
    ]);
  /** One live managed token, the one in the secret, accepted by Fastly. */
  const assertSettled = async (): Promise<string> => {
    const self = await h.tokenSelf(deployed());
    assert.equal(self.status, 200, "the deployed token is refused");
    assert.deepEqual(
      (await h.managedLive("integration")).map((t) => t.id),
      [self.id],
      "one live managed token, the deployed one",
    );
    return self.id!;
  };

  it("plans saying the secret cannot be read back, rotates, and writes a sealed value only GitHub can open", async () => {
    const plan = await h.runCli(["plan", "--config", h.configPath, "--json"]);
    assert.equal(plan.code, 0, plan.stderr);
    const planned = JSON.parse(plan.stdout) as {
      environments: {
        deployed: { status: string; assumedTokenId?: string };
        notes?: string[];
        decision: string;
      }[];
    };
    const env = planned.environments[0]!;
    assert.equal(env.deployed.status, "write-only");
    assert.equal(env.deployed.assumedTokenId, OLD.id);
    assert.match(env.notes?.join(" ") ?? "", /cannot be read back.*old value cannot be restored.*unfinished/);
    const human = await h.runCli(["plan", "--config", h.configPath]);
    assert.match(human.stdout + human.stderr, /note:.*cannot be read back/);

    const rotated = await h.runCli(["rotate", "--config", h.configPath, "--yes", "--force", "--json"]);
    assert.equal(rotated.code, 0, rotated.stdout + rotated.stderr);
    const { result } = JSON.parse(rotated.stdout) as { result: RotationResult };
    const id = await assertSettled();
    assert.equal(id, result.environments[0]?.newTokenId);
    assert.notEqual(deployed(), OLD.token);
    assert.equal((await h.tokenSelf(OLD.token)).status, 401, "the old token is revoked");
    assert.match(
      result.environments[0]?.steps.find((s) => s.step === "verify")?.detail ?? "",
      /actions\/runs\/\d+ concluded success/,
    );
    assert.deepEqual(gh.violations, [], "every request and answer fits GitHub's OpenAPI description");
    // Sealed: the value travelled only as a sealed box.
    assert.ok(gh.requests.every((r) => !JSON.stringify(r.body ?? "").includes(deployed())));

    const status = await h.runCli(["status", "--config", h.configPath]);
    assert.match(status.stdout + status.stderr, /cannot be read back/);
    const check = await h.runCli(["check", "--config", h.configPath]);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assertNothingPrinted();
  });

  it("a failed verification leaves the new token deployed and the old one valid, unfinished; resume finishes it", async () => {
    gh.setWorkflowFailing(REPO, "deploy.yml", true);
    const failed = await h.runCli(["rotate", "--config", h.configPath, "--yes", "--force"]);
    assert.equal(failed.code, 1, failed.stdout + failed.stderr);
    const text = failed.stdout + failed.stderr;
    assert.match(text, /concluded failure/);
    assert.match(text, /cannot be read back/);
    assert.match(text, /ftr resume/);
    assert.doesNotMatch(text, /rolled-back/);
    const runId = h.journal().at(-1)?.runId;
    assert.ok(
      !h.journal().some((r) => r.runId === runId && (r.step === "finish" || r.step === "rollback")),
      "unfinished, no rollback",
    );
    assert.equal((await h.tokenSelf(OLD.token)).status, 200, "the old token stays valid");
    const newValue = deployed();
    assert.notEqual(newValue, OLD.token, "the new token stays deployed");
    assert.equal((await h.tokenSelf(newValue)).status, 200, "the new token stays valid");

    // `rotate` refuses while the run is unfinished; once the workflow is fixed, resume finishes.
    const refused = await h.runCli(["rotate", "--config", h.configPath, "--yes", "--force"]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stdout + refused.stderr, /resume/);
    gh.setWorkflowFailing(REPO, "deploy.yml", false);
    const resumed = await h.runCli(["resume", "--config", h.configPath]);
    assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
    assert.equal(deployed(), newValue);
    await assertSettled();
    assert.equal((await h.tokenSelf(OLD.token)).status, 401);
    assert.deepEqual(gh.violations, []);
    assertNothingPrinted();
  });

  it("a write GitHub refuses is rolled back: the new token is revoked, the secret unchanged", async () => {
    gh.deny("actions/create-or-update-environment-secret");
    const failed = await h.runCli(["rotate", "--config", h.configPath, "--yes", "--force"]);
    assert.equal(failed.code, 1, failed.stdout + failed.stderr);
    assert.match(failed.stdout, /rolled-back/);
    assert.match(failed.stdout + failed.stderr, /HTTP 403.*Environments: read and write/);
    assert.equal(deployed(), OLD.token);
    assert.equal(await assertSettled(), OLD.id);
    assertNothingPrinted();
  });

  it("ftr rollback refuses: the value before the rotation was never known", async () => {
    const rotated = await h.runCli(["rotate", "--config", h.configPath, "--yes", "--force", "--keep-old"]);
    assert.equal(rotated.code, 0, rotated.stdout + rotated.stderr);
    const rollback = await h.runCli(["rollback", "--config", h.configPath, "--env", "integration"]);
    assert.notEqual(rollback.code, 0);
    assert.match(rollback.stdout + rollback.stderr, /cannot be read back.*rotate again instead/);
    assert.notEqual(deployed(), OLD.token, "nothing was changed");
    assertNothingPrinted();
  });

  // Killed when a call reaches GitHub, never on a journal record.
  const KILLS = [
    { operation: "actions/create-or-update-environment-secret", phase: "before", finished: false },
    { operation: "actions/create-or-update-environment-secret", phase: "after", finished: true },
    { operation: "actions/create-workflow-dispatch", phase: "before", finished: true },
  ] as const;
  for (const kill of KILLS) {
    it(`a rotate killed when ${kill.operation} reached GitHub (held ${kill.phase} it is carried out) is ${kill.finished ? "finished" : "left honestly unfinished"} by ftr resume`, async (t) => {
      const from = h.journal().length;
      gh.fail(
        kill.phase === "before"
          ? { operation: kill.operation, hold: true }
          : { operation: kill.operation, holdAfter: true },
      );
      const child = h.spawnCli(["rotate", "--config", h.configPath, "--yes", "--force"]);
      await Promise.race([
        gh.held(),
        child.done.then((ended) => {
          throw new Error(`the run ended before ${kill.operation}: ${ended.stdout}${ended.stderr}`);
        }),
      ]);
      child.child.kill("SIGKILL");
      assert.equal((await child.done).signal, "SIGKILL");
      await gh.idle();
      gh.release();
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
        assert.equal(finish?.outcome, "rotated", resumed.stdout + resumed.stderr);
        assert.equal(await assertSettled(), finish.newTokenId);
        assert.equal((await h.tokenSelf(OLD.token)).status, 401);
      } else {
        // The write never happened and the value died with the process: ftr cannot tell that from
        // a write that landed, so it revokes nothing and says what it knows.
        assert.equal(resumed.code, 1, resumed.stdout + resumed.stderr);
        assert.equal(finish, undefined, "left unfinished");
        assert.match(
          resumed.stdout + resumed.stderr,
          /cannot tell whether the write landed, so it revoked nothing/,
        );
        assert.equal(deployed(), OLD.token, "the secret holds the old token");
        assert.equal((await h.tokenSelf(OLD.token)).status, 200, "the old token was not revoked");
      }
      assert.deepEqual(gh.violations, []);
      assertNothingPrinted();
    });
  }
});
