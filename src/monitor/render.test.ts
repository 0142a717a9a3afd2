import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { renderStatus } from "./render.ts";
import type { StatusReport, TokenStatus } from "./status.ts";

const day = 86_400_000;

function token(i: number): TokenStatus {
  return {
    id: `TokenId${String(i).padStart(15, "0")}`,
    name: `a rather long token name for exporter number ${i} of the platform team`,
    role: "engineer",
    scopes: ["global:read"],
    services: [{ id: "svc1", name: "www" }],
    allServices: false,
    expiresAt: "2027-01-01T00:00:00.000Z",
    msLeft: 40 * day,
    daysLeft: 40,
    lastUsed: { at: "2026-11-01T00:00:00.000Z", userAgent: "fastly-exporter/7" },
    environment: "production",
    managed: true,
    deployedIn: ["production"],
    rotateBeforeMs: 30 * day,
    lifetimeMs: 365 * day,
    findings: [
      {
        code: "unused",
        severity: "warning",
        message: "no recorded use for more than 90 days: probably safe to revoke",
      },
      { code: "global-scope", severity: "warning", message: "the global scope can change configuration" },
    ],
  };
}

function report(count: number): StatusReport {
  return {
    generatedAt: "2026-11-29T00:00:00.000Z",
    scope: "account",
    tokens: Array.from({ length: count }, (_, i) => token(i)),
    environments: [],
    summary: { critical: 0, warning: 2 * count, info: 0 },
  };
}

describe("renderStatus", () => {
  it("fits a terminal's width, one line a token, cutting with …", () => {
    const lines = renderStatus(report(3), undefined, { width: 100 }).split("\n");
    assert.equal(lines.length, 1 + 3 + 1);
    for (const line of lines) assert.ok(line.length <= 100, `${line.length}: ${line}`);
    assert.match(lines[1] ?? "", /…/);
    assert.match(lines[1] ?? "", /TokenId0+/);
  });

  it("cuts nothing without a width (a pipe or a file), and lists every finding", () => {
    const text = renderStatus(report(2));
    assert.match(text, /a rather long token name for exporter number 1 of the platform team/);
    assert.match(text, /probably safe to revoke; the global scope can change configuration/);
    assert.doesNotMatch(text, /…/);
  });

  it("--wide shows access, services and the user agent", () => {
    const text = renderStatus(report(1), undefined, { wide: true, width: 80 });
    assert.match(text, /engineer, global:read/);
    assert.match(text, /fastly-exporter\/7/);
    assert.match(text, /www/);
  });

  // How its time grows with the tokens (linear: "CPU a token, 10,000 / 2,000") is measured in
  // bench/monitor-scale.ts, not timed here: a timed ratio fails on a loaded machine.
  it("renders 20,000 tokens, a line each, in order, cut to the width", () => {
    const lines = renderStatus(report(20_000), undefined, { width: 120 }).split("\n");
    assert.equal(lines.length, 1 + 20_000 + 1);
    assert.ok(lines.every((l) => l.length <= 120));
    for (const i of [0, 9_999, 19_999]) {
      assert.match(lines[1 + i] ?? "", new RegExp(`TokenId0*${i}\\b`));
    }
  });
});
