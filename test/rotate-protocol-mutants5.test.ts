/**
 * The rotation protocol's guards that only some worlds reach, driven through the library in this
 * process against the emulator on a clock shared with it (test/helpers/protocol.ts), with the
 * GitHub Actions stand-in as a store that cannot be read back: a write GitHub refuses is rolled
 * back, a run stopped after such a write is left for resume, approval is asked only where the
 * config requires it, and a previous value of another token never stands in for a look by id.
 * Part of the `rotation-protocol` mutation group.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, it } from "node:test";
import { createSecretStore } from "../src/adapters/registry.ts";
import type { SecretStore } from "../src/adapters/types.ts";
import { loadConfig } from "../src/config/index.ts";
import { demoCredentials } from "../src/emulator/index.ts";
import { gatherState, makePlan } from "../src/plan/index.ts";
import { rotate } from "../src/rotation/index.ts";
import { startGitHubApi, type RunningGitHubApi } from "./helpers/github-api-server.ts";
import {
  admin,
  clock,
  emulator,
  setup,
  stopAt,
  trail,
  useProtocolEmulator,
  works,
  type Case,
} from "./helpers/protocol.ts";

const { exporterTokens } = demoCredentials;
const OLD = exporterTokens.integration;
const OTHER = exporterTokens.staging;
const GH_TOKEN = "github_pat_11FTRTEST0123456789_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMN";
const TOKEN_ENV = "FTR_TEST_GITHUB_TOKEN";
const REPO = "alphagov/govuk-fastly";
const TARGET = { repository: REPO, environment: "integration" } as const;
const NAME = "FASTLY_API_TOKEN";

useProtocolEmulator();

describe("a store that cannot be read back, refused or stopped", () => {
  let c: Case;
  let gh: RunningGitHubApi;
  afterEach(async () => {
    await admin.clearFaults();
    await gh?.close();
    await c?.close();
  });

  /** The case's world with its secret in a GitHub Actions environment secret, and a plan for it. */
  async function github() {
    process.env[TOKEN_ENV] = GH_TOKEN;
    c = await setup();
    gh = await startGitHubApi({ token: GH_TOKEN, fastlyEndpoint: emulator.url });
    gh.addRepository(REPO, ["integration"]);
    await gh.setSecret(TARGET, NAME, OLD.token);
    const path = join(c.dir, "gh.yaml");
    await writeFile(
      path,
      [
        "version: 1",
        `fastly: { endpoint: "${emulator.url}" }`,
        "state: { dir: ./state }",
        "environments:",
        "  - name: integration",
        `    token: { name: "${OLD.name}", services: { nameMatches: "Integration" } }`,
        `    secret: { type: github-actions, repository: ${REPO}, environment: integration, name: ${NAME}, tokenEnv: ${TOKEN_ENV}, apiUrl: "${gh.apiUrl}" }`,
        `    reload: [{ type: exec, command: ["sh", "./consumer.sh", "integration"], timeout: 60s }]`,
        "    verify: []",
        "",
      ].join("\n"),
    );
    await mkdir(join(c.dir, "state"), { recursive: true, mode: 0o700 });
    const { config } = await loadConfig(path);
    const stores = new Map<string, SecretStore>();
    for (const env of config.environments) stores.set(env.name, await createSecretStore(env.secret));
    const state = await gatherState({ client: c.client, config, stores });
    const plan = makePlan(state, config, { now: new Date(clock.now()), force: true, only: [] });
    return { config, plan };
  }

  it("a write GitHub refuses changed nothing: rolled back, the new token revoked", async () => {
    const { config, plan } = await github();
    gh.deny("actions/create-or-update-environment-secret");
    const r = (await rotate({ ...c.context({ config }), plan })).environments[0]!;
    assert.equal(r.outcome, "rolled-back", JSON.stringify(r));
    assert.deepEqual(r.revoked, [r.newTokenId]);
    assert.equal(gh.secretValue(TARGET, NAME), OLD.token);
    assert.equal(await works(OLD.token), true);
  });

  it("a run stopped after the write is interrupted, not left for a person", async () => {
    const { config, plan } = await github();
    const stop = stopAt((e) => e.step === "reload" && e.status === "begin");
    const r = (await rotate({ ...c.context({ config, signal: stop.signal }), plan, onEvent: stop.onEvent }))
      .environments[0]!;
    assert.equal(r.outcome, "interrupted", JSON.stringify(r));
    assert.match(r.advice ?? "", /to continue the run/);
    assert.equal(await works(OLD.token), true);
  });
});

describe("approval and prove, where the others do not look", () => {
  let c: Case;
  afterEach(async () => {
    await admin.clearFaults();
    await c?.close();
  });

  it("approval is never asked for an environment that does not require it", async () => {
    c = await setup();
    const asked: string[] = [];
    const result = await c.run({ approve: (name) => (asked.push(name), Promise.resolve(false)) });
    assert.deepEqual(asked, []);
    assert.equal(result.environments[0]?.outcome, "rotated");
  });

  it("a previous value of another token, and the old token not revoked: prove looks by id and fails", async () => {
    c = await setup();
    const plan = await c.plan();
    writeFileSync(join(c.dir, "integration.txt"), OTHER.token + "\n");
    await admin.fault({ method: "DELETE", path: "re:^/tokens/", status: 204 });
    const r = (await rotate({ ...c.context(), plan })).environments[0]!;
    assert.equal(r.outcome, "failed", JSON.stringify(r));
    assert.match(r.error ?? "", new RegExp(`token ${OLD.id} still works after it was revoked`));
    assert.deepEqual(trail(c.journal()).slice(-2), ["prove begin", "prove failed"]);
    assert.equal(await works(OLD.token), true);
  });
});
