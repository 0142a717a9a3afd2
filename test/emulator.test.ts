import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, test } from "node:test";
import {
  type Clock,
  createEmulator,
  createEmulatorAdmin,
  demoCredentials,
  demoSeed,
  demoServiceIds,
  type EmulatorAdmin,
  EmulatorSeedError,
  generateSeed,
  loadSeedFile,
  type RunningEmulator,
  type Seed,
  startEmulatorFromCli,
} from "../src/emulator/index.ts";
import { cassette as loadFixture, fixturesSkip } from "./helpers/fixtures.ts";

/** The parsed JSON body of the interaction whose URL path matches `pathname` (first one by default). */
function fixtureBody(path: string, index = 0): unknown {
  const interaction = loadFixture(path)[index];
  if (!interaction) throw new Error(`no interaction ${index} in ${path}`);
  return JSON.parse(interaction.response.body);
}

/** A clock that stays where it is put; the admin API moves the emulator's offset on top. */
function fixedClock(at = "2026-03-10T12:00:00.990Z"): Clock {
  const date = new Date(at);
  return { now: () => new Date(date.getTime()) };
}

/** What {@link call} returns. */
interface CallResult {
  status: number;
  headers: Headers;
  // Response bodies are asserted field by field; typing each endpoint here would add nothing.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  text: string;
}

/** Options of {@link call}. */
interface CallOptions {
  method?: string;
  key?: string;
  form?: Record<string, string | string[]>;
  json?: unknown;
  headers?: Record<string, string>;
}

/** One request to the emulator; the body is parsed as JSON when it is JSON. */
async function call(base: string, path: string, options: CallOptions = {}): Promise<CallResult> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.key !== undefined) headers["Fastly-Key"] = options.key;
  let body: string | undefined;
  if (options.form) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(options.form)) {
      for (const item of Array.isArray(v) ? v : [v]) params.append(k, item);
    }
    body = params.toString();
    headers["Content-Type"] = "application/x-www-form-urlencoded";
  } else if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers["Content-Type"] ??= "application/json";
  }
  const response = await fetch(base + path, {
    method: options.method ?? "GET",
    headers,
    ...(body === undefined ? {} : { body }),
  });
  const text = await response.text();
  let parsed: unknown = text;
  if ((response.headers.get("content-type") ?? "").includes("json") && text !== "") parsed = JSON.parse(text);
  return { status: response.status, headers: response.headers, body: parsed, text };
}

/** The JSON type of a value; times (`*_at` keys) are "time" whether a string or null. */
function jsonType(key: string, value: unknown): string {
  if (key.endsWith("_at") && (value === null || typeof value === "string")) return "time";
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

/** For each key, the set of JSON types seen across the examples. */
function typesByKey(examples: readonly Record<string, unknown>[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const example of examples) {
    for (const [key, value] of Object.entries(example)) {
      const set = out.get(key) ?? new Set<string>();
      set.add(jsonType(key, value));
      out.set(key, set);
    }
  }
  return out;
}

/**
 * Differences between an emulator body and the recorded examples of the same representation:
 * keys missing or extra, and values whose JSON type the recordings never show for that key.
 */
function shapeDifferences(
  actual: Record<string, unknown>,
  recorded: readonly Record<string, unknown>[],
): string[] {
  const types = typesByKey(recorded);
  const problems: string[] = [];
  for (const key of types.keys()) if (!(key in actual)) problems.push(`missing key ${key}`);
  for (const [key, value] of Object.entries(actual)) {
    const allowed = types.get(key);
    if (!allowed) problems.push(`extra key ${key}`);
    else if (!allowed.has(jsonType(key, value))) {
      problems.push(`${key}: ${jsonType(key, value)}, recorded ${[...allowed].join("|")}`);
    }
  }
  return problems;
}

const { superuser, engineer, exporterTokens } = demoCredentials;
const integration = exporterTokens.integration;

async function sudo(base: string, key: string = superuser.token, password: string = superuser.password) {
  return call(base, "/sudo", { method: "POST", key, form: { password } });
}

async function createAutomationToken(base: string, body: Record<string, unknown>) {
  return call(base, "/automation-tokens", { method: "POST", key: superuser.token, json: body });
}

describe("emulator representations match the recordings", { skip: fixturesSkip }, () => {
  let emu: RunningEmulator;
  before(async () => {
    // The recordings are 2024-2025 traffic: the switch that keeps those shapes.
    emu = await createEmulator({ seed: demoSeed, clock: fixedClock(), apiVersion: "2025" });
  });
  after(() => emu.close());

  test("POST /sudo then POST /automation-tokens (create shape, one-time access_token)", async () => {
    const [sudoRecord, createRecord] = loadFixture("automation_tokens/create.yaml");
    const s = await sudo(emu.url);
    assert.equal(s.status, 200);
    assert.deepEqual(shapeDifferences(s.body, [JSON.parse(sudoRecord!.response.body)]), []);
    assert.match(s.body.expiry_time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/);
    assert.equal(s.body.expiry_time, "2026-03-10T12:05:00+00:00");

    const recorded = JSON.parse(createRecord!.response.body);
    const created = await createAutomationToken(
      emu.url,
      JSON.parse(
        createRecord!.request.body.replaceAll("XXXXXXXXXXXXXXXXXXXXXX", demoServiceIds["www Staging"]),
      ),
    );
    assert.equal(created.status, 200);
    assert.deepEqual(Object.keys(created.body), Object.keys(recorded));
    assert.deepEqual(shapeDifferences(created.body, [recorded]), []);
    assert.match(created.body.access_token, /^[A-Za-z0-9_-]{32}$/);
    assert.match(created.body.id, /^[0-9A-Za-z]{22}$/);
    assert.equal(created.body.created_at, "2026-03-10T12:00:00Z");
    assert.equal(created.body.last_used_at, "");
    assert.equal(created.body.expires_at, "");
  });

  test("GET /automation-tokens/{id} (get shape: nulls, access_token empty)", async () => {
    const recorded = fixtureBody("automation_tokens/get.yaml") as Record<string, unknown>;
    await sudo(emu.url);
    const created = await createAutomationToken(emu.url, {
      name: "my-test-token",
      role: "engineer",
      scope: "global",
    });
    const got = await call(emu.url, `/automation-tokens/${created.body.id}`, { key: superuser.token });
    assert.equal(got.status, 200);
    assert.deepEqual(Object.keys(got.body), Object.keys(recorded));
    assert.deepEqual(shapeDifferences(got.body, [recorded]), []);
    assert.deepEqual(got.body, {
      ...got.body,
      services: null,
      access_token: "",
      ip: null,
      last_used_at: null,
      expires_at: null,
      user_agent: null,
    });
  });

  test("GET /automation-tokens (list item shape and meta)", async () => {
    const recorded = fixtureBody("automation_tokens/list.yaml") as {
      data: Record<string, unknown>[];
      meta: Record<string, unknown>;
    };
    const list = await call(emu.url, "/automation-tokens?page=1&per_page=100", { key: superuser.token });
    assert.equal(list.status, 200);
    assert.equal(list.headers.get("link"), null);
    assert.deepEqual(Object.keys(list.body), ["data", "meta"]);
    assert.deepEqual(Object.keys(list.body.meta), Object.keys(recorded.meta));
    assert.ok(list.body.data.length >= 3);
    for (const item of list.body.data) {
      assert.deepEqual(Object.keys(item), Object.keys(recorded.data[0]!));
      assert.deepEqual(shapeDifferences(item, recorded.data), []);
      assert.equal(typeof item.scopes, "string");
    }
  });

  test("GET /tokens/self and GET /tokens (user-token shape)", async () => {
    const recordedSelf = fixtureBody("tokens/get_self.yaml") as Record<string, unknown>;
    const recordedList = fixtureBody("tokens/list.yaml") as Record<string, unknown>[];
    const examples = [recordedSelf, ...recordedList];
    const self = await call(emu.url, "/tokens/self", { key: superuser.token });
    assert.equal(self.status, 200);
    assert.deepEqual(Object.keys(self.body), Object.keys(recordedSelf));
    assert.deepEqual(shapeDifferences(self.body, examples), []);
    const list = await call(emu.url, "/tokens", { key: superuser.token });
    assert.ok(Array.isArray(list.body) && list.body.length >= 1);
    for (const item of list.body) assert.deepEqual(shapeDifferences(item, examples), []);
    // An automation token sees the same shape, its creator as user_id.
    const auto = await call(emu.url, "/tokens/self", { key: integration.token });
    assert.deepEqual(shapeDifferences(auto.body, examples), []);
    assert.equal(auto.body.user_id, superuser.id);
    assert.deepEqual(auto.body.scopes, ["global:read"]);
  });

  test("POST /tokens (user token create shape)", async () => {
    const [, createRecord] = loadFixture("tokens/create.yaml");
    const recorded = JSON.parse(createRecord!.response.body);
    const created = await call(emu.url, "/tokens", {
      method: "POST",
      form: {
        name: "my-test-token",
        password: superuser.password,
        scope: "global",
        username: superuser.login,
      },
    });
    assert.equal(created.status, 200);
    assert.deepEqual(Object.keys(created.body), Object.keys(recorded));
    assert.deepEqual(shapeDifferences(created.body, [recorded]), []);
    assert.match(created.body.access_token, /^[A-Za-z0-9_-]{32}$/);
  });

  test("GET /current_user", async () => {
    const recorded = fixtureBody("users/get_current_user.yaml") as Record<string, unknown>;
    const user = await call(emu.url, "/current_user", { key: superuser.token });
    assert.equal(user.status, 200);
    assert.deepEqual(Object.keys(user.body), Object.keys(recorded));
    assert.deepEqual(shapeDifferences(user.body, [recorded]), []);
    assert.equal(user.body.login, superuser.login);
    assert.equal(user.body.role, "superuser");
  });

  test("GET /service items, GET /service/{id}, GET /service/search", async () => {
    const pages = loadFixture("services/list.yaml").flatMap(
      (i) => JSON.parse(i.response.body) as Record<string, unknown>[],
    );
    const recordedVersions = pages.flatMap((p) => p["versions"] as Record<string, unknown>[]);
    const list = await call(emu.url, "/service", { key: superuser.token });
    assert.equal(list.status, 200);
    assert.ok(Array.isArray(list.body) && list.body.length === 8);
    for (const item of list.body) {
      assert.deepEqual(shapeDifferences(item, pages), []);
      for (const version of item.versions) assert.deepEqual(shapeDifferences(version, recordedVersions), []);
    }
    const id = demoServiceIds["www Staging"];
    const recordedGet = fixtureBody("services/get.yaml") as Record<string, unknown>;
    const got = await call(emu.url, `/service/${id}`, { key: superuser.token });
    assert.deepEqual(Object.keys(got.body), Object.keys(recordedGet));
    assert.deepEqual(shapeDifferences(got.body, [recordedGet]), []);
    const recordedSearch = fixtureBody("services/search.yaml") as Record<string, unknown>;
    const found = await call(emu.url, `/service/search?name=${encodeURIComponent("www Staging")}`, {
      key: superuser.token,
    });
    assert.equal(found.body.id, id);
    assert.deepEqual(Object.keys(found.body), Object.keys(recordedSearch));
    assert.deepEqual(shapeDifferences(found.body, [recordedSearch]), []);
  });

  test("realtime no-data response", async () => {
    const recorded = fixtureBody("realtime_stats/get.yaml") as Record<string, unknown>;
    const now = Math.floor(new Date("2026-03-10T12:00:00Z").getTime() / 1000);
    // Asking for data after now, on a clock that does not move, waits briefly and finds none.
    const rt = await call(emu.url, `/v1/channel/${demoServiceIds["www Integration"]}/ts/${now}`, {
      key: superuser.token,
    });
    assert.equal(rt.status, 200);
    assert.deepEqual(Object.keys(rt.body), Object.keys(recorded));
    assert.deepEqual(shapeDifferences(rt.body, [recorded]), []);
    assert.equal(rt.body.Error, "No data available, please retry");
  });

  test("response headers as recorded", async () => {
    const r = await call(emu.url, "/current_user", { key: superuser.token });
    assert.equal(r.headers.get("content-type"), "application/json");
    assert.equal(r.headers.get("cache-control"), "no-store");
    assert.equal(r.headers.get("pragma"), "no-cache");
    assert.equal(r.headers.get("server"), "fastly control-gateway");
    assert.equal(r.headers.get("status"), "200 OK");
    assert.equal(r.headers.get("strict-transport-security"), "max-age=31536000");
    assert.equal(r.headers.get("date"), "Tue, 10 Mar 2026 12:00:00 GMT");
  });
});

describe("emulator semantics", () => {
  let emu: RunningEmulator;
  let admin: EmulatorAdmin;
  before(async () => {
    emu = await createEmulator({ seed: demoSeed, clock: fixedClock() });
    admin = createEmulatorAdmin(emu.url);
  });
  after(() => emu.close());
  beforeEach(() => admin.reset());

  test("missing, unknown and revoked keys get 401 with the recorded message", async () => {
    const expected = { msg: "Provided credentials are missing or invalid" };
    for (const key of [undefined, "not-a-token-value-at-all-0000000"]) {
      const r = await call(emu.url, "/tokens/self", key === undefined ? {} : { key });
      assert.equal(r.status, 401);
      assert.deepEqual(r.body, expected);
      assert.equal(r.headers.get("content-type"), "application/json");
    }
    assert.equal(
      (await call(emu.url, "/tokens/self", { method: "DELETE", key: engineer.token })).status,
      204,
    );
    const revoked = await call(emu.url, "/tokens/self", { key: engineer.token });
    assert.equal(revoked.status, 401);
    assert.deepEqual(revoked.body, expected);
    const log = await admin.requests();
    assert.equal(log.at(-1)?.tokenId, engineer.tokenId);
    assert.equal(log[1]?.tokenId, null);
  });

  test("a token expires on the emulator's clock", async () => {
    assert.equal((await call(emu.url, "/tokens/self", { key: integration.token })).status, 200);
    const state = await admin.state();
    const expiresAt = state.automationTokens.find((t) => t.id === integration.id)!.expiresAt!;
    assert.equal(expiresAt, "2026-03-16T12:00:00Z");
    await admin.advanceClock("7d");
    const r = await call(emu.url, "/tokens/self", { key: integration.token });
    assert.equal(r.status, 401);
    assert.deepEqual(r.body, { msg: `Token ${integration.id} expired at ${expiresAt}` });
    const rt = await call(emu.url, `/v1/channel/${demoServiceIds["www Integration"]}/ts/0`, {
      key: integration.token,
    });
    assert.equal(rt.status, 401);
    assert.ok(typeof rt.body.Error === "string");
  });

  test("creating an automation token needs sudo, which lasts five minutes", async () => {
    const body = {
      name: "n",
      role: "engineer",
      scope: "global:read",
      services: [demoServiceIds["www Staging"]],
    };
    const before = await createAutomationToken(emu.url, body);
    assert.equal(before.status, 403);
    // The 2026 API's automation-token endpoints answer errors as problem+json.
    assert.equal(before.headers.get("content-type"), "application/problem+json");
    assert.deepEqual(before.body, {
      title: "You must POST /sudo to access this endpoint",
      status: 403,
      detail: "",
      errors: [],
    });
    assert.equal((await sudo(emu.url)).status, 200);
    assert.equal((await createAutomationToken(emu.url, body)).status, 200);
    await admin.advanceClock("301s");
    assert.equal((await createAutomationToken(emu.url, body)).status, 403);
    const state = await admin.state();
    assert.equal(state.sudoSessions[0]?.active, false);
  });

  test("sudo: wrong password 403, missing password 400, JSON body and expiry_time accepted", async () => {
    assert.equal((await sudo(emu.url, superuser.token, "wrong")).status, 403);
    assert.equal(
      (await call(emu.url, "/sudo", { method: "POST", key: superuser.token, form: {} })).status,
      400,
    );
    const wrongUser = await call(emu.url, "/sudo", {
      method: "POST",
      key: superuser.token,
      form: { username: engineer.login, password: superuser.password },
    });
    assert.equal(wrongUser.status, 403);
    const json = await call(emu.url, "/sudo", {
      method: "POST",
      key: superuser.token,
      json: { username: superuser.login, password: superuser.password, expiry_time: "2026-03-10T12:30:00Z" },
    });
    assert.equal(json.status, 200);
    assert.deepEqual(json.body, { expiry_time: "2026-03-10T12:30:00+00:00" });
  });

  test("a non-superuser is refused, saying superuser is required", async () => {
    assert.equal((await sudo(emu.url, engineer.token, engineer.password)).status, 200);
    const r = await call(emu.url, "/automation-tokens", {
      method: "POST",
      key: engineer.token,
      json: { name: "n", role: "engineer" },
    });
    assert.equal(r.status, 403);
    assert.match(r.body.title, /superuser/);
  });

  test("MFA and SSO users cannot create automation tokens", async () => {
    const seed: Seed = {
      customer: { name: "Locked down" },
      users: [
        {
          login: "mfa@example.com",
          name: "M",
          role: "superuser",
          password: "pw-mfa-0001",
          mfa: true,
          tokens: [{ name: "t", value: "mfa-user-token-0000000000000001" }],
        },
        {
          login: "sso@example.com",
          name: "S",
          role: "superuser",
          password: "pw-sso-0001",
          sso: true,
          tokens: [{ name: "t", value: "sso-user-token-0000000000000001" }],
        },
      ],
    };
    const locked = await createEmulator({ seed, clock: fixedClock() });
    try {
      for (const [key, password, pattern] of [
        ["mfa-user-token-0000000000000001", "pw-mfa-0001", /multi-factor authentication \(MFA\)/],
        ["sso-user-token-0000000000000001", "pw-sso-0001", /single sign-on \(SSO\)/],
      ] as const) {
        assert.equal((await sudo(locked.url, key, password)).status, 200);
        const r = await call(locked.url, "/automation-tokens", {
          method: "POST",
          key,
          json: { name: "n", role: "engineer" },
        });
        assert.equal(r.status, 403);
        assert.match(r.body.title, pattern);
      }
    } finally {
      await locked.close();
    }
  });

  test("automation tokens cannot create tokens; attributes wrapper accepted", async () => {
    await sudo(emu.url);
    const created = await createAutomationToken(emu.url, {
      attributes: { name: "global automation", role: "engineer", scope: "global" },
    });
    assert.equal(created.status, 200);
    assert.equal(created.body.name, "global automation");
    const r = await call(emu.url, "/automation-tokens", {
      method: "POST",
      key: created.body.access_token,
      json: { name: "n", role: "engineer" },
    });
    assert.equal(r.status, 403);
    assert.match(r.body.title, /Automation tokens cannot create tokens/);
    const me = await call(emu.url, "/current_user", { key: created.body.access_token });
    assert.equal(me.status, 403);
  });

  test("global:read tokens cannot write but can revoke themselves", async () => {
    const r = await call(emu.url, `/tokens/${engineer.tokenId}`, {
      method: "DELETE",
      key: integration.token,
    });
    assert.equal(r.status, 403);
    assert.match(r.body.detail, /global:read/);
    // A refused write still counts as a use of the token and against its rate limit.
    assert.equal(r.headers.get("fastly-ratelimit-remaining"), "999");
    const state = await admin.state();
    assert.equal(
      state.automationTokens.find((t) => t.id === integration.id)?.lastUsedAt,
      "2026-03-10T12:00:00Z",
    );
    assert.equal(
      (await call(emu.url, "/tokens/self", { method: "DELETE", key: integration.token })).status,
      204,
    );
    assert.equal((await call(emu.url, "/tokens/self", { key: integration.token })).status, 401);
  });

  test("service-limited tokens see only their services", async () => {
    const list = await call(emu.url, "/service", { key: integration.token });
    assert.deepEqual(list.body.map((s: { name: string }) => s.name).sort(), [
      "assets Integration",
      "www Integration",
    ]);
    const prod = demoServiceIds["www Production"];
    assert.equal((await call(emu.url, `/service/${prod}`, { key: integration.token })).status, 403);
    assert.equal(
      (await call(emu.url, "/service/search?name=www+Production", { key: integration.token })).status,
      404,
    );
    const rt = await call(emu.url, `/v1/channel/${prod}/ts/0`, { key: integration.token });
    assert.equal(rt.status, 403);
    assert.deepEqual(rt.body, { Error: "unauthorized" });
    const verify = await call(emu.url, "/verify", { key: integration.token });
    assert.deepEqual(
      Object.keys(verify.body.services).sort(),
      [demoServiceIds["assets Integration"], demoServiceIds["www Integration"]].sort(),
    );
  });

  test("every authenticated request records last_used_at, ip and user_agent", async () => {
    await admin.advanceClock("1h");
    await call(emu.url, `/v1/channel/${demoServiceIds["www Integration"]}/ts/0`, {
      key: integration.token,
      headers: { "User-Agent": "Fastly-Exporter (10.2.0-test)" },
    });
    const got = await call(emu.url, `/automation-tokens/${integration.id}`, { key: superuser.token });
    assert.equal(got.body.last_used_at, "2026-03-10T13:00:00Z");
    assert.equal(got.body.ip, "127.0.0.1");
    assert.equal(got.body.user_agent, "Fastly-Exporter (10.2.0-test)");
  });

  test("rate limit: headers only on non-GET, 429 after 1,000 writes, reset at the top of the hour", async () => {
    const get = await call(emu.url, "/tokens/self", { key: superuser.token });
    assert.equal(get.headers.get("fastly-ratelimit-remaining"), null);
    const reset = String(Date.parse("2026-03-10T13:00:00Z") / 1000);
    for (let i = 1; i <= 1000; i += 1) {
      const r = await call(emu.url, "/tokens/XXXXXXXXXXXXXXXXXXXXXX", {
        method: "DELETE",
        key: superuser.token,
      });
      assert.equal(r.status, 404);
      if (i === 1 || i === 1000) {
        assert.equal(r.headers.get("fastly-ratelimit-remaining"), String(1000 - i));
        assert.equal(r.headers.get("fastly-ratelimit-reset"), reset);
      }
    }
    const limited = await call(emu.url, "/sudo", {
      method: "POST",
      key: superuser.token,
      form: { password: superuser.password },
    });
    assert.equal(limited.status, 429);
    assert.deepEqual(limited.body, {
      msg: "You have exceeded your hourly rate limit. Please contact support@fastly.com if you think this is a mistake.",
    });
    assert.equal(limited.headers.get("fastly-ratelimit-remaining"), "0");
    assert.equal((await call(emu.url, "/tokens/self", { key: superuser.token })).status, 200);
    // The same user's other token shares the window; automation tokens have their own.
    await admin.setClock("2026-03-10T13:00:00Z");
    const next = await sudo(emu.url);
    assert.equal(next.status, 200);
    assert.equal(next.headers.get("fastly-ratelimit-remaining"), "999");
  });

  test("automation token pagination: meta, page and per_page", async () => {
    const page = await call(emu.url, "/automation-tokens?page=2&per_page=2", { key: superuser.token });
    assert.deepEqual(page.body.meta, { per_page: 2, current_page: 2, record_count: 3, total_pages: 2 });
    assert.equal(page.body.data.length, 1);
    assert.equal(page.body.data[0].id, exporterTokens.production.id);
    assert.equal(
      (await call(emu.url, "/automation-tokens?per_page=0", { key: superuser.token })).status,
      400,
    );
  });

  test("revocation: by id (automation tokens too), bulk, customer listing, and permissions", async () => {
    const engineerTries = await call(emu.url, `/tokens/${integration.id}`, {
      method: "DELETE",
      key: engineer.token,
    });
    assert.equal(engineerTries.status, 403);
    assert.equal(
      (await call(emu.url, `/tokens/${integration.id}`, { method: "DELETE", key: superuser.token })).status,
      204,
    );
    assert.equal((await call(emu.url, "/tokens/self", { key: integration.token })).status, 401);
    assert.equal(
      (await call(emu.url, `/automation-tokens/${integration.id}`, { key: superuser.token })).status,
      404,
    );
    const customer = await call(emu.url, `/customer/${demoCredentials.customerId}/tokens`, {
      key: superuser.token,
    });
    assert.deepEqual(
      customer.body.map((t: { id: string }) => t.id).sort(),
      [engineer.tokenId, superuser.tokenId].sort(),
    );
    const bulk = await call(emu.url, "/tokens", {
      method: "DELETE",
      key: superuser.token,
      headers: { "Content-Type": "application/vnd.api+json; ext=bulk" },
      json: {
        data: [
          { type: "token", id: exporterTokens.staging.id },
          { type: "token", id: exporterTokens.production.id },
        ],
      },
    });
    assert.equal(bulk.status, 204);
    assert.equal(bulk.text, "");
    const state = await admin.state();
    assert.ok(state.automationTokens.every((t) => t.revokedAt !== null));
    const services = await call(emu.url, `/automation-tokens/${exporterTokens.staging.id}/services`, {
      key: superuser.token,
    });
    assert.equal(services.status, 404);
  });

  test("GET /automation-tokens/{id}/services and DELETE /automation-tokens/{id}", async () => {
    const services = await call(emu.url, `/automation-tokens/${integration.id}/services`, {
      key: superuser.token,
    });
    assert.deepEqual(services.body, {
      data: [demoServiceIds["www Integration"], demoServiceIds["assets Integration"]],
    });
    assert.equal(
      (
        await call(emu.url, `/automation-tokens/${integration.id}`, {
          method: "DELETE",
          key: superuser.token,
        })
      ).status,
      204,
    );
    assert.equal((await call(emu.url, "/tokens/self", { key: integration.token })).status, 401);
  });

  test("POST /tokens: username/password, key + password (CLI), key in sudo, wrong password", async () => {
    const form = { name: "ci", scope: "global:read", "services[]": [demoServiceIds["www Staging"]] };
    const viaKey = await call(emu.url, "/tokens", {
      method: "POST",
      key: superuser.token,
      form: { ...form, password: superuser.password },
    });
    assert.equal(viaKey.status, 200);
    assert.deepEqual(viaKey.body.services, [demoServiceIds["www Staging"]]);
    assert.equal(viaKey.body.service_id, demoServiceIds["www Staging"]);
    assert.equal(viaKey.headers.get("fastly-ratelimit-remaining"), "999");
    const noSudo = await call(emu.url, "/tokens", { method: "POST", key: superuser.token, form });
    assert.equal(noSudo.status, 403);
    await sudo(emu.url);
    assert.equal(
      (await call(emu.url, "/tokens", { method: "POST", key: superuser.token, form })).status,
      200,
    );
    const wrong = await call(emu.url, "/tokens", {
      method: "POST",
      form: { ...form, username: superuser.login, password: "nope" },
    });
    assert.equal(wrong.status, 403);
    const works = await call(emu.url, "/tokens/self", { key: viaKey.body.access_token });
    assert.equal(works.body.name, "ci");
  });

  test("service list pagination reproduces the recorded Link headers", { skip: fixturesSkip }, async () => {
    const big = await createEmulator({
      seed: generateSeed({ services: 258, automationTokens: 0 }),
      clock: fixedClock(),
    });
    try {
      const recorded = loadFixture("services/list.yaml");
      for (const [i, interaction] of recorded.entries()) {
        const path = interaction.request.url.replace("https://api.fastly.com", "");
        const r = await call(big.url, path, { key: superuser.token });
        assert.equal(r.body.length, JSON.parse(interaction.response.body).length, `page ${i + 1}`);
        const expected = interaction.response.headers["Link"]![0]!.replaceAll(
          "https://api.fastly.com",
          big.url,
        );
        assert.equal(r.headers.get("link"), expected, `page ${i + 1}`);
      }
      const descending = await call(big.url, "/service?direction=descend&per_page=2&sort=created", {
        key: superuser.token,
      });
      assert.ok(descending.body[0].created_at >= descending.body[1].created_at);
      const def = await call(big.url, "/service?filter%5Binclude_versions%5D=false", {
        key: superuser.token,
      });
      assert.equal(def.body.length, 20);
      assert.ok(!("versions" in def.body[0]));
      assert.equal(
        def.headers.get("link")?.split(", ")[0],
        `<${big.url}/service?filter%5Binclude_versions%5D=false&page=13>; rel="last"`,
      );
      const single = await call(big.url, "/service?per_page=1000", { key: superuser.token });
      assert.equal(single.body.length, 258);
      assert.equal(single.headers.get("link"), null);
      assert.equal((await call(big.url, "/service?per_page=1001", { key: superuser.token })).status, 400);
    } finally {
      await big.close();
    }
  });

  test("realtime: Timestamp advances with the clock, entries have datacenter/aggregated/recorded", async () => {
    const path = `/v1/channel/${demoServiceIds["www Integration"]}/ts/`;
    const first = await call(emu.url, `${path}0`, { key: integration.token });
    assert.equal(first.status, 200);
    assert.equal(first.headers.get("cache-control"), "max-age=1");
    assert.equal(first.body.Data.length, 1);
    const ts = first.body.Timestamp;
    await admin.advanceClock("3s");
    const next = await call(emu.url, `${path}${ts}`, { key: integration.token });
    assert.equal(next.body.Timestamp, ts + 3);
    assert.deepEqual(
      next.body.Data.map((d: { recorded: number }) => d.recorded),
      [ts + 1, ts + 2, ts + 3],
    );
    const entry = next.body.Data[0];
    assert.deepEqual(Object.keys(entry), ["datacenter", "aggregated", "recorded"]);
    assert.equal(typeof entry.aggregated.requests, "number");
    assert.ok(Object.keys(entry.datacenter).length > 1);
    const history = await call(emu.url, `${path}h`, { key: integration.token });
    assert.equal(history.body.Data.length, 120);
    const bad = await call(emu.url, `${path}0`, { key: "not-a-token-value-at-all-0000000" });
    assert.equal(bad.status, 403);
    assert.deepEqual(bad.body, { Error: "unauthorized" });
  });

  test("OpenID discovery document points at the emulator", async () => {
    const r = await call(emu.url, "/realms/fastly/.well-known/openid-configuration");
    assert.deepEqual(Object.keys(r.body), ["issuer", "authorization_endpoint", "jwks_uri", "token_endpoint"]);
    for (const value of Object.values(r.body)) assert.ok(String(value).startsWith(emu.url));
  });

  test("faults: status and body, count, prefix and regex paths, delay, drop, clear", async () => {
    await admin.fault({ method: "GET", path: "/tokens/self", count: 2, status: 503, body: { msg: "down" } });
    for (let i = 0; i < 2; i += 1) {
      const r = await call(emu.url, "/tokens/self", { key: superuser.token });
      assert.equal(r.status, 503);
      assert.deepEqual(r.body, { msg: "down" });
    }
    assert.equal((await call(emu.url, "/tokens/self", { key: superuser.token })).status, 200);

    await admin.fault({ path: "/automation-tokens*", status: 500 });
    assert.equal(
      (await call(emu.url, `/automation-tokens/${integration.id}`, { key: superuser.token })).status,
      500,
    );
    await admin.fault({ path: "re:^/service/[^/]+$", status: 429 });
    assert.equal((await call(emu.url, "/service", { key: superuser.token })).status, 200);
    assert.equal(
      (await call(emu.url, `/service/${demoServiceIds.datagovuk}`, { key: superuser.token })).status,
      429,
    );

    await admin.fault({ path: "/current_user", delayMs: 150 });
    const started = performance.now();
    const delayed = await call(emu.url, "/current_user", { key: superuser.token });
    assert.equal(delayed.status, 200);
    assert.ok(performance.now() - started >= 140);

    await admin.fault({ path: "/verify", drop: true });
    await assert.rejects(call(emu.url, "/verify", { key: superuser.token }));
    const log = await admin.requests();
    assert.equal(log.at(-1)?.status, 0);

    await admin.fault({ path: "/verify", status: 500, count: 5 });
    await admin.clearFaults();
    assert.equal((await call(emu.url, "/verify", { key: superuser.token })).status, 200);
    const invalid = await fetch(`${emu.url}/__emulator/faults`, {
      method: "POST",
      body: JSON.stringify({ path: "/x" }),
    });
    assert.equal(invalid.status, 400);
  });

  test("reset restores the seed and clears log, faults and clock", async () => {
    await sudo(emu.url);
    const created = await createAutomationToken(emu.url, { name: "temp", role: "engineer" });
    await admin.advanceClock("2d");
    await admin.fault({ path: "/verify", status: 500 });
    await admin.reset();
    assert.equal((await call(emu.url, "/tokens/self", { key: created.body.access_token })).status, 401);
    assert.equal((await admin.now()).toISOString(), "2026-03-10T12:00:00.000Z");
    assert.equal((await call(emu.url, "/verify", { key: superuser.token })).status, 200);
    const log = await admin.requests();
    assert.equal(log.length, 2);
    assert.equal((await admin.state()).automationTokens.length, 3);
  });

  test("the request log and state never hold token values or passwords", async () => {
    await sudo(emu.url);
    const created = await createAutomationToken(emu.url, { name: "secret holder", role: "engineer" });
    const userToken = await call(emu.url, "/tokens", {
      method: "POST",
      form: { name: "t", username: superuser.login, password: superuser.password },
    });
    await call(emu.url, `/tokens/self?api_key=${superuser.token}&page=2`, { key: superuser.token });
    await call(emu.url, `/tokens/${integration.token}`, { key: superuser.token });
    const log = await admin.requests();
    const state = await admin.state();
    const text = JSON.stringify(log) + JSON.stringify(state);
    const secrets = [
      superuser.token,
      superuser.password,
      integration.token,
      created.body.access_token as string,
      userToken.body.access_token as string,
    ];
    for (const secret of secrets) assert.ok(!text.includes(secret), "a secret leaked into the admin API");
    assert.ok(log.some((e) => e.path === "/tokens/self?api_key=REDACTED&page=2"));
    assert.ok(log.some((e) => e.path === "/tokens/REDACTED"));
    assert.deepEqual(Object.keys(log[0]!), ["method", "path", "status", "tokenId", "userAgent", "at"]);
  });
});

describe("emulator seeds", () => {
  test("seed files are validated with messages naming the field", async () => {
    const dir = await mkdtemp(join(tmpdir(), "emulator-seed-"));
    try {
      const file = join(dir, "seed.json");
      await writeFile(
        file,
        JSON.stringify({
          customer: { name: "C" },
          users: [{ login: "a@example.com", name: "A", role: "root", password: "pw", tokens: [] }],
          automationTokens: [{ name: "t", value: "short", role: "engineer", createdBy: "nobody" }],
        }),
      );
      await assert.rejects(loadSeedFile(file), (error: unknown) => {
        assert.ok(error instanceof EmulatorSeedError);
        assert.ok(error.message.includes(file));
        assert.ok(error.problems.some((p) => p.startsWith("users[0].role:")));
        assert.ok(error.problems.some((p) => p.startsWith("automationTokens[0].value:")));
        return true;
      });
      await writeFile(
        file,
        JSON.stringify({
          customer: { name: "C" },
          users: [{ login: "a@example.com", name: "A", role: "superuser", password: "pw", tokens: [] }],
          services: [{ name: "svc" }],
          automationTokens: [
            { name: "t", value: "value-000000001", role: "engineer", createdBy: "ghost", services: ["nope"] },
          ],
        }),
      );
      await assert.rejects(loadSeedFile(file), (error: unknown) => {
        assert.ok(error instanceof EmulatorSeedError);
        assert.deepEqual(error.problems, [
          'automationTokens[0].services: no service with id or name "nope"',
          'automationTokens[0].createdBy: no user with id or login "ghost"',
        ]);
        return true;
      });
      await writeFile(file, "{ not json");
      await assert.rejects(loadSeedFile(file), /not valid JSON/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("a seed file with names for references and relative times starts", async () => {
    const dir = await mkdtemp(join(tmpdir(), "emulator-seed-"));
    try {
      const file = join(dir, "seed.json");
      await writeFile(
        file,
        JSON.stringify({
          customer: { name: "C" },
          users: [
            {
              login: "ops@c.example",
              name: "Ops",
              role: "superuser",
              password: "pw",
              tokens: [{ name: "cli", value: "ops-token-value-0001" }],
            },
          ],
          services: [{ name: "www" }],
          automationTokens: [
            {
              name: "exp",
              value: "exporter-value-0001",
              role: "engineer",
              scope: "global:read",
              services: ["www"],
              expiresAt: "+10d",
              createdBy: "ops@c.example",
            },
          ],
        }),
      );
      const emu = await createEmulator({ seed: await loadSeedFile(file), clock: fixedClock() });
      try {
        const self = await call(emu.url, "/tokens/self", { key: "exporter-value-0001" });
        assert.equal(self.body.expires_at, "2026-03-20T12:00:00Z");
        assert.equal(self.body.services.length, 1);
      } finally {
        await emu.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("startEmulatorFromCli serves the demo seed", async () => {
    const emu = await startEmulatorFromCli({ seed: "demo", port: 0 });
    try {
      assert.match(emu.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      const state = await createEmulatorAdmin(emu.url).state();
      assert.equal(state.customer.name, "GOV.UK");
      assert.equal(state.automationTokens.length, 3);
      const now = Date.parse(state.now);
      for (const token of state.automationTokens) {
        const left = Date.parse(token.expiresAt!) - now;
        assert.ok(left > 0 && left < 31 * 86_400_000, "demo exporter tokens expire within a month");
      }
    } finally {
      await emu.close();
    }
  });
});
