/**
 * Rotation with AWS Secrets Manager stores: `ftr rotate` over three environments whose tokens live
 * in Secrets Manager (one JSON secret each, key `fastly-api-token`), on loopback against the emulator,
 * exporter stand-ins and the local Secrets Manager wire-protocol server used by the tests, through the
 * real AWS SDK. Prints the Secrets Manager calls per environment by operation, in order, and wall
 * time; the goal is the rotator's calls per environment (the sync step's read left out) against
 * AWS's own rotation protocol, about 6 (createSecret: GetSecretValue ×2, PutSecretValue; testSecret:
 * GetSecretValue; finishSecret: DescribeSecret, UpdateSecretVersionStage).
 * Run: node --import tsx bench/rotation-aws.ts
 */
import { demoCredentials } from "../src/emulator/index.ts";
import {
  awsStoreConfig,
  startAwsSecretsManager,
  useAwsTestCredentials,
} from "../src/sandbox/aws-secrets-manager-server.ts";
import { externalSecretSyncStep } from "../test/helpers/aws.ts";
import { startRotationEnv } from "../test/helpers/rotation-env.ts";
import { reportGoal } from "./lib/goals.ts";

const KEY = "fastly-api-token";
useAwsTestCredentials();

const aws = await startAwsSecretsManager();
const secretOf = (env: string): string => `govuk/${env}/fastly-exporter`;
for (const env of ["integration", "staging", "production"] as const) {
  aws.createSecret(
    secretOf(env),
    JSON.stringify({ [KEY]: demoCredentials.exporterTokens[env].token, other: "x" }),
  );
}
const h = await startRotationEnv({
  verifyTimeout: "15s",
  verifyInterval: "1s",
  configure: (doc) => {
    for (const env of doc.environments) {
      const file = String(env.secret.path);
      env.secret = awsStoreConfig(aws, secretOf(env.name), KEY);
      env.reload = [externalSecretSyncStep(aws, secretOf(env.name), KEY, file), ...(env.reload ?? [])];
    }
  },
});
try {
  const started = Date.now();
  const rotated = await h.runCli(["rotate", "--config", h.configPath, "--yes", "--json"]);
  const wall = (Date.now() - started) / 1000;
  console.log(`ftr rotate with aws-secrets-manager stores: exit ${rotated.code}, ${wall.toFixed(1)} s wall`);
  const outcomes = (
    JSON.parse(rotated.stdout) as { result: { environments: { environment: string; outcome: string }[] } }
  ).result.environments;
  // The sync steps (playing External Secrets) are the consumer's calls, not the tool's: one
  // GetSecretValue per reload, and a rotated environment reloads once. They are counted apart.
  let worst = 0;
  for (const env of h.environments) {
    const calls = aws.requests.filter((r) => r.secretId === secretOf(env));
    const byOp = new Map<string, number>();
    for (const c of calls) byOp.set(c.operation, (byOp.get(c.operation) ?? 0) + 1);
    const text = [...byOp].map(([op, n]) => `${op} ${n}`).join(", ");
    const order = calls
      .map((c) => {
        const stage = c.input.VersionStage ?? c.input.VersionStages;
        return stage === undefined ? c.operation : `${c.operation}(${JSON.stringify(stage)})`;
      })
      .join(" → ");
    const outcome = outcomes.find((o) => o.environment === env)?.outcome ?? "?";
    if (outcome !== "rotated")
      throw new Error(`${env} was not rotated (${outcome}): the count means nothing`);
    const tool = calls.length - 1;
    worst = Math.max(worst, tool);
    console.log(
      `${env.padEnd(12)} ${String(tool).padStart(2)} Secrets Manager calls by the rotator, ${calls.length} with the sync step's read (${text})`,
    );
    console.log(`${"".padEnd(12)} ${order}`);
  }
  console.log(`requests the consumers had refused: ${(await h.consumerRefusals()).length}`);
  reportGoal({
    name: "AWS Secrets Manager calls per environment, one rotation",
    value: worst,
    op: "<=",
    goal: 6,
    unit: " calls",
    peer: "AWS's rotation protocol (about 6)",
  });
} finally {
  await h.close();
  await aws.close();
}
