/**
 * The per-token families `serve` exports (expiry, last use, info, findings) are written whole each
 * refresh by `SeriesGauge`: checked here against what prom-client writes when each series is `set`
 * one at a time from the same report, over the emulator on port 0, with tokens whose names hold
 * quotes, backslashes, newlines, escape and bidi controls, and two tokens named alike.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Gauge, Registry } from "prom-client";
import { loadConfig } from "../config/index.ts";
import { demoCredentials } from "../emulator/index.ts";
import { createFastlyClient } from "../fastly/index.ts";
import {
  DEMO_TOKEN_VALUES,
  demoFileEnvironment,
  demoSeedWith,
  seedToken,
  world,
  type World,
} from "../../test/helpers/world.ts";
import { replaceControl } from "../util/escape.ts";
import { MONITOR_METRIC_NAMES } from "./metrics.ts";
import { startServe } from "./serve.ts";
import type { StatusReport } from "./status.ts";

const NAMES = [
  'quoted "name"',
  "back\\slash\\",
  "two\nlines",
  "escape \u001b[31m red",
  "\u202eright to left",
  "brace } comma, equals=",
  "ünïcödé ✓",
  "same name",
  "same name",
];
const VALUES = NAMES.map((_, i) => `serve-series-test-token-value-${String(i).padStart(3, "0")}`);

/** The four families as the exporter wrote them before: prom-client gauges, `set` series by series. */
async function expectedFamilies(report: StatusReport): Promise<Map<string, string>> {
  const registry = new Registry();
  const tokenLabels = ["token_id", "name", "environment"];
  const gauge = (name: string, help: string, extra: string[] = []) =>
    new Gauge({ name, help, labelNames: [...tokenLabels, ...extra], registers: [registry] });
  const families = createFamilies();
  const expiry = gauge(families.expiry.name, families.expiry.help);
  const lastUsed = gauge(families.lastUsed.name, families.lastUsed.help);
  const info = gauge(families.info.name, families.info.help, ["role", "scopes"]);
  const finding = gauge(families.finding.name, families.finding.help, ["code", "severity"]);
  for (const t of report.tokens) {
    const labels = {
      token_id: replaceControl(t.id),
      name: replaceControl(t.name),
      environment: replaceControl(t.environment ?? ""),
    };
    for (const f of t.findings) finding.set({ ...labels, code: f.code, severity: f.severity }, 1);
    if (t.expiresAt) expiry.set(labels, Date.parse(t.expiresAt) / 1000);
    if (t.lastUsed) lastUsed.set(labels, Date.parse(t.lastUsed.at) / 1000);
    info.set({ ...labels, role: replaceControl(t.role), scopes: replaceControl(t.scopes.join(" ")) }, 1);
  }
  const out = new Map<string, string>();
  for (const f of Object.values(families)) out.set(f.name, await registry.getSingleMetricAsString(f.name));
  return out;
}

/** The names and help texts of the four families, from serve's own registry. */
let helpOf: Map<string, string>;
function createFamilies() {
  const family = (name: string) => ({ name, help: helpOf.get(name) ?? "" });
  return {
    expiry: family("fastly_automation_token_expiry_timestamp_seconds"),
    lastUsed: family("fastly_automation_token_last_used_timestamp_seconds"),
    info: family("fastly_automation_token_info"),
    finding: family("fastly_automation_token_finding"),
  };
}

/** One family's block (HELP through its last sample) of the exposition text. */
function block(text: string, name: string): string {
  const start = text.indexOf(`# HELP ${name} `);
  assert.ok(start >= 0, `${name} is exported`);
  const end = text.indexOf("\n\n", start);
  return text.slice(start, end < 0 ? text.length - 1 : end);
}

describe("serve's per-token families", () => {
  let w: World<"fastly">;

  before(async () => {
    w = await world({
      dir: "ftr-serve-series-",
      fastly: demoSeedWith({
        automationTokens: NAMES.map((name, i) =>
          seedToken(name, VALUES[i] ?? "", {
            ...(i % 2 === 0 ? { expiresAt: "+40d" } : {}),
            ...(i === 1 ? { scope: "global purge_all" } : {}),
          }),
        ),
      }),
    });
  });
  after(() => w.close());

  it("are the text prom-client writes for the same report, series by series", async () => {
    const path = await w.writeFileConfig([
      demoFileEnvironment("integration"),
      demoFileEnvironment("staging"),
    ]);
    const { config } = await loadConfig(path);
    assert.ok(config);
    const client = createFastlyClient({ token: demoCredentials.superuser.token, endpoint: w.emulator.url });
    const handle = await startServe({ config, client, listen: "127.0.0.1:0", intervalMs: 3_600_000 });
    try {
      helpOf = new Map(
        (await handle.metrics.registry.getMetricsAsJSON()).map((m) => [m.name, m.help] as const),
      );
      const result = await handle.refresh();
      assert.equal(result.ok, true, result.errors.join("; "));
      assert.ok(result.report);
      const names = result.report.tokens.map((t) => t.name);
      for (const name of NAMES) assert.ok(names.includes(name), `the listing holds ${JSON.stringify(name)}`);
      assert.ok(
        result.report.tokens.some((t) => t.findings.length > 1),
        "a token has several findings",
      );

      const text = await (await fetch(`${handle.url}/metrics`)).text();
      const expected = await expectedFamilies(result.report);
      for (const [name, family] of expected) assert.equal(block(text, name), family, name);
      // Every family serve exports is there, once, and the text is what prom-client itself writes.
      for (const name of MONITOR_METRIC_NAMES) {
        assert.equal(text.split(`# TYPE ${name} `).length, 2, name);
      }
      assert.equal(text, await handle.metrics.registry.metrics());
      for (const secret of [...DEMO_TOKEN_VALUES, ...VALUES]) assert.ok(!text.includes(secret));
      assert.ok(!text.includes("\u001b") && !text.includes("\u202e"), "no control reaches /metrics");
    } finally {
      await handle.close();
    }
  });
});
