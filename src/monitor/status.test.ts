import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseConfig } from "../config/parse.ts";
import type { AutomationToken } from "../fastly/types.ts";
import type { DeployedState } from "../plan/plan.ts";
import { buildStatus, span, type StatusFacts } from "./status.ts";

const DAY = 86_400_000;
const NOW = new Date("2026-12-01T00:00:00.000Z");
const at = (days: number) => new Date(NOW.getTime() + days * DAY);

const { config } = parseConfig(
  `version: 1
environments:
  - name: prod
    token: { name: prod token, expiresIn: 100d, rotateBefore: 20d, services: { all: true } }
    secret: { type: file, path: ./prod.txt }
  - name: stage
    token: { name: stage token, services: { all: true } }
    secret: { type: file, path: ./stage.txt }
`,
  { baseDir: "/srv/ftr", configPath: "/srv/my ftr.yaml" },
);
const cfg = config!;

/** A token; a field given as undefined is left out. */
const token = (
  id: string,
  over: { [K in keyof AutomationToken]?: AutomationToken[K] | undefined } = {},
): AutomationToken =>
  Object.fromEntries(
    Object.entries({
      id,
      name: `${id} name`,
      role: "engineer",
      scopes: ["global:read"],
      services: ["s1"],
      limitServices: true,
      createdAt: at(-10),
      expiresAt: at(50),
      lastUsedAt: at(-1),
      creatorId: "u1",
      ...over,
    }).filter(([, v]) => v !== undefined),
  ) as unknown as AutomationToken;

const valid = (t: AutomationToken): DeployedState => ({
  status: "valid",
  token: {
    id: t.id,
    name: t.name,
    scopes: t.scopes,
    services: t.services,
    ...(t.expiresAt ? { expiresAt: t.expiresAt } : {}),
    ...(t.createdAt ? { createdAt: t.createdAt } : {}),
  },
});

const facts = (over: Partial<StatusFacts> = {}): StatusFacts => ({
  automationTokens: [],
  services: [{ id: "s1", name: "www" }],
  users: [{ id: "u1" } as never],
  deployed: {},
  ...over,
});

const codes = (findings: readonly { code: string; severity: string }[]) =>
  findings.map((f) => `${f.code}:${f.severity}`);

describe("span", () => {
  it("names the largest whole unit, singular for one", () => {
    assert.equal(span(DAY), "1 day");
    assert.equal(span(2 * DAY - 1), "1 day");
    assert.equal(span(-3 * DAY), "3 days");
    assert.equal(span(DAY - 1), "23 hours");
    assert.equal(span(3_600_000), "1 hour");
    assert.equal(span(3_599_999), "59 minutes");
    assert.equal(span(60_000), "1 minute");
    assert.equal(span(59_999), "0 minutes");
    assert.equal(span(-90_000), "1 minute");
  });
});

describe("buildStatus: tokens", () => {
  it("reports each token's fields as --json prints them, managed ones with their environment", () => {
    const t = token("P1", {
      name: "prod token",
      services: ["s1", "s9"],
      roles: [{ id: "engineer", name: "" }] as never,
      userAgent: "curl/8",
      ip: "10.0.0.1",
      expiresAt: at(60),
    });
    const r = buildStatus(facts({ automationTokens: [t], deployed: { prod: valid(t) } }), cfg, NOW);
    assert.equal(r.generatedAt, NOW.toISOString());
    assert.equal(r.scope, "account");
    assert.ok(!("limitation" in r));
    assert.ok(!("credentialRefused" in r));
    assert.deepEqual(JSON.parse(JSON.stringify(r.tokens[0])), {
      id: "P1",
      name: "prod token",
      role: "engineer",
      scopes: ["global:read"],
      services: [{ id: "s1", name: "www" }, { id: "s9" }],
      allServices: false,
      roles: ["engineer"],
      creatorId: "u1",
      createdAt: at(-10).toISOString(),
      expiresAt: at(60).toISOString(),
      msLeft: 60 * DAY,
      daysLeft: 60,
      lastUsed: { at: at(-1).toISOString(), userAgent: "curl/8", ip: "10.0.0.1" },
      environment: "prod",
      managed: true,
      deployedIn: ["prod"],
      rotateBeforeMs: 20 * DAY,
      lifetimeMs: 100 * DAY,
      findings: [],
    });
    // The second environment, not checked, is a warning.
    assert.deepEqual(r.summary, { critical: 0, warning: 1, info: 0 });
    assert.deepEqual(JSON.parse(JSON.stringify(r.environments[0])), {
      name: "prod",
      tokenName: "prod token",
      rotateBeforeMs: 20 * DAY,
      managedTokenIds: ["P1"],
      deployed: {
        status: "valid",
        tokenId: "P1",
        tokenName: "prod token",
        managed: true,
        expiresAt: at(60).toISOString(),
      },
      findings: [],
    });
  });

  it("leaves out what a token does not say, and gives unmanaged tokens the defaults", () => {
    const t = token("U1", {
      createdAt: undefined,
      expiresAt: undefined,
      lastUsedAt: undefined,
      creatorId: undefined,
      roles: undefined,
      services: [],
      limitServices: undefined,
    });
    const r = buildStatus(facts({ automationTokens: [t] }), cfg, NOW);
    const s = r.tokens[0]!;
    for (const key of [
      "roles",
      "creatorId",
      "createdAt",
      "expiresAt",
      "msLeft",
      "daysLeft",
      "lastUsed",
      "environment",
    ]) {
      assert.ok(!(key in s), key);
    }
    assert.equal(s.managed, false);
    assert.deepEqual(s.deployedIn, []);
    assert.equal(s.rotateBeforeMs, 30 * DAY);
    assert.equal(s.lifetimeMs, 365 * DAY);
    assert.equal(s.allServices, true);
    assert.ok(
      codes(s.findings).includes("never-expires:warning") ||
        codes(s.findings).some((c) => c.startsWith("never-expires")),
    );
  });

  it("reports a last use without user agent or address, and none at all without a listing", () => {
    const t = token("P1", { name: "prod token" });
    const r = buildStatus(facts({ automationTokens: [t] }), cfg, NOW);
    assert.deepEqual(r.tokens[0]?.lastUsed, { at: at(-1).toISOString() });
  });

  it("says expired (critical) at zero left, and due (warning) at exactly the window", () => {
    const r = buildStatus(
      facts({
        automationTokens: [
          token("A", { name: "prod token", expiresAt: NOW, createdAt: at(-2) }),
          token("B", { name: "stage token", expiresAt: at(30), createdAt: at(-1) }),
          token("C", { name: "stray", expiresAt: at(30) }),
          token("D", { name: "stray2", expiresAt: new Date(at(30).getTime() + 1) }),
          token("E", { name: "stray3", expiresAt: at(-3) }),
        ],
      }),
      cfg,
      NOW,
    );
    const by = Object.fromEntries(r.tokens.map((t) => [t.id, t]));
    assert.deepEqual(by.A?.findings[0], {
      code: "expired",
      severity: "critical",
      message: "expired 0 minutes ago",
      fix: "ftr rotate --config '/srv/my ftr.yaml' --env prod",
    });
    assert.deepEqual(by.B?.findings[0], {
      code: "expiring",
      severity: "warning",
      message: "due: expires in 30 days (rotate before 30 days)",
      fix: "ftr rotate --config '/srv/my ftr.yaml' --env stage",
    });
    assert.deepEqual(by.C?.findings[0], {
      code: "expiring",
      severity: "warning",
      message: "due: expires in 30 days (rotate before 30 days)",
      fix: "rotate it by hand, or add an environment for it to rotate it with ftr",
    });
    assert.equal(by.D?.findings.filter((f) => f.code === "expiring").length, 0);
    assert.deepEqual(by.E?.findings[0], {
      code: "expired",
      severity: "critical",
      message: "expired 3 days ago",
      fix: "replace it by hand and revoke it",
    });
    assert.equal(by.E?.daysLeft, -3);
    assert.equal(by.A?.daysLeft, 0);
  });

  it("sorts critical first, then by time left, never-expiring last, then by name and id", () => {
    const r = buildStatus(
      facts({
        automationTokens: [
          token("N", { name: "n", expiresAt: undefined }),
          token("Z2", { name: "z", expiresAt: at(40) }),
          token("Z1", { name: "z", expiresAt: at(40) }),
          token("Y", { name: "y", expiresAt: at(40) }),
          token("S", { name: "s", expiresAt: at(35) }),
          token("X", { name: "x", expiresAt: at(-1) }),
          token("W", { name: "w", expiresAt: at(-5) }),
          token("B", { name: "b2", expiresAt: at(45) }),
          token("C", { name: "b1", expiresAt: at(45) }),
        ],
      }),
      cfg,
      NOW,
    );
    assert.deepEqual(
      r.tokens.map((t) => t.id),
      ["W", "X", "S", "Y", "Z1", "Z2", "C", "B", "N"],
    );
  });

  it("tells leftovers apart: every managed token but the deployed one, else but the newest", () => {
    const p1 = token("P1", { name: "prod token", createdAt: at(-30) });
    const p2 = token("P2", { name: "prod token", createdAt: at(-20) });
    const p3 = token("P3", { name: "prod token", createdAt: at(-25) });
    const s1 = token("S1", { name: "stage token", createdAt: at(-30) });
    const s2 = token("S2", { name: "stage token", createdAt: at(-5) });
    const lone = token("L", { name: "lone" });
    const r = buildStatus(
      facts({
        automationTokens: [p1, p2, p3, s1, s2, lone],
        deployed: { prod: valid(p1), stage: valid(lone) },
      }),
      cfg,
      NOW,
    );
    const leftover = (id: string) =>
      r.tokens.find((t) => t.id === id)?.findings.find((f) => f.code === "leftover");
    assert.equal(leftover("P1"), undefined);
    assert.deepEqual(leftover("P2"), {
      code: "leftover",
      severity: "warning",
      message: 'leftover: another token is named "prod token" too; `ftr rotate --env prod` revokes it',
      fix: "ftr rotate --config '/srv/my ftr.yaml' --env prod --force",
    });
    assert.ok(leftover("P3"));
    assert.ok(leftover("S1"));
    assert.equal(leftover("S2"), undefined);
    assert.equal(leftover("L"), undefined);
    assert.deepEqual(r.environments[0]?.managedTokenIds, ["P1", "P3", "P2"]);
    assert.deepEqual(r.environments[0]?.findings.at(-1), {
      code: "leftover",
      severity: "warning",
      message: '3 tokens are named "prod token"; the extra ones are leftovers',
    });
    assert.deepEqual(r.environments[1]?.managedTokenIds, ["S1", "S2"]);
    assert.deepEqual(codes(r.environments[1].findings), ["deployed-unmanaged:warning", "leftover:warning"]);
    assert.equal(
      r.environments[1]?.findings[0]?.message,
      'the deployed token L ("lone") is not named "stage token"',
    );
    assert.equal((r.environments[1]?.deployed as { managed: boolean }).managed, false);
    // The deployed token is in both environments' lists when both deploy it.
    const both = buildStatus(
      facts({ automationTokens: [p1], deployed: { prod: valid(p1), stage: valid(p1) } }),
      cfg,
      NOW,
    );
    assert.deepEqual(both.tokens[0]?.deployedIn, ["prod", "stage"]);
  });

  it("keeps the newest of unnamed-date leftovers when the deployed token is not among them", () => {
    const a = token("A", { name: "prod token", createdAt: undefined });
    const b = token("B", { name: "prod token", createdAt: at(-3) });
    const r = buildStatus(
      facts({ automationTokens: [a, b], deployed: { prod: { status: "absent" } } }),
      cfg,
      NOW,
    );
    const has = (id: string) =>
      r.tokens.find((t) => t.id === id)?.findings.some((f) => f.code === "leftover");
    assert.equal(has("A"), true);
    assert.equal(has("B"), false);
    assert.deepEqual(r.environments[0]?.managedTokenIds, ["A", "B"]);
    const leftoverUnmanaged = buildStatus(
      facts({ automationTokens: [token("Q", { name: "q" }), token("R", { name: "q" })] }),
      cfg,
      NOW,
    );
    assert.ok(leftoverUnmanaged.tokens.every((t) => !t.findings.some((f) => f.code === "leftover")));
  });
});

describe("buildStatus: environments", () => {
  const envOf = (d: DeployedState | undefined, tokens: AutomationToken[] = []) =>
    buildStatus(facts({ automationTokens: tokens, deployed: d ? { prod: d } : {} }), cfg, NOW)
      .environments[0]!;

  it("names each state of the store with its finding", () => {
    assert.deepEqual(envOf({ status: "dead", reason: "401 Unauthorized" }), {
      name: "prod",
      tokenName: "prod token",
      rotateBeforeMs: 20 * DAY,
      managedTokenIds: [],
      deployed: { status: "dead", reason: "401 Unauthorized" },
      findings: [
        {
          code: "deployed-dead",
          severity: "critical",
          message:
            "the deployed token is refused by Fastly (401 Unauthorized): the consumer cannot authenticate",
        },
      ],
    });
    assert.deepEqual(envOf({ status: "absent" }).findings, [
      { code: "deployed-absent", severity: "critical", message: "the secret store holds no token" },
    ]);
    assert.deepEqual(envOf({ status: "absent" }).deployed, { status: "absent" });
    assert.deepEqual(envOf({ status: "unreadable", reason: "EACCES" }).findings, [
      {
        code: "deployed-unknown",
        severity: "warning",
        message: "cannot tell which token is deployed: EACCES",
      },
    ]);
    assert.deepEqual(envOf(undefined).deployed, { status: "unknown", reason: "not checked" });
    const remembered = envOf({ status: "unknown", reason: "timeout", tokenId: "OLD" } as DeployedState);
    assert.deepEqual(remembered.deployed, { status: "unknown", reason: "timeout", tokenId: "OLD" });
    const notString = envOf({ status: "unknown", reason: "x", tokenId: 7 } as unknown as DeployedState);
    assert.deepEqual(notString.deployed, { status: "unknown", reason: "x" });
  });

  it("takes the newest managed token for a write-only store, saying which", () => {
    const wo: DeployedState = { status: "write-only", reason: "a GitHub secret" };
    assert.deepEqual(envOf(wo).findings, [
      {
        code: "deployed-write-only",
        severity: "info",
        message: "a GitHub secret: status cannot compare the deployed value",
      },
    ]);
    const withTokens = envOf(wo, [
      token("NEW", { name: "prod token", createdAt: at(-1) }),
      token("OLD", { name: "prod token", createdAt: at(-9) }),
    ]);
    assert.deepEqual(withTokens.findings[0], {
      code: "deployed-write-only",
      severity: "info",
      message:
        'a GitHub secret: status cannot compare the deployed value; the newest token named "prod token", NEW, is taken to be the deployed one',
    });
  });

  it("counts every finding of tokens and environments in the summary", () => {
    const r = buildStatus(
      facts({
        automationTokens: [token("E", { expiresAt: at(-1) }), token("W", { expiresAt: at(5) })],
        deployed: { prod: { status: "absent" }, stage: { status: "unreadable", reason: "x" } },
      }),
      cfg,
      NOW,
    );
    const all = [...r.tokens.flatMap((t) => t.findings), ...r.environments.flatMap((e) => e.findings)];
    const n = (s: string) => all.filter((f) => f.severity === s).length;
    assert.deepEqual(r.summary, { critical: n("critical"), warning: n("warning"), info: n("info") });
    assert.equal(r.summary.critical, 2);
    assert.ok(r.summary.warning >= 2);
  });
});

describe("buildStatus without a listing", () => {
  it("lists each deployed token once, as it describes itself, and no leftovers", () => {
    const p = token("P1", { name: "prod token", expiresAt: at(10), createdAt: at(-5) });
    const u = token("U1", { name: "user", expiresAt: undefined, createdAt: undefined });
    const r = buildStatus(
      {
        limitation: "FASTLY_API_TOKEN is not set",
        credentialRefused: 401,
        deployed: {
          prod: valid(p),
          stage: valid(p),
          other: valid(u),
          dead: { status: "dead", reason: "x" },
          twin: valid(token("P9", { name: "prod token" })),
        },
      },
      {
        ...cfg,
        environments: [
          cfg.environments[0]!,
          cfg.environments[1]!,
          { ...cfg.environments[1]!, name: "other" },
          { ...cfg.environments[1]!, name: "dead" },
          { ...cfg.environments[1]!, name: "twin" },
        ],
      },
      NOW,
    );
    assert.equal(r.scope, "deployed-only");
    assert.equal(r.limitation, "FASTLY_API_TOKEN is not set");
    assert.equal(r.credentialRefused, 401);
    assert.deepEqual(
      r.tokens.map((t) => [t.id, t.role, t.deployedIn, t.expiresAt, t.createdAt]),
      [
        ["P1", "", ["prod", "stage"], at(10).toISOString(), at(-5).toISOString()],
        ["P9", "", ["twin"], at(50).toISOString(), at(-10).toISOString()],
        ["U1", "", ["other"], undefined, undefined],
      ],
    );
    assert.ok(!("lastUsed" in r.tokens[0]!));
    assert.ok(r.environments.every((e) => !e.findings.some((f) => f.code === "leftover")));
  });
});

describe("a token's findings", () => {
  // `ftr serve` writes one `ftr_token_finding` series a finding, labelled by token and code: two
  // findings of one code on a token would be two series with the same labels, which Prometheus
  // refuses. Every combination of what status and hygiene judge gives each code at most once.
  it("have distinct codes, for every combination of expiry, use, creator, scope, services and name", () => {
    const expiries = [undefined, at(-1), at(0), at(5), at(25), at(50), at(400), at(5000)];
    const lastUses = [undefined, at(-1), at(-100), at(-400)];
    const creations = [undefined, at(-1), at(-100), at(-1000)];
    const creators = [undefined, "u1", "gone"];
    const scopes = [["global:read"], ["global"], ["global", "purge_all"]];
    const services = [[], ["s1"], ["s1", "s2"]];
    const names = ["prod token", "stage token", "someone else's"];
    let tokens = 0;
    for (const name of names) {
      const listed: AutomationToken[] = [];
      let n = 0;
      for (const expiresAt of expiries)
        for (const lastUsedAt of lastUses)
          for (const createdAt of creations)
            for (const creatorId of creators)
              for (const sc of scopes)
                for (const sv of services)
                  listed.push(
                    token(`${name.slice(0, 4)}${n++}`, {
                      name,
                      expiresAt,
                      lastUsedAt,
                      createdAt,
                      creatorId,
                      scopes: sc,
                      services: sv,
                      limitServices: sv.length > 0,
                    }),
                  );
      for (const deployed of [
        {},
        { prod: valid(listed[0]!) },
        { prod: { status: "dead" } as DeployedState },
      ]) {
        const report = buildStatus(facts({ automationTokens: listed, deployed }), cfg, NOW);
        for (const t of report.tokens) {
          const seen = t.findings.map((f) => f.code);
          assert.equal(new Set(seen).size, seen.length, `${t.id}: ${seen.join(", ")}`);
          tokens += 1;
        }
      }
    }
    assert.ok(tokens > 10_000, `${tokens} tokens judged`);
  });
});
