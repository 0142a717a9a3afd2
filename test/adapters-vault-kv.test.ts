/**
 * The `vault-kv` store against the Vault fake (test/helpers/vault-server.ts): AppRole login (and a
 * new login when its token is refused), a missing secret read as no value, 412 and 429 with
 * Retry-After waited out on the injected clock, 404 and 503 in one line, a repeated promote and
 * restore changing nothing, a deleted previous version refused, a missing credential named.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createSecretStore } from "../src/adapters/registry.ts";
import { nothingWritten } from "../src/adapters/support/store.ts";
import { instantClock } from "../src/adapters/support/poll.ts";
import { startVault, type RunningVault } from "./helpers/vault-server.ts";

const ROLE = "ftr-role-id-0123456789";
const SECRET_ID = "ftr-secret-id-0123456789abcdef";
const NEW = "new-token-value-0123456789abcdef";

describe("vault-kv store", () => {
  let vault: RunningVault;
  before(async () => {
    vault = await startVault();
    vault.enableKv("secret");
    vault.addAppRole(ROLE, SECRET_ID);
    vault.addToken("hvs.reader-0123456789abcdef", "read");
  });
  after(() => vault?.close());

  const clock = instantClock();
  const store = (
    path: string,
    auth: Record<string, unknown> = { method: "approle", roleIdEnv: "R", secretIdEnv: "S", mount: "approle" },
    env: Record<string, string> = { R: ROLE, S: SECRET_ID },
  ) =>
    createSecretStore(
      {
        type: "vault-kv",
        address: vault.url,
        mount: "secret",
        path,
        key: "token",
        auth,
        timeoutMs: 5000,
        allowInsecure: false,
      } as never,
      { env, clock },
    );

  it("logs in with an AppRole, reads nothing from a missing secret, creates it, and rolls back to empty", async () => {
    const s = await store("new/secret");
    assert.equal(await s.read(), undefined);
    await s.stage(NEW, "run-1");
    await s.promote("run-1");
    await s.promote("run-1"); // repeated: nothing more
    assert.equal(vault.currentVersion("secret", "new/secret"), 1);
    assert.equal(await s.read(), NEW);
    await s.restorePrevious("run-1");
    await s.restorePrevious("run-1"); // repeated: nothing more
    assert.deepEqual(vault.current("secret", "new/secret"), {});
    assert.equal(vault.currentVersion("secret", "new/secret"), 2);
    assert.equal(vault.requests.filter((r) => r.operation === "login").length, 1, "one login for the store");
  });

  it("a restore of a run that never wrote changes nothing; a resumed promote after the write is done", async () => {
    vault.write("secret", "app", { token: "old-value-0123456789abcdef", other: "x" });
    const s = await store("app");
    await s.stage(NEW, "run-2");
    await s.restorePrevious("run-2");
    assert.equal(vault.currentVersion("secret", "app"), 1);
    await s.promote("run-2");
    // Another process (a resume) knows the write landed from the metadata alone.
    const resumed = await store("app");
    await resumed.promote("run-2");
    assert.equal(vault.currentVersion("secret", "app"), 2);
    assert.deepEqual(vault.current("secret", "app"), { token: NEW, other: "x" });
    assert.equal(await resumed.readPrevious(), "old-value-0123456789abcdef");
    // A resumed promote of a run whose value was lost before its write: nothing written, said so.
    await s.stage("lost-value-0123456789abcdef", "run-3");
    const error = await (await store("app")).promote("run-3").then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(nothingWritten(error));
  });

  it("waits out 412 and 429 with Retry-After, and says what 404 and 503 mean", async () => {
    vault.write("secret", "busy", { token: "v-0123456789abcdef" });
    const s = await store("busy");
    const before = clock.now();
    vault.fail({
      operation: "read-data",
      status: 429,
      body: { errors: ['request path "secret/data/busy": rate limit quota exceeded'] },
      headers: { "Retry-After": "7" },
    });
    vault.fail({
      operation: "read-metadata",
      status: 412,
      body: { errors: ["required index state not present"] },
    });
    await s.stage(NEW, "run-4");
    assert.ok(clock.now() - before >= 7000, "Retry-After was honoured");
    vault.fail({ operation: "write-data", status: 503, body: { errors: ["Vault is sealed"] } });
    await assert.rejects(s.promote("run-4"), /HTTP 503: Vault is sealed; Vault is sealed or in maintenance/);
    const missingMount = await createSecretStore(
      {
        type: "vault-kv",
        address: vault.url,
        mount: "nope",
        path: "x",
        key: "token",
        auth: { method: "approle", roleIdEnv: "R", secretIdEnv: "S", mount: "approle" },
        timeoutMs: 5000,
        allowInsecure: false,
      },
      { env: { R: ROLE, S: SECRET_ID } },
    );
    await assert.rejects(missingMount.read(), /HTTP 404: no handler for route .*check address, mount/);
  });

  it("refuses to put back a deleted version, and to overwrite a later write", async () => {
    vault.write("secret", "del", { token: "first-0123456789abcdef" });
    const s = await store("del");
    await s.stage(NEW, "run-5");
    await s.promote("run-5");
    vault.deleteVersion("secret", "del", 1);
    await assert.rejects(s.restorePrevious("run-5"), /version 1 .* is deleted or destroyed/);
    vault.write("secret", "del", { token: "a person's-0123456789abcdef" });
    await assert.rejects(
      s.restorePrevious("run-5"),
      /was written after run run-5's write.*refusing to overwrite/,
    );
  });

  it("names a missing credential and a wrong secret_id in one line, never the values", async () => {
    const noEnv = await store("x", { method: "token", tokenEnv: "NOPE" }, {});
    await assert.rejects(noEnv.read(), /NOPE is not set/);
    const wrong = await store("x", undefined, { R: ROLE, S: "wrong-secret-id-0123456789" });
    const error = await wrong.read().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    assert.match(error?.message ?? "", /AppRole login .*HTTP 400: invalid role or secret ID.*check R and S/);
    assert.ok(!error?.message.includes("wrong-secret-id") && !error?.message.includes(ROLE));
    const reader = await store("x", { method: "token", tokenEnv: "T" }, { T: "hvs.reader-0123456789abcdef" });
    vault.write("secret", "x", { token: "v-0123456789abcdef" });
    await assert.rejects(
      reader.stage(NEW, "run-6"),
      /HTTP 403: .*permission denied.*in T is expired, revoked, or needs/,
    );
  });
});
