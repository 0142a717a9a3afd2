/**
 * What `status`, `plan` and `resume` say of an unfinished run, from its journal records alone:
 * which runs are unfinished, which token the secret store holds at each point of a run (and when
 * it cannot be known), and the plain description of each run.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { JournalRecord, Step, StepStatus } from "./journal.ts";
import { runStates } from "./journal.ts";
import { describeUnfinished, isInterrupted, storeHolds, unfinishedRunsOf } from "./resume.ts";

const RUN = "20261128T041153Z-1a2b3c4d";
let clock = 0;

function rec(
  step: Step,
  status: StepStatus,
  extra: Partial<JournalRecord> = {},
  runId = RUN,
  environment = "production",
): JournalRecord {
  clock += 1;
  return {
    v: 1,
    runId,
    environment,
    step,
    status,
    at: new Date(Date.UTC(2026, 10, 28, 4, 0, clock)).toISOString(),
    ...extra,
  };
}

/** A run's records up to and including `until` (each step begun and done in order). */
function runUpTo(steps: readonly [Step, StepStatus][]): JournalRecord[] {
  return [
    rec("start", "done", { deployedTokenId: "old-token-id" }),
    ...steps.map(([step, status]) =>
      rec(step, status, step === "mint" && status === "done" ? { newTokenId: "new-token-id" } : {}),
    ),
  ];
}

const only = (records: JournalRecord[]) => {
  const [run] = runStates(records);
  assert.ok(run);
  return run;
};

describe("storeHolds", () => {
  it("the deployed token until promote begins; none known while promote is under way", () => {
    assert.equal(
      storeHolds(
        only(
          runUpTo([
            ["mint", "begin"],
            ["mint", "done"],
          ]),
        ),
      ),
      "old-token-id",
    );
    assert.equal(
      storeHolds(
        only(
          runUpTo([
            ["mint", "done"],
            ["promote", "begin"],
          ]),
        ),
      ),
      undefined,
    );
    assert.equal(
      storeHolds(
        only(
          runUpTo([
            ["mint", "done"],
            ["promote", "begin"],
            ["promote", "failed"],
          ]),
        ),
      ),
      undefined,
    );
  });

  it("the new token once promote is done; none known while restore is under way; the old once restored", () => {
    const promoted: [Step, StepStatus][] = [
      ["mint", "done"],
      ["promote", "begin"],
      ["promote", "done"],
    ];
    assert.equal(storeHolds(only(runUpTo(promoted))), "new-token-id");
    assert.equal(storeHolds(only(runUpTo([...promoted, ["restore", "begin"]]))), undefined);
    assert.equal(
      storeHolds(only(runUpTo([...promoted, ["restore", "begin"], ["restore", "done"]]))),
      "old-token-id",
    );
  });

  it("a promote that is only done (no begin record) still counts as done", () => {
    assert.equal(
      storeHolds(
        only(
          runUpTo([
            ["mint", "done"],
            ["promote", "done"],
          ]),
        ),
      ),
      "new-token-id",
    );
    assert.equal(
      storeHolds(
        only(
          runUpTo([
            ["mint", "done"],
            ["promote", "done"],
            ["restore", "done"],
          ]),
        ),
      ),
      "old-token-id",
    );
  });
});

describe("unfinishedRunsOf and describeUnfinished", () => {
  it("keeps the runs without a finish, oldest first, per environment", () => {
    const records = [
      rec("start", "done", {}, "r1", "staging"),
      rec("start", "done", {}, "r1", "production"),
      rec("finish", "done", { outcome: "rotated" }, "r1", "staging"),
      rec("start", "done", {}, "r2", "staging"),
    ];
    assert.deepEqual(
      unfinishedRunsOf(records).map((r) => `${r.runId}/${r.environment}`),
      ["r1/production", "r2/staging"],
    );
    assert.deepEqual(unfinishedRunsOf([]), []);
  });

  it("describes each run by its last record, its tokens and what the store holds", () => {
    const records = runUpTo([
      ["mint", "begin"],
      ["mint", "done"],
      ["promote", "begin"],
      ["promote", "done"],
    ]);
    const [described] = describeUnfinished(unfinishedRunsOf(records));
    assert.deepEqual(described, {
      runId: RUN,
      environment: "production",
      step: "promote",
      status: "done",
      at: records[records.length - 1]?.at,
      newTokenId: "new-token-id",
      deployedTokenId: "old-token-id",
      storeHolds: "new-token-id",
    });
    const [running] = describeUnfinished(unfinishedRunsOf(records), true);
    assert.equal(running?.running, true);
  });

  it("leaves out what is not known: no tokens, no store holding, not interrupted, not running", () => {
    const records = [rec("start", "done"), rec("mint", "begin")];
    const [described] = describeUnfinished(unfinishedRunsOf(records));
    assert.deepEqual(described, {
      runId: RUN,
      environment: "production",
      step: "mint",
      status: "begin",
      at: records[1]?.at,
    });
    const promoting = [rec("start", "done", { deployedTokenId: "d" }), rec("promote", "begin")];
    assert.equal("storeHolds" in (describeUnfinished(unfinishedRunsOf(promoting))[0] ?? {}), false);
  });

  it("marks a run a signal stopped as interrupted, and no other failure", () => {
    const stopped = [rec("start", "done"), rec("verify", "failed", { detail: "interrupted by SIGTERM" })];
    assert.equal(describeUnfinished(unfinishedRunsOf(stopped))[0]?.interrupted, true);
    const failed = [
      rec("start", "done"),
      rec("verify", "failed", { detail: "verify failed: interrupted by x" }),
    ];
    assert.equal("interrupted" in (describeUnfinished(unfinishedRunsOf(failed))[0] ?? {}), false);
    assert.equal(isInterrupted({ status: "done", detail: "interrupted by SIGINT" }), false);
    assert.equal(isInterrupted({ status: "failed" }), false);
  });
});
