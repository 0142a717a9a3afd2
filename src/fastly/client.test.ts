import assert from "node:assert/strict";
import { beforeTimer } from "../../test/helpers/wait.ts";
import { describe, test } from "node:test";
import { cassette, fixturesSkip, recordedBody, replayFetch } from "../../test/helpers/fixtures.ts";
import { createFastlyClient, nextLink, numberedPages, type RetryOptions } from "./client.ts";
import {
  FastlyAuthError,
  FastlyForbiddenError,
  FastlyNetworkError,
  FastlyNotFoundError,
  FastlyRateLimitError,
  FastlyRedirectError,
  FastlyRequestError,
  FastlyResponseError,
  FastlyServerError,
  FastlyUnknownOutcomeError,
} from "./errors.ts";
import {
  automationTokenPageSchema,
  automationTokenSchema,
  createdAutomationTokenSchema,
  currentUserSchema,
  serviceListSchema,
  serviceSchema,
  tokenSelfSchema,
} from "./schemas.ts";
import type { FastlyClient } from "./types.ts";
import { clearSecrets, redact, REDACTED } from "../util/redact.ts";
import { VERSION } from "../version.ts";
import { readFileSync } from "node:fs";

const X = "XXXXXXXXXXXXXXXXXXXXXX";
const TOKEN = "tOkEnVaLuE-0123456789abcdefghijk";

describe("recorded responses parse to normalised values", { skip: fixturesSkip }, () => {
  test("POST /automation-tokens (2025) through the client, with sudo first", async () => {
    const fetch = replayFetch(cassette("automation_tokens/create.yaml"));
    const client = createFastlyClient({ token: TOKEN, fetch });
    const sudo = await client.sudo({ password: "a-sudo-password" });
    assert.deepEqual(sudo.expiresAt, new Date("2025-02-25T12:06:38Z"));
    const created = await client.createAutomationToken({
      name: "my-test-token",
      role: "engineer",
      scope: "global",
      services: [X],
    });
    assert.deepEqual(created, {
      id: X,
      name: "my-test-token",
      role: "engineer",
      scopes: ["global"],
      services: [X],
      createdAt: new Date("2025-02-25T12:01:39Z"),
      customerId: X,
      tlsAccess: false,
      accessToken: X,
    });
    assert.deepEqual(client.rateLimit.remaining, 993);
  });

  test("POST /automation-tokens (2024 shape: zero time, null expiry, empty services)", () => {
    const body = {
      id: X,
      services: [],
      name: "my-test-token",
      role: "engineer",
      access_token: X,
      scope: "global",
      ip: "",
      created_at: "2024-09-21T03:56:00Z",
      last_used_at: "0001-01-01T00:00:00Z",
      expires_at: null,
      user_agent: "",
    };
    const parsed = createdAutomationTokenSchema.parse(body);
    assert.equal(parsed.lastUsedAt, undefined);
    assert.equal(parsed.expiresAt, undefined);
    assert.equal(parsed.ip, undefined);
    assert.deepEqual(parsed.services, []);
  });

  test("GET /automation-tokens/{id}: nulls and services null", () => {
    const parsed = automationTokenSchema.parse(recordedBody("automation_tokens/get.yaml", "GET"));
    assert.deepEqual(parsed, {
      id: X,
      name: "my-test-token",
      role: "engineer",
      scopes: ["global"],
      services: [],
      createdAt: new Date("2025-02-25T05:12:57Z"),
    });
  });

  test("GET /automation-tokens: envelope, `scopes` string, last use", async () => {
    const fetch = replayFetch(cassette("automation_tokens/list.yaml"));
    const client = createFastlyClient({ token: TOKEN, fetch });
    const tokens = await client.listAutomationTokens();
    assert.equal(tokens.length, 2);
    assert.deepEqual(tokens[0], {
      id: X,
      name: "fastly-exporter",
      role: "engineer",
      scopes: ["global:read"],
      services: [],
      lastUsedAt: new Date("2025-02-22T03:27:50Z"),
      createdAt: new Date("2024-10-15T11:51:55Z"),
      ip: "116.255.31.196",
      userAgent: "Fastly-Exporter (9.0.0)",
      customerId: X,
      creatorId: X,
      tlsAccess: false,
    });
    assert.deepEqual(tokens[1]?.scopes, ["global"]);
    assert.equal(
      automationTokenPageSchema.parse(recordedBody("automation_tokens/list.yaml", "GET")).meta?.total_pages,
      1,
    );
  });

  test("DELETE /tokens/{id} revokes an automation token with 204", async () => {
    const fetch = replayFetch(cassette("automation_tokens/delete.yaml"));
    const client = createFastlyClient({ token: TOKEN, fetch });
    await client.revokeToken(X);
    assert.deepEqual(fetch.calls, [`DELETE https://api.fastly.com/tokens/${X}`]);
  });

  test("DELETE /tokens/self", async () => {
    const fetch = replayFetch(cassette("tokens/delete_self.yaml"));
    await createFastlyClient({ token: TOKEN, fetch }).revokeSelf();
    assert.equal(fetch.calls.length, 1);
  });

  test("GET /tokens/self: scopes array and service ids", async () => {
    const fetch = replayFetch(cassette("tokens/get_self.yaml"));
    const self = await createFastlyClient({ token: TOKEN, fetch }).getTokenSelf();
    assert.deepEqual(self, {
      id: X,
      name: "TempTokenForGoFastlyTests",
      userId: X,
      customerId: X,
      scopes: ["global"],
      services: [X],
      lastUsedAt: new Date("2021-01-14T11:36:43Z"),
      createdAt: new Date("2021-01-14T11:25:39Z"),
      ip: "92.238.40.48",
      userAgent: "FastlyGo/2.1.0 (+github.com/fastly/go-fastly; go1.15.4)",
    });
  });

  test("GET /tokens: every item parses, expiry and null ip kept apart", () => {
    const items = recordedBody("tokens/list.yaml", "GET") as unknown[];
    const parsed = items.map((i) => tokenSelfSchema.parse(i));
    assert.ok(parsed.length >= 2);
    const reader = parsed.find((t) => t.scopes.includes("global:read"));
    assert.ok(reader?.expiresAt instanceof Date);
    assert.equal(reader.ip, undefined);
  });

  test("POST /tokens create response parses as a token", () => {
    const body = recordedBody("tokens/create.yaml", "POST", "/tokens");
    const parsed = tokenSelfSchema.parse(body);
    assert.deepEqual(parsed.scopes, ["global"]);
    assert.deepEqual(parsed.services, []);
  });

  test("GET /current_user", () => {
    const user = currentUserSchema.parse(recordedBody("users/get_current_user.yaml", "GET"));
    assert.equal(user.role, "superuser");
    assert.equal(user.customerId, "51MumwLiSJyFTWhtbByYgR");
    assert.equal(user.twoFactorAuthEnabled, undefined);
  });

  test("GET /service: three recorded pages, Link header pagination", () => {
    const pages = cassette("services/list.yaml").filter((i) => i.request.method === "GET");
    let total = 0;
    const nexts: (string | undefined)[] = [];
    for (const page of pages) {
      total += serviceListSchema.parse(JSON.parse(page.response.body)).length;
      const link = page.response.headers.Link?.[0] ?? null;
      nexts.push(nextLink(link, "https://api.fastly.com"));
    }
    assert.equal(total, 258);
    assert.deepEqual(nexts, [
      "/service?direction=descend&page=2&per_page=100&sort=created",
      "/service?direction=descend&page=3&per_page=100&sort=created",
      undefined,
    ]);
  });

  test('GET /service: the first page\'s rel="last" gives links to every later page', () => {
    const [first] = cassette("services/list.yaml").filter((i) => i.request.method === "GET");
    const header = first?.response.headers.Link?.[0] ?? null;
    const relative = (rel: string) => {
      const match = new RegExp(`<https://api\\.fastly\\.com([^>]+)>;\\s*rel="${rel}"`).exec(header ?? "");
      return match?.[1];
    };
    assert.deepEqual(numberedPages(nextLink(header, "https://api.fastly.com"), relative("last")), [
      "/service?direction=descend&page=2&per_page=100&sort=created",
      "/service?direction=descend&page=3&per_page=100&sort=created",
    ]);
  });

  test("GET /service/{id} and /service/search", () => {
    const got = serviceSchema.parse(recordedBody("services/get.yaml", "GET"));
    assert.deepEqual(got, {
      id: "FPkmJNp1fH8CnWbdi21Wf3",
      name: "test-service",
      type: "vcl",
      customerId: "51MumwLiSJyFTWhtbByYgR",
    });
    assert.equal(serviceSchema.parse(recordedBody("services/search.yaml", "GET")).name, "test-service");
  });
});

/** A fetch that answers from a queue of canned responses and records what was asked. */
function scripted(
  responses: (Response | Error)[],
): typeof fetch & { calls: { url: string; init: RequestInit }[] } {
  const calls: { url: string; init: RequestInit }[] = [];
  const f = (async (input: string | URL | Request, init?: RequestInit) => {
    calls.push({ url: input instanceof Request ? input.url : input.toString(), init: init ?? {} });
    const next = responses.shift();
    if (next === undefined) throw new Error("no more scripted responses");
    if (next instanceof Error) throw next;
    return next;
  }) as typeof fetch & { calls: { url: string; init: RequestInit }[] };
  f.calls = calls;
  return f;
}

/**
 * Answers in Fastly's shapes for the pipeline tests below, which are about requests, not about
 * decoding (the recorded responses are decoded above): they run without the recordings too.
 */
const SELF_BODY = {
  id: "t0kenS3lf0000000000000",
  user_id: "us3r0000000000000000000",
  customer_id: "cust0mer00000000000000",
  name: "pipeline",
  last_used_at: null,
  created_at: "2026-01-01T00:00:00Z",
  expires_at: null,
  ip: "",
  user_agent: "",
  sudo_expires_at: null,
  scopes: ["global"],
  scope: "global",
  services: [],
};
const USER_BODY = {
  id: "us3r0000000000000000000",
  created_at: "2026-01-01T00:00:00Z",
  updated_at: "2026-01-01T00:00:00Z",
  name: "Pipeline User",
  customer_id: "cust0mer00000000000000",
  require_new_password: false,
  role: "superuser",
  login: "pipeline@example.com",
  deleted_at: null,
  locked: false,
  two_factor_auth_enabled: null,
  limit_services: false,
  last_active_at: "2026-01-01T00:00:00Z",
};
const CREATED_BODY = {
  id: "n3wT0ken00000000000000",
  services: ["s1", "s2"],
  name: "n",
  role: "engineer",
  access_token: "n3wT0kenValue00000000000000000000",
  scope: "global:read",
  ip: "",
  created_at: "2026-01-01T00:00:00Z",
  last_used_at: "",
  expires_at: "2027-01-01T00:00:00Z",
  user_agent: "",
  tls_access: false,
  customer_id: "cust0mer00000000000000",
};

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
const noSleep = () => Promise.resolve();

describe("request pipeline", () => {
  test("sends Fastly-Key, Accept and a User-Agent naming the tool and version", async () => {
    const fetch = scripted([json(200, SELF_BODY)]);
    await createFastlyClient({ token: TOKEN, fetch, endpoint: "http://127.0.0.1:1/" }).getTokenSelf();
    const headers = fetch.calls[0]!.init.headers as Record<string, string>;
    assert.equal(headers["Fastly-Key"], TOKEN);
    assert.equal(headers.Accept, "application/json");
    assert.match(
      headers["User-Agent"]!,
      new RegExp(`^fastly-token-rotator/${VERSION.replace(/\./g, "\\.")}`),
    );
    assert.equal(fetch.calls[0]!.url, "http://127.0.0.1:1/tokens/self");
  });

  test("retries a GET on 503 and on a reset connection, then succeeds", async () => {
    const fetch = scripted([
      json(503, { msg: "unavailable" }),
      Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNRESET" } }),
      json(200, USER_BODY),
    ]);
    const user = await createFastlyClient({ token: TOKEN, fetch, sleep: noSleep }).getCurrentUser();
    assert.equal(user.role, "superuser");
    assert.equal(fetch.calls.length, 3);
  });

  test("gives up after the retries with a server error naming method and path", async () => {
    const fetch = scripted([json(500, {}), json(500, {}), json(500, {}), json(500, {})]);
    const client = createFastlyClient({ token: TOKEN, fetch, sleep: noSleep });
    await assert.rejects(client.getTokenSelf(), (e: unknown) => {
      assert.ok(e instanceof FastlyServerError);
      assert.match(e.message, /^GET \/tokens\/self: the Fastly API failed with 500/);
      return true;
    });
    assert.equal(fetch.calls.length, 4);
  });

  test("a 429 waits for Fastly-RateLimit-Reset when it is near", async () => {
    const now = new Date("2026-01-01T10:59:58Z");
    const waits: number[] = [];
    const fetch = scripted([
      json(
        429,
        { msg: "You have exceeded your hourly rate limit." },
        { "fastly-ratelimit-reset": "1767265200", "fastly-ratelimit-remaining": "0" },
      ),
      new Response(null, { status: 204, headers: { "fastly-ratelimit-remaining": "999" } }),
    ]);
    const client = createFastlyClient({
      token: TOKEN,
      fetch,
      now: () => now,
      sleep: (ms) => (waits.push(ms), Promise.resolve()),
      random: () => 0,
    });
    await client.revokeToken("abc");
    assert.deepEqual(waits, [2000]);
    assert.equal(client.rateLimit.remaining, 999);
  });

  test("a 429 whose reset is far away fails at once with the reset time", async () => {
    const fetch = scripted([
      json(
        429,
        { msg: "You have exceeded your hourly rate limit." },
        { "fastly-ratelimit-reset": "1767265200" },
      ),
    ]);
    const client = createFastlyClient({
      token: TOKEN,
      fetch,
      now: () => new Date("2026-01-01T10:10:00Z"),
      sleep: noSleep,
    });
    await assert.rejects(client.sudo({ password: "hunter2-password" }), (e: unknown) => {
      assert.ok(e instanceof FastlyRateLimitError);
      assert.deepEqual(e.resetAt, new Date("2026-01-01T11:00:00Z"));
      assert.match(e.message, /Try again after 2026-01-01T11:00:00.000Z/);
      return true;
    });
  });

  test("a create whose answer is lost is not repeated and says the outcome is unknown", async () => {
    const fetch = scripted([Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNRESET" } })]);
    const client = createFastlyClient({ token: TOKEN, fetch, sleep: noSleep });
    await assert.rejects(
      client.createAutomationToken({ name: "n", role: "engineer", scope: "global:read", services: [] }),
      (e: unknown) => e instanceof FastlyUnknownOutcomeError && /outcome is unknown/.test(e.message),
    );
    assert.equal(fetch.calls.length, 1);
  });

  test("a create answered with 502 is not repeated either", async () => {
    const fetch = scripted([json(502, {})]);
    const client = createFastlyClient({ token: TOKEN, fetch, sleep: noSleep });
    await assert.rejects(
      client.createAutomationToken({ name: "n", role: "engineer", scope: "global:read", services: [] }),
      FastlyUnknownOutcomeError,
    );
    assert.equal(fetch.calls.length, 1);
  });

  test("a create sends the flat JSON body with expires_at without fractions", async () => {
    const fetch = scripted([json(200, CREATED_BODY)]);
    await createFastlyClient({ token: TOKEN, fetch }).createAutomationToken({
      name: "n",
      role: "engineer",
      scope: "global:read",
      services: ["s1", "s2"],
      expiresAt: new Date("2027-01-01T00:00:00.123Z"),
    });
    assert.deepEqual(JSON.parse(fetch.calls[0]!.init.body as string), {
      name: "n",
      role: "engineer",
      scope: "global:read",
      services: ["s1", "s2"],
      // Since 2026-09 services apply only with limit_services: true (default false: every service).
      limit_services: true,
      expires_at: "2027-01-01T00:00:00Z",
      tls_access: false,
    });
  });

  test("a create sends roles and workspaces when given, and no limit_services for every service", async () => {
    const fetch = scripted([json(200, CREATED_BODY)]);
    await createFastlyClient({ token: TOKEN, fetch }).createAutomationToken({
      name: "n",
      role: "engineer",
      roles: ["RoleId1", "RoleId2"],
      workspaces: ["ws1"],
      scope: "global:read",
      services: [],
    });
    assert.deepEqual(JSON.parse(fetch.calls[0]!.init.body as string), {
      name: "n",
      role: "engineer",
      roles: ["RoleId1", "RoleId2"],
      scope: "global:read",
      services: [],
      workspaces: ["ws1"],
      limit_workspaces: true,
      tls_access: false,
    });
  });

  test("the API's clock: skew from the Date header, apiNow, and one report past five minutes", async () => {
    const ahead = (ms: number) => ({ date: new Date(Date.parse("2026-01-01T00:00:00Z") + ms).toUTCString() });
    const fetch = scripted([
      json(200, { data: [], meta: { total_pages: 1 } }, ahead(1000)),
      json(200, { data: [], meta: { total_pages: 1 } }, ahead(3 * 60_000)),
      json(200, { data: [], meta: { total_pages: 1 } }, ahead(10 * 60_000)),
      json(200, { data: [], meta: { total_pages: 1 } }, ahead(20 * 60_000)),
    ]);
    const reported: number[] = [];
    const client = createFastlyClient({
      token: TOKEN,
      fetch,
      now: () => new Date("2026-01-01T00:00:00Z"),
      onClockSkew: (skew) => reported.push(skew),
    });
    assert.equal(client.clockSkewMs, 0);
    await client.listRoles();
    // Within two seconds is the header's rounding, not skew.
    assert.equal(client.clockSkewMs, 0);
    // Three minutes is skew, but within the five that are worth a warning.
    await client.listRoles();
    assert.equal(client.clockSkewMs, 3 * 60_000);
    assert.deepEqual(reported, []);
    await client.listRoles();
    assert.equal(client.clockSkewMs, 10 * 60_000);
    assert.equal(client.apiNow().toISOString(), "2026-01-01T00:10:00.000Z");
    await client.listRoles();
    assert.equal(client.clockSkewMs, 20 * 60_000);
    assert.deepEqual(reported, [10 * 60_000], "reported once");
  });

  test("a Date header that is not a date leaves the API's clock as it was", async () => {
    const fetch = scripted([
      json(200, { data: [], meta: { total_pages: 1 } }, { date: "not a date" }),
      json(200, { data: [], meta: { total_pages: 1 } }, { date: "" }),
    ]);
    const client = createFastlyClient({ token: TOKEN, fetch, now: () => new Date("2026-01-01T00:00:00Z") });
    await client.listRoles();
    await client.listRoles();
    assert.equal(client.clockSkewMs, 0);
    assert.equal(client.apiNow().toISOString(), "2026-01-01T00:00:00.000Z");
  });

  test("errors are typed by status and 403 reasons are told apart", async () => {
    const cases: [unknown, string][] = [
      [{ msg: "You must POST /sudo to access this endpoint" }, "sudo-required"],
      [{ msg: "Only superusers can create automation tokens" }, "superuser-required"],
      [{ msg: "Automation tokens cannot be created for accounts with forced SSO" }, "mfa-or-sso"],
      [{ msg: "Something else" }, "other"],
    ];
    for (const [body, reason] of cases) {
      const client = createFastlyClient({ token: TOKEN, fetch: scripted([json(403, body)]) });
      await assert.rejects(
        client.createAutomationToken({ name: "n", role: "engineer", scope: "global:read", services: [] }),
        (e: unknown) => e instanceof FastlyForbiddenError && e.reason === reason,
      );
    }
    const wrongPassword = createFastlyClient({
      token: TOKEN,
      fetch: scripted([json(403, { msg: "forbidden" })]),
    });
    await assert.rejects(
      wrongPassword.sudo({ password: "not-the-password" }),
      (e: unknown) => e instanceof FastlyForbiddenError && e.reason === "wrong-password",
    );
  });

  test("401 is an authentication error that says whether the token expired", async () => {
    const client = createFastlyClient({
      token: TOKEN,
      fetch: scripted([json(401, { msg: "Token abc expired at 2019-05-01T09:00:00Z" })]),
    });
    await assert.rejects(client.getTokenSelf(), (e: unknown) => e instanceof FastlyAuthError && e.expired);
  });

  test("no error message ever contains the token or a password, even when the API echoes them", async () => {
    const password = "correct-horse-battery";
    const client = createFastlyClient({
      token: TOKEN,
      fetch: scripted([json(403, { msg: `bad key ${TOKEN}`, detail: `password ${password} is wrong` })]),
    });
    await assert.rejects(client.sudo({ password }), (e: unknown) => {
      const text = `${String(e)} ${JSON.stringify(e)} ${(e as Error).stack ?? ""}`;
      assert.ok(!text.includes(TOKEN));
      assert.ok(!text.includes(password));
      return true;
    });
  });

  test("a malformed 2xx body is a response error naming the field, not a crash", async () => {
    const client = createFastlyClient({ token: TOKEN, fetch: scripted([json(200, { id: 42 })]) });
    await assert.rejects(client.getAutomationToken("abc"), (e: unknown) => {
      assert.ok(e instanceof FastlyResponseError);
      assert.match(e.message, /GET \/automation-tokens\/abc: unexpected response from the Fastly API: id/);
      return true;
    });
  });

  test("revokeToken falls back to DELETE /automation-tokens/{id} when /tokens/{id} does not know it", async () => {
    const fetch = scripted([json(404, { msg: "Record not found" }), new Response(null, { status: 204 })]);
    await createFastlyClient({ token: TOKEN, fetch }).revokeToken("abc");
    assert.deepEqual(
      fetch.calls.map((c) => `${String(c.init.method)} ${new URL(c.url).pathname}`),
      ["DELETE /tokens/abc", "DELETE /automation-tokens/abc"],
    );
  });

  test("numberedPages: only links that differ in page alone, from 2 to a believable last", () => {
    assert.deepEqual(numberedPages("/service?page=2&per_page=1", "/service?per_page=1&page=4"), [
      "/service?per_page=1&page=2",
      "/service?per_page=1&page=3",
      "/service?per_page=1&page=4",
    ]);
    assert.equal(numberedPages(undefined, "/service?page=3"), undefined);
    assert.equal(numberedPages("/service?page=2", undefined), undefined);
    assert.equal(numberedPages("/service?page=3", "/service?page=5"), undefined, "next is not page 2");
    assert.equal(numberedPages("/service?page=2&sort=name", "/service?page=5"), undefined, "query differs");
    assert.equal(numberedPages("/other?page=2", "/service?page=5"), undefined, "path differs");
    assert.equal(numberedPages("/service?page=2", "/service?page=x"), undefined);
    assert.equal(numberedPages("/service?page=2", "/service?page=1"), undefined);
    assert.equal(numberedPages("/service?page=2", "/service?page=99999999"), undefined, "too many pages");
    assert.equal(numberedPages("/service?page=2", "/service?page=x5"), undefined);
    assert.equal(numberedPages("/service?page=2", "/service?page=5x"), undefined);
    assert.deepEqual(numberedPages("/service?page=2", "/service?page=2"), ["/service?page=2"], "two pages");
    assert.equal(numberedPages("/service?page=2", "/service?page=12")?.length, 11, "two digits");
    assert.equal(numberedPages("/service?page=2", "/service?page=10000")?.length, 9999, "the most believed");
  });

  test('listServices fetches the pages rel="last" counts at once, then follows a list that grew', async () => {
    const item = (id: string) => ({ id, name: id, type: "vcl", version: 1 });
    // `rels` as "last=3 next=2": each relation and the page it points to.
    const link = (rels: string) =>
      rels
        .split(" ")
        .map((rel) => rel.split("="))
        .map(([rel, n]) => `<https://api.fastly.com/service?page=${n}&per_page=2>; rel="${rel}"`)
        .join(", ");
    // Three pages when page 1 was read; a fourth appears before page 3 is read.
    const pages: Record<string, [string[], string]> = {
      "1": [["a", "b"], link("last=3 next=2")],
      "2": [["c", "d"], link("last=3 next=3 prev=1 first=1")],
      "3": [["d", "e"], link("last=4 next=4 prev=2 first=1")],
      "4": [["f"], link("prev=3 first=1")],
    };
    const asked: string[] = [];
    let inFlight = 0;
    let mostInFlight = 0;
    const fetch = (async (input: string | URL | Request) => {
      const url = new URL(input instanceof Request ? input.url : input.toString());
      const page = url.searchParams.get("page") ?? "";
      asked.push(page);
      inFlight++;
      mostInFlight = Math.max(mostInFlight, inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      inFlight--;
      const [ids, header] = pages[page] ?? [[], ""];
      return json(200, ids.map(item), { link: header });
    }) as typeof globalThis.fetch;
    const services = await createFastlyClient({ token: TOKEN, fetch }).listServices({ perPage: 2 });
    assert.deepEqual(
      services.map((s) => s.id),
      ["a", "b", "c", "d", "e", "f"],
    );
    assert.deepEqual(asked, ["1", "2", "3", "4"]);
    assert.equal(mostInFlight, 2, "pages 2 and 3 were asked for together");
  });

  test('listServices follows rel="next" one page at a time when there is no rel="last"', async () => {
    const fetch = scripted([
      json(200, [{ id: "a", name: "a" }], { link: '<https://api.fastly.com/service?page=2>; rel="next"' }),
      json(200, [{ id: "b", name: "b" }], { link: '<https://api.fastly.com/service?page=3>; rel="next"' }),
      // A link back to a page already read ends the list.
      json(200, [{ id: "c", name: "c" }], { link: '<https://api.fastly.com/service?page=2>; rel="next"' }),
    ]);
    const services = await createFastlyClient({ token: TOKEN, fetch }).listServices();
    assert.deepEqual(
      services.map((s) => s.id),
      ["a", "b", "c"],
    );
    assert.equal(fetch.calls.length, 3);
  });

  test("listAutomationTokens reads every page from meta.total_pages", async () => {
    const item = (id: string) => ({ id, name: id, role: "engineer", scopes: "global:read", services: null });
    const page = (n: number, ids: string[]) =>
      json(200, {
        data: ids.map(item),
        meta: { per_page: 2, current_page: n, record_count: 5, total_pages: 3 },
      });
    const fetch = scripted([page(1, ["a", "b"]), page(2, ["c", "d"]), page(3, ["e"])]);
    const tokens = await createFastlyClient({ token: TOKEN, fetch }).listAutomationTokens({ perPage: 2 });
    assert.deepEqual(
      tokens.map((t) => t.id),
      ["a", "b", "c", "d", "e"],
    );
    assert.deepEqual(
      fetch.calls.map((c) => c.url),
      [1, 2, 3].map((n) => `https://api.fastly.com/automation-tokens?page=${n}&per_page=2`),
    );
  });

  test("listAutomationTokens reads one page when the answer has no meta", async () => {
    const fetch = scripted([json(200, { data: [{ id: "a", name: "a", scopes: "global" }] })]);
    const tokens = await createFastlyClient({ token: TOKEN, fetch }).listAutomationTokens();
    assert.deepEqual(
      tokens.map((t) => t.id),
      ["a"],
    );
    assert.equal(fetch.calls.length, 1);
  });
});

/** A fetch failure without an HTTP answer, its code on the cause as undici puts it. */
const lost = (code?: string) => Object.assign(new TypeError("fetch failed"), { cause: { code } });
const createInput = { name: "n", role: "engineer", scope: "global:read", services: [] } as const;
const created = {
  id: "t1",
  name: "n",
  role: "engineer",
  scope: "global:read",
  access_token: "new-token-value",
};
const service = (id: string) => ({ id, name: id, type: "vcl", version: 1 });

/**
 * A fetch serving Link-paginated `/service` pages by their `page` parameter: each page's ids and
 * the relations of its Link header as "last=3 next=2" (the page each points to). Records the pages
 * asked for and the most requests in flight at once.
 */
function servicePages(pages: Record<string, [string[], string]>, origin = "https://api.fastly.com") {
  const link = (rels: string) =>
    rels
      .split(" ")
      .filter((rel) => rel !== "")
      .map((rel) => rel.split("="))
      .map(([rel, n]) => `<${origin}/service?page=${n}&per_page=2>; rel="${rel}"`)
      .join(", ");
  const asked: string[] = [];
  let inFlight = 0;
  const result = {
    asked,
    mostInFlight: 0,
    fetch: (async (input: string | URL | Request) => {
      const url = new URL(input instanceof Request ? input.url : input.toString());
      const page = url.searchParams.get("page") ?? "";
      asked.push(page);
      inFlight++;
      result.mostInFlight = Math.max(result.mostInFlight, inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      inFlight--;
      const [ids, rels] = pages[page] ?? [[], ""];
      return json(200, ids.map(service), { link: link(rels) });
    }) as typeof globalThis.fetch,
  };
  return result;
}

describe("endpoint guard", () => {
  test("plain http off loopback is refused before anything is sent, unless allowInsecure", () => {
    const fetch = scripted([]);
    assert.throws(
      () => createFastlyClient({ token: TOKEN, fetch, endpoint: "http://fastly.example.com" }),
      (e: unknown) => e instanceof TypeError && /http:\/\/fastly\.example\.com is plain http/.test(e.message),
    );
    const insecure = createFastlyClient({
      token: TOKEN,
      fetch,
      endpoint: "http://fastly.example.com",
      allowInsecure: true,
    });
    assert.equal(insecure.allowInsecure, true);
    const loopback = createFastlyClient({ token: TOKEN, fetch, endpoint: "http://127.0.0.1:8080" });
    assert.equal(loopback.allowInsecure, false);
    assert.equal(createFastlyClient({ token: TOKEN, fetch }).allowInsecure, false);
    assert.equal(fetch.calls.length, 0);
  });

  test("an endpoint that is not an http(s) URL is refused; trailing slashes are dropped", () => {
    for (const [endpoint, message] of [
      ["api.fastly.com", /is not a URL/],
      ["ftp://api.fastly.com", /must be an https:\/\/ URL/],
      ["file:///etc/passwd", /must be an https:\/\/ URL/],
    ] as const) {
      assert.throws(
        () => createFastlyClient({ token: TOKEN, endpoint, allowInsecure: true }),
        (e: unknown) => e instanceof TypeError && message.test(e.message),
        endpoint,
      );
    }
    assert.equal(
      createFastlyClient({ token: TOKEN, endpoint: "https://x.example//" }).endpoint,
      "https://x.example",
    );
  });
});

describe("what the wire may do", () => {
  test("a redirect is refused, not followed and not repeated, naming only the Location's host", async () => {
    const location = `https://elsewhere.example:8443/collect?key=${TOKEN}`;
    for (const send of [
      (c: FastlyClient) => c.getTokenSelf(),
      (c: FastlyClient) => c.createAutomationToken(createInput),
    ]) {
      const fetch = scripted([new Response(null, { status: 307, headers: { location } })]);
      await assert.rejects(
        send(createFastlyClient({ token: TOKEN, fetch, sleep: noSleep })),
        (e: unknown) => {
          assert.ok(e instanceof FastlyRedirectError, String(e));
          assert.equal(e.status, 307);
          assert.equal(e.locationHost, "elsewhere.example:8443");
          assert.match(e.message, /redirecting to elsewhere\.example:8443;/);
          assert.ok(!e.message.includes("collect") && !e.message.includes(TOKEN));
          return true;
        },
      );
      assert.equal(fetch.calls.length, 1);
      assert.equal(fetch.calls[0]!.init.redirect, "manual");
    }
  });

  test("an answer past maxBodyBytes fails a read at once, and leaves a create's outcome unknown", async () => {
    const big = () => json(200, { id: "x".repeat(100), name: "n" });
    const read = scripted([big()]);
    const reader = createFastlyClient({ token: TOKEN, fetch: read, sleep: noSleep, maxBodyBytes: 64 });
    await assert.rejects(reader.getService("x"), (e: unknown) => {
      assert.ok(e instanceof FastlyResponseError, String(e));
      assert.equal(e.status, 200);
      assert.match(e.message, /unexpected response from the Fastly API: the answer is larger than 64 bytes/);
      return true;
    });
    assert.equal(read.calls.length, 1);
    const write = scripted([big()]);
    const writer = createFastlyClient({ token: TOKEN, fetch: write, sleep: noSleep, maxBodyBytes: 64 });
    await assert.rejects(writer.createAutomationToken(createInput), (e: unknown) => {
      assert.ok(e instanceof FastlyUnknownOutcomeError, String(e));
      assert.match(e.message, /the outcome is unknown \(the answer is larger than 64 bytes\)/);
      return true;
    });
    assert.equal(write.calls.length, 1);
  });

  test("a request that does not answer in timeoutMs is retried when safe, and unknown for a create", async () => {
    // Answers only by failing when the request's signal aborts (the timer stands for the socket,
    // which keeps the process alive: AbortSignal.timeout's own timer does not).
    const calls: string[] = [];
    const hang = (async (_input: string | URL | Request, init?: RequestInit) => {
      calls.push(String(init?.method));
      return new Promise<Response>((_resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("the timeout never came")), 30_000);
        init?.signal?.addEventListener("abort", () => {
          clearTimeout(timer);
          reject(init.signal?.reason as Error);
        });
      });
    }) as typeof fetch;
    const retry = { timeoutMs: 20, retries: 1 };
    const client = createFastlyClient({ token: TOKEN, fetch: hang, sleep: noSleep, retry });
    await assert.rejects(client.getTokenSelf(), (e: unknown) => {
      assert.ok(e instanceof FastlyNetworkError, String(e));
      assert.match(e.message, /no answer from the Fastly API \(timed out\)/);
      return true;
    });
    await assert.rejects(client.createAutomationToken(createInput), (e: unknown) => {
      assert.ok(e instanceof FastlyUnknownOutcomeError, String(e));
      assert.match(e.message, /the outcome is unknown \(timed out\)/);
      return true;
    });
    assert.deepEqual(calls, ["GET", "GET", "POST"]);
  });

  test("an error body that is not JSON is quoted up to 200 characters; an empty one says nothing", async () => {
    const page = `<html>${"x".repeat(300)}</html>`;
    const fetch = scripted([
      new Response(page, { status: 400, headers: { "content-type": "text/html" } }),
      new Response(null, { status: 404 }),
    ]);
    const client = createFastlyClient({ token: TOKEN, fetch });
    await assert.rejects(client.getTokenSelf(), (e: unknown) => {
      assert.ok(e instanceof FastlyRequestError);
      assert.equal(e.apiMessage, page.slice(0, 200));
      return true;
    });
    await assert.rejects(client.getTokenSelf(), (e: unknown) => {
      assert.ok(e instanceof FastlyNotFoundError);
      assert.equal(e.apiMessage, undefined);
      return true;
    });
  });
});

describe("retries and their limits", () => {
  test("the backoff doubles from baseDelayMs with jitter, up to maxDelayMs, for `retries` retries", async () => {
    for (const [retry, expected] of [
      [{ baseDelayMs: 100 }, [100, 200, 400]],
      [{ baseDelayMs: 100, maxDelayMs: 250 }, [100, 200, 250]],
      [{ baseDelayMs: 100, retries: 1 }, [100]],
    ] as const) {
      const waits: number[] = [];
      const fetch = scripted([json(503, {}), json(503, {}), json(503, {}), json(503, {})]);
      const client = createFastlyClient({
        token: TOKEN,
        fetch,
        retry,
        random: () => 1,
        sleep: (ms) => (waits.push(ms), Promise.resolve()),
      });
      await assert.rejects(client.getTokenSelf(), FastlyServerError);
      assert.deepEqual(waits, expected);
      assert.equal(fetch.calls.length, expected.length + 1);
    }
  });

  test("without an injected sleep the backoff really waits, and ends early when the run is stopped", async () => {
    const fetch = scripted([json(503, {}), json(200, service("s"))]);
    const client = createFastlyClient({ token: TOKEN, fetch, retry: { baseDelayMs: 1 } });
    assert.equal((await client.getService("s")).id, "s");

    const stop = new AbortController();
    const stopped = new Error("stopped by SIGTERM");
    let calls = 0;
    const always503 = (async () => {
      calls++;
      setTimeout(() => stop.abort(stopped), 10);
      return json(503, {});
    }) as typeof globalThis.fetch;
    const waiting = createFastlyClient({
      token: TOKEN,
      fetch: always503,
      signal: stop.signal,
      random: () => 1,
      retry: { baseDelayMs: 60_000 },
    });
    // The backoff is 60 s; the stop ends it.
    await beforeTimer(60_000, "the backoff", () =>
      assert.rejects(waiting.getTokenSelf(), (e: unknown) => e === stopped),
    );
    assert.equal(calls, 1);
  });

  test("a stopped run sends nothing, and a stop ends the request in flight", async () => {
    const before = new AbortController();
    before.abort(new Error("already stopped"));
    const fetch = scripted([json(200, service("s"))]);
    const client = createFastlyClient({ token: TOKEN, fetch, signal: before.signal });
    await assert.rejects(client.getService("s"), /already stopped/);
    assert.equal(fetch.calls.length, 0);

    const quiet = new AbortController();
    quiet.abort("not an Error");
    await assert.rejects(
      createFastlyClient({ token: TOKEN, fetch, signal: quiet.signal }).getService("s"),
      (e: unknown) => e instanceof DOMException && e.name === "AbortError",
    );

    const during = new AbortController();
    const stopped = new Error("stopped in flight");
    // Fails by itself after 30 s, so a stop that does not reach the request shows as that failure.
    const hang = (async (_input: string | URL | Request, init?: RequestInit) => {
      setTimeout(() => during.abort(stopped), 5);
      return new Promise<Response>((_resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("the stop never reached the request")), 30_000);
        init?.signal?.addEventListener("abort", () => {
          clearTimeout(timer);
          reject(init.signal?.reason as Error);
        });
      });
    }) as typeof globalThis.fetch;
    const inFlight = createFastlyClient({ token: TOKEN, fetch: hang, signal: during.signal, sleep: noSleep });
    // Ended by the stop reaching the request, not by the request failing on its own and the stop
    // being noticed before a retry.
    await beforeTimer(25_000, "the request in flight", () =>
      assert.rejects(inFlight.getTokenSelf(), (e: unknown) => e === stopped),
    );
  });

  test("a 4xx is not repeated", async () => {
    const fetch = scripted([json(400, { msg: "bad request" })]);
    await assert.rejects(
      createFastlyClient({ token: TOKEN, fetch, sleep: noSleep }).getTokenSelf(),
      (e: unknown) => e instanceof FastlyRequestError && e.status === 400,
    );
    assert.equal(fetch.calls.length, 1);
  });

  test("a 429 without a usable reset retries with the backoff and says to wait for the hour", async () => {
    for (const reset of [undefined, "0", "-5", "soon"]) {
      const waits: number[] = [];
      const headers: Record<string, string> = reset === undefined ? {} : { "fastly-ratelimit-reset": reset };
      const fetch = scripted([json(429, {}, headers), json(429, {}, headers)]);
      const client = createFastlyClient({
        token: TOKEN,
        fetch,
        retry: { retries: 1, baseDelayMs: 100 },
        random: () => 1,
        now: () => new Date("2026-01-01T10:00:00Z"),
        sleep: (ms) => (waits.push(ms), Promise.resolve()),
      });
      await assert.rejects(client.revokeSelf(), (e: unknown) => {
        assert.ok(e instanceof FastlyRateLimitError);
        assert.equal(e.resetAt, undefined, String(reset));
        assert.match(e.message, /Try again after the top of the hour/);
        return true;
      });
      assert.deepEqual(waits, [100], String(reset));
      assert.equal(client.rateLimit.reset, undefined);
    }
  });

  test("a 429 waits up to maxDelayMs for its reset, and at least the backoff", async () => {
    const limited = (reset: string) => json(429, {}, { "fastly-ratelimit-reset": reset });
    const attempt = async (now: string, retry: RetryOptions) => {
      const waits: number[] = [];
      const fetch = scripted([limited("1767265200"), new Response(null, { status: 204 })]);
      const client = createFastlyClient({
        token: TOKEN,
        fetch,
        retry,
        random: () => 1,
        now: () => new Date(now),
        sleep: (ms) => (waits.push(ms), Promise.resolve()),
      });
      await client.revokeSelf();
      return waits;
    };
    // 1767265200 is 2026-01-01T11:00:00Z.
    assert.deepEqual(await attempt("2026-01-01T10:59:00Z", {}), [60_000], "exactly maxDelayMs away");
    assert.deepEqual(await attempt("2026-01-01T10:59:58Z", { baseDelayMs: 5000 }), [5000], "backoff longer");
    await assert.rejects(attempt("2026-01-01T10:59:00Z", { maxDelayMs: 59_999 }), FastlyRateLimitError);
  });

  test("a 429's reset is measured from the real clock when none is injected", async () => {
    const waits: number[] = [];
    const reset = String(Math.floor(Date.now() / 1000) + 30);
    const fetch = scripted([
      json(429, {}, { "fastly-ratelimit-reset": reset }),
      new Response(null, { status: 204 }),
    ]);
    const client = createFastlyClient({
      token: TOKEN,
      fetch,
      random: () => 0,
      sleep: (ms) => (waits.push(ms), Promise.resolve()),
    });
    await client.revokeSelf();
    assert.equal(waits.length, 1);
    // Up to 30 s from now; far more than the backoff, however slowly this test reaches the client.
    assert.ok(waits[0]! > 10_000 && waits[0]! <= 30_000, String(waits[0]));
  });

  test("a 5xx carrying a rate-limit reset is retried with the backoff, not waited for", async () => {
    const waits: number[] = [];
    const fetch = scripted([
      json(503, {}, { "fastly-ratelimit-reset": "1767265200" }),
      new Response(null, { status: 204 }),
    ]);
    const client = createFastlyClient({
      token: TOKEN,
      fetch,
      random: () => 1,
      retry: { baseDelayMs: 100 },
      now: () => new Date("2026-01-01T10:00:00Z"),
      sleep: (ms) => (waits.push(ms), Promise.resolve()),
    });
    await client.revokeSelf();
    assert.deepEqual(waits, [100]);
  });

  test("reads, sudo and deletes are sent again after a lost answer or a 5xx", async () => {
    const reset = lost("ECONNRESET");
    const noContent = () => new Response(null, { status: 204 });
    const cases: [string, (c: FastlyClient) => Promise<unknown>, (Response | Error)[]][] = [
      [
        "sudo",
        (c) => c.sudo({ password: "a-sudo-password" }),
        [reset, json(200, { expiry_time: "2026-01-01T10:05:00Z" })],
      ],
      ["revokeToken", (c) => c.revokeToken("abc"), [reset, noContent()]],
      ["revokeToken's fallback", (c) => c.revokeToken("abc"), [json(404, {}), reset, noContent()]],
      ["revokeSelf", (c) => c.revokeSelf(), [json(503, {}), noContent()]],
      ["listAutomationTokens", (c) => c.listAutomationTokens(), [reset, json(200, { data: [] })]],
      [
        "listServices' linked page",
        (c) => c.listServices(),
        [
          json(200, [service("a")], { link: '<https://api.fastly.com/service?page=2>; rel="next"' }),
          json(503, {}),
          json(200, [service("b")]),
        ],
      ],
    ];
    for (const [name, call, script] of cases) {
      const sent = script.length;
      const fetch = scripted(script);
      await call(createFastlyClient({ token: TOKEN, fetch, sleep: noSleep }));
      assert.equal(fetch.calls.length, sent, name);
    }
  });

  test("a create never sent (refused, unresolved, anywhere on the cause chain) is sent again", async () => {
    for (const failure of [
      lost("ECONNREFUSED"),
      lost("ENOTFOUND"),
      lost("EAI_AGAIN"),
      // A numeric code is not the socket's; the string one further down the chain is.
      Object.assign(new TypeError("fetch failed"), {
        code: 42,
        cause: new Error("x", { cause: lost("ECONNREFUSED") }),
      }),
    ]) {
      const fetch = scripted([failure, json(200, created)]);
      const token = await createFastlyClient({ token: TOKEN, fetch, sleep: noSleep }).createAutomationToken(
        createInput,
      );
      assert.equal(token.accessToken, "new-token-value");
      assert.equal(fetch.calls.length, 2);
    }
  });

  test("a failure without a code is classified by its message, however odd its cause chain", async () => {
    const circular: Error & { cause?: unknown } = new Error("socket hang up");
    circular.cause = circular;
    for (const failure of [
      new Error("socket hang up"),
      new Error("socket hang up", { cause: "a string" }),
      new Error("socket hang up", { cause: null }),
      circular,
    ]) {
      const reader = createFastlyClient({ token: TOKEN, fetch: scripted([failure]), retry: { retries: 0 } });
      await assert.rejects(reader.getTokenSelf(), (e: unknown) => {
        assert.ok(e instanceof FastlyNetworkError, String(e));
        assert.equal(e.status, 0);
        assert.match(e.message, /^GET \/tokens\/self: no answer from the Fastly API \(socket hang up\)/);
        return true;
      });
    }
    const writer = createFastlyClient({ token: TOKEN, fetch: scripted([new Error("socket hang up")]) });
    await assert.rejects(writer.createAutomationToken(createInput), (e: unknown) => {
      assert.ok(e instanceof FastlyUnknownOutcomeError, String(e));
      assert.match(e.message, /the outcome is unknown \(socket hang up\)/);
      assert.equal((e.cause as Error).message, "socket hang up");
      return true;
    });
  });

  test("a read with no answer after the retries names the failure's code", async () => {
    const fetch = scripted([lost("ECONNRESET"), lost("ECONNRESET")]);
    const client = createFastlyClient({ token: TOKEN, fetch, sleep: noSleep, retry: { retries: 1 } });
    await assert.rejects(client.getTokenSelf(), (e: unknown) => {
      assert.ok(e instanceof FastlyNetworkError, String(e));
      assert.match(e.message, /no answer from the Fastly API \(ECONNRESET\)/);
      return true;
    });
  });

  test("a create answered 500 is unknown; answered 4xx it failed", async () => {
    const fetch = scripted([json(500, {}), json(400, { msg: "name taken" })]);
    const client = createFastlyClient({ token: TOKEN, fetch, sleep: noSleep });
    await assert.rejects(client.createAutomationToken(createInput), (e: unknown) => {
      assert.ok(e instanceof FastlyUnknownOutcomeError, String(e));
      assert.match(e.message, /the outcome is unknown \(the API answered 500\)/);
      return true;
    });
    await assert.rejects(client.createAutomationToken(createInput), FastlyRequestError);
    assert.equal(fetch.calls.length, 2);
  });

  test("a create answered 2xx with an unreadable body is unknown, naming at most three problems", async () => {
    const fetch = scripted([json(201, { id: 1, name: 2, role: 3, scope: 4, access_token: 5 })]);
    const client = createFastlyClient({ token: TOKEN, fetch, sleep: noSleep });
    await assert.rejects(client.createAutomationToken(createInput), (e: unknown) => {
      assert.ok(e instanceof FastlyUnknownOutcomeError, String(e));
      const problems = /the answer could not be read: ([^)]*)\)/.exec(e.message)?.[1] ?? "";
      assert.deepEqual(
        problems.split("; ").map((p) => p.split(" ")[0]),
        ["id", "name", "role"],
      );
      return true;
    });
    assert.equal(fetch.calls.length, 1);
  });
});

describe("what the client sends and counts", () => {
  test("sudo posts a form with the optional username and expiry", async () => {
    const fetch = scripted([
      json(200, { expiry_time: "2026-01-01T10:05:00Z" }),
      json(200, { expiry_time: "2026-01-01T10:05:00Z" }),
    ]);
    const client = createFastlyClient({ token: TOKEN, fetch });
    await client.sudo({
      password: "pass word&",
      username: "u@example.com",
      expiryTime: new Date("2026-01-01T10:05:00.5Z"),
    });
    await client.sudo({ password: "pass word&" });
    const forms = fetch.calls.map((c) => c.init.body);
    assert.deepEqual(forms, [
      "password=pass+word%26&username=u%40example.com&expiry_time=2026-01-01T10%3A05%3A00Z",
      "password=pass+word%26",
    ]);
    const headers = fetch.calls[0]!.init.headers as Record<string, string>;
    assert.equal(headers["Content-Type"], "application/x-www-form-urlencoded");
  });

  test("listUsers asks for the customer's users by encoded id, and is retried like every read", async () => {
    const fetch = scripted([
      json(503, {}),
      json(200, [
        { id: "u1", login: "ops@example.com", role: "superuser", name: "Ops" },
        { id: "u2", login: "dev@example.com", role: "engineer" },
      ]),
    ]);
    const users = await createFastlyClient({ token: TOKEN, fetch, sleep: noSleep }).listUsers("c/1 x");
    assert.deepEqual(users, [
      { id: "u1", login: "ops@example.com", role: "superuser" },
      { id: "u2", login: "dev@example.com", role: "engineer" },
    ]);
    assert.deepEqual(
      fetch.calls.map((c) => `${c.init.method} ${c.url}`),
      [
        "GET https://api.fastly.com/customer/c%2F1%20x/users",
        "GET https://api.fastly.com/customer/c%2F1%20x/users",
      ],
    );
  });

  test("searchService is retried like every read", async () => {
    const fetch = scripted([json(503, {}), json(200, service("my svc"))]);
    const client = createFastlyClient({ token: TOKEN, fetch, sleep: noSleep });
    assert.equal((await client.searchService("my svc")).id, "my svc");
    assert.equal(fetch.calls.length, 2);
  });

  test("a create sends roles and workspaces only when there are some", async () => {
    const fetch = scripted([json(200, created), json(200, created)]);
    const client = createFastlyClient({ token: TOKEN, fetch });
    await client.createAutomationToken({ ...createInput, roles: [], workspaces: [] });
    await client.createAutomationToken({ ...createInput, roles: ["engineer"], workspaces: ["w1"] });
    const [none, some] = fetch.calls.map((c) => JSON.parse(c.init.body as string) as Record<string, unknown>);
    assert.deepEqual(
      ["roles", "workspaces", "limit_workspaces"].filter((key) => key in none!),
      [],
    );
    assert.deepEqual(
      { roles: some!["roles"], workspaces: some!["workspaces"], limit: some!["limit_workspaces"] },
      { roles: ["engineer"], workspaces: ["w1"], limit: true },
    );
  });

  test("getService and searchService encode the id and the name", async () => {
    const fetch = scripted([json(200, service("a/b")), json(200, service("my svc"))]);
    const client = createFastlyClient({ token: TOKEN, fetch });
    assert.equal((await client.getService("a/b")).id, "a/b");
    assert.equal((await client.searchService("my svc&x")).id, "my svc");
    assert.deepEqual(
      fetch.calls.map((c) => c.url),
      ["https://api.fastly.com/service/a%2Fb", "https://api.fastly.com/service/search?name=my+svc%26x"],
    );
  });

  test("requests are counted, writes apart; only a write's answer updates the rate limit", async () => {
    const fetch = scripted([
      json(503, {}, { "fastly-ratelimit-remaining": "5" }),
      json(200, service("s"), { "fastly-ratelimit-remaining": "5" }),
      new Response(null, { status: 204, headers: { "fastly-ratelimit-remaining": "998" } }),
      new Response(null, { status: 204 }),
      new Response(null, { status: 204, headers: { "fastly-ratelimit-reset": "1767265200" } }),
    ]);
    const client = createFastlyClient({ token: TOKEN, fetch, sleep: noSleep });
    await client.getService("s");
    assert.deepEqual([client.requestCount, client.writeRequestCount], [2, 0]);
    assert.deepEqual(client.rateLimit, {});
    await client.revokeSelf();
    assert.deepEqual(client.rateLimit, { remaining: 998 });
    await client.revokeSelf();
    assert.deepEqual(client.rateLimit, { remaining: 998 }, "an answer without the headers keeps the last");
    await client.revokeSelf();
    assert.deepEqual(client.rateLimit, { reset: new Date("2026-01-01T11:00:00Z") });
    assert.deepEqual([client.requestCount, client.writeRequestCount], [5, 3]);
  });

  test("revokeToken falls back on 400 and 405, not on 403, and keeps the first error if both miss", async () => {
    for (const status of [400, 405]) {
      const fetch = scripted([json(status, {}), new Response(null, { status: 204 })]);
      await createFastlyClient({ token: TOKEN, fetch }).revokeToken("abc");
      assert.equal(fetch.calls.length, 2, String(status));
    }
    const forbidden = scripted([json(403, { msg: "forbidden" })]);
    await assert.rejects(
      createFastlyClient({ token: TOKEN, fetch: forbidden }).revokeToken("abc"),
      FastlyForbiddenError,
    );
    assert.equal(forbidden.calls.length, 1);

    const missing = scripted([json(405, {}), json(404, {})]);
    await assert.rejects(
      createFastlyClient({ token: TOKEN, fetch: missing }).revokeToken("abc"),
      (e: unknown) => e instanceof FastlyRequestError && e.status === 405 && e.path === "/tokens/abc",
    );
    const failing = scripted([json(404, {}), json(500, {})]);
    await assert.rejects(
      createFastlyClient({ token: TOKEN, fetch: failing, retry: { retries: 0 } }).revokeToken("abc"),
      (e: unknown) => e instanceof FastlyServerError && e.path === "/automation-tokens/abc",
    );
  });

  test("errors redact the request's own secrets even with nothing in the process-wide list", async () => {
    const password = "correct-horse-battery";
    const client = createFastlyClient({
      token: TOKEN,
      fetch: scripted([json(403, { msg: `bad key ${TOKEN}`, detail: `password ${password} is wrong` })]),
    });
    clearSecrets();
    await assert.rejects(client.sudo({ password }), (e: unknown) => {
      assert.ok(e instanceof FastlyForbiddenError);
      clearSecrets();
      const text = `${e.message} ${e.apiMessage} ${e.apiDetail}`;
      assert.ok(!text.includes(TOKEN) && !text.includes(password), text);
      return true;
    });
  });

  test("a created token's value is registered as a secret", async () => {
    const fetch = scripted([json(200, created)]);
    await createFastlyClient({ token: TOKEN, fetch }).createAutomationToken(createInput);
    assert.equal(redact("value new-token-value"), `value ${REDACTED}`);
  });
});

describe("pagination follows only the configured endpoint", () => {
  test("a Link to another host or path is followed on the endpoint, under its base path", async () => {
    const fetch = scripted([
      json(200, [service("a")], {
        // A part that is not a link, an unquoted relation without spaces, and a second rel=next.
        link: 'garbage, <https://elsewhere.example/base/service?page=2>;rel=next, <https://api.fastly.com/base/service?page=9>; rel="next"',
      }),
      json(200, [service("b")], { link: '<https://elsewhere.example/service?page=3> ; rel="next"' }),
      json(200, [service("c")]),
    ]);
    const client = createFastlyClient({ token: TOKEN, fetch, endpoint: "http://127.0.0.1:9/base/" });
    const services = await client.listServices();
    assert.deepEqual(
      services.map((s) => s.id),
      ["a", "b", "c"],
    );
    assert.deepEqual(
      fetch.calls.map((c) => c.url),
      [
        "http://127.0.0.1:9/base/service?page=1&per_page=1000&filter%5Binclude_versions%5D=false",
        "http://127.0.0.1:9/base/service?page=2",
        "http://127.0.0.1:9/base/service?page=3",
      ],
    );
  });

  test("an empty list ends at its first page, whatever its Link says", async () => {
    const fetch = scripted([json(200, [], { link: '<https://api.fastly.com/service?page=2>; rel="next"' })]);
    assert.deepEqual(await createFastlyClient({ token: TOKEN, fetch }).listServices(), []);
    assert.equal(fetch.calls.length, 1);
  });

  test("the counted pages are asked 4 at a time, and the list goes on from the last one", async () => {
    const pages = servicePages({
      "1": [["a", "b"], "last=6 next=2"],
      "2": [["c"], "next=3"],
      "3": [["d"], "next=4"],
      "4": [["e"], "next=5"],
      "5": [["f"], "next=6"],
      "6": [["g"], "next=7"],
      "7": [["h"], ""],
    });
    const services = await createFastlyClient({ token: TOKEN, fetch: pages.fetch }).listServices();
    assert.deepEqual(
      services.map((s) => s.id),
      ["a", "b", "c", "d", "e", "f", "g", "h"],
    );
    assert.deepEqual(pages.asked, ["1", "2", "3", "4", "5", "6", "7"]);
    assert.equal(pages.mostInFlight, 4);
  });

  test("a counted page linking back to a page already read is not read again", async () => {
    const pages = servicePages({
      "1": [["a"], "last=3 next=2"],
      "2": [["b"], "next=3"],
      "3": [["c"], "next=2"],
    });
    await createFastlyClient({ token: TOKEN, fetch: pages.fetch }).listServices();
    assert.deepEqual(pages.asked, ["1", "2", "3"]);
  });
});

test("VERSION matches package.json", () => {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  assert.equal(VERSION, pkg.version);
});
