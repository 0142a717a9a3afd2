/**
 * The rotation protocol's reports and edges, driven through the library in this process against
 * the emulator on a clock shared with it (test/helpers/protocol.ts): what each step says it did,
 * the requests a run counts, a previous value that authenticates as another token, a store that
 * cannot be read back, the test step's tolerances, a create refused or lost (how often and when it
 * looks for what it made, and what it leaves alone), how long prove keeps looking, and approval of
 * environments with nothing due. The first file of the `rotation-protocol` mutation group.
 */
import assert from "node:assert/strict";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, it } from "node:test";
import { createSecretStore } from "../src/adapters/registry.ts";
import type { SecretStore } from "../src/adapters/types.ts";
import { loadConfig, type Config } from "../src/config/index.ts";
import { demoCredentials } from "../src/emulator/index.ts";
import { gatherState, makePlan, type Plan } from "../src/plan/index.ts";
import { resume, rotate, type RotationEvent } from "../src/rotation/index.ts";
import { Interrupted } from "../src/util/interrupt.ts";
import { USER_AGENT } from "../src/version.ts";
import { startGitHubApi, type RunningGitHubApi } from "./helpers/github-api-server.ts";
import {
  admin,
  advanceClock,
  clock,
  collectNotifications,
  emulator,
  own,
  setup,
  stopAt,
  trail,
  useProtocolEmulator,
  works,
  type Case,
  createdToken,
  selfAnswerFor,
} from "./helpers/protocol.ts";

const { exporterTokens } = demoCredentials;
const OLD = exporterTokens.integration;
const OTHER = exporterTokens.staging;
const UA = `${USER_AGENT.split(" ")[0]}*`;

useProtocolEmulator();

/** The config with each environment changed by `change`. */
function changed(config: Config, change: (e: Config["environments"][number]) => object): Config {
  return {
    ...config,
    environments: config.environments.map((e) => ({ ...e, ...change(e) })),
  };
}

/** A fetch that notes the paths it was asked for (the clients made with token values use it). */
function notingFetch(): { fetch: typeof fetch; paths: string[] } {
  const paths: string[] = [];
  return {
    paths,
    fetch: (input, init) => {
      paths.push(new URL(input instanceof Request ? input.url : String(input)).pathname);
      return fetch(input, init);
    },
  };
}

const detailOf = (r: { steps: readonly { step: string; detail?: string }[] }, step: string) =>
  r.steps.find((s) => s.step === step)?.detail;

describe("what a run reports", () => {
  let c: Case;
  afterEach(async () => {
    await admin.clearHooks();
    await admin.clearFaults();
    await c?.close();
  });

  it("each step's detail, the requests it made, no warnings; the clients made with token values use the given fetch", async () => {
    c = await setup();
    const plan = await c.plan();
    await admin.clearRequests();
    const noted = notingFetch();
    const result = await rotate({ ...c.context({ fetch: noted.fetch }), plan });
    const r = result.environments[0]!;
    assert.equal(r.outcome, "rotated", JSON.stringify(r));
    const store = await createSecretStore(c.config.environments[0]!.secret);
    assert.equal(detailOf(r, "mint"), `created ${r.newTokenId}`);
    assert.equal(detailOf(r, "stage"), store.description);
    assert.equal(detailOf(r, "promote"), store.description);
    assert.match(detailOf(r, "reload") ?? "", /consumer\.sh/);
    assert.doesNotMatch(detailOf(r, "reload") ?? "", /no reloaders/);
    assert.match(detailOf(r, "verify") ?? "", new RegExp(`^token-in-use .*: token ${r.newTokenId} used at `));
    assert.doesNotMatch(detailOf(r, "verify") ?? "", /no verifiers/);
    assert.equal(detailOf(r, "revoke"), `revoked ${OLD.id}`);
    assert.equal(detailOf(r, "prove"), `${OLD.id}: its value is refused (401)`);
    assert.equal("warnings" in r, false);
    // Every request of the run, its own clients' included, and no other (sudo is the run's, not
    // the environment's).
    const mine = own(await c.requests());
    assert.equal(r.requests?.total, mine.length - 1, JSON.stringify(mine.map((x) => x.path)));
    assert.ok(noted.paths.filter((p) => p === "/tokens/self").length >= 2, noted.paths.join(" "));
  });

  it("no reloaders, no verifiers and no old token: each step says so, and nothing is listed", async () => {
    c = await setup();
    const plan = await c.plan();
    const none: Plan = { ...plan, environments: [{ ...plan.environments[0]!, revoke: [] }] };
    const config = changed(c.config, () => ({ reload: [], verify: [] }));
    await admin.clearRequests();
    const result = await rotate({ ...c.context({ config }), plan: none });
    const r = result.environments[0]!;
    assert.equal(r.outcome, "rotated", JSON.stringify(r));
    assert.equal(detailOf(r, "reload"), "no reloaders");
    assert.equal(detailOf(r, "verify"), "no verifiers");
    assert.equal(detailOf(r, "revoke"), "no old tokens");
    assert.equal(detailOf(r, "prove"), "nothing to prove");
    assert.deepEqual(r.revoked, []);
    const mine = own(await c.requests());
    assert.equal(mine.filter((x) => x.path.startsWith("/automation-tokens") && x.method === "GET").length, 0);
    assert.equal(mine.filter((x) => x.method === "DELETE").length, 0);
    assert.equal(r.requests?.total, mine.length - 1);
    assert.equal(await works(OLD.token), true);
  });

  it("a rollback's steps say what they restored and revoked", async () => {
    c = await setup();
    await c.touch("fail-reload-integration");
    // The consumer fails the reload only: it is fixed before the rollback's.
    const onEvent = (e: RotationEvent) => {
      if (e.step === "restore") rmSync(join(c.dir, "fail-reload-integration"), { force: true });
    };
    const result = await c.run({ onEvent });
    const r = result.environments[0]!;
    assert.equal(r.outcome, "rolled-back", JSON.stringify(r));
    const store = await createSecretStore(c.config.environments[0]!.secret);
    assert.equal(detailOf(r, "restore"), store.description);
    assert.equal(detailOf(r, "revoke-new"), `revoked ${r.newTokenId}`);
    assert.deepEqual(r.revoked, [r.newTokenId]);
  });

  it("a run stopped at verify names the step it stopped in", async () => {
    c = await setup();
    const result = await c.run(stopAt((e) => e.step === "verify" && e.status === "begin"));
    const r = result.environments[0]!;
    assert.equal(r.outcome, "interrupted");
    assert.match(r.error ?? "", /^verify interrupted by SIGTERM/);
  });

  it("a run resumed after it stopped before or while minting journals its end as rolled back", async () => {
    c = await setup();
    await c.run(stopAt((e) => e.step === "start"));
    await resume(c.context());
    assert.equal(c.journal().at(-1)?.step, "finish");
    assert.equal(c.journal().at(-1)?.outcome, "rolled-back");
    const hook = await admin.hook({
      method: "POST",
      path: "/automation-tokens",
      phase: "after",
      userAgent: UA,
      action: "hold",
    });
    const controller = new AbortController();
    const run = c.run({ signal: controller.signal });
    await admin.waitForHook(hook.id);
    controller.abort(new Interrupted("SIGTERM"));
    assert.equal((await run).environments[0]?.outcome, "interrupted");
    await admin.releaseHook(hook.id);
    const resumed = await resume(c.context());
    assert.equal(resumed.environments[0]?.outcome, "rolled-back", JSON.stringify(resumed));
    assert.match(c.journal().at(-1)?.detail ?? "", /^interrupted while minting; revoked /);
    assert.equal(c.journal().at(-1)?.outcome, "rolled-back");
  });
});

describe("the store's previous value and the deployed token", () => {
  let c: Case;
  afterEach(async () => {
    await c?.close();
  });

  it("a previous value that authenticates as another token: the deployed id is proved gone by id, and the run warns", async () => {
    c = await setup();
    const plan = await c.plan();
    // Someone put the staging token in the file after the plan.
    writeFileSync(join(c.dir, "integration.txt"), OTHER.token + "\n");
    const result = await rotate({ ...c.context(), plan });
    const r = result.environments[0]!;
    assert.equal(r.outcome, "rotated", JSON.stringify(r));
    assert.deepEqual(r.revoked, [OLD.id]);
    const line = `the store's previous value authenticates as token ${OTHER.id}, not as ${OLD.id}: the secret was changed by someone else, and ${OTHER.id} is live`;
    assert.equal(detailOf(r, "prove"), `${OLD.id}: gone (looked up by id); INCONSISTENT: ${line}`);
    assert.deepEqual(r.warnings, [line]);
    assert.equal(await works(OTHER.token), true, "the other token is never revoked");
    assert.equal(await works(OLD.token), false);
  });

  it("a misnamed deployed token whose previous value authenticates as another is refused", async () => {
    c = await setup();
    const plan = await c.plan();
    writeFileSync(join(c.dir, "integration.txt"), OTHER.token + "\n");
    const config = changed(c.config, (e) => ({ token: { ...e.token, name: "renamed token" } }));
    await admin.clearRequests();
    const noted = notingFetch();
    const result = await rotate({ ...c.context({ config, fetch: noted.fetch }), plan });
    const r = result.environments[0]!;
    assert.equal(r.outcome, "failed", JSON.stringify(r));
    assert.match(r.error ?? "", new RegExp(`^revoke failed: refusing to revoke ${OLD.id} \\(`));
    assert.deepEqual(r.revoked, []);
    assert.equal(await works(OLD.token), true);
    assert.equal(await works(OTHER.token), true);
    assert.equal(r.requests?.total, own(await c.requests()).length - 1);
    // The test step's client and the previous value's client both went through it.
    assert.equal(noted.paths.filter((p) => p === "/tokens/self").length, 2, noted.paths.join(" "));
  });

  it("a misnamed deployed token with no previous value to tell by is refused", async () => {
    c = await setup();
    const plan = await c.plan();
    const config = changed(c.config, (e) => ({ token: { ...e.token, name: "renamed token" } }));
    const onEvent = (e: RotationEvent) => {
      if (e.step === "revoke" && e.status === "begin")
        rmSync(join(c.dir, "integration.txt.previous"), { force: true });
    };
    const result = await rotate({ ...c.context({ config }), plan, onEvent });
    const r = result.environments[0]!;
    assert.equal(r.outcome, "failed", JSON.stringify(r));
    assert.match(r.error ?? "", new RegExp(`^revoke failed: refusing to revoke ${OLD.id} \\(`));
    assert.equal(await works(OLD.token), true);
  });
});

describe("a store that cannot be read back", () => {
  const GH_TOKEN = "github_pat_11FTRTEST0123456789_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMN";
  const TOKEN_ENV = "FTR_TEST_GITHUB_TOKEN";
  const REPO = "alphagov/govuk-fastly";
  const TARGET = { repository: REPO, environment: "integration" } as const;
  let c: Case;
  let gh: RunningGitHubApi;
  afterEach(async () => {
    await gh?.close();
    await c?.close();
  });

  it("a reload that fails after the write is left for a person: nothing undone, nothing revoked, what to do", async () => {
    process.env[TOKEN_ENV] = GH_TOKEN;
    c = await setup();
    gh = await startGitHubApi({ token: GH_TOKEN, fastlyEndpoint: emulator.url });
    gh.addRepository(REPO, ["integration"]);
    await gh.setSecret(TARGET, "FASTLY_API_TOKEN", OLD.token);
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
        `    secret: { type: github-actions, repository: ${REPO}, environment: integration, name: FASTLY_API_TOKEN, tokenEnv: ${TOKEN_ENV}, apiUrl: "${gh.apiUrl}" }`,
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
    await c.touch("fail-reload-integration");
    const result = await rotate({ ...c.context({ config }), plan });
    const r = result.environments[0]!;
    assert.equal(r.outcome, "failed", JSON.stringify(r));
    assert.match(r.error ?? "", /^reload failed: /);
    const where = stores.get("integration")!.description;
    assert.equal(
      r.advice,
      `The new token ${r.newTokenId} is in ${where}, which cannot be read back, so the old value cannot be put back: nothing was undone and the old token(s) ${OLD.id} stay valid. Fix the consumer, then run \`ftr resume --config ${path}\` to verify again and revoke the old token(s)`,
    );
    assert.deepEqual(r.revoked, []);
    assert.notEqual(gh.secretValue(TARGET, "FASTLY_API_TOKEN"), OLD.token, "nothing undone");
    assert.equal(await works(OLD.token), true);
    assert.equal(await works(gh.secretValue(TARGET, "FASTLY_API_TOKEN")!), true);
    assert.deepEqual(trail(c.journal()).slice(-2), ["reload begin", "reload failed"]);
  });
});

describe("the test step's tolerances", () => {
  let c: Case;
  afterEach(async () => {
    await admin.clearHooks();
    await admin.clearFaults();
    await c?.close();
  });

  /** Run with the self-check's answer built from the token the create made, changed one way. */
  async function answered(change: (self: Record<string, unknown>, asked: number) => void) {
    c = await setup();
    const template = (await (
      await fetch(`${emulator.url}/tokens/self`, {
        headers: { "Fastly-Key": OLD.token, "User-Agent": "probe/1.0" },
      })
    ).json()) as Record<string, unknown>;
    const plan = await c.plan();
    const asked = Date.parse(plan.environments[0]!.create.expiresAt);
    const hook = await admin.hook({
      method: "POST",
      path: "/automation-tokens",
      phase: "after",
      userAgent: UA,
      action: "hold",
    });
    const run = rotate({ ...c.context(), plan, keepOld: true });
    await admin.waitForHook(hook.id);
    const self = selfAnswerFor(template, await createdToken(OLD.name, OLD.id));
    change(self, asked);
    await admin.fault({ method: "GET", path: "/tokens/self", status: 200, body: self });
    await admin.releaseHook(hook.id);
    return (await run).environments[0]!;
  }

  it("an expiry off by less than 15 minutes passes", async () => {
    const r = await answered((self, asked) => {
      self.expires_at = new Date(asked + 14 * 60_000).toISOString();
    });
    assert.equal(r.outcome, "kept-old", JSON.stringify(r));
  });
  it("an expiry off by exactly 15 minutes passes", async () => {
    const r = await answered((self, asked) => {
      self.expires_at = new Date(asked - 15 * 60_000).toISOString();
    });
    assert.equal(r.outcome, "kept-old", JSON.stringify(r));
  });
  it("the services in another order pass", async () => {
    const r = await answered((self) => {
      const services = self.services as string[];
      assert.ok(services.length > 1);
      self.services = [...services].reverse();
    });
    assert.equal(r.outcome, "kept-old", JSON.stringify(r));
  });
});

describe("a create refused or lost", () => {
  let c: Case;
  afterEach(async () => {
    await admin.clearHooks();
    await admin.clearFaults();
    await c?.close();
  });

  const live = async () =>
    (await admin.state()).automationTokens.filter((t) => t.revokedAt === null).map((t) => t.id);

  it("a create refused for another reason than sudo is not retried and nothing is looked for", async () => {
    c = await setup();
    await admin.fault({
      method: "POST",
      path: "/automation-tokens",
      status: 403,
      body: { msg: "Forbidden" },
      count: 5,
    });
    const result = await c.run();
    const r = result.environments[0]!;
    assert.equal(r.outcome, "failed");
    assert.match(r.error ?? "", /^mint failed: /);
    assert.doesNotMatch(r.error ?? "", /no token named/);
    const mine = own(await c.requests());
    assert.equal(mine.filter((x) => x.path === "/sudo").length, 1);
    assert.equal(mine.filter((x) => x.method === "POST" && x.path === "/automation-tokens").length, 1);
    assert.equal(mine.filter((x) => x.method === "GET" && x.path === "/automation-tokens").length, 0);
  });

  it("sudo refused again after it was obtained again: the create is tried twice, not more", async () => {
    c = await setup();
    await admin.fault({
      method: "POST",
      path: "/automation-tokens",
      status: 403,
      body: { msg: "You must POST /sudo to access this endpoint" },
      count: 5,
    });
    const result = await c.run();
    assert.equal(result.environments[0]?.outcome, "failed");
    const mine = own(await c.requests());
    assert.equal(mine.filter((x) => x.method === "POST" && x.path === "/automation-tokens").length, 2);
  });

  it("a lost create looks three times, two seconds apart, and leaves other names and older tokens alone", async () => {
    c = await setup();
    const plan = await c.plan();
    await c.client.sudo({ password: demoCredentials.superuser.password });
    // Made after the plan (so not among the tokens to revoke), more than a minute before the run.
    const older = await c.client.createAutomationToken({
      name: OLD.name,
      role: "engineer",
      scope: "global:read",
      services: [],
      expiresAt: new Date(clock.now() + 30 * 86_400_000),
      tlsAccess: false,
    });
    advanceClock(5 * 60_000);
    await c.client.sudo({ password: demoCredentials.superuser.password });
    const another = await c.client.createAutomationToken({
      name: "another name",
      role: "engineer",
      scope: "global:read",
      services: [],
      expiresAt: new Date(clock.now() + 30 * 86_400_000),
      tlsAccess: false,
    });
    await admin.clearRequests();
    await admin.fault({ method: "POST", path: "/automation-tokens", truncateAfter: 20 });
    const result = await rotate({ ...c.context(), plan });
    const r = result.environments[0]!;
    assert.equal(r.outcome, "failed", JSON.stringify(r));
    assert.match(r.error ?? "", /it had created \S+ \(found by name and creation time\), which was revoked/);
    const alive = await live();
    assert.ok(alive.includes(older.id), "an older token of the name is left alone");
    assert.ok(alive.includes(another.id), "a token of another name is left alone");
    assert.ok(alive.includes(OLD.id));
    const mine = own(await c.requests());
    const create = mine.find((x) => x.method === "POST" && x.path === "/automation-tokens")!;
    const looks = mine.filter((x) => x.method === "GET" && x.path.startsWith("/automation-tokens"));
    assert.equal(looks.length, 3, JSON.stringify(mine.map((x) => `${x.method} ${x.path}`)));
    const at = (x: { at: string }) => Date.parse(x.at);
    assert.ok(at(looks[0]!) - at(create) < 2000, "the first look at once");
    for (const i of [1, 2]) {
      const gap = at(looks[i]!) - at(looks[i - 1]!);
      assert.ok(gap >= 2000 && gap < 4000, `looks ${gap} ms apart`);
    }
    assert.equal(mine.filter((x) => x.method === "DELETE").length, 1);
  });
});

describe("prove, approval, notifications and sudo", () => {
  let c: Case;
  afterEach(async () => {
    await admin.clearHooks();
    await admin.clearFaults();
    await c?.close();
  });

  it("prove keeps looking until its timeout, then fails", async () => {
    c = await setup();
    await admin.fault({ method: "DELETE", path: "re:^/tokens/", status: 204 });
    const result = await c.run();
    const r = result.environments[0]!;
    assert.equal(r.outcome, "failed");
    const requests = await c.requests();
    const revoke = requests.findIndex((x) => x.method === "DELETE");
    const probes = requests
      .slice(revoke)
      .filter((x) => x.path === "/tokens/self" && x.tokenId === OLD.id)
      .map((x) => Date.parse(x.at));
    // proveTimeoutMs is 5 s (test/helpers/protocol.ts), one look a second.
    assert.ok(probes.length >= 3, `${probes.length} looks`);
    assert.ok(probes.at(-1)! - probes[0]! <= 6000, `${probes.at(-1)! - probes[0]!} ms`);
  });

  it("approval is asked only for environments due, and a plan's environment missing from the config is passed over", async () => {
    c = await setup({
      environments: ["integration", "staging"],
      extra: { integration: "    approval: required", staging: "    approval: required" },
    });
    const plan = await c.plan({ force: true });
    const staging = plan.environments.find((e) => e.environment === "staging")!;
    const withGhost: Plan = {
      ...plan,
      environments: [
        ...plan.environments.map((e) => (e.environment === "integration" ? { ...e, rotate: false } : e)),
        { ...staging, environment: "ghost" },
      ],
    };
    const asked: string[] = [];
    const sink = collectNotifications();
    const result = await rotate({
      ...c.context(),
      plan: withGhost,
      notify: sink.notify,
      approve: (name) => (asked.push(name), Promise.resolve(true)),
    });
    assert.deepEqual(asked, ["staging"]);
    const started = sink.events.find((e) => e.event === "run-started");
    assert.deepEqual(started?.environments, ["staging", "ghost"]);
    assert.deepEqual(
      result.environments.map((e) => [e.environment, e.outcome]),
      [
        ["integration", "nothing-to-do"],
        ["staging", "rotated"],
      ],
    );
  });

  it("sudo refused with a 403 that is not about the password: not asked again", async () => {
    c = await setup();
    await admin.fault({
      method: "POST",
      path: "/sudo",
      status: 403,
      body: { msg: "sudo mode is not available" },
      count: 5,
    });
    let again = 0;
    await assert.rejects(
      c.run({
        passwordAgain: () => {
          again += 1;
          return Promise.resolve(demoCredentials.superuser.password);
        },
      }),
    );
    assert.equal(again, 0);
    assert.equal(existsSync(join(c.dir, "integration.txt.pending")), false);
  });
});
