import assert from "node:assert/strict";
import { describe, it, test } from "node:test";
import { parseConfig } from "../config/index.ts";
import type { Config } from "../config/types.ts";
import type { AutomationToken, Service, TokenSelf } from "../fastly/types.ts";
import {
  daysLeft,
  makePlan,
  resolveServices,
  unfinishedLine,
  type DeployedState,
  type LiveState,
} from "./plan.ts";

const NOW = new Date("2026-11-22T12:00:00Z");
const DAY = 86_400_000;

const config: Config = (() => {
  const result = parseConfig(
    `
version: 1
environments:
  - name: integration
    token:
      name: exporter integration
      services: { nameMatches: "[Ii]ntegration" }
    secret: { type: file, path: ./integration }
    verify: [{ type: token-in-use }]
  - name: staging
    token:
      name: exporter staging
      services: { ids: [svcStg] }
    secret: { type: file, path: ./staging }
    verify: [{ type: token-in-use }]
`,
    { baseDir: "/tmp/ftr-plan-test" },
  );
  assert.deepEqual(result.errors, []);
  return result.config as Config;
})();

const services: Service[] = [
  { id: "svcInt1", name: "www Integration" },
  { id: "svcInt2", name: "assets integration" },
  { id: "svcStg", name: "www Staging" },
];

function token(id: string, name: string, over: Partial<AutomationToken> = {}): AutomationToken {
  return {
    id,
    name,
    role: "engineer",
    scopes: ["global:read"],
    services: name.includes("integration") ? ["svcInt1", "svcInt2"] : ["svcStg"],
    expiresAt: new Date(NOW.getTime() + 200 * DAY),
    ...over,
  };
}

function self(t: AutomationToken): TokenSelf {
  return {
    id: t.id,
    name: t.name,
    scopes: t.scopes,
    services: t.services,
    ...(t.expiresAt ? { expiresAt: t.expiresAt } : {}),
  };
}

function state(tokens: AutomationToken[], deployed: Record<string, DeployedState>): LiveState {
  return { automationTokens: tokens, services, deployed };
}

const plan = (s: LiveState, opts: { force?: boolean; only?: string[] } = {}) =>
  makePlan(s, config, { now: NOW, ...opts });

describe("makePlan", () => {
  test("nothing to do when the deployed managed token is far from expiry and as configured", () => {
    const int = token("int1", "exporter integration");
    const stg = token("stg1", "exporter staging");
    const p = plan(
      state([int, stg], {
        integration: { status: "valid", token: self(int) },
        staging: { status: "valid", token: self(stg) },
      }),
    );
    assert.deepEqual(
      p.environments.map((e) => [e.environment, e.decision, e.rotate]),
      [
        ["integration", "ok", false],
        ["staging", "ok", false],
      ],
    );
    assert.match(p.environments[0]!.reasons[0]!, /valid until .* \(in 200 days\)/);
  });

  test("due within rotateBefore, with the token to create and the ones to revoke", () => {
    const int = token("int1", "exporter integration", { expiresAt: new Date(NOW.getTime() + 10 * DAY) });
    const p = plan(state([int], { integration: { status: "valid", token: self(int) } }), {
      only: ["integration"],
    });
    const env = p.environments[0]!;
    assert.equal(env.decision, "due");
    assert.equal(env.rotate, true);
    assert.deepEqual(env.create, {
      name: "exporter integration",
      role: "engineer",
      scope: "global:read",
      services: ["svcInt1", "svcInt2"],
      expiresAt: "2027-11-22T12:00:00Z",
      tlsAccess: false,
    });
    assert.deepEqual(env.revoke, ["int1"]);
    assert.deepEqual(
      env.services.map((s) => s.name),
      ["assets integration", "www Integration"],
    );
  });

  test("forced only with --force", () => {
    const int = token("int1", "exporter integration");
    const s = state([int], { integration: { status: "valid", token: self(int) } });
    assert.equal(plan(s, { only: ["integration"] }).environments[0]!.decision, "ok");
    assert.equal(plan(s, { only: ["integration"], force: true }).environments[0]!.decision, "forced");
  });

  test("missing when the store is empty or the deployed value is refused", () => {
    assert.equal(
      plan(state([], { integration: { status: "absent" } }), { only: ["integration"] }).environments[0]!
        .decision,
      "missing",
    );
    const dead = plan(state([], { integration: { status: "dead", reason: "expired" } }), {
      only: ["integration"],
    }).environments[0]!;
    assert.equal(dead.decision, "missing");
    assert.match(dead.reasons[0]!, /refused by Fastly \(expired\)/);
  });

  test("drifted on scope, services, or a deployed token that is not managed (which is then revoked too)", () => {
    const wide = token("int1", "exporter integration", { scopes: ["global"] });
    const p1 = plan(state([wide], { integration: { status: "valid", token: self(wide) } }), {
      only: ["integration"],
    });
    assert.equal(p1.environments[0]!.decision, "drifted");
    assert.match(p1.environments[0]!.reasons[0]!, /scope is "global"/);

    const fewer = token("int1", "exporter integration", { services: ["svcInt1"] });
    const p2 = plan(state([fewer], { integration: { status: "valid", token: self(fewer) } }), {
      only: ["integration"],
    });
    assert.match(p2.environments[0]!.reasons[0]!, /services differ .*lacks svcInt2/);

    const other = token("x1", "hand-made token", { services: ["svcInt1", "svcInt2"] });
    const managed = token("int1", "exporter integration");
    const p3 = plan(state([other, managed], { integration: { status: "valid", token: self(other) } }), {
      only: ["integration"],
    });
    assert.equal(p3.environments[0]!.decision, "drifted");
    assert.deepEqual(p3.environments[0]!.revoke, ["int1", "x1"]);
  });

  test("leftover tokens under the managed name are reported and revoked by the next rotation", () => {
    const a = token("int1", "exporter integration");
    const b = token("int0", "exporter integration");
    const env = plan(state([a, b], { integration: { status: "valid", token: self(a) } }), {
      only: ["integration"],
    }).environments[0]!;
    assert.equal(env.decision, "ok");
    assert.ok(env.reasons.some((r) => r.includes("1 other token(s)") && r.includes("int0")));
  });

  test("an error when the selector matches no service or the store cannot be read", () => {
    const noServices = makePlan(
      { automationTokens: [], services: [{ id: "a", name: "other" }], deployed: {} },
      config,
      {
        now: NOW,
        only: ["integration"],
      },
    );
    assert.equal(noServices.environments[0]!.decision, "error");
    assert.match(noServices.environments[0]!.errors[0]!, /no service name matches/);
    const unreadable = plan(state([], { integration: { status: "unreadable", reason: "EACCES" } }), {
      only: ["integration"],
    });
    assert.equal(unreadable.environments[0]!.decision, "error");
    assert.equal(unreadable.environments[0]!.rotate, false);
  });

  test("is pure: the same inputs give the same plan", () => {
    const s = state([], { integration: { status: "absent" }, staging: { status: "absent" } });
    assert.deepEqual(plan(s), plan(s));
  });
});

test("resolveServices", () => {
  assert.deepEqual(resolveServices({ kind: "all" }, services), { matched: [] });
  assert.match(resolveServices({ kind: "ids", ids: ["nope"] }, services).error ?? "", /nope do not exist/);
});

test("daysLeft", () => {
  assert.equal(daysLeft(new Date(NOW.getTime() + 3.5 * DAY), NOW), "in 3 days");
  assert.equal(daysLeft(new Date(NOW.getTime() - 2 * DAY), NOW), "2 days ago");
});

describe("makePlan: unfinished runs and --due", () => {
  const int = token("int1", "exporter integration", { expiresAt: new Date(NOW.getTime() + 10 * DAY) });
  const stg = token("stg1", "exporter staging", { scopes: ["global"] });
  const live = state([int, stg], {
    integration: { status: "valid", token: self(int) },
    staging: { status: "valid", token: self(stg) },
  });

  test("an environment with an unfinished run is planned as unfinished, nothing else", () => {
    const p = makePlan(live, config, {
      now: NOW,
      force: true,
      resumeHint: "ftr resume --config ftr.yaml",
      unfinished: [
        { runId: "r1", environment: "integration", step: "reload", status: "begin", at: NOW.toISOString() },
      ],
    });
    const env = p.environments[0]!;
    assert.deepEqual([env.decision, env.rotate, env.revoke], ["unfinished", false, []]);
    assert.match(
      env.reasons[0]!,
      /run r1 of integration stopped at reload \(begun\) .* run `ftr resume --config ftr.yaml`/,
    );
    assert.equal(p.unfinished.length, 1);
    // The other environment is planned as usual.
    assert.equal(p.environments[1]!.decision, "drifted");
  });

  test("--due rotates what is due and leaves what is only drifted, saying why", () => {
    const p = makePlan(live, config, { now: NOW, dueOnly: true });
    assert.deepEqual(
      p.environments.map((e) => [e.environment, e.decision, e.rotate]),
      [
        ["integration", "due", true],
        ["staging", "drifted", false],
      ],
    );
    assert.match(p.environments[1]!.reasons.at(-1)!, /not rotated by --due/);
  });

  test("--due rotates a deployed token Fastly refuses, not an empty store", () => {
    const p = makePlan(
      state([], {
        integration: { status: "dead", reason: "401" },
        staging: { status: "absent" },
      }),
      config,
      { now: NOW, dueOnly: true },
    );
    assert.deepEqual(
      p.environments.map((e) => [e.decision, e.rotate]),
      [
        ["missing", true],
        ["missing", false],
      ],
    );
  });
});

describe("a store that cannot be read back", () => {
  const writeOnly: DeployedState = {
    status: "write-only",
    reason: "github-actions secret X cannot be read back, so which token it holds cannot be compared",
  };
  const state = (tokens: AutomationToken[]): LiveState => ({
    automationTokens: tokens,
    services,
    deployed: { integration: writeOnly, staging: { status: "absent" } },
  });
  const integration = (tokens: AutomationToken[], force = false) =>
    makePlan(state(tokens), config, { now: NOW, force, only: ["integration"] }).environments[0]!;

  test("takes the newest managed token as the deployed one, and says before anything runs what a failure means", () => {
    const older = token("tOld", "exporter integration", { createdAt: new Date(NOW.getTime() - 300 * DAY) });
    const newer = token("tNew", "exporter integration", {
      createdAt: new Date(NOW.getTime() - 10 * DAY),
      expiresAt: new Date(NOW.getTime() + 5 * DAY),
    });
    const plan = integration([older, newer]);
    assert.equal(plan.decision, "due");
    assert.deepEqual(plan.deployed, {
      status: "write-only",
      reason: writeOnly.reason,
      assumedTokenId: "tNew",
    });
    assert.match(
      plan.reasons[0] ?? "",
      /newest token named "exporter integration", tNew, taken to be the deployed one, expires/,
    );
    assert.match(
      plan.notes?.[0] ?? "",
      /cannot be restored.*new token stays deployed, the old token\(s\) stay valid.*unfinished.*revoked only after the verifiers prove/,
    );
    assert.deepEqual(
      [...plan.revoke].sort(),
      ["tNew", "tOld"],
      "every managed token, revoked only after verification",
    );
    assert.match(plan.reasons.join(" "), /1 other token\(s\).*tOld/);
  });

  test("nothing due is ok; --force rotates; no managed token is missing", () => {
    const fresh = token("tNew", "exporter integration", { createdAt: new Date(NOW.getTime() - DAY) });
    assert.equal(integration([fresh]).decision, "ok");
    assert.equal(integration([fresh], true).decision, "forced");
    const none = integration([]);
    assert.equal(none.decision, "missing");
    assert.ok(none.rotate);
    assert.equal(none.notes?.length, 1);
  });
});

describe("unfinishedLine: an interrupt is not a failure", () => {
  const run = {
    runId: "r1",
    environment: "staging",
    step: "reload",
    status: "failed" as const,
    at: "2026-12-06T12:00:00.000Z",
  };
  it("says interrupted for a step a signal stopped, failed for one that failed", async () => {
    const { isInterrupted } = await import("../rotation/resume.ts");
    assert.equal(isInterrupted({ status: "failed", detail: "interrupted by SIGINT: aborted" }), true);
    assert.equal(isInterrupted({ status: "failed", detail: "exit 1" }), false);
    assert.match(unfinishedLine({ ...run, interrupted: true }), /stopped at reload \(interrupted\)/);
    assert.match(unfinishedLine(run), /stopped at reload \(failed\)/);
  });
});
