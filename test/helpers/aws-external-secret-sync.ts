/**
 * Plays External Secrets in the AWS end-to-end test: reads the `AWSCURRENT` version of a secret
 * through the AWS SDK and writes one JSON key of it to the file the exporter stand-in reads, as the
 * operator copies a Secrets Manager secret into a Kubernetes Secret. Run as a reload step:
 * `node --import tsx aws-external-secret-sync.ts <endpoint> <region> <secretId> <jsonKey> <file>`,
 * credentials from the environment. Never prints the value.
 */
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { rename, writeFile } from "node:fs/promises";

const [endpoint, region, secretId, jsonKey, file] = process.argv.slice(2);
if (!endpoint || !region || !secretId || !jsonKey || !file) {
  process.stderr.write("usage: aws-external-secret-sync <endpoint> <region> <secretId> <jsonKey> <file>\n");
  process.exit(2);
}
const client = new SecretsManagerClient({ endpoint, region });
const out = await client.send(new GetSecretValueCommand({ SecretId: secretId, VersionStage: "AWSCURRENT" }));
const value = (JSON.parse(out.SecretString ?? "{}") as Record<string, unknown>)[jsonKey];
if (typeof value !== "string") {
  process.stderr.write(`${secretId} has no string at ${jsonKey}\n`);
  process.exit(1);
}
await writeFile(`${file}.sync`, `${value}\n`, { mode: 0o600 });
await rename(`${file}.sync`, file);
process.stdout.write(`synced ${secretId} version ${out.VersionId ?? "?"} into ${file}\n`);
