import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { UnfinishedRun } from "../plan/plan.ts";
import type { EnvironmentStatus, Finding, StatusReport, TokenStatus } from "./status.ts";
import { withUnfinished } from "./unfinished.ts";

const earlier: Finding = { code: "unused", severity: "info", message: "earlier finding" };

const token = (id: string): TokenStatus => ({
  id,
  name: id,
  role: "engineer",
  scopes: [],
  services: [],
  allServices: false,
  managed: true,
  deployedIn: [],
  rotateBeforeMs: 1,
  lifetimeMs: 1,
  findings: [earlier],
});

const env = (name: string): EnvironmentStatus => ({
  name,
  tokenName: name,
  rotateBeforeMs: 1,
  managedTokenIds: [],
  deployed: { status: "absent" },
  findings: [earlier],
});

const base: StatusReport = {
  generatedAt: "2026-12-01T00:00:00.000Z",
  scope: "account",
  tokens: [token("NEW"), token("OLD"), token("OTHER")],
  environments: [env("prod"), env("staging")],
  summary: { critical: 5, warning: 7, info: 11 },
};

const run = (over: { [K in keyof UnfinishedRun]?: UnfinishedRun[K] | undefined } = {}): UnfinishedRun =>
  Object.fromEntries(
    Object.entries({
      runId: "r1",
      environment: "prod",
      step: "promote",
      status: "begin",
      at: "2026-11-30T10:00:00.000Z",
      newTokenId: "NEW",
      deployedTokenId: "OLD",
      ...over,
    }).filter(([, v]) => v !== undefined),
  ) as unknown as UnfinishedRun;

describe("withUnfinished", () => {
  it("without runs, says so and changes nothing else", () => {
    const out = withUnfinished(base, [], "ftr resume");
    assert.deepEqual(out, { ...base, unfinished: [] });
  });

  it("adds a stopped run, first, to its environment and to both its tokens, counted critical", () => {
    const runs = [run()];
    const out = withUnfinished(base, runs, "ftr resume --config x.yaml");
    assert.equal(out.unfinished, runs);
    const prod = out.environments[0]!;
    assert.deepEqual(
      prod.findings.map((f) => [f.code, f.severity]),
      [
        ["unfinished-run", "critical"],
        ["unused", "info"],
      ],
    );
    assert.match(
      prod.findings[0]!.message,
      /run r1 of prod stopped at promote \(begun\).*`ftr resume --config x\.yaml`/,
    );
    // Untouched: the other environment and the token the run is not about (the same objects).
    assert.equal(out.environments[1], base.environments[1]);
    assert.equal(out.tokens[2], base.tokens[2]);
    for (const t of out.tokens.slice(0, 2)) assert.equal(t.findings[0]?.code, "unfinished-run");
    assert.deepEqual(out.summary, { critical: 5 + 3, warning: 7, info: 11 });
  });

  it("counts a running run as a warning", () => {
    const out = withUnfinished(base, [run({ running: true, newTokenId: undefined })], "ftr resume");
    assert.equal(out.environments[0]?.findings[0]?.severity, "warning");
    assert.match(out.environments[0]?.findings[0]?.message ?? "", /in progress/);
    assert.deepEqual(out.summary, { critical: 5, warning: 7 + 2, info: 11 });
    assert.equal(out.tokens[0], base.tokens[0]);
  });

  it("adds one finding per run, each to its own environment", () => {
    const out = withUnfinished(
      base,
      [run(), run({ runId: "r2", environment: "staging", newTokenId: "X", deployedTokenId: "Y" })],
      "ftr resume",
    );
    assert.equal(out.environments[0]?.findings.length, 2);
    assert.equal(out.environments[1]?.findings.length, 2);
    assert.match(out.environments[1]?.findings[0]?.message ?? "", /run r2 of staging/);
    assert.equal(out.summary.critical, 5 + 4);
  });
});
