/**
 * Plays Vault Agent in the Vault end-to-end test: reads the current version of a KV v2 secret over
 * Vault's HTTP API and writes one key of it to the file the exporter stand-in reads. Run as a
 * reload step: `node --import tsx vault-agent-sync.ts <address> <mount> <path> <key> <file>`, the
 * token in VAULT_AGENT_TOKEN. Never prints the value.
 */
import { rename, writeFile } from "node:fs/promises";

const [address, mount, path, key, file] = process.argv.slice(2);
if (!address || !mount || !path || !key || !file) {
  process.stderr.write("usage: vault-agent-sync <address> <mount> <path> <key> <file>\n");
  process.exit(2);
}
const response = await fetch(`${address}/v1/${mount}/data/${path}`, {
  headers: {
    "X-Vault-Token": process.env.VAULT_AGENT_TOKEN ?? "",
    ...(process.env.VAULT_NAMESPACE ? { "X-Vault-Namespace": process.env.VAULT_NAMESPACE } : {}),
  },
});
if (!response.ok) {
  process.stderr.write(`reading ${mount}/${path}: HTTP ${response.status}\n`);
  process.exit(1);
}
const body = (await response.json()) as {
  data: { data: Record<string, unknown>; metadata: { version: number } };
};
const value = body.data.data[key];
if (typeof value !== "string") {
  process.stderr.write(`${mount}/${path} has no string at ${key}\n`);
  process.exit(1);
}
await writeFile(`${file}.sync`, `${value}\n`, { mode: 0o600 });
await rename(`${file}.sync`, file);
process.stdout.write(`synced ${mount}/${path} version ${body.data.metadata.version} into ${file}\n`);
