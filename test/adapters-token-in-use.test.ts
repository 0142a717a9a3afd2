import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createTokenInUseVerifier } from "../src/adapters/token-in-use/index.ts";
import type { VerifyContext } from "../src/adapters/types.ts";
import { startExporter } from "../src/emulator/exporter.ts";
import { demoCredentials, demoSeed } from "../src/emulator/index.ts";
import { createFastlyClient } from "../src/fastly/index.ts";
import type { FastlyClient } from "../src/fastly/types.ts";
import { memoryLogger } from "../src/util/log.ts";
import { USER_AGENT } from "../src/version.ts";
import { world, type World } from "./helpers/world.ts";

const { integration, staging } = demoCredentials.exporterTokens;

let w: World<"fastly">;
let superuser: FastlyClient;
before(async () => {
  w = await world({ fastly: demoSeed });
  superuser = createFastlyClient({ token: demoCredentials.superuser.token, endpoint: w.emulator.url });
});
after(() => w.close());

const ctx = (tokenId: string, since: Date, otherTokenIds: string[] = []): VerifyContext => ({
  environment: "integration",
  runId: "run-1",
  log: memoryLogger(),
  tokenId,
  otherTokenIds,
  since,
  client: superuser,
  ownUserAgent: USER_AGENT,
});

/**
 * This tool's own `GET /tokens/self` with the token, as the rotation's test step makes it; returns
 * a `since` in the same second as that use, the case the one-second resolution makes ambiguous.
 */
async function ownUseThenSince(token: string, tokenId: string): Promise<Date> {
  await createFastlyClient({ token, endpoint: w.emulator.url }).getTokenSelf();
  const state = await w.admin.state();
  const used = state.automationTokens.find((t) => t.id === tokenId)?.lastUsedAt;
  assert.ok(used, "the emulator recorded the use");
  return new Date(Date.parse(used) + 500);
}

describe("token-in-use verifier against the emulator", () => {
  it("does not count this tool's own use in the switch-over second", async () => {
    const since = await ownUseThenSince(staging.token, staging.id);
    const verifier = createTokenInUseVerifier({ timeoutMs: 600, intervalMs: 200 });
    const result = await verifier.verify(ctx(staging.id, since));
    assert.equal(result.ok, false);
    assert.match(
      result.detail,
      new RegExp(
        `^token ${staging.id} not used since \\S+Z \\(last used at \\S+Z by ${USER_AGENT.replace(/[.()/]/g, "\\$&")}`,
      ),
    );
    assert.match(result.detail, /is the consumer restarted and reading the new secret\?$/);
  });

  it("passes once a consumer (the exporter stand-in) uses the token", async () => {
    const since = await ownUseThenSince(integration.token, integration.id);
    const verifier = createTokenInUseVerifier({ timeoutMs: 60_000, intervalMs: 200 });
    const pending = verifier.verify(ctx(integration.id, since, [staging.id]));
    const exporter = await startExporter({
      endpoint: w.emulator.url,
      token: integration.token,
      listen: { host: "127.0.0.1", port: 0 },
      serviceAllowlist: [/Integration/],
      pollIntervalMs: 200,
    });
    try {
      const result = await pending;
      assert.equal(result.ok, true, result.detail);
      assert.match(result.detail, /by Fastly-Exporter \(ftr-standin\) from 127\.0\.0\.1$/);
    } finally {
      await exporter.close();
    }
  });

  it("reports an API error (unknown token id) at the timeout", async () => {
    const verifier = createTokenInUseVerifier({ timeoutMs: 400, intervalMs: 200 });
    const result = await verifier.verify(ctx("AAAAAAAAAAAAAAAAAAAAAA", new Date()));
    assert.equal(result.ok, false);
    assert.match(result.detail, /^could not read token AAAAAAAAAAAAAAAAAAAAAA: /);
  });
});
