/**
 * Plays External Secrets in the AWS end-to-end test as a reload step: writes one JSON key of the
 * `AWSCURRENT` version (src/sandbox/aws-external-secret-sync.ts) to the file the exporter stand-in
 * reads. `node --import tsx aws-external-secret-sync.ts <endpoint> <region> <secretId> <jsonKey>
 * <file>`, credentials from the environment. Never prints the value.
 */
import { rename, writeFile } from "node:fs/promises";
import { readAwsCurrent } from "../../src/sandbox/aws-external-secret-sync.ts";

const [endpoint, region, secretId, jsonKey, file] = process.argv.slice(2);
if (!endpoint || !region || !secretId || !jsonKey || !file) {
  process.stderr.write("usage: aws-external-secret-sync <endpoint> <region> <secretId> <jsonKey> <file>\n");
  process.exit(2);
}
try {
  const { value, versionId } = await readAwsCurrent({ endpoint, region, secretId, jsonKey });
  await writeFile(`${file}.sync`, `${value}\n`, { mode: 0o600 });
  await rename(`${file}.sync`, file);
  process.stdout.write(`synced ${secretId} version ${versionId} into ${file}\n`);
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
