/**
 * `startServe` in-process against the emulator on port 0: what one refresh exports, which requests
 * it makes (a deployed value already identified is not asked about again), and what each path
 * answers. Refreshes are started by the test (`refresh()`), never waited for by time.
 */
import assert from "node:assert/strict";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import { loadConfig, type Config } from "../config/index.ts";
import { demoCredentials } from "../emulator/index.ts";
import { createFastlyClient } from "../fastly/index.ts";
import {
  FastlyApiError,
  FastlyAuthError,
  FastlyForbiddenError,
  FastlyNetworkError,
  FastlyRateLimitError,
  FastlyResponseError,
  FastlyServerError,
} from "../fastly/errors.ts";
import {
  DEMO_TOKEN_VALUES,
  demoFileEnvironment,
  demoSeedWith,
  world,
  type World,
} from "../../test/helpers/world.ts";
import { errorKind, HEALTHY_INTERVALS, ListenAddressError, parseListen, startServe } from "./serve.ts";

const { superuser, exporterTokens } = demoCredentials;

/** One sample of a metric family in the exposition text, by exact label set. */
function sample(text: string, name: string, labels: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{${labels}} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}

describe("parseListen", () => {
  it("reads HOST:PORT, [IPv6]:PORT and :PORT", () => {
    assert.deepEqual(parseListen("127.0.0.1:9300"), { host: "127.0.0.1", port: 9300 });
    assert.deepEqual(parseListen(" localhost:0 "), { host: "localhost", port: 0 });
    assert.deepEqual(parseListen("[::1]:65535"), { host: "::1", port: 65535 });
    assert.deepEqual(parseListen(":9300"), { host: "0.0.0.0", port: 9300 });
  });

  it("refuses anything else, saying what to write", () => {
    for (const bad of [
      "9300",
      "host:65536",
      "host:123456",
      "a:b:1",
      "[::1:9300",
      "host:",
      "ho st:1",
      "host:1x",
    ]) {
      assert.throws(
        () => parseListen(bad),
        (error: unknown) =>
          error instanceof ListenAddressError &&
          error.name === "ListenAddressError" &&
          error.message ===
            `--listen ${JSON.stringify(bad)} is not an address: write HOST:PORT (127.0.0.1:9300), [::1]:9300 or :PORT for every interface`,
        bad,
      );
    }
  });
});

describe("errorKind", () => {
  it("names each kind of failure", () => {
    const init = { status: 500, method: "GET", path: "/x" };
    assert.equal(errorKind(new FastlyAuthError({ ...init, status: 401 })), "auth");
    assert.equal(errorKind(new FastlyForbiddenError({ ...init, status: 403 })), "forbidden");
    assert.equal(errorKind(new FastlyRateLimitError({ ...init, status: 429 })), "rate-limit");
    assert.equal(errorKind(new FastlyServerError(init)), "server");
    assert.equal(
      errorKind(new FastlyNetworkError({ method: "GET", path: "/x", reason: "ECONNRESET" })),
      "network",
    );
    assert.equal(
      errorKind(new FastlyResponseError({ ...init, status: 200, problem: "not JSON" })),
      "response",
    );
    assert.equal(errorKind(new FastlyApiError({ ...init, status: 400 }, "bad")), "request");
    assert.equal(errorKind(new Error("x")), "other");
    assert.equal(errorKind("x"), "other");
  });
});

describe("startServe", () => {
  let w: World<"fastly">;
  let config: Config;
  const client = () =>
    createFastlyClient({
      token: superuser.token,
      endpoint: w.emulator.url,
      retry: { retries: 0, baseDelayMs: 1 },
    });
  const selfRequests = async () => (await w.admin.requests()).filter((r) => r.path === "/tokens/self").length;

  before(async () => {
    w = await world({ dir: "ftr-serve-unit-", fastly: demoSeedWith({}) });
  });
  after(() => w.close());

  beforeEach(async () => {
    await w.admin.reset();
    await w.admin.clearFaults();
    await w.admin.clearHooks();
    for (const name of ["integration.txt", "staging.txt", ".ftr-state"]) {
      await rm(join(w.dir, name), { recursive: true, force: true });
    }
    const path = await w.writeFileConfig([
      demoFileEnvironment("integration"),
      demoFileEnvironment("staging"),
    ]);
    const loaded = await loadConfig(path);
    assert.ok(loaded.config);
    config = loaded.config;
  });

  it("refuses an interval that is not positive", async () => {
    for (const intervalMs of [0, -1, Number.NaN]) {
      await assert.rejects(startServe({ config, listen: "127.0.0.1:0", intervalMs }), RangeError);
    }
  });

  it("exports the account and the deployed tokens, and answers each path", async () => {
    const handle = await startServe({
      config,
      client: client(),
      listen: "127.0.0.1:0",
      intervalMs: 3_600_000,
    });
    try {
      const result = await handle.refresh();
      assert.equal(result.ok, true, result.errors.join("; "));
      assert.deepEqual(result.errors, []);
      assert.ok(result.durationMs >= 0);
      assert.equal(result.report?.environments.length, 2);
      assert.deepEqual(result.report?.unfinished, []);
      const text = await (await fetch(`${handle.url}/metrics?name=x`)).text();
      const integration = exporterTokens.integration;
      assert.equal(
        sample(
          text,
          "fastly_automation_token_deployed",
          `environment="integration",token_id="${integration.id}"`,
        ),
        1,
      );
      assert.match(text, /^fastly_token_rotator_refresh_success 1$/m);
      assert.equal(
        sample(text, "fastly_token_rotator_environment_state", `environment="integration",state="due"`),
        1,
      );
      assert.match(
        text,
        new RegExp(`fastly_automation_token_expiry_timestamp_seconds\\{token_id="${integration.id}"`),
      );
      assert.match(
        text,
        new RegExp(
          `fastly_automation_token_info\\{token_id="${integration.id}",name="[^"]+",environment="integration",role="[^"]+",scopes="[^"]+"\\} 1`,
        ),
      );
      for (const secret of DEMO_TOKEN_VALUES) assert.ok(!text.includes(secret));

      const health = await fetch(`${handle.url}/healthz`);
      assert.equal(health.status, 200);
      assert.equal(health.headers.get("content-type"), "application/json");
      assert.deepEqual(await health.json(), {
        status: "ok",
        lastRefreshOk: true,
        secondsSinceLastSuccess: 0,
      });

      const root = await fetch(`${handle.url}/`);
      assert.equal(root.status, 200);
      assert.equal(await root.text(), "fastly-token-rotator exporter: /metrics, /healthz\n");
      const missing = await fetch(`${handle.url}/nope`);
      assert.equal(missing.status, 404);
      assert.equal(await missing.text(), "not found\n");
      const post = await fetch(`${handle.url}/metrics`, { method: "POST" });
      assert.equal(post.status, 405);
      assert.equal(post.headers.get("allow"), "GET, HEAD");
      const head = await fetch(`${handle.url}/healthz`, { method: "HEAD" });
      assert.equal(head.status, 200);
    } finally {
      await handle.close();
      await handle.close();
    }
  });

  it("asks /tokens/self once per deployed value while the listing shows it alive, again when it changes", async () => {
    const handle = await startServe({
      config,
      client: client(),
      listen: "127.0.0.1:0",
      intervalMs: 3_600_000,
    });
    try {
      await handle.refresh();
      await w.admin.clearRequests();
      assert.equal((await handle.refresh()).ok, true);
      assert.equal(await selfRequests(), 0);
      // A new value in one store: asked about once.
      await writeFile(join(w.dir, "staging.txt"), `${exporterTokens.integration.token}\n`);
      assert.equal((await handle.refresh()).ok, true);
      assert.equal(await selfRequests(), 1);
      const text = await (await fetch(`${handle.url}/metrics`)).text();
      assert.equal(
        sample(
          text,
          "fastly_automation_token_deployed",
          `environment="staging",token_id="${exporterTokens.integration.id}"`,
        ),
        1,
      );
    } finally {
      await handle.close();
    }
  });

  it("remembers a refused value as dead with the token it was, and exports absent and unreadable stores", async () => {
    const handle = await startServe({
      config,
      client: client(),
      listen: "127.0.0.1:0",
      intervalMs: 3_600_000,
    });
    try {
      assert.equal((await handle.refresh()).ok, true);
      // The staging token is revoked: the listing no longer shows it, so the value is asked about again.
      const c = client();
      await c.revokeToken(exporterTokens.staging.id);
      const refused = await handle.refresh();
      assert.equal(refused.ok, true, refused.errors.join("; "));
      const text = await (await fetch(`${handle.url}/metrics`)).text();
      assert.equal(
        sample(
          text,
          "fastly_automation_token_deployed",
          `environment="staging",token_id="${exporterTokens.staging.id}"`,
        ),
        0,
      );
      assert.equal(
        sample(text, "fastly_token_rotator_environment_state", `environment="staging",state="dead"`),
        1,
      );
      // Refused stays refused: not asked again.
      await w.admin.clearRequests();
      await handle.refresh();
      assert.equal(await selfRequests(), 0);

      await writeFile(join(w.dir, "staging.txt"), "");
      await rm(join(w.dir, "integration.txt"));
      await mkdir(join(w.dir, "integration.txt"));
      const partial = await handle.refresh();
      assert.equal(partial.ok, false);
      assert.equal(partial.errors.length, 1);
      assert.match(partial.errors[0] ?? "", /^integration: /);
      const after = await (await fetch(`${handle.url}/metrics`)).text();
      assert.equal(sample(after, "fastly_automation_token_deployed", `environment="staging",token_id=""`), 0);
      // Unreadable is not dead: the last answer is kept.
      assert.equal(
        sample(
          after,
          "fastly_automation_token_deployed",
          `environment="integration",token_id="${exporterTokens.integration.id}"`,
        ),
        1,
      );
      assert.equal(sample(after, "fastly_token_rotator_api_errors_total", `kind="secret-store"`), 1);
      assert.match(after, /^fastly_token_rotator_refresh_success 0$/m);
      // Healthy still: the last success is younger than HEALTHY_INTERVALS intervals.
      const health = await fetch(`${handle.url}/healthz`);
      assert.equal(health.status, 200);
      const body = (await health.json()) as Record<string, unknown>;
      assert.equal(body.status, "ok");
      assert.equal(body.lastRefreshOk, false);
      assert.match(String(body.lastError), /^integration: /);
      assert.equal(HEALTHY_INTERVALS, 3);
    } finally {
      await handle.close();
    }
  });

  it("counts a refused listing by its kind and keeps the last good values", async () => {
    const handle = await startServe({
      config,
      client: client(),
      listen: "127.0.0.1:0",
      intervalMs: 3_600_000,
    });
    try {
      assert.equal((await handle.refresh()).ok, true);
      await w.admin.fault({ path: "/automation-tokens*", status: 401, count: 1 });
      const failed = await handle.refresh();
      assert.equal(failed.ok, false);
      assert.equal(failed.report, undefined);
      assert.equal(failed.errors.length, 1);
      const text = await (await fetch(`${handle.url}/metrics`)).text();
      assert.equal(sample(text, "fastly_token_rotator_api_errors_total", `kind="auth"`), 1);
      assert.equal(
        sample(
          text,
          "fastly_automation_token_deployed",
          `environment="integration",token_id="${exporterTokens.integration.id}"`,
        ),
        1,
      );
      assert.ok(!text.includes(superuser.token));
      const recovered = await handle.refresh();
      assert.equal(recovered.ok, true);
    } finally {
      await handle.close();
    }
  });

  it("says it is starting until the first refresh ends, and joins the refresh in flight", async () => {
    const hook = await w.admin.hook({ path: "/automation-tokens*", action: "hold" });
    const handle = await startServe({
      config,
      client: client(),
      listen: "127.0.0.1:0",
      intervalMs: 3_600_000,
    });
    try {
      await w.admin.waitForHook(hook.id);
      const health = await fetch(`${handle.url}/healthz`);
      assert.equal(health.status, 503);
      assert.deepEqual(await health.json(), {
        status: "starting",
        lastRefreshOk: null,
        secondsSinceLastSuccess: null,
      });
      // Before the first refresh ends, a scrape renders what there is.
      const early = await fetch(`${handle.url}/metrics`);
      assert.equal(early.status, 200);
      assert.match(await early.text(), /fastly_token_rotator_refresh_success/);
      const first = handle.refresh();
      const second = handle.refresh();
      assert.equal(first, second);
      await w.admin.releaseHook(hook.id);
      assert.equal((await first).ok, true);
      const listings = (await w.admin.requests()).filter((r) => r.path.startsWith("/automation-tokens"));
      assert.equal(listings.length, 1);
    } finally {
      await w.admin.releaseHook(hook.id).catch(() => 0);
      await handle.close();
    }
  });
});
