/**
 * `startServe` at two edges, against the emulator on port 0: a listing (from a hostile or broken
 * API) whose token ids differ only in control characters, which `/metrics` writes alike; and
 * `/healthz` once refreshes have failed for longer than three intervals.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { loadConfig, type Config } from "../config/index.ts";
import { demoCredentials } from "../emulator/index.ts";
import { createFastlyClient } from "../fastly/index.ts";
import { demoSeedWith, fileConfig, seedToken, world, type World } from "../../test/helpers/world.ts";
import { until } from "../../test/helpers/wait.ts";
import { startServe } from "./serve.ts";

const { superuser, exporterTokens } = demoCredentials;
const TWIN = "serve edges twin";

describe("startServe at its edges", () => {
  let w: World<"fastly">;
  let config: Config;

  before(async () => {
    w = await world({
      dir: "ftr-serve-edges-",
      fastly: demoSeedWith({
        automationTokens: [
          seedToken(TWIN, "serve-edges-twin-token-value-0001"),
          seedToken(TWIN, "serve-edges-twin-token-value-0002"),
        ],
      }),
    });
    await w.writeSecret("staging.txt", `${exporterTokens.staging.token}\n`);
    const path = await w.writeConfig(
      fileConfig(w.emulator.url, [
        { name: "staging", token: exporterTokens.staging.name, services: "{ all: true }" },
      ]),
    );
    const loaded = await loadConfig(path);
    assert.ok(loaded.config);
    config = loaded.config;
  });
  after(() => w.close());

  it("writes one series per label set when two token ids differ only in control characters", async () => {
    const plain = createFastlyClient({ token: superuser.token, endpoint: w.emulator.url });
    const twins = (await plain.listAutomationTokens()).filter((t) => t.name === TWIN).map((t) => t.id);
    assert.equal(twins.length, 2);
    // The listing as a broken API might give it: the two ids made "Twin" and a control character.
    const rewriting: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (
        !new URL(String(input instanceof Request ? input.url : input)).pathname.startsWith(
          "/automation-tokens",
        )
      ) {
        return response;
      }
      let body = await response.text();
      body = body.replaceAll(`"${twins[0]}"`, '"Twin\\u0007"').replaceAll(`"${twins[1]}"`, '"Twin\\u0008"');
      const headers = new Headers(response.headers);
      headers.delete("content-length");
      headers.delete("content-encoding");
      return new Response(body, { status: response.status, headers });
    };
    const client = createFastlyClient({ token: superuser.token, endpoint: w.emulator.url, fetch: rewriting });
    const handle = await startServe({ config, client, listen: "127.0.0.1:0", intervalMs: 3_600_000 });
    try {
      const result = await handle.refresh();
      assert.equal(result.ok, true, result.errors.join("; "));
      const ids = result.report?.tokens.map((t) => t.id) ?? [];
      assert.ok(ids.includes("Twin\u0007") && ids.includes("Twin\u0008"), JSON.stringify(ids));
      const text = await (await fetch(`${handle.url}/metrics`)).text();
      assert.equal(text, await handle.metrics.registry.metrics());
      for (const family of [
        "fastly_automation_token_info",
        "fastly_automation_token_expiry_timestamp_seconds",
        "fastly_automation_token_finding",
      ]) {
        const lines = text.split("\n").filter((l) => l.startsWith(`${family}{token_id="Twin\ufffd"`));
        assert.ok(lines.length > 0, family);
        assert.equal(new Set(lines.map((l) => l.slice(0, l.lastIndexOf(" ")))).size, lines.length, family);
      }
    } finally {
      await handle.close();
    }
  });

  it("/healthz says failing once refreshes have failed for three intervals, and ok again on recovery", async () => {
    const client = createFastlyClient({
      token: superuser.token,
      endpoint: w.emulator.url,
      retry: { retries: 0, baseDelayMs: 1 },
    });
    const handle = await startServe({ config, client, listen: "127.0.0.1:0", intervalMs: 100 });
    const health = async () => {
      const response = await fetch(`${handle.url}/healthz`);
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    try {
      await until(async () => (await health()).status === 200, "a healthy exporter");
      await w.admin.fault({ path: "/automation-tokens*", status: 503, count: 1_000_000 });
      await until(async () => (await health()).status === 503, "an unhealthy exporter");
      const failing = await health();
      assert.equal(failing.body.status, "failing");
      assert.equal(failing.body.lastRefreshOk, false);
      assert.match(String(failing.body.lastError), /503/);
      await w.admin.clearFaults();
      await until(async () => (await health()).status === 200, "recovery");
    } finally {
      await handle.close();
    }
  });
});
