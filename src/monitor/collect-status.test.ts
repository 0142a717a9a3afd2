/**
 * `collectStatus` in-process against the emulator on port 0: what it reads, in which order of
 * precedence it takes the endpoint, when a refused listing falls back to the deployed tokens, and
 * when the account's users are asked about.
 */
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { loadConfig, type Config } from "../config/index.ts";
import { demoCredentials, demoSeed, type Seed } from "../emulator/index.ts";
import { createFastlyClient } from "../fastly/index.ts";
import { FastlyAuthError, FastlyServerError } from "../fastly/errors.ts";
import type { AutomationToken } from "../fastly/types.ts";
import { demoFileEnvironment, seedToken, world, type World } from "../../test/helpers/world.ts";
import { collectStatus } from "./status.ts";

const { superuser, exporterTokens } = demoCredentials;
const LEAVER_ID = "LeaverUser000000000001";
const ORPHAN_ID = "CollectOrphanToken0001";

const seed: Seed = {
  ...demoSeed,
  users: [
    ...demoSeed.users,
    {
      id: LEAVER_ID,
      login: "leaver@example.com",
      name: "Left",
      role: "superuser",
      password: "leaver-password-1",
      deletedAt: "-30d",
    },
  ],
  automationTokens: [
    ...(demoSeed.automationTokens ?? []),
    seedToken("orphan token", "collect-orphan-token-value-000001", {
      id: ORPHAN_ID,
      createdBy: "leaver@example.com",
      expiresAt: "+100d",
    }),
  ],
};

describe("collectStatus", () => {
  let w: World<"fastly">;
  let config: Config;
  const client = (token: string = superuser.token, endpoint: string = w.emulator.url) =>
    createFastlyClient({ token, endpoint, retry: { retries: 0, baseDelayMs: 1 } });
  const orphanCodes = (tokens: readonly { id: string; findings: readonly { code: string }[] }[]) =>
    tokens.find((t) => t.id === ORPHAN_ID)?.findings.map((f) => f.code);

  before(async () => {
    w = await world({ dir: "ftr-collect-", fastly: seed });
    const path = await w.writeFileConfig([
      demoFileEnvironment("integration"),
      demoFileEnvironment("staging"),
    ]);
    const loaded = await loadConfig(path);
    assert.ok(loaded.config);
    config = loaded.config;
  });
  after(() => w.close());
  beforeEach(async () => {
    await w.admin.clearFaults();
    await w.admin.clearRequests();
  });

  it("reads the account, its users and each deployed token, judged at the time given once all is read", async () => {
    let calls = 0;
    const at = new Date("2026-12-01T00:00:00.000Z");
    const report = await collectStatus({
      client: client(),
      config,
      now: () => {
        calls++;
        return at;
      },
    });
    assert.equal(calls, 1);
    assert.equal(report.generatedAt, at.toISOString());
    assert.equal(report.scope, "account");
    assert.ok(!("limitation" in report));
    assert.ok(!("credentialRefused" in report));
    assert.ok(report.tokens.length >= 4);
    assert.deepEqual(
      report.environments.map((e) => [
        e.name,
        e.deployed.status,
        "tokenId" in e.deployed ? e.deployed.tokenId : "",
      ]),
      [
        ["integration", "valid", exporterTokens.integration.id],
        ["staging", "valid", exporterTokens.staging.id],
      ],
    );
    // Its creator has left the account: the users were listed.
    assert.ok(orphanCodes(report.tokens)?.includes("creator-gone"));
    // Services are named from the service listing.
    assert.ok(report.tokens.some((t) => t.services.some((s) => s.name !== undefined)));
    const paths = (await w.admin.requests()).map((r) => r.path.split("?")[0]);
    assert.ok(paths.some((p) => /^\/customer\/[^/]+\/users$/.test(p ?? "")));
    assert.equal(paths.filter((p) => p === "/tokens/self").length, 2);
    // A Date is taken as it is.
    const fixed = await collectStatus({ client: client(), config, now: at });
    assert.equal(fixed.generatedAt, at.toISOString());
  });

  it("leaves users unasked without a customer id or a creator, and unjudged when the list is refused or missing", async () => {
    for (const status of [401, 403, 404]) {
      await w.admin.fault({ path: "/customer/*", status, count: 1 });
      const report = await collectStatus({ client: client(), config, now: new Date() });
      assert.equal(report.scope, "account", `users answered ${status}`);
      assert.ok(!orphanCodes(report.tokens)?.includes("creator-gone"), `users answered ${status}`);
    }
    await w.admin.fault({ path: "/customer/*", status: 500, count: 1 });
    await assert.rejects(collectStatus({ client: client(), config, now: new Date() }), FastlyServerError);
    // Identified without the account's listing of users: tokens without a creator or customer id.
    await w.admin.clearRequests();
    const stripped = createFastlyClient({ token: superuser.token, endpoint: w.emulator.url });
    const listing = await stripped.listAutomationTokens();
    const noCreator = listing.map(({ creatorId: _c, ...t }) => t as AutomationToken);
    const noCustomer = listing.map(({ customerId: _c, ...t }) => t as AutomationToken);
    for (const tokens of [noCreator, noCustomer]) {
      await w.admin.clearRequests();
      await collectStatus({
        client: { ...stripped, listAutomationTokens: () => Promise.resolve(tokens) },
        config,
        now: new Date(),
      });
      const paths = (await w.admin.requests()).map((r) => r.path);
      assert.ok(!paths.some((p) => p.includes("/users")), paths.join(" "));
    }
  });

  it("falls back to the deployed tokens when the listing is refused, unless told not to", async () => {
    const refused = await collectStatus({
      client: client("not-a-token-value-0000000000000000"),
      config,
      now: new Date(),
    });
    assert.equal(refused.scope, "deployed-only");
    assert.equal(refused.credentialRefused, 401);
    assert.equal(
      refused.limitation,
      "FASTLY_API_TOKEN was refused (401) when listing the account: showing only the deployed tokens, identified with themselves",
    );
    assert.deepEqual(
      refused.tokens.map((t) => t.id).sort(),
      [exporterTokens.integration.id, exporterTokens.staging.id].sort(),
    );
    await assert.rejects(
      collectStatus({
        client: client("not-a-token-value-0000000000000000"),
        config,
        now: new Date(),
        fallback: false,
      }),
      FastlyAuthError,
    );
    await w.admin.fault({ path: "/automation-tokens*", status: 500, count: 1 });
    await assert.rejects(collectStatus({ client: client(), config, now: new Date() }), FastlyServerError);
  });

  it("without a client, shows the deployed tokens, asked at the config's endpoint", async () => {
    let listed: unknown = "not called";
    const report = await collectStatus({ config, now: new Date() });
    assert.equal(report.scope, "deployed-only");
    assert.equal(
      report.limitation,
      "FASTLY_API_TOKEN is not set: showing only the deployed tokens, identified with themselves",
    );
    assert.ok(!("credentialRefused" in report));
    assert.equal(report.environments[0]?.deployed.status, "valid");
    await collectStatus({
      config,
      now: new Date(),
      identify: (_env, l) => {
        listed = l;
        return Promise.resolve({ status: "absent" });
      },
    });
    assert.equal(listed, undefined);
  });

  it("asks the deployed tokens at the endpoint given, else the client's, else the config's", async () => {
    const closed = "http://127.0.0.1:1";
    const state = async (options: {
      endpoint?: string;
      clientEndpoint?: string;
      configEndpoint?: string;
    }) => {
      const c =
        options.clientEndpoint === undefined ? undefined : client(superuser.token, options.clientEndpoint);
      const report = await collectStatus({
        ...(c ? { client: c } : {}),
        config: {
          ...config,
          fastly: { ...config.fastly, endpoint: options.configEndpoint ?? w.emulator.url },
        },
        now: new Date(),
        ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      }).catch(() => undefined);
      return report?.environments[0]?.deployed.status;
    };
    assert.equal(await state({ endpoint: closed }), "unknown");
    assert.equal(await state({ configEndpoint: closed }), "unknown");
    assert.equal(await state({ configEndpoint: closed, endpoint: w.emulator.url }), "valid");
    // The client's endpoint wins over the config's.
    const viaClient = await collectStatus({
      client: client(),
      config: { ...config, fastly: { ...config.fastly, endpoint: closed } },
      now: new Date(),
    });
    assert.equal(viaClient.environments[0]?.deployed.status, "valid");
    // The listing given to identify is the account's.
    let listed: readonly AutomationToken[] | undefined;
    await collectStatus({
      client: client(),
      config,
      now: new Date(),
      identify: (_env, l) => {
        listed = l;
        return Promise.resolve({ status: "absent" });
      },
    });
    assert.ok(listed?.some((t) => t.id === ORPHAN_ID));
  });
});
