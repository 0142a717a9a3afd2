/**
 * Rotation with AWS Secrets Manager stores: `ftr rotate` over three environments whose tokens live
 * in Secrets Manager (one JSON secret each, key `fastly-api-token`), on loopback against the emulator,
 * exporter stand-ins and the local Secrets Manager wire-protocol server used by the tests, through the
 * real AWS SDK. Prints the Secrets Manager calls per environment by operation, and wall time.
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
  // The sync steps (playing External Secrets) are the consumer's calls, not the tool's: one
  // GetSecretValue per reload. They are counted apart.
  for (const env of h.environments) {
    const calls = aws.requests.filter((r) => r.secretId === secretOf(env));
    const byOp = new Map<string, number>();
    for (const c of calls) byOp.set(c.operation, (byOp.get(c.operation) ?? 0) + 1);
    const text = [...byOp].map(([op, n]) => `${op} ${n}`).join(", ");
    console.log(
      `${env.padEnd(12)} ${String(calls.length).padStart(2)} Secrets Manager calls (${text}), including 1 GetSecretValue by the sync step`,
    );
  }
  console.log(`requests the consumers had refused: ${(await h.consumerRefusals()).length}`);
} finally {
  await h.close();
  await aws.close();
}
