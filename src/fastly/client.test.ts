import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { cassette, fixturesSkip, recordedBody, replayFetch } from "../../test/helpers/fixtures.ts";
import { createFastlyClient, nextLink } from "./client.ts";
import {
  FastlyAuthError,
  FastlyForbiddenError,
  FastlyRateLimitError,
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

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
const noSleep = () => Promise.resolve();

describe("request pipeline", () => {
  test(
    "sends Fastly-Key, Accept and a User-Agent naming the tool and version",
    { skip: fixturesSkip },
    async () => {
      const fetch = scripted([json(200, recordedBody("tokens/get_self.yaml", "GET"))]);
      await createFastlyClient({ token: TOKEN, fetch, endpoint: "http://127.0.0.1:1/" }).getTokenSelf();
      const headers = fetch.calls[0]!.init.headers as Record<string, string>;
      assert.equal(headers["Fastly-Key"], TOKEN);
      assert.equal(headers.Accept, "application/json");
      assert.match(
        headers["User-Agent"]!,
        new RegExp(`^fastly-token-rotator/${VERSION.replace(/\./g, "\\.")}`),
      );
      assert.equal(fetch.calls[0]!.url, "http://127.0.0.1:1/tokens/self");
    },
  );

  test("retries a GET on 503 and on a reset connection, then succeeds", { skip: fixturesSkip }, async () => {
    const fetch = scripted([
      json(503, { msg: "unavailable" }),
      Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNRESET" } }),
      json(200, recordedBody("users/get_current_user.yaml", "GET")),
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

  test(
    "a create sends the flat JSON body with expires_at without fractions",
    { skip: fixturesSkip },
    async () => {
      const fetch = scripted([
        json(200, recordedBody("automation_tokens/create.yaml", "POST", "automation-tokens")),
      ]);
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
        expires_at: "2027-01-01T00:00:00Z",
        tls_access: false,
      });
    },
  );

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
  });
});

test("VERSION matches package.json", () => {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  assert.equal(VERSION, pkg.version);
});
