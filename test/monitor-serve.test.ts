/**
 * `ftr serve` end to end: the exporter against the emulator, scraped by a real Prometheus. The
 * emulator holds the demo account plus an "edge" token that crosses the 7-day line a few seconds
 * into the test; the exporter's clock follows the emulator's, so moving that clock expires tokens
 * for both.
 */
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { PassThrough } from "node:stream";
import { after, before, describe, it } from "node:test";
import type { CliIO } from "../src/cli/io.ts";
import { main } from "../src/cli/main.ts";
import { loadConfig, type Config } from "../src/config/index.ts";
import { demoCredentials } from "../src/emulator/index.ts";
import { createFastlyClient } from "../src/fastly/index.ts";
import { parseListen, startServe, type ServeHandle } from "../src/monitor/index.ts";
import { openJournal } from "../src/rotation/journal.ts";
import { captureIO } from "./helpers/cli.ts";
import { skipWithoutPrometheus, startPrometheus, type RunningPrometheus } from "./helpers/prometheus.ts";
import { DEMO_TOKEN_VALUES, demoSeedWith, seedToken, world, type World } from "./helpers/world.ts";

const { superuser, exporterTokens } = demoCredentials;
const EDGE_VALUE = "serve-test-edge-token-value-00001";
const EDGE_ID = "EdgeExporterToken00001";
const SECRETS = [...DEMO_TOKEN_VALUES, EDGE_VALUE];
const DAY = 86_400;

function assertNoSecrets(text: string): void {
  for (const secret of SECRETS) assert.ok(!text.includes(secret), "a token value appears in the output");
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** One sample of a metric family in the exposition text, by exact label set. */
function sample(text: string, name: string, labels: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{${labels}} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}

async function query(
  prometheus: RunningPrometheus,
  expr: string,
): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const response = await fetch(`${prometheus.url}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await response.json()) as {
    status: string;
    data: { result: { metric: Record<string, string>; value: [number, string] }[] };
  };
  assert.equal(body.status, "success");
  return body.data.result;
}

/** The recording rule of deploy/prometheus/rules.yaml. */
const DEPLOYED_EXPIRES_IN =
  "(min by (token_id) (fastly_automation_token_expiry_timestamp_seconds) - time()) * on (token_id) group_right () (fastly_automation_token_deployed == 1)";

describe("ftr serve", () => {
  let w: World<"fastly">;
  let config: Config;
  /** The emulator's clock offset from ours, applied to the exporter's `now`. */
  let offsetMs = 0;
  const now = () => new Date(Date.now() + offsetMs);
  const advance = async (by: string) => {
    const emulatorNow = await w.admin.advanceClock(by);
    offsetMs = emulatorNow.getTime() - Date.now();
  };
  const client = () =>
    createFastlyClient({
      token: superuser.token,
      endpoint: w.emulator.url,
      retry: { retries: 1, baseDelayMs: 20 },
    });

  before(async () => {
    w = await world({
      dir: "ftr-serve-",
      fastly: demoSeedWith({
        automationTokens: [
          // Crosses the 7-day line a few seconds after the emulator starts.
          seedToken("edge exporter", EDGE_VALUE, {
            id: EDGE_ID,
            services: ["datagovuk"],
            expiresAt: `+${7 * DAY + 6}s`,
          }),
        ],
      }),
    });
    const envs: [string, string, string][] = [
      ["integration", exporterTokens.integration.name, exporterTokens.integration.token],
      ["staging", exporterTokens.staging.name, exporterTokens.staging.token],
      ["production", exporterTokens.production.name, exporterTokens.production.token],
      ["edge", "edge exporter", EDGE_VALUE],
    ];
    const path = await w.writeFileConfig(
      envs.map(([name, token, value]) => ({ name, token, services: "{ all: true }", value })),
      "state: { dir: ./state }",
    );
    config = (await loadConfig(path)).config;
    // A finished run per environment, as `rotate` would have journaled it.
    const journal = openJournal(config.stateDir);
    journal.append({
      runId: "r1",
      environment: "integration",
      step: "finish",
      status: "done",
      outcome: "rotated",
      at: "2025-01-02T03:04:05.000Z",
    });
    journal.append({
      runId: "r2",
      environment: "staging",
      step: "finish",
      status: "done",
      outcome: "failed",
      at: "2025-02-03T04:05:06.000Z",
    });
    journal.close();
  });

  after(() => w.close());

  it("refreshes within its API budget, keeps the last values on failure, recovers, and closes", async () => {
    await w.admin.reset();
    offsetMs = 0;
    const c = client();
    const handle = await startServe({ config, client: c, listen: "127.0.0.1:0", intervalMs: 60_000, now });
    try {
      assert.match(handle.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      // The log was emptied by reset(); the first refresh started with the server.
      const first = await handle.refresh();
      assert.ok(first.ok, first.errors.join("; "));
      // One listing of each kind (users: whose creator is gone) and one /tokens/self per environment.
      const paths = (await w.admin.requests())
        .map((r) => `${r.method} ${r.path.split("?")[0]?.replace(/\/customer\/\w+\//, "/customer/{id}/")}`)
        .sort();
      assert.deepEqual(paths, [
        "GET /automation-tokens",
        "GET /customer/{id}/users",
        "GET /service",
        "GET /tokens/self",
        "GET /tokens/self",
        "GET /tokens/self",
        "GET /tokens/self",
      ]);
      // Unchanged values are not asked about again: a /tokens/self request counts as a use.
      await w.admin.clearRequests();
      assert.ok((await handle.refresh()).ok);
      assert.deepEqual(
        (await w.admin.requests())
          .map((r) => r.path.split("?")[0]?.replace(/\/customer\/\w+\//, "/customer/{id}/"))
          .sort(),
        ["/automation-tokens", "/customer/{id}/users", "/service"],
      );

      const metrics = await (await fetch(`${handle.url}/metrics`)).text();
      assertNoSecrets(metrics);
      const integration = `token_id="${exporterTokens.integration.id}",name="${exporterTokens.integration.name}",environment="integration"`;
      const expiry = sample(metrics, "fastly_automation_token_expiry_timestamp_seconds", integration)!;
      const state = await w.admin.state();
      const seeded = state.automationTokens.find((t) => t.id === exporterTokens.integration.id)!;
      assert.equal(expiry, Date.parse(seeded.expiresAt!) / 1000);
      assert.equal(
        sample(metrics, "fastly_automation_token_last_used_timestamp_seconds", integration),
        Date.parse(seeded.lastUsedAt!) / 1000,
      );
      assert.equal(
        sample(
          metrics,
          "fastly_automation_token_info",
          `${integration},role="engineer",scopes="global:read"`,
        ),
        1,
      );
      assert.equal(
        sample(
          metrics,
          "fastly_automation_token_deployed",
          `environment="integration",token_id="${exporterTokens.integration.id}"`,
        ),
        1,
      );
      assert.equal(
        sample(
          metrics,
          "fastly_token_rotator_last_rotation_timestamp_seconds",
          `environment="staging",result="failed"`,
        ),
        Date.parse("2025-02-03T04:05:06.000Z") / 1000,
      );
      assert.match(metrics, /^fastly_token_rotator_refresh_success 1$/m);
      assert.match(metrics, /^fastly_token_rotator_refresh_duration_seconds \d/m);
      assert.match(metrics, /^fastly_token_rotator_last_successful_refresh_timestamp_seconds \d/m);
      const health = await fetch(`${handle.url}/healthz`);
      assert.equal(health.status, 200);

      // The API fails: the last good values stay, the success gauge says so.
      await w.admin.fault({ path: "/automation-tokens*", status: 500, count: 1000 });
      const failed = await handle.refresh();
      assert.equal(failed.ok, false);
      assert.match(failed.errors.join(), /500/);
      const during = await (await fetch(`${handle.url}/metrics`)).text();
      assert.match(during, /^fastly_token_rotator_refresh_success 0$/m);
      assert.equal(sample(during, "fastly_automation_token_expiry_timestamp_seconds", integration), expiry);
      assert.match(during, /^fastly_token_rotator_api_errors_total\{kind="server"\} [1-9]/m);
      // Healthy while the last success is younger than three intervals (here: a minute each).
      assert.equal((await fetch(`${handle.url}/healthz`)).status, 200);
      assertNoSecrets(during + failed.errors.join());

      await w.admin.clearFaults();
      assert.ok((await handle.refresh()).ok);
      assert.match(
        await (await fetch(`${handle.url}/metrics`)).text(),
        /^fastly_token_rotator_refresh_success 1$/m,
      );
      assert.equal((await fetch(`${handle.url}/`)).status, 200);
      assert.equal((await fetch(`${handle.url}/nope`)).status, 404);
    } finally {
      await handle.close();
    }
    await handle.close(); // idempotent
    await assert.rejects(fetch(`${handle.url}/metrics`));
  });

  it("renders /metrics once per refresh: scrapes in between get that text, the next refresh the new state", async () => {
    await w.admin.reset();
    offsetMs = 0;
    const handle = await startServe({
      config,
      client: client(),
      listen: "127.0.0.1:0",
      intervalMs: 60_000,
      now,
    });
    const scrape = async () => {
      const response = await fetch(`${handle.url}/metrics`);
      assert.equal(response.status, 200);
      assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
      return response.text();
    };
    try {
      assert.ok((await handle.refresh()).ok);
      const first = await scrape();
      assert.match(first, /^fastly_token_rotator_refresh_success 1$/m);
      // A change to the registry between refreshes is not rendered: scrapes serve the refresh's text.
      handle.metrics.apiErrors.inc({ kind: "other" });
      const second = await scrape();
      assert.equal(second, first);
      assert.doesNotMatch(second, /kind="other"/);
      // HEAD answers like GET, without the body.
      const head = await fetch(`${handle.url}/metrics`, { method: "HEAD" });
      assert.equal(head.status, 200);
      assert.equal(await head.text(), "");

      // A rotation journaled since: the next refresh reads it and renders it, with the counter above.
      const journal = openJournal(config.stateDir);
      journal.append({
        runId: "r-render",
        environment: "edge",
        step: "finish",
        status: "done",
        outcome: "rotated",
        at: "2025-03-04T05:06:07.000Z",
      });
      journal.close();
      assert.doesNotMatch(await scrape(), /environment="edge",result="rotated"/);
      assert.ok((await handle.refresh()).ok);
      const third = await scrape();
      assert.notEqual(third, first);
      assert.equal(
        sample(
          third,
          "fastly_token_rotator_last_rotation_timestamp_seconds",
          `environment="edge",result="rotated"`,
        ),
        Date.parse("2025-03-04T05:06:07.000Z") / 1000,
      );
      assert.match(third, /^fastly_token_rotator_api_errors_total\{kind="other"\} 1$/m);
      assert.equal(await scrape(), third);
      assertNoSecrets(first + third);
    } finally {
      await handle.close();
    }
  });

  it("/healthz turns 503 when refreshes keep failing past three intervals", async () => {
    await w.admin.reset();
    offsetMs = 0;
    const handle = await startServe({
      config,
      client: client(),
      listen: "127.0.0.1:0",
      intervalMs: 300,
      now,
    });
    try {
      await until("a healthy exporter", async () =>
        (await fetch(`${handle.url}/healthz`)).status === 200 ? true : undefined,
      );
      await w.admin.fault({ path: "/automation-tokens*", status: 503, count: 100_000 });
      const body = await until("an unhealthy exporter", async () => {
        const response = await fetch(`${handle.url}/healthz`);
        return response.status === 503
          ? ((await response.json()) as { status: string; lastError: string })
          : undefined;
      });
      assert.equal(body.status, "failing");
      assert.match(body.lastError, /503/);
      await w.admin.clearFaults();
      await until("recovery", async () =>
        (await fetch(`${handle.url}/healthz`)).status === 200 ? true : undefined,
      );
    } finally {
      await handle.close();
    }
  });

  it(
    "Prometheus sees thresholds crossed, a dead deployed token, and failed refreshes",
    { skip: skipWithoutPrometheus() },
    async () => {
      await w.admin.reset();
      offsetMs = 0;
      const handle: ServeHandle = await startServe({
        config,
        client: client(),
        listen: "127.0.0.1:0",
        intervalMs: 500,
        now,
      });
      const prometheus = await startPrometheus({ scrapeTargets: [handle.url], scrapeIntervalMs: 1000 });
      try {
        const byEnv = async (expr: string) =>
          (await query(prometheus, expr)).map((r) => r.metric.environment).sort();

        // Integration (6 days) is inside the 7-day line; edge crosses it seconds later.
        const critical = `${DEPLOYED_EXPIRES_IN} < 7 * 86400`;
        const warning = `${DEPLOYED_EXPIRES_IN} < 30 * 86400 >= 7 * 86400`;
        await until("the first scrape", async () =>
          (await byEnv(DEPLOYED_EXPIRES_IN)).length === 4 ? true : undefined,
        );
        await until("edge crossing 7 days", async () =>
          (await byEnv(critical)).join() === "edge,integration" ? true : undefined,
        );
        assert.deepEqual(await byEnv(warning), ["production", "staging"]);

        // Moving the emulator's clock past both expiries: their deployed tokens are refused.
        await advance("7d1h");
        await until("integration dead", async () =>
          (await byEnv("fastly_automation_token_deployed == 0")).join() === "edge,integration"
            ? true
            : undefined,
        );

        // The listing fails: success drops to 0, the series stay.
        await w.admin.fault({ path: "/automation-tokens*", status: 500, count: 100_000 });
        await until("refresh failure seen", async () =>
          (await query(prometheus, "fastly_token_rotator_refresh_success == 0")).length === 1
            ? true
            : undefined,
        );
        assert.equal((await query(prometheus, "fastly_automation_token_expiry_timestamp_seconds")).length, 4);
        assert.ok(
          Number(
            (await query(prometheus, 'fastly_token_rotator_api_errors_total{kind="server"}'))[0]!.value[1],
          ) > 0,
        );
        await w.admin.clearFaults();
        await until("refresh recovered", async () =>
          (await query(prometheus, "fastly_token_rotator_refresh_success == 1")).length === 1
            ? true
            : undefined,
        );

        const labels = JSON.stringify(await query(prometheus, '{__name__=~"fastly_.+"}'));
        assertNoSecrets(labels);
      } finally {
        await prometheus.close();
        await handle.close();
      }
    },
  );

  it("runs as `ftr serve`: first line names the URL, stops on interrupt, refuses bad usage", async () => {
    await w.admin.reset();
    let interrupt: () => void = () => {};
    const interrupted = new Promise<void>((resolve) => (interrupt = resolve));
    const io = captureIO({ env: { FASTLY_API_TOKEN: superuser.token }, cwd: w.dir, interrupted });
    const exit = main(["serve", "--config", "ftr.yaml", "--listen", "127.0.0.1:0", "--interval", "1s"], io);
    const url = await until(
      "the first line",
      async () => /^ftr serve listening on (http:\/\/127\.0\.0\.1:\d+)\n/.exec(io.out())?.[1],
    );
    const metrics = await until("a refresh", async () => {
      const text = await (await fetch(`${url}/metrics`)).text();
      return /^fastly_token_rotator_refresh_success 1$/m.test(text) ? text : undefined;
    });
    assert.match(
      metrics,
      /fastly_automation_token_deployed\{environment="edge",token_id="EdgeExporterToken00001"\} 1/,
    );
    interrupt();
    assert.equal(await exit, 0);
    await assert.rejects(fetch(`${url}/metrics`));
    assertNoSecrets(io.out() + io.err() + metrics);

    const quiet = (): CliIO => ({ ...io, stdout: new PassThrough(), stderr: new PassThrough() });
    assert.equal(await main(["serve", "--config", "ftr.yaml", "--listen", "nowhere"], quiet()), 2);
    assert.equal(
      await main(["serve", "--config", "ftr.yaml", "--listen", ":9300", "--interval", "soon"], quiet()),
      2,
    );
    assert.equal(await main(["serve", "--config", "ftr.yaml"], quiet()), 2);
  });

  it("says in one line that the --listen address is in use (exit 1), with no stack", async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = busy.address() as AddressInfo;
      const io = captureIO({ env: { FASTLY_API_TOKEN: superuser.token }, cwd: w.dir });
      const code = await main(["serve", "--config", "ftr.yaml", "--listen", `127.0.0.1:${port}`], io);
      assert.equal(code, 1);
      assert.equal(
        io.err(),
        `error: cannot listen on 127.0.0.1:${port}: the address is already in use (EADDRINUSE); stop what listens there or choose another with --listen\n`,
      );
    } finally {
      await new Promise((resolve) => busy.close(resolve));
    }
  });

  it("parses --listen addresses", () => {
    assert.deepEqual(parseListen(":9300"), { host: "0.0.0.0", port: 9300 });
    assert.deepEqual(parseListen("127.0.0.1:0"), { host: "127.0.0.1", port: 0 });
    assert.deepEqual(parseListen("[::1]:9300"), { host: "::1", port: 9300 });
    assert.deepEqual(parseListen("localhost:80"), { host: "localhost", port: 80 });
    for (const bad of ["9300", "host:", "host:99999", "a:b:9300", ""])
      assert.throws(() => parseListen(bad), /HOST:PORT/);
  });
});
