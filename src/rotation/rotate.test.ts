/** The pure parts of `rotate`: the overall verdict of a run and its run id. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { finishResult, newRunId } from "./rotate.ts";
import type { EnvironmentResult } from "./steps.ts";

const env = (outcome: EnvironmentResult["outcome"]): EnvironmentResult => ({
  environment: `env-${outcome}`,
  outcome,
  runId: "r1",
  revoked: [],
  steps: [],
});

test("a run is ok when every environment rotated, kept its token, had nothing to do or was skipped", () => {
  const end = new Date("2026-01-01T00:05:00Z");
  const ok = finishResult("r1", "2026-01-01T00:00:00.000Z", () => end, [
    env("rotated"),
    env("kept-old"),
    env("nothing-to-do"),
    env("skipped"),
  ]);
  assert.equal(ok.ok, true);
  assert.equal(ok.runId, "r1");
  assert.equal(ok.startedAt, "2026-01-01T00:00:00.000Z");
  assert.equal(ok.endedAt, "2026-01-01T00:05:00.000Z");
  assert.equal(ok.environments.length, 4);
  for (const bad of ["failed", "rolled-back"] as const) {
    for (const good of ["rotated", "kept-old", "nothing-to-do", "skipped"] as const) {
      assert.equal(finishResult("r1", "s", () => end, [env(good), env(bad)]).ok, false, `${good} + ${bad}`);
      assert.equal(finishResult("r1", "s", () => end, [env(bad), env(good)]).ok, false, `${bad} + ${good}`);
    }
  }
  assert.equal(finishResult("r1", "s", () => end, []).ok, true);
});

test("a run id is the UTC time without punctuation or milliseconds, then 8 random hex digits", () => {
  const a = newRunId(new Date("2026-11-28T04:11:53.123Z"));
  assert.match(a, /^20261128T041153Z-[0-9a-f]{8}$/);
  const b = newRunId(new Date("2026-11-28T04:11:53.123Z"));
  assert.notEqual(a, b);
  assert.match(newRunId(), /^\d{8}T\d{6}Z-[0-9a-f]{8}$/);
});
