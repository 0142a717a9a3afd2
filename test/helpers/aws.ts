/** Test-side helpers around the Secrets Manager stand-in (src/sandbox/aws-secrets-manager-server.ts). */
import { fileURLToPath } from "node:url";
import {
  AWS_TEST_REGION,
  type RunningAwsSecretsManager,
} from "../../src/sandbox/aws-secrets-manager-server.ts";
import { TSX_LOADER } from "./cli.ts";

/** A reload step playing External Secrets: copies `AWSCURRENT`'s `jsonKey` into `file`. */
export function externalSecretSyncStep(
  aws: RunningAwsSecretsManager,
  secretId: string,
  jsonKey: string,
  file: string,
): Record<string, unknown> {
  const script = fileURLToPath(new URL("./aws-external-secret-sync.ts", import.meta.url));
  return {
    type: "exec",
    command: [
      process.execPath,
      "--import",
      TSX_LOADER,
      script,
      aws.url,
      AWS_TEST_REGION,
      secretId,
      jsonKey,
      file,
    ],
    timeout: "60s",
  };
}
