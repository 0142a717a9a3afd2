/**
 * Rotation with the token kept in one key of a Vault KV v2 secret, in a namespace: the rotator
 * speaks Vault's HTTP API to a local server following Vault's API documentation; a reload step
 * plays Vault Agent (copies the current version's key into the file the exporter stand-in reads),
 * the next restarts the stand-in. Checked: the other keys kept, one new version written with `cas`,
 * a failed verification writing the previous version's data back, someone else's write between
 * stage and promote stopping the run with nothing lost, and a `kill -9` at each write reaching
 * Vault finished by `ftr resume`. Every case ends by searching the output and journal for every
 * secret, the Vault token included.
 */
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, it } from "node:test";
import { demoCredentials } from "../src/emulator/index.ts";
import type { RotationResult } from "../src/rotation/rotate.ts";
import { TSX_LOADER } from "./helpers/cli.ts";
import {
  assertNoSecrets,
  assertSettled,
  startRotationEnv,
  type RotationEnv,
} from "./helpers/rotation-env.ts";
import { startVault, type RunningVault } from "./helpers/vault-server.ts";

const VAULT_TOKEN = "hvs.ftr-test-rotator-token-0123456789abcdef";
const AGENT_TOKEN = "hvs.ftr-test-agent-token-0123456789abcdef";
const TOKEN_ENV = "FTR_TEST_VAULT_TOKEN";
const NS = "admin/govuk";
const MOUNT = "kv";
const PATH = "fastly/exporter-integration";
const KEY = "api-token";
const OLD = demoCredentials.exporterTokens.integration;

process.env[TOKEN_ENV] = VAULT_TOKEN;

describe("ftr rotate with a vault-kv store", () => {
  let h: RotationEnv;
  let vault: RunningVault;

  beforeEach(async () => {
    // An in-process command moves the variables the config names as secrets out of process.env
    // (they are kept from child processes): each case starts with it set again.
    process.env[TOKEN_ENV] = VAULT_TOKEN;
    vault = await startVault();
    vault.enableKv(MOUNT, NS);
    vault.addToken(VAULT_TOKEN, "read-write", NS);
    vault.addToken(AGENT_TOKEN, "read", NS);
    vault.write(MOUNT, PATH, { [KEY]: OLD.token, "other-key": "kept" }, NS);
    h = await startRotationEnv({
      environments: ["integration"],
      verifyTimeout: "10s",
      verifyInterval: "1s",
      stateDir: "state",
      configure: (doc) => {
        const env = doc.environments[0]!;
        const exporterFile = String(env.secret.path);
        env.secret = {
          type: "vault-kv",
          address: vault.url,
          namespace: NS,
          mount: MOUNT,
          path: PATH,
          key: KEY,
          auth: { method: "token", tokenEnv: TOKEN_ENV },
        };
        const agent = fileURLToPath(new URL("./helpers/vault-agent-sync.ts", import.meta.url));
        env.reload = [
          {
            type: "exec",
            command: [
              process.execPath,
              "--import",
              TSX_LOADER,
              agent,
              `${vault.url}`,
              MOUNT,
              PATH,
              KEY,
              exporterFile,
            ],
            env: { VAULT_AGENT_TOKEN: AGENT_TOKEN, VAULT_NAMESPACE: NS },
            timeout: "60s",
          },
          ...(env.reload ?? []),
        ];
      },
    });
    await mkdir(h.stateDir, { recursive: true, mode: 0o700 });
  });
  afterEach(async () => {
    await h?.close();
    await vault?.close();
  });

  const current = () => vault.current(MOUNT, PATH, NS) ?? {};
  const assertNothingPrinted = (): void =>
    assertNoSecrets(h.collectOutput(), [
      ...h.knownSecrets(),
      { label: "Vault token", value: VAULT_TOKEN },
      { label: "agent token", value: AGENT_TOKEN },
      ...vault.history(MOUNT, PATH, KEY, NS).map((value, i) => ({ label: `value #${i} in Vault`, value })),
    ]);

  it("plans from the value in Vault, rotates with cas, and keeps the other keys", async () => {
    const plan = await h.runCli(["plan", "--config", h.configPath, "--json"]);
    assert.equal(plan.code, 0, plan.stderr);
    const planned = JSON.parse(plan.stdout) as {
      environments: { deployed: { status: string; tokenId?: string } }[];
    };
    assert.equal(planned.environments[0]?.deployed.status, "valid");
    assert.equal(planned.environments[0]?.deployed.tokenId, OLD.id);

    const rotated = await h.runCli(["rotate", "--config", h.configPath, "--yes", "--force", "--json"]);
    assert.equal(rotated.code, 0, rotated.stdout + rotated.stderr);
    const { result } = JSON.parse(rotated.stdout) as { result: RotationResult };
    assert.equal(await assertSettled(h, "integration"), result.environments[0]?.newTokenId);
    assert.equal(current()[KEY], h.readSecret("integration"));
    assert.equal(current()["other-key"], "kept");
    assert.equal(vault.currentVersion(MOUNT, PATH, NS), 2, "one version written");
    const writes = vault.requests.filter((r) => r.operation === "write-data");
    assert.deepEqual(
      writes.map((w) => (w.body as { options?: { cas?: number } }).options?.cas),
      [1],
      "written with cas set to the version read",
    );
    assert.equal(vault.customMetadata(MOUNT, PATH, NS)?.["ftr-run"], result.runId);
    assert.equal((await h.tokenSelf(OLD.token)).status, 401);
    assert.deepEqual(await h.consumerRefusals(), []);
    assertNothingPrinted();
  });

  it("a failed verification writes the previous version's data back with cas", async () => {
    await h.setReload("integration", { skip: true });
    const failed = await h.runCli(["rotate", "--config", h.configPath, "--yes", "--force"]);
    await h.setReload("integration", {});
    assert.equal(failed.code, 1, failed.stdout + failed.stderr);
    assert.match(failed.stdout, /rolled-back/);
    assert.deepEqual(current(), { [KEY]: OLD.token, "other-key": "kept" });
    assert.equal(vault.currentVersion(MOUNT, PATH, NS), 3, "the rollback is a new version");
    assert.deepEqual(
      vault.requests
        .filter((r) => r.operation === "write-data")
        .map((w) => (w.body as { options: { cas: number } }).options.cas),
      [1, 2],
    );
    assert.equal(await assertSettled(h, "integration"), OLD.id);
    assertNothingPrinted();
  });

  it("someone else's write between stage and promote stops the run: nothing lost, the new token revoked", async () => {
    vault.fail({ operation: "write-data", hold: true });
    const run = h.runCli(["rotate", "--config", h.configPath, "--yes", "--force"]);
    await vault.held();
    vault.write(MOUNT, PATH, { [KEY]: OLD.token, "other-key": "changed by a person" }, NS);
    vault.release();
    const failed = await run;
    assert.equal(failed.code, 1, failed.stdout + failed.stderr);
    assert.match(failed.stdout + failed.stderr, /check-and-set refused the write.*nothing was changed/);
    assert.match(failed.stdout, /rolled-back/);
    assert.deepEqual(
      current(),
      { [KEY]: OLD.token, "other-key": "changed by a person" },
      "the other write is kept",
    );
    assert.equal(await assertSettled(h, "integration"), OLD.id);
    assertNothingPrinted();
  });

  it("ftr rollback after --keep-old writes the version before the rotation back", async () => {
    const rotated = await h.runCli(["rotate", "--config", h.configPath, "--yes", "--force", "--keep-old"]);
    assert.equal(rotated.code, 0, rotated.stdout + rotated.stderr);
    assert.notEqual(current()[KEY], OLD.token);
    const rollback = await h.runCli(["rollback", "--config", h.configPath, "--env", "integration"]);
    assert.equal(rollback.code, 0, rollback.stdout + rollback.stderr);
    assert.deepEqual(current(), { [KEY]: OLD.token, "other-key": "kept" });
    assert.equal(await assertSettled(h, "integration"), OLD.id);
    const again = await h.runCli(["rollback", "--config", h.configPath, "--env", "integration"]);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.equal(vault.currentVersion(MOUNT, PATH, NS), 3, "asked again, nothing more is written");
    assertNothingPrinted();
  });

  it("Vault's 403 is one line naming the policy it needs", async () => {
    vault.addToken(VAULT_TOKEN, "read", NS);
    const failed = await h.runCli(["rotate", "--config", h.configPath, "--yes", "--force"]);
    assert.equal(failed.code, 1, failed.stdout + failed.stderr);
    assert.match(
      failed.stdout + failed.stderr,
      /HTTP 403: .*permission denied.*"read", "create" and "update" on kv\/data\/fastly/,
    );
    assert.equal(await assertSettled(h, "integration"), OLD.id);
    assertNothingPrinted();
  });

  const KILLS = [
    { operation: "write-metadata", phase: "before" },
    { operation: "write-metadata", phase: "after" },
    { operation: "write-data", phase: "before" },
    { operation: "write-data", phase: "after" },
  ] as const;
  for (const kill of KILLS) {
    it(`a rotate killed when ${kill.operation} reached Vault (held ${kill.phase} it is carried out) is finished by ftr resume`, async (t) => {
      const from = h.journal().length;
      vault.fail(
        kill.phase === "before"
          ? { operation: kill.operation, hold: true }
          : { operation: kill.operation, holdAfter: true },
      );
      const child = h.spawnCli(["rotate", "--config", h.configPath, "--yes", "--force"]);
      await Promise.race([
        vault.held(),
        child.done.then((ended) => {
          throw new Error(`the run ended before ${kill.operation}: ${ended.stdout}${ended.stderr}`);
        }),
      ]);
      child.child.kill("SIGKILL");
      assert.equal((await child.done).signal, "SIGKILL");
      await vault.idle();
      vault.release();
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
        assert.equal(deployed, OLD.id);
        assert.equal(current()[KEY], OLD.token);
      }
      assert.equal(current()["other-key"], "kept");
      assert.deepEqual(await h.consumerRefusals(), []);
      assertNothingPrinted();
    });
  }
});
