/**
 * The `hcp-terraform` store and `hcp-terraform-run` verifier against the HCP Terraform fake
 * (test/helpers/terraform-api-server.ts): a terraform-category variable created beside an env one
 * of the same key, a 422 error document in one line (and known to have changed nothing), a 401, a
 * missing token, a variable set that does not exist, a 5xx repeated, and a plan that errors.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createSecretStore, createVerifier } from "../src/adapters/registry.ts";
import { nothingWritten } from "../src/adapters/support/store.ts";
import { instantClock } from "../src/adapters/support/poll.ts";
import { createEmulator, demoCredentials, demoSeed, type RunningEmulator } from "../src/emulator/index.ts";
import { createFastlyClient } from "../src/fastly/client.ts";
import { startTerraformApi, type RunningTerraformApi } from "./helpers/terraform-api-server.ts";

const TOKEN = "adaptertest.atlasv1.0123456789abcdefghijklmnopqrstuvwxyz";
const VALUE = demoCredentials.exporterTokens.staging.token;

describe("hcp-terraform store", () => {
  let tfe: RunningTerraformApi;
  let emulator: RunningEmulator;
  before(async () => {
    emulator = await createEmulator({ seed: demoSeed });
    tfe = await startTerraformApi({ token: TOKEN, fastlyEndpoint: emulator.url });
    tfe.addWorkspace("org", "ws");
    tfe.setVariable({ workspace: "ws" }, "fastly_api_key", "old-value-0123456789", { category: "env" });
  });
  after(async () => {
    await tfe?.close();
    await emulator?.close();
  });
  const store = (spec: Record<string, unknown>, env: Record<string, string> = { T: TOKEN }) =>
    createSecretStore(
      {
        type: "hcp-terraform",
        organization: "org",
        workspace: "ws",
        key: "fastly_api_key",
        category: "env",
        tokenEnv: "T",
        address: tfe.address,
        ...spec,
      } as never,
      { env, clock: instantClock() },
    );

  it("creates a terraform variable beside an env variable of the same key, sensitive", async () => {
    const s = await store({ category: "terraform" });
    assert.equal(s.readBack, false);
    assert.deepEqual(await s.preflight?.(), []);
    await s.stage(VALUE, "r1");
    await s.promote("r1");
    assert.equal(tfe.variable({ workspace: "ws" }, "fastly_api_key", "terraform")?.value, VALUE);
    assert.equal(tfe.variable({ workspace: "ws" }, "fastly_api_key", "terraform")?.sensitive, true);
    assert.equal(tfe.variable({ workspace: "ws" }, "fastly_api_key", "env")?.value, "old-value-0123456789");
  });

  it("a 422 is one line and changed nothing; a 5xx is repeated", async () => {
    tfe.fail({
      operation: "update-workspace-var",
      status: 422,
      body: {
        errors: [
          {
            status: "422",
            title: "invalid attribute",
            detail: "Value is too long",
            source: { pointer: "/data/attributes/value" },
          },
        ],
      },
    });
    const s = await store({});
    await s.stage(VALUE, "r2");
    const error = await s.promote("r2").then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    assert.ok(error && nothingWritten(error));
    assert.match(
      error.message,
      /updating the variable .*HTTP 422: invalid attribute: Value is too long; HCP Terraform refused/,
    );
    assert.ok(!error.message.includes(VALUE) && !error.message.includes(TOKEN));
    tfe.fail({
      operation: "update-workspace-var",
      status: 503,
      body: { errors: [{ status: "503", title: "unavailable" }] },
    });
    await s.promote("r2");
    assert.equal(tfe.variable({ workspace: "ws" }, "fastly_api_key")?.value, VALUE);
  });

  it("says what a wrong or missing token and a missing variable set mean", async () => {
    assert.match(
      (await (await store({}, { T: "wrong" })).preflight?.())?.join("") ?? "",
      /HTTP 401: unauthorized; the token in T is invalid or expired/,
    );
    assert.match((await (await store({}, {})).preflight?.())?.join("") ?? "", /T is not set/);
    const set = await store({ workspace: undefined, variableSet: "nope" });
    assert.match(
      (await set.preflight?.())?.join("") ?? "",
      /has no variable set named "nope"; create it first/,
    );
  });

  it("the hcp-terraform-run verifier fails with the run's URL when the plan errors", async () => {
    tfe.setVariable({ workspace: "ws" }, "FASTLY_API_KEY", "not-a-valid-token-0123456789");
    const verifier = await createVerifier(
      {
        type: "hcp-terraform-run",
        organization: "org",
        workspace: "ws",
        message: "m",
        timeoutMs: 30_000,
        intervalMs: 20,
        tokenEnv: "T",
        address: tfe.address,
      },
      { env: { T: TOKEN } },
    );
    const ctx = {
      environment: "staging",
      runId: "r",
      log: { info: () => undefined, warn: () => undefined, debug: () => undefined, error: () => undefined },
      tokenId: "t",
      otherTokenIds: [],
      since: new Date(),
      client: createFastlyClient({ token: demoCredentials.superuser.token, endpoint: emulator.url }),
      ownUserAgent: "ftr",
    } as never;
    const failed = await verifier.verify(ctx);
    assert.equal(failed.ok, false);
    assert.match(failed.detail, /\/app\/org\/workspaces\/ws\/runs\/run-\S+ ended errored/);
    tfe.setVariable({ workspace: "ws" }, "FASTLY_API_KEY", VALUE);
    const passed = await verifier.verify(ctx);
    assert.equal(passed.ok, true, passed.detail);
    assert.ok(tfe.runs().every((r) => r.planOnly));
  });
});
