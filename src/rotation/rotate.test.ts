/** The pure parts of `rotate`: the overall verdict of a run, its run id, its clock and resume advice. */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Config } from "../config/index.ts";
import { systemClock, type Clock } from "../adapters/support/poll.ts";
import { finishResult, newRunId, resumeHint, runClock } from "./rotate.ts";
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

test("the resume advice names the config file, or a placeholder when there is none", () => {
  assert.equal(
    resumeHint({ configPath: "/etc/ftr/ftr.yaml" } as Config),
    "ftr resume --config /etc/ftr/ftr.yaml",
  );
  assert.equal(resumeHint({} as Config), "ftr resume --config <config file>");
});

test("a run's clock: the injected one and its now, else the system clock", () => {
  const clock: Clock = { now: () => Date.parse("2026-11-28T04:11:53Z"), sleep: () => Promise.resolve() };
  const fromClock = runClock({ clock });
  assert.equal(fromClock.clock, clock);
  assert.equal(fromClock.now().toISOString(), "2026-11-28T04:11:53.000Z");
  const fixed = () => new Date("2030-01-01T00:00:00Z");
  const both = runClock({ clock, now: fixed });
  assert.equal(both.now, fixed);
  const neither = runClock({});
  assert.equal(neither.clock, systemClock);
  assert.ok(Math.abs(neither.now().getTime() - Date.now()) < 24 * 3600_000);
});
