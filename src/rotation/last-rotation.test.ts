/**
 * What the journal says of each environment's last rotation, and a state directory that exists
 * already: the cases `journal.test.ts` and `state-dir.test.ts` leave out.
 */
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { lastRotationsOf, type JournalRecord } from "./journal.ts";
import { ensureStateDir } from "./state-dir.ts";

const rec = (
  runId: string,
  step: JournalRecord["step"],
  at: string,
  more: Partial<JournalRecord> = {},
): JournalRecord => ({
  v: 1,
  runId,
  environment: "prod",
  step,
  status: "done",
  at,
  ...more,
});

test("a run left awaiting approval is not the environment's last rotation", () => {
  const records = [
    rec("r1", "start", "2026-12-01T00:00:00.000Z"),
    rec("r1", "finish", "2026-12-01T00:01:00.000Z", { outcome: "rotated", newTokenId: "NEW" }),
    rec("r2", "start", "2026-12-02T00:00:00.000Z"),
    rec("r2", "finish", "2026-12-02T00:00:01.000Z", { outcome: "awaiting-approval" }),
  ];
  assert.deepEqual(lastRotationsOf(records), [
    {
      environment: "prod",
      runId: "r1",
      outcome: "rotated",
      at: "2026-12-01T00:01:00.000Z",
      newTokenId: "NEW",
    },
  ]);
});

test("an existing state directory keeps its mode; only one this call creates is set to 0700", () => {
  const dir = join(mkdtempSync(join(tmpdir(), "ftr-state-mode-")), "state");
  mkdirSync(dir);
  chmodSync(dir, 0o750);
  ensureStateDir(dir);
  assert.equal(statSync(dir).mode & 0o777, 0o750);
});
