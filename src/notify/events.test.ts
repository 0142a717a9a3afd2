/**
 * The notification events built from what a run reports: each outcome's event, summary, error and
 * next step, the run's start and end, and what `serve` and `rotate --due` send.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { EnvironmentResult } from "../rotation/steps.ts";
import {
  approvalRequiredEvent,
  environmentEvent,
  runFinishedEvent,
  runStartedEvent,
  runUnfinishedEvent,
  tokenExpiringEvent,
} from "./events.ts";

const AT = new Date("2026-11-29T12:00:00.000Z");
const RUN = "20261129T120000Z-abcdef01";
const SECRET_VALUE = "tok-value-THIS-IS-SECRET-0123456789";

function result(over: Partial<EnvironmentResult>): EnvironmentResult {
  return { environment: "staging", outcome: "rotated", runId: RUN, revoked: [], steps: [], ...over };
}

describe("runStartedEvent", () => {
  it("names the source, the run and the environments", () => {
    assert.deepEqual(runStartedEvent("rotate", RUN, AT, ["staging", "production"]), {
      version: 1,
      event: "run-started",
      at: "2026-11-29T12:00:00.000Z",
      source: "rotate",
      runId: RUN,
      environments: ["staging", "production"],
      summary: `ftr rotate started run ${RUN}: staging, production`,
    });
  });
  it("says so when there are no environments", () => {
    assert.equal(
      runStartedEvent("resume", RUN, AT, []).summary,
      `ftr resume started run ${RUN}: no environments`,
    );
  });
});

describe("environmentEvent", () => {
  it("a skipped environment or one with nothing to do sends nothing", () => {
    assert.equal(environmentEvent(result({ outcome: "skipped" }), { source: "rotate", at: AT }), undefined);
    assert.equal(
      environmentEvent(result({ outcome: "nothing-to-do" }), { source: "rotate", at: AT }),
      undefined,
    );
  });

  it("rotated: the new and previous token, expiry, revoked ids; no error, the advice as next step", () => {
    const event = environmentEvent(
      result({
        outcome: "rotated",
        deployedTokenId: "OLD",
        newTokenId: "NEW",
        newTokenExpiresAt: "2027-11-29T12:00:00.000Z",
        revoked: ["OLD"],
        error: "a warning that is not an error",
        advice: "nothing more to do",
      }),
      { source: "rotate", at: AT, configPath: "/etc/ftr.yaml" },
    );
    assert.deepEqual(event, {
      version: 1,
      event: "environment-rotated",
      at: "2026-11-29T12:00:00.000Z",
      source: "rotate",
      runId: RUN,
      environment: "staging",
      outcome: "rotated",
      previousTokenId: "OLD",
      newTokenId: "NEW",
      newTokenExpiresAt: "2027-11-29T12:00:00.000Z",
      revokedTokenIds: ["OLD"],
      summary: "staging: rotated to token NEW (was OLD), expires 2027-11-29T12:00:00.000Z",
      nextStep: "nothing more to do",
    });
  });

  it("rotated without ids or expiry: only what is known", () => {
    assert.deepEqual(environmentEvent(result({ outcome: "rotated" }), { source: "rotate", at: AT }), {
      version: 1,
      event: "environment-rotated",
      at: "2026-11-29T12:00:00.000Z",
      source: "rotate",
      runId: RUN,
      environment: "staging",
      outcome: "rotated",
      revokedTokenIds: [],
      summary: "staging: rotated to token ?",
    });
  });

  it("kept-old: a rotation whose next step is the rollback command with the config path", () => {
    const event = environmentEvent(
      result({
        outcome: "kept-old",
        deployedTokenId: "OLD",
        newTokenId: "NEW",
        error: "x",
        advice: "ignored",
      }),
      { source: "rotate", at: AT, configPath: "/etc/ftr.yaml" },
    );
    assert.equal(event?.event, "environment-rotated");
    assert.equal(event?.outcome, "kept-old");
    assert.equal(event?.error, undefined);
    assert.equal(
      event?.summary,
      "staging: rotated to token NEW; the old token OLD is still valid (--keep-old)",
    );
    assert.equal(
      event?.nextStep,
      "ftr rollback --config /etc/ftr.yaml --env staging undoes the rotation while the old token lives",
    );
    const bare = environmentEvent(result({ outcome: "kept-old" }), { source: "rotate", at: AT });
    assert.equal(bare?.summary, "staging: rotated to token ?; the old token  is still valid (--keep-old)");
    assert.equal(
      bare?.nextStep,
      "ftr rollback --config <config file> --env staging undoes the rotation while the old token lives",
    );
  });

  it("rolled back by a failed rotation: the error and advice go in", () => {
    const event = environmentEvent(
      result({
        outcome: "rolled-back",
        deployedTokenId: "OLD",
        newTokenId: "NEW",
        revoked: ["NEW"],
        error: "verify failed",
        advice: "fix the cause and run again",
      }),
      { source: "rotate", at: AT },
    );
    assert.deepEqual(event, {
      version: 1,
      event: "environment-rolled-back",
      at: "2026-11-29T12:00:00.000Z",
      source: "rotate",
      runId: RUN,
      environment: "staging",
      outcome: "rolled-back",
      previousTokenId: "OLD",
      newTokenId: "NEW",
      revokedTokenIds: ["NEW"],
      summary: "staging: rotation failed and was rolled back to token OLD",
      error: "verify failed",
      nextStep: "fix the cause and run again",
    });
    assert.equal(
      environmentEvent(result({ outcome: "rolled-back" }), { source: "resume", at: AT })?.summary,
      "staging: rotation failed and was rolled back",
    );
  });

  it("rolled back by `ftr rollback`: a success, without error or next step", () => {
    const event = environmentEvent(
      result({
        outcome: "rolled-back",
        deployedTokenId: "OLD",
        newTokenId: "NEW",
        error: "was asked to",
        advice: "none",
      }),
      { source: "rollback", at: AT },
    );
    assert.equal(event?.event, "environment-rolled-back");
    assert.equal(event?.summary, "staging: rolled back to token OLD; NEW revoked");
    assert.equal(event?.error, undefined);
    assert.equal(event?.nextStep, undefined);
    assert.equal("error" in event, false);
    assert.equal("nextStep" in event, false);
    assert.equal(
      environmentEvent(result({ outcome: "rolled-back" }), { source: "rollback", at: AT })?.summary,
      "staging: rolled back to token ?; the new token revoked",
    );
  });

  it("failed: the error and advice; the summary names a rotation or a rollback", () => {
    const event = environmentEvent(
      result({ outcome: "failed", error: "mint failed: 403", advice: "check the key" }),
      { source: "rotate", at: AT },
    );
    assert.equal(event?.event, "environment-failed");
    assert.equal(event?.summary, "staging: rotation failed");
    assert.equal(event?.error, "mint failed: 403");
    assert.equal(event?.nextStep, "check the key");
    const rollback = environmentEvent(
      result({ outcome: "failed", error: "e", advice: "retry the rollback" }),
      {
        source: "rollback",
        at: AT,
      },
    );
    assert.equal(rollback?.summary, "staging: rollback failed");
    assert.equal(rollback?.error, "e", "a failed rollback carries its error");
    assert.equal(rollback?.nextStep, "retry the rollback", "and its advice");
    const interrupted = environmentEvent(result({ outcome: "interrupted" }), { source: "rotate", at: AT });
    assert.equal(interrupted?.event, "environment-failed");
    assert.equal("error" in interrupted, false);
  });

  it("no token value goes in, whatever the result carries beside the ids", () => {
    const event = environmentEvent(
      result({
        outcome: "failed",
        newTokenId: "NEW",
        steps: [{ step: "mint", status: "done", detail: SECRET_VALUE } as never],
        warnings: [SECRET_VALUE],
      }),
      { source: "rotate", at: AT },
    );
    assert.equal(JSON.stringify(event).includes(SECRET_VALUE), false);
  });
});

describe("runFinishedEvent", () => {
  it("every environment's outcome; ok", () => {
    assert.deepEqual(
      runFinishedEvent(
        "rotate",
        {
          runId: RUN,
          ok: true,
          environments: [
            result({ environment: "staging", outcome: "rotated", newTokenId: "NEW", advice: "done" }),
            result({ environment: "production", outcome: "nothing-to-do", error: "not due" }),
          ],
        },
        AT,
      ),
      {
        version: 1,
        event: "run-finished",
        at: "2026-11-29T12:00:00.000Z",
        source: "rotate",
        runId: RUN,
        outcome: "ok",
        summary: `ftr rotate run ${RUN} finished: staging rotated, production nothing-to-do`,
        results: [
          { environment: "staging", outcome: "rotated", newTokenId: "NEW" },
          { environment: "production", outcome: "nothing-to-do" },
        ],
      },
    );
  });

  it("failed: the errors and the first advice as next step", () => {
    const event = runFinishedEvent(
      "resume",
      {
        runId: RUN,
        ok: false,
        environments: [
          result({ environment: "a", outcome: "skipped" }),
          result({ environment: "b", outcome: "failed", error: "boom", advice: "first advice" }),
          result({ environment: "c", outcome: "failed", error: "bang", advice: "second advice" }),
        ],
      },
      AT,
    );
    assert.equal(event.outcome, "failed");
    assert.equal(event.summary, `ftr resume run ${RUN} failed: a skipped, b failed, c failed`);
    assert.deepEqual(event.results, [
      { environment: "a", outcome: "skipped" },
      { environment: "b", outcome: "failed", error: "boom" },
      { environment: "c", outcome: "failed", error: "bang" },
    ]);
    assert.equal(event.nextStep, "first advice");
  });

  it("nothing done", () => {
    const event = runFinishedEvent("rotate", { runId: RUN, ok: false, environments: [] }, AT);
    assert.equal(event.summary, `ftr rotate run ${RUN} failed: nothing done`);
    assert.equal("nextStep" in event, false);
  });
});

describe("serve's and rotate --due's events", () => {
  it("token-expiring: days left, within a day, expired; the rotate command", () => {
    const token = { environment: "production", tokenId: "T1", expiresAt: "2026-12-05T00:00:00.000Z" };
    assert.deepEqual(tokenExpiringEvent({ ...token, msLeft: 3 * 86_400_000 + 5 }, AT, "/etc/ftr.yaml"), {
      version: 1,
      event: "token-expiring",
      at: "2026-11-29T12:00:00.000Z",
      source: "serve",
      environment: "production",
      tokenId: "T1",
      expiresAt: "2026-12-05T00:00:00.000Z",
      daysLeft: 3,
      summary: "production: token T1 expires in 3 days (2026-12-05T00:00:00.000Z); rotate it",
      nextStep: "ftr rotate --config /etc/ftr.yaml --env production",
    });
    const soon = tokenExpiringEvent({ ...token, msLeft: 86_399_999 }, AT, undefined);
    assert.equal(
      soon.summary,
      "production: token T1 expires within a day (2026-12-05T00:00:00.000Z); rotate it",
    );
    assert.equal(soon.daysLeft, 0);
    assert.equal(soon.nextStep, "ftr rotate --config <config file> --env production");
    assert.equal(
      tokenExpiringEvent({ ...token, msLeft: 1 }, AT, undefined).summary,
      "production: token T1 expires within a day (2026-12-05T00:00:00.000Z); rotate it",
    );
    assert.equal(
      tokenExpiringEvent({ ...token, msLeft: 0 }, AT, undefined).summary,
      "production: token T1 has expired (2026-12-05T00:00:00.000Z); rotate it",
    );
    assert.equal(
      tokenExpiringEvent({ ...token, msLeft: 86_400_000 }, AT, undefined).summary,
      "production: token T1 expires in 1 days (2026-12-05T00:00:00.000Z); rotate it",
    );
  });

  it("run-unfinished: where the run stopped and the resume command", () => {
    const run = {
      runId: RUN,
      environment: "staging",
      step: "promote",
      status: "started",
      at: "2026-11-29T11:00:00Z",
    };
    assert.deepEqual(runUnfinishedEvent(run, AT, "/etc/ftr.yaml"), {
      version: 1,
      event: "run-unfinished",
      at: "2026-11-29T12:00:00.000Z",
      source: "serve",
      runId: RUN,
      environment: "staging",
      step: "promote",
      stepStatus: "started",
      summary: `staging: run ${RUN} stopped at promote (started, 2026-11-29T11:00:00Z) and is unfinished`,
      nextStep: "ftr resume --config /etc/ftr.yaml",
    });
    assert.equal(runUnfinishedEvent(run, AT, undefined).nextStep, "ftr resume --config <config file>");
  });

  it("approval-required: why it is due and the command a person runs", () => {
    assert.deepEqual(approvalRequiredEvent(RUN, "production", "expires in 3 days", AT, "/etc/ftr.yaml"), {
      version: 1,
      event: "approval-required",
      at: "2026-11-29T12:00:00.000Z",
      source: "rotate",
      runId: RUN,
      environment: "production",
      summary: "production: due (expires in 3 days) but needs approval; an unattended run does not rotate it",
      nextStep: "ftr rotate --config /etc/ftr.yaml --env production",
    });
    assert.equal(
      approvalRequiredEvent(RUN, "production", "r", AT, undefined).nextStep,
      "ftr rotate --config <config file> --env production",
    );
  });
});
