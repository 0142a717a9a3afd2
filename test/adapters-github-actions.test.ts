/**
 * The `github-actions` store and the `github-workflow` verifier through the real Octokit against the
 * GitHub fake (test/helpers/github-api-server.ts), whose contract checks against GitHub's OpenAPI
 * description must stay empty: repository, environment and organization secrets (visibility and
 * selected repositories kept), GitHub Enterprise Server's `/api/v3`, refusals in one line without
 * the token, a 5xx retried, a missing token, and the fake's own check catching a malformed request.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createSecretStore, createVerifier } from "../src/adapters/registry.ts";
import { nothingWritten } from "../src/adapters/support/store.ts";
import { instantClock } from "../src/adapters/support/poll.ts";
import { startGitHubApi, type RunningGitHubApi } from "./helpers/github-api-server.ts";
import { createEmulator, demoCredentials, demoSeed, type RunningEmulator } from "../src/emulator/index.ts";
import { createFastlyClient } from "../src/fastly/client.ts";

const TOKEN = "github_pat_11FTRADAPTER0123456789_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH";
const env = { GH: TOKEN };
const VALUE = demoCredentials.exporterTokens.staging.token;

describe("github-actions store", () => {
  let gh: RunningGitHubApi;
  let ghes: RunningGitHubApi;
  let emulator: RunningEmulator;
  let selectedIds: number[];

  before(async () => {
    emulator = await createEmulator({ seed: demoSeed });
    gh = await startGitHubApi({ token: TOKEN, fastlyEndpoint: emulator.url });
    ghes = await startGitHubApi({ token: TOKEN, enterprise: true });
    gh.addRepository("o/repo", ["production"]);
    selectedIds = [gh.addRepository("o/a"), gh.addRepository("o/b")];
    gh.addOrganization("o");
    await gh.setSecret({ organization: "o" }, "ORG_SELECTED", "x", {
      visibility: "selected",
      selected: selectedIds,
    });
    await gh.setSecret({ organization: "o" }, "ORG_ALL", "x", { visibility: "all" });
    ghes.addRepository("o/repo");
  });
  after(async () => {
    await gh?.close();
    await ghes?.close();
    await emulator?.close();
  });

  const store = (spec: Record<string, unknown>, api = gh) =>
    createSecretStore(
      {
        type: "github-actions",
        name: "FASTLY_API_TOKEN",
        tokenEnv: "GH",
        apiUrl: api.apiUrl,
        ...spec,
      } as never,
      { env, clock: instantClock() },
    );

  it("writes a repository secret, sealed for the repository's key; cannot read it back", async () => {
    const s = await store({ repository: "o/repo" });
    assert.equal(s.readBack, false);
    assert.equal(await s.read(), undefined);
    assert.deepEqual(await s.preflight?.(), []);
    await s.stage(VALUE, "run-1");
    await s.promote("run-1");
    await s.promote("run-1"); // repeated: nothing more
    assert.equal(gh.secretValue({ repository: "o/repo" }, "FASTLY_API_TOKEN"), VALUE);
    assert.equal(gh.secretHistory({ repository: "o/repo" }, "FASTLY_API_TOKEN").length, 1);
    assert.equal(await s.readPrevious(), undefined);
    await assert.rejects(s.restorePrevious("run-1"), /cannot be read back/);
    await s.restorePrevious("never-promoted"); // nothing of that run was written
    assert.deepEqual(gh.violations, []);
  });

  it("writes an environment secret with the environment's key", async () => {
    const s = await store({ repository: "o/repo", environment: "production" });
    await s.stage(VALUE, "run-2");
    await s.promote("run-2");
    assert.equal(
      gh.secretValue({ repository: "o/repo", environment: "production" }, "FASTLY_API_TOKEN"),
      VALUE,
    );
    assert.equal(gh.secretValue({ repository: "o/repo" }, "FASTLY_API_TOKEN") === VALUE, true);
    assert.deepEqual(gh.violations, []);
  });

  it("keeps an organization secret's visibility and selected repositories", async () => {
    for (const [name, visibility] of [
      ["ORG_SELECTED", "selected"],
      ["ORG_ALL", "all"],
      ["ORG_NEW", "private"],
    ] as const) {
      const s = await store({ organization: "o", name });
      await s.stage(VALUE, `run-${name}`);
      await s.promote(`run-${name}`);
      assert.equal(gh.secretValue({ organization: "o" }, name), VALUE);
      const access = gh.orgSecretAccess("o", name);
      assert.equal(access?.visibility, visibility, name);
      assert.deepEqual(access?.selected, visibility === "selected" ? selectedIds : [], name);
    }
    assert.deepEqual(gh.violations, []);
  });

  it("speaks to GitHub Enterprise Server under /api/v3", async () => {
    const s = await store({ repository: "o/repo" }, ghes);
    await s.stage(VALUE, "run-ghes");
    await s.promote("run-ghes");
    assert.equal(ghes.secretValue({ repository: "o/repo" }, "FASTLY_API_TOKEN"), VALUE);
    assert.ok(ghes.requests.every((r) => r.status < 400));
    assert.deepEqual(ghes.violations, []);
  });

  it("says in one line what a refusal means, never with the token; a refused write changed nothing", async () => {
    gh.deny("actions/create-or-update-repo-secret");
    try {
      const s = await store({ repository: "o/repo" });
      await s.stage("another-value-0123456789abcdef", "run-403");
      const error = await s.promote("run-403").then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      assert.ok(error && nothingWritten(error), "a refused write is known to have changed nothing");
      assert.match(error.message, /HTTP 403: Resource not accessible.*"Secrets: read and write"/);
      assert.doesNotMatch(error.message, /\n/);
      assert.ok(!error.message.includes(TOKEN) && !error.message.includes("another-value"));
    } finally {
      gh.deny("actions/create-or-update-repo-secret", false);
    }
    const missing = await store({ repository: "o/missing" });
    assert.match((await missing.preflight?.())?.join("") ?? "", /HTTP 404.*cannot see it/);
    const badToken = await createSecretStore(
      { type: "github-actions", name: "X", repository: "o/repo", tokenEnv: "GH", apiUrl: gh.apiUrl },
      { env: { GH: "wrong" } },
    );
    assert.match(
      (await badToken.preflight?.())?.join("") ?? "",
      /HTTP 401: Bad credentials.*invalid or expired/,
    );
    const noToken = await createSecretStore(
      { type: "github-actions", name: "X", repository: "o/repo", tokenEnv: "NOPE", apiUrl: gh.apiUrl },
      { env: {} },
    );
    assert.match((await noToken.preflight?.())?.join("") ?? "", /NOPE is not set/);
  });

  it("repeats a write answered with a 5xx (the same sealed value), and reports a rate limit's wait", async () => {
    gh.fail({
      operation: "actions/create-or-update-repo-secret",
      status: 502,
      body: { message: "Server Error" },
      times: 1,
    });
    const s = await store({ repository: "o/repo" });
    await s.stage(VALUE, "run-502");
    await s.promote("run-502");
    assert.equal(gh.secretValue({ repository: "o/repo" }, "FASTLY_API_TOKEN"), VALUE);
    gh.fail({
      operation: "actions/get-repo-public-key",
      status: 429,
      body: { message: "API rate limit exceeded", documentation_url: "https://docs.github.com/rest" },
      headers: { "retry-after": "30" },
    });
    await s.stage(VALUE, "run-429");
    await assert.rejects(s.promote("run-429"), /HTTP 429.*rate limit.*in 30 s/);
  });

  it("catches a request that does not fit GitHub's description", async () => {
    const before = gh.violations.length;
    await fetch(`${gh.apiUrl}/repos/o/repo/actions/secrets/BAD`, {
      method: "PUT",
      headers: { Authorization: `token ${TOKEN}`, "Content-Type": "application/json" },
      body: JSON.stringify({ encrypted_value: "not base64!", key_id: 5 }),
    });
    assert.ok(gh.violations.length > before, "the contract check flags it");
    (gh.violations as string[]).splice(before);
  });
});

describe("github-workflow verifier", () => {
  it("dispatches the workflow, waits for its run, and passes on success with its URL", async () => {
    const emulator = await createEmulator({ seed: demoSeed });
    const gh = await startGitHubApi({ token: TOKEN, fastlyEndpoint: emulator.url });
    try {
      gh.addRepository("o/repo");
      await gh.setSecret({ repository: "o/repo" }, "FASTLY_API_TOKEN", VALUE);
      gh.addWorkflow("o/repo", "deploy.yml", { repository: "o/repo", name: "FASTLY_API_TOKEN" });
      const verifier = await createVerifier(
        {
          type: "github-workflow",
          repository: "o/repo",
          workflow: "deploy.yml",
          ref: "main",
          inputs: { reason: "rotation" },
          timeoutMs: 30_000,
          intervalMs: 50,
          tokenEnv: "GH",
          apiUrl: gh.apiUrl,
        },
        { env },
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
      const passed = await verifier.verify(ctx);
      assert.equal(passed.ok, true, passed.detail);
      assert.match(passed.detail, /actions\/runs\/\d+ concluded success/);
      assert.deepEqual(gh.runs().at(-1)?.inputs, { reason: "rotation" });
      gh.setWorkflowFailing("o/repo", "deploy.yml", true);
      const failed = await verifier.verify(ctx);
      assert.equal(failed.ok, false);
      assert.match(failed.detail, /concluded failure/);
      assert.deepEqual(gh.violations, []);
    } finally {
      await gh.close();
      await emulator.close();
    }
  });
});
