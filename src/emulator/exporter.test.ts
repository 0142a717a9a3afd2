import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import { createFastlyClient } from "../fastly/index.ts";
import {
  EXPORTER_USER_AGENT,
  parseExporterDuration,
  parseListenAddress,
  runExporterFromCli,
  startExporter,
  type Exporter,
} from "./exporter.ts";
import {
  createEmulator,
  createEmulatorAdmin,
  demoCredentials,
  demoSeed,
  demoServiceIds,
  type EmulatorAdmin,
  type RunningEmulator,
} from "./index.ts";

const integration = demoCredentials.exporterTokens.integration;
const staging = demoCredentials.exporterTokens.staging;

async function until<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  ms = 5000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const metrics = async (exporter: { url: string }): Promise<string> =>
  (await fetch(`${exporter.url}/metrics`)).text();

let emulator: RunningEmulator;
let admin: EmulatorAdmin;
before(async () => {
  emulator = await createEmulator({ seed: demoSeed });
  admin = createEmulatorAdmin(emulator.url);
});
after(async () => {
  await emulator.close();
});
beforeEach(async () => {
  await admin.reset();
});

describe("exporter stand-in", () => {
  it("exports the token gauge, polls allowed services, serves /metrics and /healthz", async () => {
    const lines: string[] = [];
    const exporter = await startExporter({
      endpoint: emulator.url,
      token: integration.token,
      listen: { host: "127.0.0.1", port: 0 },
      serviceAllowlist: [/Integration/],
      pollIntervalMs: 200,
      log: (line) => lines.push(line),
    });
    try {
      await until("a realtime success", () => exporter.stats.realtimeOk >= 2);
      const text = await metrics(exporter);
      const state = await admin.state();
      const token = state.automationTokens.find((t) => t.id === integration.id);
      assert.ok(token?.expiresAt, "the demo exporter token expires");
      const gauge = new RegExp(
        `^fastly_rt_token_expiration\\{token_id="${integration.id}",user_id="[^"]+"\\} (\\d+)$`,
        "m",
      ).exec(text);
      assert.ok(gauge, text);
      assert.equal(Number(gauge[1]), Math.floor(Date.parse(token.expiresAt) / 1000));
      const wwwId = demoServiceIds["www Integration"];
      assert.match(
        text,
        new RegExp(
          `fastly_rt_realtime_api_requests_total\\{service_id="${wwwId}",service_name="www Integration",result="success"\\} [1-9]`,
        ),
      );
      assert.match(
        text,
        /^fastly_rt_requests_total\{service_id="[^"]+",service_name="www Integration",datacenter="[A-Z]+"\} [1-9]/m,
      );
      assert.match(text, /^fastly_rt_edge_total\{/m);
      assert.match(
        text,
        /^fastly_rt_last_successful_response\{service_id="[^"]+",service_name="assets Integration"\} \d+/m,
      );
      assert.doesNotMatch(text, /Staging|Production/, "allowlist applies");
      assert.equal((await fetch(`${exporter.url}/healthz`)).status, 200);
      assert.equal((await fetch(`${exporter.url}/nope`)).status, 404);

      const requests = (await admin.requests()).filter((r) => r.userAgent === EXPORTER_USER_AGENT);
      assert.equal(requests.filter((r) => r.path === "/tokens/self").length, 1, "tokens/self called once");
      assert.ok(
        requests.some((r) =>
          r.path.startsWith("/service?page=1&per_page=1000&filter%5Binclude_versions%5D=false"),
        ),
      );
      assert.ok(requests.every((r) => r.tokenId === integration.id));
      assert.deepEqual(lines, []);
    } finally {
      await exporter.close();
    }
  });

  it("logs `token may be invalid` and backs off once its token is revoked", async () => {
    const lines: string[] = [];
    const exporter: Exporter = await startExporter({
      endpoint: emulator.url,
      token: integration.token,
      listen: { host: "127.0.0.1", port: 0 },
      serviceAllowlist: [/^www Integration$/],
      pollIntervalMs: 100,
      authBackoffMs: 400,
      log: (line) => lines.push(line),
    });
    try {
      await until("a realtime success", () => exporter.stats.realtimeOk >= 1);
      const superuser = createFastlyClient({
        token: demoCredentials.superuser.token,
        endpoint: emulator.url,
      });
      await superuser.revokeToken(integration.id);
      await until("two refusals", () => exporter.stats.refused >= 2);
      const refusedAt = Date.now();
      await until("a third refusal", () => exporter.stats.refused >= 3);
      assert.ok(Date.now() - refusedAt >= 300, "backs off between refusals");

      const refusal = lines.find((line) => line.includes('msg="token may be invalid"'));
      assert.ok(refusal, lines.join("\n"));
      assert.match(
        refusal,
        new RegExp(
          `level=error component=rt.fastly.com service_id=${demoServiceIds["www Integration"]} status_code=40[13] `,
        ),
      );
      const text = await metrics(exporter);
      assert.match(text, /fastly_rt_realtime_api_requests_total\{[^}]*result="error"\} [1-9]/);
      // Still exported: the real exporter never re-checks its token.
      assert.match(text, new RegExp(`fastly_rt_token_expiration\\{token_id="${integration.id}"`));
      assert.ok(
        lines.every((line) => !line.includes(integration.token)),
        "token never logged",
      );
    } finally {
      await exporter.close();
    }
  });

  it("logs the failed token lookup and exports no gauge for an unknown token", async () => {
    const lines: string[] = [];
    const exporter = await startExporter({
      endpoint: emulator.url,
      token: "not-a-token-the-emulator-knows-1",
      listen: { host: "127.0.0.1", port: 0 },
      log: (line) => lines.push(line),
    });
    try {
      assert.doesNotMatch(await metrics(exporter), /^fastly_rt_token_expiration\{/m);
      assert.ok(
        lines.some((l) =>
          /level=error component=api.fastly.com during="set token gauge metric" err="api.fastly.com responded with Unauthorized \(Provided credentials are missing or invalid\)"/.test(
            l,
          ),
        ),
        lines.join("\n"),
      );
      assert.ok(lines.some((l) => l.includes('during="initial fetch of service IDs"')));
      assert.ok(lines.every((line) => !line.includes("not-a-token-the-emulator-knows-1")));
    } finally {
      await exporter.close();
    }
  });
});

describe("runExporterFromCli", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ftr-exporter-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("reads the token file once, prints its URL, stops cleanly on abort", async () => {
    const tokenFile = join(dir, "token");
    await writeFile(tokenFile, `${integration.token}\n`);
    let stdout = "";
    let stderr = "";
    const controller = new AbortController();
    const running = runExporterFromCli({
      endpoint: emulator.url,
      listen: "127.0.0.1:0",
      tokenFile,
      serviceAllowlist: ["^www Integration$"],
      pollInterval: "200ms",
      env: {},
      stdout: { write: (text: string) => (stdout += text) },
      stderr: { write: (text: string) => (stderr += text) },
      signal: controller.signal,
    });
    const url = await until(
      "the listening line",
      () => /^fastly-exporter stand-in listening on (http:\/\/127\.0\.0\.1:\d+)\n$/.exec(stdout)?.[1],
    );
    // Swap the file for another valid token: a process that re-read it would switch.
    await writeFile(tokenFile, `${staging.token}\n`);
    await until("a few polls", async () => {
      const polls = (await admin.requests()).filter(
        (r) => r.userAgent === EXPORTER_USER_AGENT && r.path.startsWith("/v1/channel/"),
      );
      return polls.length >= 4;
    });
    const seen = new Set(
      (await admin.requests()).filter((r) => r.userAgent === EXPORTER_USER_AGENT).map((r) => r.tokenId),
    );
    assert.deepEqual([...seen], [integration.id]);
    assert.match(await metrics({ url }), new RegExp(`token_id="${integration.id}"`));
    controller.abort();
    await running;
    await assert.rejects(fetch(`${url}/healthz`), "server closed");
    assert.ok(!stderr.includes(integration.token));
  });

  it("takes FASTLY_API_TOKEN and refuses to start without a token", async () => {
    await assert.rejects(
      runExporterFromCli({ endpoint: emulator.url, listen: "127.0.0.1:0", env: {} }),
      /no token: set FASTLY_API_TOKEN or pass --token-file/,
    );
    const controller = new AbortController();
    let stdout = "";
    const running = runExporterFromCli({
      endpoint: emulator.url,
      listen: "127.0.0.1:0",
      env: { FASTLY_API_TOKEN: staging.token },
      serviceAllowlist: ["^$"],
      stdout: { write: (text: string) => (stdout += text) },
      stderr: { write: () => true },
      signal: controller.signal,
    });
    const url = await until("the listening line", () => /listening on (\S+)/.exec(stdout)?.[1]);
    assert.match(await metrics({ url }), new RegExp(`token_id="${staging.id}"`));
    controller.abort();
    await running;
  });

  it("parses durations and listen addresses", () => {
    assert.equal(parseExporterDuration("1s", "--x"), 1000);
    assert.equal(parseExporterDuration("200ms", "--x"), 200);
    assert.equal(parseExporterDuration("1.5m", "--x"), 90_000);
    assert.equal(parseExporterDuration(250, "--x"), 250);
    assert.throws(
      () => parseExporterDuration("soon", "--poll-interval"),
      /--poll-interval: expected a duration/,
    );
    assert.deepEqual(parseListenAddress("127.0.0.1:0"), { host: "127.0.0.1", port: 0 });
    assert.deepEqual(parseListenAddress("[::1]:8080"), { host: "::1", port: 8080 });
    assert.deepEqual(parseListenAddress(":9100"), { host: "0.0.0.0", port: 9100 });
    assert.throws(() => parseListenAddress("localhost"), /--listen/);
  });
});
