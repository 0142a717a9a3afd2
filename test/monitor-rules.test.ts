/**
 * The Prometheus rules in deploy/prometheus: promtool accepts them and their unit tests pass (cases
 * that fire and cases that do not, for every alert), each alert carries what on-call needs, and
 * every metric they read is one `ftr serve` exports (or fastly-exporter's token gauge).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { accessSync, constants, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { MONITOR_METRIC_NAMES } from "../src/monitor/index.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const RULES = `${ROOT}deploy/prometheus/rules.yaml`;
const PROMTOOL = process.env.PROMTOOL_BIN ?? "/usr/bin/promtool";

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const groups = (parse(readFileSync(RULES, "utf8")) as { groups: { name: string; rules: Rule[] }[] }).groups;
const rules = groups.flatMap((g) => g.rules);
const alerts = rules.filter((r) => r.alert !== undefined);

/** False when promtool is there; a reason to skip otherwise. Under CI=true a missing promtool fails. */
function skipWithoutPromtool(): false | string {
  try {
    accessSync(PROMTOOL, constants.X_OK);
    return false;
  } catch {
    const reason = `${PROMTOOL} not found (install Debian's prometheus package or set PROMTOOL_BIN)`;
    if (process.env.CI === "true") throw new Error(`${reason}; required when CI=true`);
    console.warn(`skipping promtool tests: ${reason}`);
    return `skipped: ${reason}`;
  }
}

function promtool(...args: string[]): { status: number | null; output: string } {
  const result = spawnSync(PROMTOOL, args, {
    cwd: `${ROOT}deploy/prometheus`,
    encoding: "utf8",
    timeout: 60_000,
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe("deploy/prometheus rules", () => {
  it("pass promtool check rules", { skip: skipWithoutPromtool() }, () => {
    const { status, output } = promtool("check", "rules", "rules.yaml");
    assert.equal(status, 0, output);
    assert.match(output, /SUCCESS: \d+ rules found/);
  });

  it("pass promtool test rules", { skip: skipWithoutPromtool() }, () => {
    const { status, output } = promtool("test", "rules", "rules.test.yaml");
    assert.equal(status, 0, output);
    assert.match(output, /SUCCESS/);
  });

  it("are tested firing and not firing, every one", () => {
    const tests = (
      parse(readFileSync(`${ROOT}deploy/prometheus/rules.test.yaml`, "utf8")) as {
        tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
      }
    ).tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const { alert } of alerts) {
      const cases = tests.filter((t) => t.alertname === alert);
      assert.ok(
        cases.some((t) => (t.exp_alerts ?? []).length > 0),
        `${alert} has no firing case`,
      );
      assert.ok(
        cases.some((t) => (t.exp_alerts ?? []).length === 0),
        `${alert} has no quiet case`,
      );
    }
  });

  it("give every alert a duration, a severity, and annotations with a runbook section that exists", () => {
    const docs = readFileSync(`${ROOT}docs/operations.md`, "utf8");
    assert.ok(alerts.length >= 7);
    for (const rule of alerts) {
      const name = rule.alert!;
      assert.ok(rule.for, `${name}: for`);
      assert.ok(["warning", "critical"].includes(rule.labels?.severity ?? ""), `${name}: severity`);
      for (const key of ["summary", "description", "runbook_url"])
        assert.ok(rule.annotations?.[key], `${name}: ${key}`);
      assert.equal(rule.annotations!.runbook_url, `docs/operations.md#${name.toLowerCase()}`);
      assert.match(docs, new RegExp(`^### ${name}$`, "m"), `docs/operations.md has no section ${name}`);
    }
  });

  it("read only metrics that ftr serve exports, fastly-exporter's token gauge, or their own records", () => {
    const known = new Set<string>([...MONITOR_METRIC_NAMES, "fastly_rt_token_expiration"]);
    for (const rule of rules) if (rule.record) known.add(rule.record);
    for (const rule of rules) {
      // Metric names: identifiers not followed by "(" (functions) nor inside label matchers.
      const stripped = rule.expr
        .replace(/\{[^}]*\}/g, "")
        .replace(/\b(by|on|without|ignoring|group_left|group_right)\s*\([^)]*\)/g, "");
      const names = [...stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*(?!\s*\()/g)]
        .map((m) => m[0])
        .filter((n) => n.includes("_"));
      for (const name of names)
        assert.ok(known.has(name), `${rule.alert ?? rule.record}: unknown metric ${name}`);
      assert.ok(names.length > 0);
    }
  });

  it("match the PrometheusRule in deploy/kubernetes", () => {
    const wrapped = parse(readFileSync(`${ROOT}deploy/kubernetes/prometheusrule.yaml`, "utf8")) as {
      kind: string;
      spec: { groups: unknown };
    };
    assert.equal(wrapped.kind, "PrometheusRule");
    assert.deepEqual(wrapped.spec.groups, groups);
  });
});
