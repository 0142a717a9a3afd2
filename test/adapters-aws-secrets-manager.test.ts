/**
 * The `aws-secrets-manager` secret store, driven through the real AWS SDK against a local server
 * speaking Secrets Manager's wire protocol (src/sandbox/aws-secrets-manager-server.ts).
 */
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from "@aws-sdk/client-secrets-manager";
import { createServer } from "node:http";
import { BodyTooLargeError } from "../src/util/http.ts";
import type { AddressInfo } from "node:net";
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  AwsSecretsManagerError,
  createAwsSecretsManagerStore,
  versionIdFor,
  type AwsSecretsManagerStoreOptions,
} from "../src/adapters/aws-secrets-manager/index.ts";
import {
  AWS_TEST_CREDENTIALS,
  AWS_TEST_REGION,
  startAwsSecretsManager,
  type RunningAwsSecretsManager,
} from "../src/sandbox/aws-secrets-manager-server.ts";

const OLD = "X-srxc_zLpchro9ngNBVgyofN_jqQFJ2";
const NEW = "QoU3neoxQQ6IPL8g7eRkkCjyWcwdNI7J";
const RUN = "20261128T041153Z-1a2b3c4d";

let aws: RunningAwsSecretsManager;
let counter = 0;
/** Secrets the tests also query with their own client; the IAM policy check leaves those calls out. */
const probedDirectly = new Set<string>();
before(async () => {
  aws = await startAwsSecretsManager();
});
after(async () => {
  await aws.close();
});

/** A fresh secret and a store over it. */
function setup(
  initial: string | undefined,
  options: Partial<AwsSecretsManagerStoreOptions> = {},
): { name: string; store: ReturnType<typeof createAwsSecretsManagerStore> } {
  counter += 1;
  const name = `govuk/fastly-exporter-${counter}`;
  aws.createSecret(name, initial);
  const store = createAwsSecretsManagerStore({
    secretId: name,
    region: AWS_TEST_REGION,
    endpoint: aws.url,
    clientConfig: { credentials: AWS_TEST_CREDENTIALS, maxAttempts: 1 },
    ...options,
  });
  return { name, store };
}

/** Writes a new current version with the test's own client, as another writer of the secret would. */
async function putCurrent(name: string, text: string): Promise<void> {
  probedDirectly.add(name);
  const client = new SecretsManagerClient({
    region: AWS_TEST_REGION,
    endpoint: aws.url,
    credentials: AWS_TEST_CREDENTIALS,
    maxAttempts: 1,
  });
  try {
    await client.send(
      new PutSecretValueCommand({ SecretId: name, SecretString: text, VersionStages: ["AWSCURRENT"] }),
    );
  } finally {
    client.destroy();
  }
}

/** Runs `fn` with a client of the test's own, as another user of the secret would. */
async function sdk<T>(fn: (client: SecretsManagerClient) => Promise<T>): Promise<T> {
  const client = new SecretsManagerClient({
    region: AWS_TEST_REGION,
    endpoint: aws.url,
    credentials: AWS_TEST_CREDENTIALS,
    maxAttempts: 1,
  });
  try {
    return await fn(client);
  } finally {
    client.destroy();
  }
}

/** The operations called on secret `name` so far, in order. */
const calls = (name: string): string[] =>
  aws.requests.filter((r) => r.secretId === name).map((r) => r.operation);

/** The operations called on secret `name` while `fn` runs, in order. */
async function callsOf(name: string, fn: () => Promise<unknown>): Promise<string[]> {
  const from = calls(name).length;
  await fn();
  return calls(name).slice(from);
}

const noSecretIn = (error: unknown, ...values: string[]): true => {
  assert.ok(error instanceof Error);
  for (const value of values) assert.ok(!error.message.includes(value), "no secret value in the message");
  return true;
};

describe("aws-secrets-manager store, whole string", () => {
  it("stages as AWSPENDING, promotes to AWSCURRENT keeping AWSPREVIOUS, restores, all idempotent", async () => {
    const { name, store } = setup(OLD);
    assert.equal(store.durableStaging, true);
    assert.equal(store.description, `aws-secrets-manager ${name}`);
    assert.equal(await store.read(), OLD);

    await store.stage(NEW, RUN);
    await store.stage(NEW, RUN); // a retry after a crash creates nothing new
    const ours = versionIdFor(RUN);
    assert.deepEqual(aws.labels(name)[ours], ["AWSPENDING"]);
    assert.equal(aws.allValues(name).length, 2);
    assert.equal(await store.read(), OLD, "readers of AWSCURRENT (External Secrets) still see the old value");
    assert.equal(await store.readStaged(RUN), NEW);
    assert.equal(await store.readStaged("20261128T000000Z-00000000"), undefined);

    await store.promote(RUN);
    assert.equal(await store.read(), NEW);
    assert.equal(await store.readPrevious(), OLD);
    assert.deepEqual(aws.labels(name)[ours], ["AWSCURRENT"], "AWSPENDING removed after promotion");
    assert.equal(await store.readStaged(RUN), undefined);
    await store.promote(RUN);
    assert.equal(await store.read(), NEW);
    assert.equal(await store.readPrevious(), OLD);

    await store.restorePrevious(RUN);
    assert.equal(await store.read(), OLD);
    await store.restorePrevious(RUN); // idempotent: no swap back
    assert.equal(await store.read(), OLD);
    assert.equal(aws.valueAt(name, "AWSPREVIOUS"), NEW);
    assert.equal(aws.allValues(name).length, 3);
  });

  it("restorePrevious before promotion keeps the current value and drops the pending one", async () => {
    const { name, store } = setup(OLD);
    await store.stage(NEW, RUN);
    await store.restorePrevious(RUN);
    assert.equal(await store.read(), OLD);
    assert.equal(aws.valueAt(name, "AWSPENDING"), undefined);
    await store.restorePrevious(RUN); // again, as a resumed rollback does: still nothing to undo
    assert.equal(await store.read(), OLD);
    assert.equal(aws.allValues(name).length, 2, "no restore version written");
  });

  it("restorePrevious for another run id (ftr rollback) restores AWSPREVIOUS once", async () => {
    const { store } = setup(OLD);
    await store.stage(NEW, RUN);
    await store.promote(RUN);
    const rollbackRun = "20261129T100000Z-feedbeef";
    await store.restorePrevious(rollbackRun);
    await store.restorePrevious(rollbackRun);
    assert.equal(await store.read(), OLD);
  });

  it("discardStaged removes the AWSPENDING label, and promote then refuses", async () => {
    const { name, store } = setup(OLD);
    await store.stage(NEW, RUN);
    await store.discardStaged(RUN);
    await store.discardStaged(RUN);
    assert.equal(aws.valueAt(name, "AWSPENDING"), undefined);
    assert.equal(await store.readStaged(RUN), undefined);
    await assert.rejects(store.promote(RUN), /no longer pending/);
    assert.equal(await store.read(), OLD);
  });

  it("promote refuses when nothing was staged, and when another run took AWSPENDING", async () => {
    const { store } = setup(OLD);
    await assert.rejects(store.promote(RUN), /nothing staged for run/);
    await store.stage(NEW, RUN);
    await store.stage("another-value-of-32-characters-x", "20261128T050000Z-99999999");
    await assert.rejects(store.promote(RUN), (error: Error) => {
      assert.match(
        error.message,
        /no longer pending \(AWSPENDING is on fastly-token-rotator-20261128T050000Z-99999999\)/,
      );
      return noSecretIn(error, OLD, NEW);
    });
    assert.equal(await store.read(), OLD);
  });

  it("a secret without a value reads as none and is filled by promote", async () => {
    const { store } = setup(undefined);
    assert.equal(await store.read(), undefined);
    assert.equal(await store.readPrevious(), undefined);
    await store.stage(NEW, RUN);
    await store.promote(RUN);
    assert.equal(await store.read(), NEW);
    await assert.rejects(store.restorePrevious(RUN), /no previous version/);
  });
});

describe("aws-secrets-manager store, jsonKey", () => {
  it("changes only its key and keeps the rest", async () => {
    const original = JSON.stringify({ "fastly-api-token": OLD, other: "keep", n: 1 });
    const { name, store } = setup(original, { jsonKey: "fastly-api-token" });
    assert.equal(store.description, `aws-secrets-manager ${name}#fastly-api-token`);
    assert.equal(await store.read(), OLD);
    await store.stage(NEW, RUN);
    assert.equal(await store.readStaged(RUN), NEW);
    await store.promote(RUN);
    assert.deepEqual(JSON.parse(aws.valueAt(name) ?? ""), { "fastly-api-token": NEW, other: "keep", n: 1 });
    assert.equal(await store.readPrevious(), OLD);
    await store.restorePrevious(RUN);
    assert.equal(aws.valueAt(name), original);
  });

  it("adds the key to an object without it and to a secret without a value", async () => {
    const { name, store } = setup(`{"a":1}`, { jsonKey: "token" });
    assert.equal(await store.read(), undefined);
    await store.stage(NEW, RUN);
    await store.promote(RUN);
    assert.deepEqual(JSON.parse(aws.valueAt(name) ?? ""), { a: 1, token: NEW });

    const empty = setup(undefined, { jsonKey: "token" });
    await empty.store.stage(NEW, RUN);
    // No current version: nothing to compare with, so nothing more to read.
    assert.deepEqual(await callsOf(empty.name, () => empty.store.promote(RUN)), [
      "DescribeSecret",
      "UpdateSecretVersionStage",
    ]);
    assert.deepEqual(JSON.parse(aws.valueAt(empty.name) ?? ""), { token: NEW });
  });

  it("a retried stage after other keys changed is accepted when it holds the same value", async () => {
    const { name, store } = setup(JSON.stringify({ token: OLD, a: 1 }), { jsonKey: "token" });
    await store.stage(NEW, RUN);
    // Another key changes (a new current version), then the same run stages again: same version
    // id, other content, so AWS answers ResourceExistsException; the version holds our value.
    await putCurrent(name, JSON.stringify({ token: OLD, a: 2 }));
    await store.stage(NEW, RUN);
    assert.equal(await store.readStaged(RUN), NEW);
  });

  it("refuses a secret that is not a JSON object, without quoting it, and writes nothing", async () => {
    for (const text of [OLD, `["${OLD}"]`, "null"]) {
      const { name, store } = setup(text, { jsonKey: "token" });
      await assert.rejects(store.stage(NEW, RUN), (error: Error) => {
        assert.match(error.message, /refusing to overwrite/);
        return noSecretIn(error, OLD, NEW);
      });
      await assert.rejects(store.read(), /not (valid JSON|a JSON object)/);
      assert.equal(aws.allValues(name).length, 1, "no version written");
    }
  });

  it("refuses a key holding a non-string", async () => {
    const { store } = setup(`{"token": 5}`, { jsonKey: "token" });
    await assert.rejects(store.read(), /holds a number, not a string, at key token/);
  });
});

describe("aws-secrets-manager store, interrupted and repeated calls", () => {
  it("a label move whose answer was lost is retried by the SDK and accepted as done", async () => {
    const { name, store } = setup(OLD, {
      clientConfig: { credentials: AWS_TEST_CREDENTIALS, maxAttempts: 3 },
    });
    await store.stage(NEW, RUN);
    aws.fail({ operation: "UpdateSecretVersionStage", afterApply: true });
    await store.promote(RUN);
    assert.equal(await store.read(), NEW);
    assert.equal(await store.readPrevious(), OLD);
    assert.deepEqual(aws.labels(name)[versionIdFor(RUN)], ["AWSCURRENT"]);
  });

  it("AWSPENDING left on the current version, as AWS may leave it: promote is done, a rollback drops it", async () => {
    const { name, store } = setup(OLD);
    await store.stage(NEW, RUN);
    await store.promote(RUN);
    const ours = versionIdFor(RUN);
    await sdk((client) =>
      client.send(
        new UpdateSecretVersionStageCommand({
          SecretId: name,
          VersionStage: "AWSPENDING",
          MoveToVersionId: ours,
        }),
      ),
    );
    assert.deepEqual(aws.labels(name)[ours]?.sort(), ["AWSCURRENT", "AWSPENDING"]);
    const moves = calls(name).filter((op) => op === "UpdateSecretVersionStage").length;
    await store.promote(RUN);
    await store.discardStaged(RUN);
    assert.equal(calls(name).filter((op) => op === "UpdateSecretVersionStage").length, moves);
    assert.equal(await store.read(), NEW);
    await store.restorePrevious(RUN);
    assert.equal(await store.read(), OLD);
    assert.ok(!Object.values(aws.labels(name)).some((stages) => stages.includes("AWSPENDING")));
    assert.equal(await store.readStaged(RUN), undefined);
  });

  it("the next run's stage takes AWSPENDING from the current version it was left on", async () => {
    const { name, store } = setup(OLD);
    await store.stage(NEW, RUN);
    await store.promote(RUN);
    const ours = versionIdFor(RUN);
    await sdk((client) =>
      client.send(
        new UpdateSecretVersionStageCommand({
          SecretId: name,
          VersionStage: "AWSPENDING",
          MoveToVersionId: ours,
        }),
      ),
    );
    const next = "20261205T041153Z-5e6f7a8b";
    const newer = "c1d2e3f4g5h6i7j8k9l0m1n2o3p4q5r6";
    await store.stage(newer, next);
    assert.deepEqual(aws.labels(name)[ours], ["AWSCURRENT"]);
    await store.promote(next);
    assert.equal(await store.read(), newer);
    assert.equal(await store.readPrevious(), NEW);
  });

  it("refuses to promote a document staged before another key changed", async () => {
    const { name, store } = setup(JSON.stringify({ token: OLD, other: "v1" }), { jsonKey: "token" });
    await store.stage(NEW, RUN);
    // Someone else updates another key meanwhile, as `aws secretsmanager put-secret-value` does.
    const sdk = new SecretsManagerClient({
      region: AWS_TEST_REGION,
      endpoint: aws.url,
      credentials: AWS_TEST_CREDENTIALS,
    });
    await sdk.send(
      new PutSecretValueCommand({
        SecretId: name,
        SecretString: JSON.stringify({ token: OLD, other: "v2" }),
      }),
    );
    await assert.rejects(
      store.promote(RUN),
      /other keys of .* changed after run .* staged its value; nothing was switched/,
    );
    assert.deepEqual(JSON.parse(aws.valueAt(name) ?? ""), { token: OLD, other: "v2" });
  });

  it("a second rollback by another run does not undo the first", async () => {
    const { store } = setup(OLD);
    await store.stage(NEW, RUN);
    await store.promote(RUN);
    await store.restorePrevious("20261129T100000Z-00000001");
    assert.equal(await store.read(), OLD);
    await assert.rejects(
      store.restorePrevious("20261129T110000Z-00000002"),
      /was put back by an earlier rollback \(version fastly-token-rotator-restore-20261129T100000Z-00000001\)/,
    );
    assert.equal(await store.read(), OLD);
  });
});

describe("aws-secrets-manager store, errors", () => {
  it("a missing secret is an error naming it, with the fix", async () => {
    const store = createAwsSecretsManagerStore({
      secretId: "govuk/does-not-exist",
      region: AWS_TEST_REGION,
      endpoint: aws.url,
      clientConfig: { credentials: AWS_TEST_CREDENTIALS, maxAttempts: 1 },
    });
    await assert.rejects(store.read(), (error: Error) => {
      assert.ok(error instanceof AwsSecretsManagerError);
      assert.equal(error.code, "ResourceNotFoundException");
      assert.match(
        error.message,
        /DescribeSecret on AWS Secrets Manager secret govuk\/does-not-exist failed/,
      );
      assert.match(error.message, /aws secretsmanager create-secret --name govuk\/does-not-exist/);
      return true;
    });
  });

  it("unknown credentials say to check them; the secret key never appears", async () => {
    const { store } = setup(OLD, {
      clientConfig: {
        credentials: {
          accessKeyId: "AKIAUNKNOWN000000000",
          secretAccessKey: "wrong-secret-key-wrong-secret-key",
        },
        maxAttempts: 1,
      },
    });
    await assert.rejects(store.read(), (error: Error) => {
      assert.match(error.message, /UnrecognizedClientException/);
      assert.match(error.message, /check the AWS credentials/);
      return noSecretIn(error, OLD, "wrong-secret-key-wrong-secret-key");
    });
  });

  it("a missing permission names the permissions needed and leaves the secret alone", async () => {
    const { name, store } = setup(OLD);
    aws.deny("PutSecretValue");
    try {
      await assert.rejects(store.stage(NEW, RUN), (error: Error) => {
        assert.match(error.message, /PutSecretValue on .* AccessDeniedException/);
        assert.match(error.message, /grant secretsmanager:GetSecretValue, secretsmanager:PutSecretValue/);
        return noSecretIn(error, OLD, NEW);
      });
    } finally {
      aws.deny("PutSecretValue", false);
    }
    assert.deepEqual(aws.allValues(name), [OLD]);
  });

  it("keeps the document and every value in it out of an error that echoes them", async () => {
    const other = "another-credential-in-the-same-secret";
    const { store } = setup(JSON.stringify({ token: OLD, other }), { jsonKey: "token" });
    aws.fail({ operation: "PutSecretValue", code: "ValidationException", echo: true });
    await assert.rejects(store.stage(NEW, RUN), (error: Error) => {
      assert.match(error.message, /ValidationException: Value '\[REDACTED\]' at 'secretString'/);
      return noSecretIn(error, OLD, NEW, other);
    });
  });

  it("throttling and server errors are retried by the SDK with the same version id", async () => {
    const { name, store } = setup(OLD, {
      clientConfig: { credentials: AWS_TEST_CREDENTIALS, maxAttempts: 3 },
    });
    aws.fail({ operation: "PutSecretValue", code: "ThrottlingException", status: 400 });
    aws.fail({ operation: "PutSecretValue", code: "InternalServiceError", status: 500 });
    await store.stage(NEW, RUN);
    assert.equal(await store.readStaged(RUN), NEW);
    assert.equal(aws.allValues(name).length, 2);
  });

  it("without a region the message says where to set one", async () => {
    const saved = { AWS_REGION: process.env.AWS_REGION, AWS_DEFAULT_REGION: process.env.AWS_DEFAULT_REGION };
    delete process.env.AWS_REGION;
    delete process.env.AWS_DEFAULT_REGION;
    try {
      const store = createAwsSecretsManagerStore({
        secretId: "plain-name",
        clientConfig: { credentials: AWS_TEST_CREDENTIALS, maxAttempts: 1 },
        endpoint: aws.url,
      });
      await assert.rejects(
        store.read(),
        /set secret.region in the config, use the secret's ARN, or set AWS_REGION/,
      );
    } finally {
      for (const [key, value] of Object.entries(saved)) if (value !== undefined) process.env[key] = value;
    }
  });

  it("the region is taken from an ARN", async () => {
    const { name } = setup(OLD);
    const arn = `arn:aws:secretsmanager:${AWS_TEST_REGION}:123456789012:secret:${name}`;
    const store = createAwsSecretsManagerStore({
      secretId: arn,
      endpoint: aws.url,
      clientConfig: { credentials: AWS_TEST_CREDENTIALS, maxAttempts: 1 },
    });
    const saved = process.env.AWS_REGION;
    delete process.env.AWS_REGION;
    try {
      assert.equal(await store.read(), OLD);
    } finally {
      if (saved !== undefined) process.env.AWS_REGION = saved;
    }
  });
});

describe("aws-secrets-manager store, edges", () => {
  it("refuses a value with a line break and writes nothing", async () => {
    const { name, store } = setup(OLD);
    for (const value of [`${NEW}\n`, `a\rb`]) {
      await assert.rejects(store.stage(value, RUN), /refusing to store a value with a line break/);
    }
    assert.equal(aws.allValues(name).length, 1);
  });

  it("each refusal gets its fix; an unknown code gets none; a multi-line message is one line", async () => {
    const cases: [string, RegExp][] = [
      ["DecryptionFailure", /; allow the caller to use the secret's KMS key$/],
      ["KMSAccessDeniedException", /; allow the caller to use the secret's KMS key$/],
      ["ExpiredTokenException", /; check the AWS credentials \(AWS_PROFILE/],
      ["InvalidSignatureException", /; check the AWS credentials \(AWS_PROFILE/],
      ["ThrottlingException", /; AWS is throttling the account; try again in a minute$/],
    ];
    for (const [code, fix] of cases) {
      const { store } = setup(OLD);
      aws.fail({ operation: "GetSecretValue", code });
      await assert.rejects(store.read(), (error: Error) => {
        assert.ok(error instanceof AwsSecretsManagerError);
        assert.equal(error.code, code);
        assert.match(
          error.message,
          new RegExp(
            `^GetSecretValue on AWS Secrets Manager secret govuk/fastly-exporter-\\d+ failed: ${code}: `,
          ),
        );
        assert.match(error.message, fix);
        return true;
      });
    }
    const { store } = setup(OLD);
    aws.fail({
      operation: "GetSecretValue",
      code: "SomethingNewException",
      message: "first line\n   second line\n",
    });
    await assert.rejects(store.read(), (error: Error) => {
      assert.match(error.message, /failed: SomethingNewException: first line second line$/);
      return true;
    });
  });

  it("a credentials refusal names the profile when one is configured", async () => {
    const { store } = setup(OLD, { profile: "rotator" });
    aws.fail({ operation: "GetSecretValue", code: "ExpiredTokenException" });
    await assert.rejects(
      store.read(),
      /check the AWS credentials of profile rotator \(aws sts get-caller-identity --profile rotator\)$/,
    );
  });

  it("a JSON key holding null or an empty string reads as no value; so does an empty document", async () => {
    for (const doc of [`{"token":null}`, `{"token":""}`, "", "  "]) {
      const { store } = setup(doc === "" ? undefined : doc, { jsonKey: "token" });
      assert.equal(await store.read(), undefined, JSON.stringify(doc));
    }
    const { store } = setup(OLD);
    await store.stage(NEW, RUN);
    assert.equal(await store.readStaged(RUN), NEW);
  });

  it("a second stage of the same run with another value is refused", async () => {
    const { name, store } = setup(OLD);
    await store.stage(NEW, RUN);
    await assert.rejects(store.stage("a-different-value-of-32-characters", RUN), (error: Error) => {
      assert.ok(error instanceof AwsSecretsManagerError);
      assert.equal(error.code, "ResourceExistsException");
      return noSecretIn(error, OLD, NEW);
    });
    assert.equal(await store.readStaged(RUN), NEW);
    assert.equal(aws.allValues(name).length, 2);
  });

  it("a label move refused as invalid, with the label not moved, is an error", async () => {
    const { store } = setup(OLD);
    await store.stage(NEW, RUN);
    aws.fail({ operation: "UpdateSecretVersionStage", code: "InvalidParameterException" });
    await assert.rejects(store.promote(RUN), (error: Error) => {
      assert.ok(error instanceof AwsSecretsManagerError);
      assert.equal(error.code, "InvalidParameterException");
      return true;
    });
    assert.equal(await store.read(), OLD);
    await store.promote(RUN);
    assert.equal(await store.read(), NEW);
  });

  it("discardStaged after promote leaves the current version alone", async () => {
    const { name, store } = setup(OLD);
    await store.stage(NEW, RUN);
    await store.promote(RUN);
    const labels = aws.labels(name);
    await store.discardStaged(RUN);
    assert.deepEqual(aws.labels(name), labels);
    assert.equal(await store.read(), NEW);
  });

  it("a rollback finished already writes nothing more", async () => {
    const { name, store } = setup(OLD);
    await store.stage(NEW, RUN);
    await store.promote(RUN);
    await store.restorePrevious(RUN);
    const versions = aws.allValues(name).length;
    const puts = aws.requests.filter((r) => r.secretId === name && r.operation === "PutSecretValue").length;
    await store.restorePrevious(RUN);
    assert.equal(aws.allValues(name).length, versions);
    assert.equal(
      aws.requests.filter((r) => r.secretId === name && r.operation === "PutSecretValue").length,
      puts,
    );
    assert.equal(await store.read(), OLD);
  });

  it("keeps nested values of the document out of an error that echoes them", async () => {
    const nested = "a-nested-credential-deep-in-the-document";
    const { store } = setup(JSON.stringify({ token: OLD, db: { password: nested } }), { jsonKey: "token" });
    aws.fail({ operation: "PutSecretValue", code: "ValidationException", echo: true });
    await assert.rejects(store.stage(NEW, RUN), (error: Error) => noSecretIn(error, OLD, NEW, nested));
  });
});

describe("aws-secrets-manager store, more edges", () => {
  const labelMoves = (name: string) =>
    aws.requests.filter((r) => r.secretId === name && r.operation === "UpdateSecretVersionStage").length;

  it("moves no label that is not where it should be moved from", async () => {
    const { name, store } = setup(OLD);
    await store.stage(NEW, RUN);
    await store.promote(RUN);
    const moves = labelMoves(name);
    await store.promote(RUN);
    await store.discardStaged(RUN);
    assert.equal(labelMoves(name), moves, "promote again and discard after promote move nothing");
    await store.restorePrevious(RUN);
    assert.equal(labelMoves(name), moves, "a rollback writes a new version, it moves no label");
    assert.equal(await store.read(), OLD);
  });

  it("a promote compares the other keys by value, not by their order", async () => {
    const { name, store } = setup(JSON.stringify({ a: 1, b: 2, token: OLD }), { jsonKey: "token" });
    await store.stage(NEW, RUN);
    await putCurrent(name, JSON.stringify({ b: 2, a: 1, token: OLD }));
    await store.promote(RUN);
    assert.deepEqual(JSON.parse(aws.valueAt(name) ?? ""), { a: 1, b: 2, token: NEW });
  });

  it("JSON that is not an object is refused; invalid JSON is named as such, on read without 'overwrite'", async () => {
    for (const text of ["42", `"${OLD}"`]) {
      const { store } = setup(text, { jsonKey: "token" });
      await assert.rejects(store.stage(NEW, RUN), /is not a JSON object, refusing to overwrite it/);
    }
    const { store } = setup("{", { jsonKey: "token" });
    await assert.rejects(store.read(), (error: Error) => {
      assert.match(error.message, /the secret string is not valid JSON; fix the secret/);
      return true;
    });
    const other = setup("[1]", { jsonKey: "token" });
    await assert.rejects(other.store.read(), /is not a JSON object; fix the secret/);
  });

  it("an empty secret string reads as no value", async () => {
    const { store } = setup("");
    assert.equal(await store.read(), undefined);
  });

  it("an error keeps what AWS threw as its cause", async () => {
    const { store } = setup(OLD);
    aws.fail({ operation: "GetSecretValue", code: "ThrottlingException" });
    await assert.rejects(store.read(), (error: Error) => {
      assert.ok(error.cause instanceof Error);
      assert.equal(error.cause.name, "ThrottlingException");
      return true;
    });
  });

  it("a label move whose answer was lost, without retries, is an error: the store does not guess", async () => {
    const { store } = setup(OLD);
    await store.stage(NEW, RUN);
    aws.fail({ operation: "UpdateSecretVersionStage", afterApply: true });
    await assert.rejects(store.promote(RUN), AwsSecretsManagerError);
    await store.promote(RUN);
    assert.equal(await store.read(), NEW);
  });

  it("a connection refused is named by its code, not as a generic Error", async () => {
    const { createServer } = await import("node:net");
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    await new Promise((resolve) => server.close(resolve));
    const store = createAwsSecretsManagerStore({
      secretId: "govuk/unreachable",
      region: AWS_TEST_REGION,
      endpoint: `http://127.0.0.1:${port}`,
      clientConfig: { credentials: AWS_TEST_CREDENTIALS, maxAttempts: 1 },
    });
    await assert.rejects(store.read(), (error: Error) => {
      assert.ok(error instanceof AwsSecretsManagerError);
      assert.equal(error.code, "ECONNREFUSED");
      assert.match(error.message, /failed: ECONNREFUSED: /);
      return true;
    });
  });
});

describe("aws-secrets-manager store, calls per rotation", () => {
  const KEY = "fastly-api-token";
  const doc = (token: string) => JSON.stringify({ [KEY]: token, other: "kept" });

  it("a rotation with jsonKey costs six calls: read, merge, stage, describe, one move, previous", async () => {
    const { name, store } = setup(doc(OLD), { jsonKey: KEY });
    // The plan reads with a store of its own; the run builds another.
    const planStore = createAwsSecretsManagerStore({
      secretId: name,
      region: AWS_TEST_REGION,
      endpoint: aws.url,
      clientConfig: { credentials: AWS_TEST_CREDENTIALS, maxAttempts: 1 },
      jsonKey: KEY,
    });
    assert.deepEqual(await callsOf(name, () => planStore.read()), ["GetSecretValue"]);
    assert.deepEqual(await callsOf(name, () => store.stage(NEW, RUN)), ["GetSecretValue", "PutSecretValue"]);
    assert.deepEqual(await callsOf(name, () => store.promote(RUN)), [
      "DescribeSecret",
      "UpdateSecretVersionStage",
    ]);
    assert.deepEqual(await callsOf(name, () => store.readPrevious()), ["GetSecretValue"]);
    assert.equal(await store.readPrevious(), OLD);
    const move = aws.requests.filter(
      (r) => r.secretId === name && r.operation === "UpdateSecretVersionStage",
    );
    assert.deepEqual(
      move.map((r) => r.input),
      [
        {
          SecretId: name,
          VersionStage: "AWSCURRENT",
          MoveToVersionId: versionIdFor(RUN),
          RemoveFromVersionId: Object.keys(aws.labels(name)).find((id) => id !== versionIdFor(RUN)),
        },
      ],
    );
    const ours = versionIdFor(RUN);
    assert.deepEqual(aws.labels(name)[ours], ["AWSCURRENT"], "AWSPENDING left with the move");
    assert.equal(aws.valueAt(name, "AWSPREVIOUS"), doc(OLD));
    assert.equal(aws.valueAt(name), doc(NEW));
  });

  it("a whole-string rotation stages with one call", async () => {
    const { name, store } = setup(OLD);
    assert.deepEqual(await callsOf(name, () => store.stage(NEW, RUN)), ["PutSecretValue"]);
    assert.deepEqual(await callsOf(name, () => store.promote(RUN)), [
      "DescribeSecret",
      "UpdateSecretVersionStage",
    ]);
  });

  it("a resumed run (a store of its own) reads back what was staged, then reads the current version once", async () => {
    const { name, store } = setup(doc(OLD), { jsonKey: KEY });
    await store.stage(NEW, RUN);
    const resumed = createAwsSecretsManagerStore({
      secretId: name,
      region: AWS_TEST_REGION,
      endpoint: aws.url,
      clientConfig: { credentials: AWS_TEST_CREDENTIALS, maxAttempts: 1 },
      jsonKey: KEY,
    });
    assert.deepEqual(await callsOf(name, () => resumed.readStaged(RUN)), ["GetSecretValue"]);
    const promoted = aws.requests.length;
    assert.deepEqual(await callsOf(name, () => resumed.promote(RUN)), [
      "DescribeSecret",
      "GetSecretValue",
      "UpdateSecretVersionStage",
    ]);
    const read = aws.requests.slice(promoted).find((r) => r.operation === "GetSecretValue");
    assert.deepEqual(read?.input, {
      SecretId: name,
      VersionId: Object.keys(aws.labels(name)).find((id) => id !== versionIdFor(RUN)),
    });
    assert.equal(await resumed.read(), NEW);
  });

  it("a resumed promote without readStaged reads both versions it compares", async () => {
    const { name, store } = setup(doc(OLD), { jsonKey: KEY });
    await store.stage(NEW, RUN);
    const resumed = createAwsSecretsManagerStore({
      secretId: name,
      region: AWS_TEST_REGION,
      endpoint: aws.url,
      clientConfig: { credentials: AWS_TEST_CREDENTIALS, maxAttempts: 1 },
      jsonKey: KEY,
    });
    assert.deepEqual(await callsOf(name, () => resumed.promote(RUN)), [
      "DescribeSecret",
      "GetSecretValue",
      "GetSecretValue",
      "UpdateSecretVersionStage",
    ]);
    assert.equal(await resumed.read(), NEW);
  });

  it("a promote after another writer made a new current version reads it to compare, and refuses a change", async () => {
    const { name, store } = setup(doc(OLD), { jsonKey: KEY });
    await store.stage(NEW, RUN);
    await putCurrent(name, JSON.stringify({ [KEY]: OLD, other: "changed" }));
    assert.deepEqual(
      await callsOf(name, () =>
        assert.rejects(store.promote(RUN), /other keys of .* changed after run .* staged its value/),
      ),
      ["DescribeSecret", "GetSecretValue"],
    );
    assert.equal(aws.valueAt(name), JSON.stringify({ [KEY]: OLD, other: "changed" }));
  });

  it("a rollback after promote reads nothing it knows already: describe and one write", async () => {
    const { name, store } = setup(doc(OLD), { jsonKey: KEY });
    await store.stage(NEW, RUN);
    await store.promote(RUN);
    assert.deepEqual(await callsOf(name, () => store.restorePrevious(RUN)), [
      "DescribeSecret",
      "PutSecretValue",
    ]);
    assert.equal(aws.valueAt(name), doc(OLD));
  });

  it("a retried stage after another key changed checks its version from memory", async () => {
    const { name, store } = setup(doc(OLD), { jsonKey: KEY });
    await store.stage(NEW, RUN);
    await putCurrent(name, JSON.stringify({ [KEY]: OLD, other: "changed" }));
    assert.deepEqual(await callsOf(name, () => store.stage(NEW, RUN)), ["GetSecretValue", "PutSecretValue"]);
    // Another store (a resumed run) has to read it.
    const resumed = createAwsSecretsManagerStore({
      secretId: name,
      region: AWS_TEST_REGION,
      endpoint: aws.url,
      clientConfig: { credentials: AWS_TEST_CREDENTIALS, maxAttempts: 1 },
      jsonKey: KEY,
    });
    assert.deepEqual(await callsOf(name, () => resumed.stage(NEW, RUN)), [
      "GetSecretValue",
      "PutSecretValue",
      "GetSecretValue",
    ]);
    await assert.rejects(resumed.stage("d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6", RUN), /ResourceExistsException/);
  });

  it("a PutSecretValue answered with another version id is an error: the value is not where promote looks", async () => {
    // A server answering every call as PutSecretValue does, naming a version of its own.
    const server = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        const body = JSON.stringify({ ARN: "arn", Name: "n", VersionId: "not-the-token-we-sent" });
        res.writeHead(200, { "content-type": "application/x-amz-json-1.1", "content-length": body.length });
        res.end(body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const store = createAwsSecretsManagerStore({
        secretId: "govuk/elsewhere",
        region: AWS_TEST_REGION,
        endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        clientConfig: { credentials: AWS_TEST_CREDENTIALS, maxAttempts: 1 },
      });
      await assert.rejects(store.stage(NEW, RUN), (error: Error) => {
        assert.ok(error instanceof AwsSecretsManagerError);
        assert.match(
          error.message,
          /^PutSecretValue on AWS Secrets Manager secret govuk\/elsewhere answered with version not-the-token-we-sent, not fastly-token-rotator-20261128T041153Z-1a2b3c4d; check that secret.endpoint points at Secrets Manager$/,
        );
        return noSecretIn(error, NEW);
      });
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe("aws-secrets-manager store, what mutation testing found unproven", () => {
  it("a label removal whose answer was lost is retried by the SDK and accepted as done", async () => {
    const { name, store } = setup(OLD, {
      clientConfig: { credentials: AWS_TEST_CREDENTIALS, maxAttempts: 3 },
    });
    await store.stage(NEW, RUN);
    aws.fail({ operation: "UpdateSecretVersionStage", afterApply: true });
    await store.discardStaged(RUN);
    assert.equal(aws.valueAt(name, "AWSPENDING"), undefined);
    assert.equal(await store.read(), OLD);
  });

  it("a label removal refused as invalid, with the label still there, is an error", async () => {
    const { name, store } = setup(OLD);
    await store.stage(NEW, RUN);
    aws.fail({ operation: "UpdateSecretVersionStage", code: "InvalidParameterException" });
    await assert.rejects(store.restorePrevious(RUN), { code: "InvalidParameterException" });
    assert.equal(aws.valueAt(name, "AWSPENDING"), NEW);
  });

  it("a name with colons that is not an ARN, or an ARN cut short, gives no region", async () => {
    const saved = { AWS_REGION: process.env.AWS_REGION, AWS_DEFAULT_REGION: process.env.AWS_DEFAULT_REGION };
    delete process.env.AWS_REGION;
    delete process.env.AWS_DEFAULT_REGION;
    try {
      for (const secretId of [
        `nope:aws:secretsmanager:${AWS_TEST_REGION}:123456789012:secret:x`,
        `arn:aws:secretsmanager:${AWS_TEST_REGION}`,
      ]) {
        const store = createAwsSecretsManagerStore({
          secretId,
          clientConfig: { credentials: AWS_TEST_CREDENTIALS, maxAttempts: 1 },
          endpoint: aws.url,
        });
        await assert.rejects(store.read(), /set secret.region in the config/, secretId);
      }
    } finally {
      for (const [key, value] of Object.entries(saved)) if (value !== undefined) process.env[key] = value;
    }
  });

  it("an answer streaming past the cap is abandoned with one line", async () => {
    const { name, store } = setup(OLD);
    aws.fail({ operation: "GetSecretValue", oversized: "chunked" });
    await assert.rejects(store.read(), (error: Error) => {
      assert.equal(
        error.message,
        `GetSecretValue on AWS Secrets Manager secret ${name} failed: the endpoint answered with more than 1 MiB, so the read was stopped (a Secrets Manager answer is a few KiB); check that secret.endpoint points at Secrets Manager`,
      );
      assert.ok(error.cause instanceof BodyTooLargeError, "the cap's error kept as the cause");
      return true;
    });
    await aws.idle(30_000);
  });

  it("keeps every string of the document out of an error that quotes one of them, however deep", async () => {
    const nested = "a-nested-credential-deep-in-the-document";
    const listed = "a-credential-in-a-list-in-the-document";
    // Null first: a walk that treats null as an object stops there, before the nested values.
    const document = JSON.stringify({ a: null, n: 5, token: OLD, db: { password: nested }, list: [listed] });
    // A service answering GetSecretValue with the document, and refusing PutSecretValue with a
    // message quoting the nested values one by one (not the whole document).
    const server = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        const put = String(req.headers["x-amz-target"]).endsWith("PutSecretValue");
        const body = JSON.stringify(
          put
            ? { __type: "ValidationException", message: `bad values '${nested}' and '${listed}'` }
            : {
                ARN: "arn",
                Name: "n",
                VersionId: "v-current-0000000000000000000000000",
                SecretString: document,
                VersionStages: ["AWSCURRENT"],
              },
        );
        res.writeHead(put ? 400 : 200, {
          "content-type": "application/x-amz-json-1.1",
          "content-length": Buffer.byteLength(body),
          ...(put ? { "x-amzn-errortype": "ValidationException:" } : {}),
        });
        res.end(body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const store = createAwsSecretsManagerStore({
        secretId: "govuk/elsewhere",
        jsonKey: "token",
        region: AWS_TEST_REGION,
        endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        clientConfig: { credentials: AWS_TEST_CREDENTIALS, maxAttempts: 1 },
      });
      await assert.rejects(store.stage(NEW, RUN), (error: Error) => {
        assert.match(error.message, /^PutSecretValue on .* failed: ValidationException: bad values/);
        return noSecretIn(error, nested, listed);
      });
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe("versionIdFor, at its bounds", () => {
  // "fastly-token-rotator-" is 21 characters: a run id of 11 to 43 fits AWS's 32 to 64.
  it("keeps a run id that fits as it is, and hashes one too short, too long or with other characters", () => {
    const plain = (runId: string) => versionIdFor(runId) === `fastly-token-rotator-${runId}`;
    assert.ok(plain("a".repeat(11)));
    assert.ok(plain("a".repeat(43)));
    assert.ok(!plain("a".repeat(10)));
    assert.ok(!plain("a".repeat(44)));
    assert.ok(!plain("bad/run-id-xyz"));
    assert.ok(!plain("run-id-xyz/bad"));
    assert.equal(versionIdFor("a".repeat(10)).length, 64);
    assert.ok(versionIdFor("x", "restore").startsWith("fastly-token-rotator-restore-"));
  });
});

describe("the Secrets Manager fake, as AWS documents it", () => {
  it("PutSecretValue with a known ClientRequestToken: the same version for the same value, a conflict for another", async () => {
    const { name } = setup(OLD);
    probedDirectly.add(name);
    const token = versionIdFor(RUN);
    const put = (text: string) =>
      sdk((client) =>
        client.send(
          new PutSecretValueCommand({
            SecretId: name,
            ClientRequestToken: token,
            SecretString: text,
            VersionStages: ["AWSPENDING"],
          }),
        ),
      );
    assert.equal((await put(NEW)).VersionId, token);
    assert.equal((await put(NEW)).VersionId, token);
    assert.equal(aws.allValues(name).length, 2);
    await assert.rejects(put(OLD), { name: "ResourceExistsException" });
    assert.equal(aws.valueAt(name, "AWSPENDING"), NEW);
  });

  it("moving AWSCURRENT puts AWSPREVIOUS on the version it left and drops AWSPENDING from the new one", async () => {
    const { name } = setup(OLD);
    probedDirectly.add(name);
    const token = versionIdFor(RUN);
    await sdk(async (client) => {
      await client.send(
        new PutSecretValueCommand({
          SecretId: name,
          ClientRequestToken: token,
          SecretString: NEW,
          VersionStages: ["AWSPENDING"],
        }),
      );
      const old = Object.keys(aws.labels(name)).find((id) => id !== token);
      await assert.rejects(
        client.send(
          new UpdateSecretVersionStageCommand({
            SecretId: name,
            VersionStage: "AWSCURRENT",
            MoveToVersionId: token,
          }),
        ),
        /RemoveFromVersionId can't be empty/,
      );
      await client.send(
        new UpdateSecretVersionStageCommand({
          SecretId: name,
          VersionStage: "AWSCURRENT",
          MoveToVersionId: token,
          RemoveFromVersionId: old,
        }),
      );
      assert.deepEqual(aws.labels(name), { [token]: ["AWSCURRENT"], [old!]: ["AWSPREVIOUS"] });
      const previous = await client.send(
        new GetSecretValueCommand({ SecretId: name, VersionStage: "AWSPREVIOUS" }),
      );
      assert.equal(previous.SecretString, OLD);
    });
  });

  it("lists unlabelled (deprecated) versions only with IncludeDeprecated; DescribeSecret never", async () => {
    const { name, store } = setup(OLD);
    probedDirectly.add(name);
    await store.stage(NEW, RUN);
    await store.discardStaged(RUN); // the staged version loses its only label
    const client = new SecretsManagerClient({
      region: AWS_TEST_REGION,
      endpoint: aws.url,
      credentials: AWS_TEST_CREDENTIALS,
      maxAttempts: 1,
    });
    try {
      const ours = versionIdFor(RUN);
      const labelled = await client.send(new ListSecretVersionIdsCommand({ SecretId: name }));
      assert.deepEqual(
        labelled.Versions?.map((v) => v.VersionId),
        Object.keys(aws.labels(name)),
      );
      assert.ok(!labelled.Versions?.some((v) => v.VersionId === ours));
      const all = await client.send(
        new ListSecretVersionIdsCommand({ SecretId: name, IncludeDeprecated: true }),
      );
      const deprecated = all.Versions?.find((v) => v.VersionId === ours);
      assert.ok(deprecated, "the unlabelled version is listed when deprecated ones are asked for");
      assert.deepEqual(deprecated.VersionStages, []);
      const described = await client.send(new DescribeSecretCommand({ SecretId: name }));
      assert.ok(!Object.keys(described.VersionIdsToStages ?? {}).includes(ours));
      // The log keeps what AWS received: the staged value was sent.
      const put = aws.requests.find((r) => r.operation === "PutSecretValue" && r.secretId === name);
      assert.ok(put, "the stage sent PutSecretValue");
      assert.equal(put.input.SecretString, NEW);
    } finally {
      client.destroy();
    }
  });
});

describe("versionIdFor", () => {
  it("is readable, stable and within AWS's 32–64 characters", () => {
    assert.equal(versionIdFor(RUN), `fastly-token-rotator-${RUN}`);
    assert.equal(versionIdFor(RUN, "restore"), `fastly-token-rotator-restore-${RUN}`);
    const odd = versionIdFor("x".repeat(80));
    assert.ok(odd.length >= 32 && odd.length <= 64);
    assert.equal(versionIdFor("x".repeat(80)), odd);
  });
});

// Last: every operation the tests above made the store call is granted by the documented policy.
describe("deploy/aws/iam-policy.json", () => {
  it("grants every Secrets Manager operation the store calls, and no other", async () => {
    const { readFile } = await import("node:fs/promises");
    const policy = JSON.parse(
      await readFile(new URL("../deploy/aws/iam-policy.json", import.meta.url), "utf8"),
    ) as {
      Statement: { Action: string[] }[];
    };
    const granted = new Set(policy.Statement.flatMap((s) => s.Action));
    const called = new Set(
      aws.requests
        .filter((r) => !probedDirectly.has(r.secretId ?? ""))
        .map((r) => `secretsmanager:${r.operation}`),
    );
    assert.deepEqual([...called].sort(), [...granted].sort());
  });
});
