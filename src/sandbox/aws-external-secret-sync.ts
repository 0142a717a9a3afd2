/**
 * The External Secrets operator's half of the GOV.UK path: read the `AWSCURRENT` version of a
 * Secrets Manager secret through the AWS SDK and take one JSON key of it, as the operator copies a
 * Secrets Manager secret into a Kubernetes Secret. The sandbox's Kubernetes stand-in runs it on
 * each sync; the tests run it as a reload step. Never logs the value.
 */
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";

/** Where to read from; credentials default to the SDK's chain (the environment, a profile). */
export interface AwsSyncSource {
  readonly endpoint: string;
  readonly region: string;
  readonly secretId: string;
  readonly jsonKey: string;
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

/** The string at `jsonKey` in the secret's `AWSCURRENT` version, and that version's id. */
export async function readAwsCurrent(
  source: AwsSyncSource,
): Promise<{ readonly value: string; readonly versionId: string }> {
  const { endpoint, region, secretId, jsonKey, credentials } = source;
  const client = new SecretsManagerClient({ endpoint, region, ...(credentials ? { credentials } : {}) });
  try {
    const out = await client.send(
      new GetSecretValueCommand({ SecretId: secretId, VersionStage: "AWSCURRENT" }),
    );
    const value = (JSON.parse(out.SecretString ?? "{}") as Record<string, unknown>)[jsonKey];
    if (typeof value !== "string") throw new Error(`${secretId} has no string at ${jsonKey}`);
    return { value, versionId: out.VersionId ?? "?" };
  } finally {
    client.destroy();
  }
}
