/**
 * Rotation with the token kept in AWS Secrets Manager, as GOV.UK keeps it: the rotator drives the
 * real AWS SDK against a local server speaking Secrets Manager's wire protocol; a reload step plays
 * External Secrets (copies `AWSCURRENT` into the file the exporter stand-in reads), the next one
 * restarts the stand-in. Checked: the version labels at the end (AWSCURRENT on the run's version,
 * AWSPREVIOUS on the old one, no AWSPENDING), the other JSON keys kept, a failed verification
 * restoring the old value, a `kill -9` the moment the store's write reaches Secrets Manager finished by `ftr resume` from the AWSPENDING
 * version. Each case has a world of its own (emulator, stand-in, Secrets Manager) and ends by
 * searching the rotator's output and journal for every secret; the Secrets Manager log is searched
 * the other way, to prove the new value was sent to AWS.
 */
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { afterEach, beforeEach, describe, it } from "node:test";
import { demoCredentials } from "../src/emulator/index.ts";
import type { RotationResult } from "../src/rotation/rotate.ts";
import {
  awsSecrets,
  awsStoreConfig,
  sentValues,
  useAwsTestCredentials,
} from "../src/sandbox/aws-secrets-manager-server.ts";
import { externalSecretSyncStep } from "./helpers/aws.ts";
import { assertNoSecrets, assertSettled, type RotationEnv } from "./helpers/rotation-env.ts";
import { world, type World } from "./helpers/world.ts";

const SECRET = "govuk/fastly/api";
const KEY = "fastly-api-token";

// The rotator (in-process and as a child) finds its AWS credentials where the SDK looks first.
useAwsTestCredentials();

describe("ftr rotate with an aws-secrets-manager store", () => {
  let w: World<"aws">;
  let h: RotationEnv;

  beforeEach(async () => {
    w = await world({
      aws: {
        [SECRET]: JSON.stringify({
          [KEY]: demoCredentials.exporterTokens.integration.token,
          "other-key": "kept",
        }),
      },
    });
    h = await w.startRotationEnv({
      environments: ["integration"],
      verifyTimeout: "10s",
      verifyInterval: "1s",
      stateDir: "state",
      configure: (doc) => {
        const env = doc.environments[0]!;
        // The file the stand-in reads (relative paths resolve against the config's directory, which
        // is also the reload command's working directory).
        const exporterFile = String(env.secret.path);
        env.secret = awsStoreConfig(w.aws, SECRET, KEY);
        env.reload = [externalSecretSyncStep(w.aws, SECRET, KEY, exporterFile), ...(env.reload ?? [])];
      },
    });
    await mkdir(h.stateDir, { recursive: true, mode: 0o700 });
  });
  afterEach(() => w?.close());

  /** No token value, password or AWS secret key in what the rotator printed or journaled. */
  const assertNothingPrinted = (): void =>
    assertNoSecrets(h.collectOutput(), [...h.knownSecrets(), ...awsSecrets(w.aws, SECRET, KEY)]);

  /** The secret's current JSON document. */
  const current = (): Record<string, string> =>
    JSON.parse(w.aws.valueAt(SECRET) ?? "{}") as Record<string, string>;

  it("plans from the value in AWS, rotates, and leaves the labels as AWS's own rotation does", async () => {
    // As a process of its own, so that whatever the AWS SDK prints would show.
    const plan = await h.runCliProcess(["plan", "--config", h.configPath, "--json"]);
    assert.equal(plan.code, 0, plan.stderr);
    assert.doesNotMatch(plan.stderr, /Warning/, "no notice from the AWS SDK in the output");
    const planned = JSON.parse(plan.stdout) as {
      environments: { deployed: { status: string; tokenId?: string; managed?: boolean } }[];
    };
    assert.equal(planned.environments[0]?.deployed.status, "valid");
    assert.equal(planned.environments[0]?.deployed.tokenId, demoCredentials.exporterTokens.integration.id);

    const from = w.aws.requests.length;
    const rotated = await h.runCli(["rotate", "--config", h.configPath, "--yes", "--json"]);
    assert.equal(rotated.code, 0, rotated.stdout + rotated.stderr);
    const { result } = JSON.parse(rotated.stdout) as { result: RotationResult };
    // Six calls by the rotator, in AWS's own rotation order; the seventh is the sync step's read
    // (External Secrets reading AWSCURRENT after the promote).
    const calls = w.aws.requests.slice(from).map((r) => {
      const { VersionStage, VersionId, VersionStages } = r.input;
      const stage = VersionStage ?? VersionStages ?? (VersionId ? "by id" : "");
      return `${r.operation}${stage ? ` ${typeof stage === "string" ? stage : JSON.stringify(stage)}` : ""}`;
    });
    assert.deepEqual(calls, [
      "GetSecretValue AWSCURRENT", // the plan: which token is deployed
      "GetSecretValue AWSCURRENT", // stage: the document the new value is merged into
      'PutSecretValue ["AWSPENDING"]', // stage
      "DescribeSecret", // promote: where every version is
      "UpdateSecretVersionStage AWSCURRENT", // promote: one move; AWSPREVIOUS follows
      "GetSecretValue AWSCURRENT", // the reload step playing External Secrets
      "GetSecretValue AWSPREVIOUS", // prove: the old value is refused
    ]);
    assert.ok(w.aws.requests.slice(from).every((r) => r.status === 200));
    const deployed = await assertSettled(h, "integration");
    assert.equal(deployed, result.environments[0]?.newTokenId);

    const labels = w.aws.labels(SECRET);
    const ours = Object.entries(labels).find(([, stages]) => stages.includes("AWSCURRENT"))?.[0];
    assert.match(ours ?? "", /^fastly-token-rotator-\d{8}T\d{6}Z-[0-9a-f]{8}$/);
    assert.ok(Object.values(labels).some((stages) => stages.includes("AWSPREVIOUS")));
    assert.ok(!Object.values(labels).some((stages) => stages.includes("AWSPENDING")), "no AWSPENDING left");
    assert.equal(current()[KEY], h.readSecret("integration"));
    assert.equal(current()["other-key"], "kept");
    assert.equal((await h.tokenSelf(demoCredentials.exporterTokens.integration.token)).status, 401);
    assert.deepEqual(await h.consumerRefusals(), []);
    // The value did reach AWS (the fake keeps what it received), and nowhere in our output.
    assert.ok(
      sentValues(w.aws, SECRET, KEY).includes(h.readSecret("integration")),
      "the new token was sent to AWS",
    );
    assertNothingPrinted();
  });

  it("a failed verification puts the previous value back in AWSCURRENT", async () => {
    const before = current()[KEY]!;
    await h.setReload("integration", { skip: true }); // the consumer never restarts
    const failed = await h.runCli(["rotate", "--config", h.configPath, "--yes", "--force"]);
    await h.setReload("integration", {});
    assert.equal(failed.code, 1, failed.stdout + failed.stderr);
    assert.match(failed.stdout + failed.stderr, /rolled back/);
    assert.equal(current()[KEY], before, "AWSCURRENT holds the previous value again");
    assert.equal(current()["other-key"], "kept");
    assert.ok(!Object.values(w.aws.labels(SECRET)).some((stages) => stages.includes("AWSPENDING")));
    await assertSettled(h, "integration");
    assert.deepEqual(await h.consumerRefusals(), []);
    assertNothingPrinted();
  });

  it("a promote that fails after AWSCURRENT moved is rolled back: the previous value is current again", async () => {
    const before = current()[KEY]!;
    const beforeId = (await h.tokenSelf(before)).id;
    // The label move is carried out but its answer is lost; the SDK's retry is refused (the label
    // has moved), and the check of where it is now keeps failing: the promote fails, moved.
    w.aws.fail({ operation: "UpdateSecretVersionStage", afterApply: true });
    w.aws.fail({
      operation: "DescribeSecret",
      skip: 1,
      times: 3,
      code: "InternalServiceError",
      status: 500,
    });
    const failed = await h.runCli(["rotate", "--config", h.configPath, "--yes", "--force"]);
    assert.equal(failed.code, 1, failed.stdout + failed.stderr);
    assert.match(failed.stdout, /integration\s+rolled-back/);
    assert.match(failed.stdout, /promote failed/);
    assert.equal(current()[KEY], before, "AWSCURRENT holds the previous value again");
    assert.ok(!Object.values(w.aws.labels(SECRET)).some((stages) => stages.includes("AWSPENDING")));
    assert.equal(await assertSettled(h, "integration"), beforeId);
    assert.deepEqual(await h.consumerRefusals(), []);
    assertNothingPrinted();
  });

  // Killed when the store's write reaches Secrets Manager, never on a journal record: the fake holds
  // the call (before carrying it out, or after, with the answer lost) and the rotator dies then.
  const KILLS = [
    { operation: "PutSecretValue", phase: "before" },
    { operation: "PutSecretValue", phase: "after" },
    { operation: "DescribeSecret", phase: "before" },
    { operation: "UpdateSecretVersionStage", phase: "before" },
    { operation: "UpdateSecretVersionStage", phase: "after" },
  ] as const;
  for (const kill of KILLS) {
    it(`a rotate killed when ${kill.operation} reached AWS (held ${kill.phase} it is carried out) is finished by ftr resume`, async (t) => {
      const before = current()[KEY]!;
      const beforeId = (await h.tokenSelf(before)).id;
      const from = h.journal().length;
      w.aws.fail(
        kill.phase === "before"
          ? { operation: kill.operation, hold: true }
          : { operation: kill.operation, holdAfter: true },
      );
      const child = h.spawnCli(["rotate", "--config", h.configPath, "--yes", "--force"]);
      await Promise.race([
        w.aws.held(),
        child.done.then((ended) => {
          throw new Error(`the run ended before ${kill.operation}: ${ended.stdout}${ended.stderr}`);
        }),
      ]);
      child.child.kill("SIGKILL");
      const ended = await child.done;
      assert.equal(ended.signal, "SIGKILL");
      await w.aws.idle(); // the held call ends with its connection
      w.aws.release();
      const left = h.journal().slice(from);
      t.diagnostic(`killed after "${left.at(-1)?.step} ${left.at(-1)?.status}"`);
      const runId = left.at(-1)?.runId;

      const resumed = await h.runCli(["resume", "--config", h.configPath]);
      assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
      const finish = h
        .journal()
        .slice(from)
        .find((r) => r.runId === runId && r.step === "finish");
      assert.ok(finish, resumed.stdout + resumed.stderr);
      const deployed = await assertSettled(h, "integration");
      if (finish.outcome === "rotated") {
        assert.equal(deployed, finish.newTokenId);
        assert.equal(current()[KEY], h.readSecret("integration"));
      } else {
        assert.equal(finish.outcome, "rolled-back", resumed.stdout + resumed.stderr);
        assert.equal(deployed, beforeId, "the previous token is still deployed");
        assert.equal(current()[KEY], before, "AWSCURRENT holds the previous value");
      }
      assert.equal(current()["other-key"], "kept");
      assert.ok(!Object.values(w.aws.labels(SECRET)).some((stages) => stages.includes("AWSPENDING")));
      // No token of the run alive besides the deployed one.
      assert.deepEqual(
        (await h.liveTokens()).filter((tk) => tk.id !== deployed && tk.id === finish.newTokenId),
        [],
        "no orphan token",
      );
      assert.deepEqual(await h.consumerRefusals(), []);
      assertNothingPrinted();
    });
  }
});
