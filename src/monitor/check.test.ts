import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { UnfinishedRun } from "../plan/plan.ts";
import { checkReport, shellQuote } from "./check.ts";
import type { EnvironmentStatus, Finding, StatusReport, TokenStatus } from "./status.ts";

const DAY = 86_400_000;
const NOW = "2026-12-01T00:00:00.000Z";
const at = (days: number) => new Date(Date.parse(NOW) + days * DAY).toISOString();

/** Partial, a field given as undefined left out (never expires, never used). */
type Loose<T> = { [K in keyof T]?: T[K] | undefined };
const defined = <T>(o: object): T =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
function token(id: string, over: Loose<TokenStatus> = {}): TokenStatus {
  const daysLeft = 100;
  return defined<TokenStatus>({
    id,
    name: `${id} name`,
    role: "engineer",
    scopes: ["global"],
    services: [],
    allServices: false,
    expiresAt: at(daysLeft),
    msLeft: daysLeft * DAY,
    daysLeft,
    managed: true,
    deployedIn: [],
    rotateBeforeMs: 30 * DAY,
    lifetimeMs: 365 * DAY,
    findings: [],
    ...over,
  });
}

/** A token expiring in `days` (negative: expired). */
const expiring = (id: string, days: number, over: Partial<TokenStatus> = {}) =>
  token(id, { expiresAt: at(days), msLeft: days * DAY, daysLeft: Math.floor(days), ...over });

function env(name: string, over: Partial<EnvironmentStatus> = {}): EnvironmentStatus {
  return {
    name,
    tokenName: `${name} token`,
    rotateBeforeMs: 30 * DAY,
    managedTokenIds: [],
    deployed: { status: "absent" },
    findings: [],
    ...over,
  };
}

function report(over: Partial<StatusReport> = {}): StatusReport {
  return {
    generatedAt: NOW,
    scope: "account",
    tokens: [],
    environments: [],
    summary: { critical: 0, warning: 0, info: 0 },
    ...over,
  };
}

const opts = { configPath: "ftr.yaml" };

describe("shellQuote", () => {
  it("leaves plain words alone and quotes the rest, quotes included", () => {
    assert.equal(shellQuote("prod-1/a.yaml"), "prod-1/a.yaml");
    assert.equal(shellQuote("a b"), "'a b'");
    assert.equal(shellQuote("it's"), "'it'\\''s'");
    assert.equal(shellQuote("x;y"), "'x;y'");
    assert.equal(shellQuote(""), "''");
    // Anchored at both ends: a word with a space after plain characters is still quoted.
    assert.equal(shellQuote("a b c"), "'a b c'");
    assert.equal(shellQuote(" a"), "' a'");
    assert.equal(shellQuote("a "), "'a '");
    assert.equal(shellQuote("a'b'c"), "'a'\\''b'\\''c'");
  });
});

describe("checkReport: the deployed token", () => {
  it("passes a deployed token outside its window, naming it as the next expiry", () => {
    const t = expiring("T1", 40, { environment: "prod" });
    const r = checkReport(
      report({
        tokens: [t],
        environments: [
          env("prod", { deployed: { status: "valid", tokenId: "T1", tokenName: "n", managed: true } }),
        ],
      }),
      opts,
    );
    assert.equal(r.ok, true);
    assert.deepEqual(r.findings, []);
    assert.equal(r.checkedTokens, 1);
    assert.deepEqual(r.next, { tokenId: "T1", environment: "prod", expiresAt: at(40) });
    assert.equal(r.checkedAt, NOW);
    assert.equal(r.scope, "account");
    assert.equal(r.environments.length, 1);
    assert.equal(r.environments[0]?.environment, "prod");
    assert.equal(r.environments[0]?.state, "ok");
  });

  it("fails a deployed token inside the environment's window, with the fix", () => {
    const t = expiring("T1", 10);
    const r = checkReport(
      report({
        tokens: [t],
        environments: [
          env("my prod", {
            rotateBeforeMs: 20 * DAY,
            deployed: { status: "valid", tokenId: "T1", tokenName: "n", managed: true },
          }),
        ],
      }),
      { configPath: "my conf.yaml" },
    );
    assert.equal(r.ok, false);
    assert.equal(r.findings.length, 1);
    const f = r.findings[0]!;
    assert.equal(f.reason, "expiring");
    assert.equal(f.environment, "my prod");
    assert.equal(f.tokenId, "T1");
    assert.equal(f.tokenName, "T1 name");
    assert.equal(f.expiresAt, at(10));
    assert.equal(f.fix, "ftr rotate --config 'my conf.yaml' --env 'my prod'");
    assert.equal(
      f.message,
      `my prod: token T1 expires ${at(10).slice(0, 10)} (in 10 days), within 20 days; fix: ftr rotate --config 'my conf.yaml' --env 'my prod'`,
    );
    assert.equal(r.next, undefined);
  });

  it("uses the environment's window, not the token's, and --within over both", () => {
    const t = expiring("T1", 25, { rotateBeforeMs: 10 * DAY });
    const base = report({
      tokens: [t],
      environments: [
        env("prod", {
          rotateBeforeMs: 30 * DAY,
          deployed: { status: "valid", tokenId: "T1", tokenName: "n", managed: true },
        }),
      ],
    });
    assert.equal(checkReport(base, opts).findings[0]?.reason, "expiring");
    assert.equal(checkReport(base, { ...opts, withinMs: 20 * DAY }).ok, true);
    const within = checkReport(base, { ...opts, withinMs: 26 * DAY }).findings[0];
    assert.match(within?.message ?? "", /within 26 days/);
  });

  it("fails at exactly the window and passes one millisecond outside it", () => {
    const mk = (ms: number) =>
      checkReport(
        report({
          tokens: [token("T1", { msLeft: ms })],
          environments: [
            env("e", { deployed: { status: "valid", tokenId: "T1", tokenName: "n", managed: true } }),
          ],
        }),
        opts,
      );
    assert.equal(mk(30 * DAY).ok, false);
    assert.equal(mk(30 * DAY + 1).ok, true);
  });

  it("says expired, and how long ago, for a token past its expiry; zero left is expired", () => {
    const r = checkReport(
      report({
        tokens: [expiring("T1", -3)],
        environments: [
          env("e", { deployed: { status: "valid", tokenId: "T1", tokenName: "n", managed: true } }),
        ],
      }),
      opts,
    );
    const f = r.findings[0]!;
    assert.equal(f.reason, "expired");
    assert.equal(
      f.message,
      `e: token T1 expired ${at(-3).slice(0, 10)} (3 days ago); fix: ftr rotate --config ftr.yaml --env e`,
    );
    const zero = checkReport(
      report({
        tokens: [token("T1", { msLeft: 0 })],
        environments: [
          env("e", { deployed: { status: "valid", tokenId: "T1", tokenName: "n", managed: true } }),
        ],
      }),
      opts,
    );
    assert.equal(zero.findings[0]?.reason, "expired");
  });

  it("counts days: one day, less than a day, rounding down", () => {
    const msg = (ms: number) =>
      checkReport(
        report({
          tokens: [token("T1", { msLeft: ms, expiresAt: at(1) })],
          environments: [
            env("e", { deployed: { status: "valid", tokenId: "T1", tokenName: "n", managed: true } }),
          ],
        }),
        opts,
      ).findings[0]?.message ?? "";
    assert.match(msg(DAY + 5), /\(in 1 day\), within 30 days/);
    assert.match(msg(DAY - 1), /\(in less than a day\)/);
    assert.match(msg(2 * DAY - 1), /\(in 1 day\)/);
    assert.match(msg(-DAY - 1), /\(1 day ago\)/);
    assert.match(msg(-1), /\(less than a day ago\)/);
  });

  it("never fails a token that never expires, and does not name it next", () => {
    const t = token("T1", { msLeft: undefined, expiresAt: undefined, daysLeft: undefined });
    const r = checkReport(
      report({
        tokens: [t],
        environments: [
          env("e", { deployed: { status: "valid", tokenId: "T1", tokenName: "n", managed: true } }),
        ],
      }),
      { ...opts, withinMs: 10_000 * DAY },
    );
    assert.equal(r.ok, true);
    assert.equal(r.next, undefined);
    assert.equal(r.checkedTokens, 1);
  });

  it("judges a deployed token missing from the listing by what it said about itself", () => {
    const r = checkReport(
      report({
        tokens: [],
        environments: [
          env("e", {
            deployed: {
              status: "valid",
              tokenId: "U1",
              tokenName: "user's",
              managed: false,
              expiresAt: at(5),
            },
          }),
        ],
      }),
      opts,
    );
    assert.equal(r.checkedTokens, 1);
    const f = r.findings[0]!;
    assert.equal(f.reason, "expiring");
    assert.equal(f.tokenId, "U1");
    assert.equal(f.tokenName, "user's");
    assert.equal(f.environment, "e");
    assert.equal(f.expiresAt, at(5));
    assert.match(f.message, /\(in 5 days\)/);
    // Without an expiry, the self-described token is fine and not next.
    const never = checkReport(
      report({
        environments: [
          env("e", { deployed: { status: "valid", tokenId: "U1", tokenName: "u", managed: false } }),
        ],
      }),
      opts,
    );
    assert.equal(never.ok, true);
    assert.equal(never.next, undefined);
    // A self-described token far from expiry is next, with its environment.
    const far = checkReport(
      report({
        environments: [
          env("e", {
            deployed: { status: "valid", tokenId: "U1", tokenName: "u", managed: false, expiresAt: at(90) },
          }),
        ],
      }),
      opts,
    );
    assert.deepEqual(far.next, { tokenId: "U1", environment: "e", expiresAt: at(90) });
  });

  it("checks a token two environments deploy once", () => {
    const t = expiring("T1", 5);
    const valid = { status: "valid", tokenId: "T1", tokenName: "n", managed: true } as const;
    const r = checkReport(
      report({ tokens: [t], environments: [env("a", { deployed: valid }), env("b", { deployed: valid })] }),
      opts,
    );
    assert.equal(r.checkedTokens, 1);
    assert.equal(r.findings.length, 1);
    assert.equal(r.findings[0]?.environment, "a");
  });
});

describe("checkReport: stores that do not say", () => {
  it("fails a dead deployed token, with its id and reason, and an absent one", () => {
    const r = checkReport(
      report({
        environments: [
          env("a", { deployed: { status: "dead", reason: "401", tokenId: "D1" } }),
          env("b", { deployed: { status: "dead" } }),
          env("c", { deployed: { status: "absent" } }),
        ],
      }),
      opts,
    );
    assert.deepEqual(
      r.findings.map((f) => [f.environment, f.reason, f.tokenId, f.fix]),
      [
        ["a", "dead", "D1", "ftr rotate --config ftr.yaml --env a"],
        ["b", "dead", undefined, "ftr rotate --config ftr.yaml --env b"],
        ["c", "absent", undefined, "ftr rotate --config ftr.yaml --env c"],
      ],
    );
    assert.equal(
      r.findings[0]?.message,
      "a: the deployed token D1 is refused by Fastly (401); fix: ftr rotate --config ftr.yaml --env a",
    );
    assert.equal(
      r.findings[1]?.message,
      "b: the deployed token is refused by Fastly (dead); fix: ftr rotate --config ftr.yaml --env b",
    );
    assert.equal(
      r.findings[2]?.message,
      "c: the secret store holds no token; fix: ftr rotate --config ftr.yaml --env c",
    );
    assert.ok(!("tokenId" in r.findings[1]));
    assert.equal(r.checkedTokens, 0);
  });

  it("judges the newest managed token of a write-only store, and fails when there is none", () => {
    const old = expiring("OLD", 3);
    const fresh = expiring("NEW", 60);
    const wo = (ids: string[]) =>
      env("gh", { managedTokenIds: ids, deployed: { status: "write-only", reason: "a GitHub secret" } });
    const ok = checkReport(report({ tokens: [old, fresh], environments: [wo(["OLD", "NEW"])] }), opts);
    assert.equal(ok.ok, true);
    assert.equal(ok.checkedTokens, 1);
    assert.equal(ok.next?.tokenId, "NEW");
    const due = checkReport(report({ tokens: [old, fresh], environments: [wo(["NEW", "OLD"])] }), opts);
    assert.equal(due.findings[0]?.tokenId, "OLD");
    assert.equal(due.findings[0]?.environment, "gh");
    const none = checkReport(report({ tokens: [old], environments: [wo([])] }), opts);
    assert.deepEqual(
      none.findings.map((f) => [f.reason, f.environment, f.fix]),
      [["absent", "gh", "ftr rotate --config ftr.yaml --env gh"]],
    );
    assert.match(none.findings[0]?.message ?? "", /^gh: no token named "gh token" exists/);
    // An id the listing does not hold is no token either.
    const gone = checkReport(report({ tokens: [], environments: [wo(["GONE"])] }), opts);
    assert.equal(gone.findings[0]?.reason, "absent");
  });

  it("takes a write-only store without a listing as unknown", () => {
    const r = checkReport(
      report({
        scope: "deployed-only",
        environments: [env("gh", { deployed: { status: "write-only", reason: "a GitHub secret" } })],
      }),
      opts,
    );
    assert.deepEqual(
      r.findings.map((f) => f.reason),
      ["unknown"],
    );
    assert.equal(
      r.findings[0]?.message,
      "gh: cannot tell which token is deployed (a GitHub secret); run `ftr status --config ftr.yaml`",
    );
    assert.equal(r.findings[0]?.fix, undefined);
    assert.equal(r.scope, "deployed-only");
  });

  it("judges every managed token of an unknown store by its own window", () => {
    const r = checkReport(
      report({
        tokens: [
          expiring("A", 5, { rotateBeforeMs: 3 * DAY }),
          expiring("B", 5, { rotateBeforeMs: 7 * DAY }),
        ],
        environments: [
          env("e", {
            rotateBeforeMs: 100 * DAY,
            managedTokenIds: ["A", "B", "MISSING"],
            deployed: { status: "unreadable" },
          }),
        ],
      }),
      opts,
    );
    assert.deepEqual(
      r.findings.map((f) => [f.reason, f.tokenId]),
      [
        ["unknown", undefined],
        ["expiring", "B"],
      ],
    );
    assert.match(r.findings[0]?.message ?? "", /\(unreadable\)/);
    assert.equal(r.checkedTokens, 2);
    assert.equal(r.next?.tokenId, "A");
  });
});

describe("checkReport: the credential and unfinished runs", () => {
  it("fails a refused credential, telling 401 from 403", () => {
    const r401 = checkReport(report({ credentialRefused: 401 }), opts);
    assert.equal(r401.ok, false);
    assert.equal(r401.findings[0]?.reason, "refused");
    assert.match(r401.findings[0]?.message ?? "", /\(401: revoked, expired or mistyped\?\)/);
    const r403 = checkReport(report({ credentialRefused: 403 }), opts);
    assert.match(r403.findings[0]?.message ?? "", /\(403: not a superuser's user token\?\)/);
    assert.equal(checkReport(report(), opts).ok, true);
  });

  it("fails each stopped run first, with how it stopped; a running one is not a failure", () => {
    const run = (over: Partial<UnfinishedRun>): UnfinishedRun => ({
      runId: "r1",
      environment: "prod",
      step: "promote",
      status: "begin",
      at: "2026-11-30T10:00:00.123Z",
      ...over,
    });
    const r = checkReport(
      report({
        environments: [env("prod", { deployed: { status: "absent" } })],
        unfinished: [
          run({}),
          run({ runId: "r2", status: "failed" }),
          run({ runId: "r3", status: "failed", interrupted: true }),
          run({ runId: "r4", status: "done", step: "verify" }),
          run({ runId: "r5", running: true }),
        ],
      }),
      { configPath: "a b.yaml" },
    );
    assert.deepEqual(
      r.findings.map((f) => [f.reason, f.runId, f.step, f.environment]),
      [
        ["unfinished", "r1", "promote", "prod"],
        ["unfinished", "r2", "promote", "prod"],
        ["unfinished", "r3", "promote", "prod"],
        ["unfinished", "r4", "verify", "prod"],
        ["absent", undefined, undefined, "prod"],
      ],
    );
    const fix = "ftr resume --config 'a b.yaml'";
    assert.equal(
      r.findings[0]?.message,
      `prod: run r1 stopped at promote (begun) at 2026-11-30T10:00:00Z and is unfinished; fix: ${fix}`,
    );
    assert.match(r.findings[1]?.message ?? "", /promote \(failed\) at/);
    assert.match(r.findings[2]?.message ?? "", /promote \(interrupted\) at/);
    assert.match(r.findings[3]?.message ?? "", /stopped at verify at 2026/);
    assert.equal(r.findings[0]?.fix, fix);
  });
});

describe("checkReport --all", () => {
  const hygiene = (code: Finding["code"], severity: Finding["severity"], fix?: string): Finding => ({
    code,
    severity,
    message: `${code} says`,
    ...(fix ? { fix } : {}),
  });

  it("judges every token, unmanaged ones with no fix command", () => {
    const r = checkReport(
      report({
        tokens: [
          expiring("U", 5, { managed: false, name: "stray" }),
          expiring("M", 5, { environment: "prod" }),
          expiring("F", 50, { managed: false }),
        ],
      }),
      { ...opts, all: true },
    );
    assert.equal(r.checkedTokens, 3);
    assert.deepEqual(
      r.findings.map((f) => [f.tokenId, f.environment, f.fix]),
      [
        ["U", undefined, undefined],
        ["M", "prod", "ftr rotate --config ftr.yaml --env prod"],
      ],
    );
    assert.equal(
      r.findings[0]?.message,
      `unmanaged: token U expires ${at(5).slice(0, 10)} (in 5 days), within 30 days; "stray" is not in the config: rotate it by hand or add an environment for it`,
    );
    assert.ok(!("environment" in r.findings[0]));
    assert.ok(!("fix" in r.findings[0]));
    assert.deepEqual(r.next, { tokenId: "F", expiresAt: at(50) });
    // Without --all, tokens no environment deploys are not looked at.
    assert.equal(checkReport(report({ tokens: [expiring("U", 5)] }), opts).ok, true);
    assert.equal(checkReport(report({ tokens: [expiring("U", 5)] }), opts).checkedTokens, 0);
  });

  it("fails a hygiene warning or worse, not a note and not another kind of finding", () => {
    const r = checkReport(
      report({
        tokens: [
          token("H", {
            environment: "prod",
            findings: [
              hygiene("unused", "warning", "revoke it"),
              hygiene("global-scope", "info"),
              hygiene("expiring", "warning"),
              hygiene("creator-gone", "critical"),
            ],
          }),
        ],
      }),
      { ...opts, all: true },
    );
    assert.deepEqual(
      r.findings.map((f) => [f.reason, f.code, f.fix, f.environment, f.tokenName, f.expiresAt]),
      [
        ["hygiene", "unused", "revoke it", "prod", "H name", at(100)],
        ["hygiene", "creator-gone", undefined, "prod", "H name", at(100)],
      ],
    );
    assert.equal(r.findings[0]?.message, `prod: token H ("H name") unused says; fix: revoke it`);
    assert.equal(r.findings[1]?.message, `prod: token H ("H name") creator-gone says`);
    assert.ok(!("fix" in r.findings[1]));
    // A hygiene finding does not stop the token being the next expiry.
    assert.equal(r.next?.tokenId, "H");
    const unmanaged = checkReport(
      report({
        tokens: [
          token("X", { expiresAt: undefined, msLeft: undefined, findings: [hygiene("unused", "warning")] }),
        ],
      }),
      { ...opts, all: true },
    );
    assert.equal(unmanaged.findings[0]?.message, `unmanaged: token X ("X name") unused says`);
    assert.ok(!("environment" in unmanaged.findings[0]));
    assert.ok(!("expiresAt" in unmanaged.findings[0]));
  });

  it("names the soonest fine token as next, skipping the failing ones", () => {
    const r = checkReport(
      report({
        tokens: [expiring("late", 90), expiring("soon", 40), expiring("due", 2), expiring("mid", 60)],
      }),
      { ...opts, all: true },
    );
    assert.equal(r.next?.tokenId, "soon");
    assert.equal(r.findings.length, 1);
  });

  it("names as next an expiring token before one that never expires", () => {
    const r = checkReport(
      report({ tokens: [token("N", { msLeft: undefined, expiresAt: undefined }), expiring("E", 70)] }),
      { ...opts, all: true },
    );
    assert.equal(r.next?.tokenId, "E");
  });
});

describe("checkReport: a write-only store of three tokens", () => {
  it("judges the newest, the last of the managed ids", () => {
    const r = checkReport(
      report({
        tokens: [expiring("A", 90), expiring("B", 2), expiring("C", 80)],
        environments: [
          env("gh", {
            managedTokenIds: ["A", "B", "C"],
            deployed: { status: "write-only", reason: "a GitHub secret" },
          }),
        ],
      }),
      opts,
    );
    assert.equal(r.ok, true);
    assert.equal(r.next?.tokenId, "C");
  });
});
