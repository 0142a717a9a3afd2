import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createPrometheusVerifier } from "../src/adapters/prometheus/index.ts";
import type { VerifyContext } from "../src/adapters/types.ts";
import { startExporter, type Exporter } from "../src/emulator/exporter.ts";
import { createEmulator, demoCredentials, demoSeed, type RunningEmulator } from "../src/emulator/index.ts";
import type { FastlyClient } from "../src/fastly/types.ts";
import { memoryLogger } from "../src/util/log.ts";
import {
  freePort,
  skipWithoutPrometheus,
  startPrometheus,
  type RunningPrometheus,
} from "./helpers/prometheus.ts";

const { integration, staging } = demoCredentials.exporterTokens;
const skip = skipWithoutPrometheus();

const ctx = (tokenId: string, otherTokenIds: string[] = []): VerifyContext => ({
  environment: "integration",
  runId: "run-1",
  log: memoryLogger(),
  tokenId,
  otherTokenIds,
  since: new Date(),
  // The Prometheus verifier never calls the Fastly API.
  client: {} as FastlyClient,
  ownUserAgent: "fastly-token-rotator",
});

describe("prometheus verifier against a real Prometheus scraping the exporter stand-in", { skip }, () => {
  let emulator: RunningEmulator;
  let exporter: Exporter;
  let prometheus: RunningPrometheus;
  let port: number;

  const startStandIn = (token: string): Promise<Exporter> =>
    startExporter({
      endpoint: emulator.url,
      token,
      listen: { host: "127.0.0.1", port },
      serviceAllowlist: [/Integration/],
      pollIntervalMs: 200,
    });

  before(async () => {
    emulator = await createEmulator({ seed: demoSeed });
    port = await freePort();
    exporter = await startStandIn(integration.token);
    prometheus = await startPrometheus({ scrapeTargets: [exporter.url], scrapeIntervalMs: 1000 });
  });
  after(async () => {
    await prometheus?.close();
    await exporter?.close();
    await emulator?.close();
  });

  it("passes for the exporter's token id, with a health query and the old id absent", async () => {
    const verifier = createPrometheusVerifier({
      url: prometheus.url,
      query: 'up{job="fastly-exporter"} == 1',
      requireOthersAbsent: true,
      timeoutMs: 60_000,
      intervalMs: 200,
    });
    const result = await verifier.verify(ctx(integration.id, [staging.id]));
    assert.deepEqual(result, {
      ok: true,
      detail: `fastly_rt_token_expiration{token_id="${integration.id}"} present (1 series); old token ids absent`,
    });
  });

  it("fails within its timeout for another token id and says which id is exported", async () => {
    const verifier = createPrometheusVerifier({ url: prometheus.url, timeoutMs: 1500, intervalMs: 200 });
    const result = await verifier.verify(ctx(staging.id));
    assert.equal(result.ok, false);
    assert.equal(
      result.detail,
      `timed out after 1.5s: no series fastly_rt_token_expiration{token_id="${staging.id}"} (token_id seen: ${integration.id})`,
    );
  });

  it("follows a restart onto a new token: new id present, old id gone", async () => {
    await exporter.close();
    exporter = await startStandIn(staging.token);
    const verifier = createPrometheusVerifier({
      url: prometheus.url,
      requireOthersAbsent: true,
      timeoutMs: 60_000,
      intervalMs: 200,
    });
    const result = await verifier.verify(ctx(staging.id, [integration.id]));
    assert.equal(result.ok, true, result.detail);
    assert.match(result.detail, /old token ids absent$/);
  });

  it("reports an unreachable Prometheus after its timeout", async () => {
    const verifier = createPrometheusVerifier({
      url: `http://127.0.0.1:${await freePort()}`,
      timeoutMs: 500,
      intervalMs: 100,
    });
    const result = await verifier.verify(ctx(integration.id));
    assert.equal(result.ok, false);
    assert.match(
      result.detail,
      /^timed out after 500ms: cannot reach http:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/,
    );
  });
});
