import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { DurationError, durationProblem, formatDuration, formatTime, parseDuration } from "./time.ts";

describe("parseDuration", () => {
  it("reads every unit", () => {
    assert.equal(parseDuration("90s"), 90_000);
    assert.equal(parseDuration("5m"), 300_000);
    assert.equal(parseDuration("2h"), 7_200_000);
    assert.equal(parseDuration("365d"), 365 * 86_400_000);
    assert.equal(parseDuration("1w"), 7 * 86_400_000);
  });

  it("reads combinations from the largest unit down", () => {
    assert.equal(parseDuration("1h30m"), 5_400_000);
    assert.equal(parseDuration("1w2d3h4m5s"), ((9 * 24 + 3) * 60 + 4) * 60_000 + 5_000);
  });

  it("rejects bare numbers, saying a unit is needed", () => {
    assert.throws(
      () => parseDuration("60"),
      (err: unknown) => {
        assert.ok(err instanceof DurationError);
        assert.match(err.message, /no unit/);
        return true;
      },
    );
  });

  it("rejects what is not in the grammar, with a reason", () => {
    for (const text of ["", "1.5h", "1 h", "-5m", "30m1h", "5ms", "1y", "h"]) {
      assert.throws(() => parseDuration(text), DurationError, text);
      assert.ok(durationProblem(text), text);
    }
    assert.match(durationProblem("1.5h") ?? "", /fractions/);
    assert.match(durationProblem("5ms") ?? "", /milliseconds/);
    assert.match(durationProblem("30m1h") ?? "", /largest down/);
  });
});

describe("formatDuration", () => {
  it("writes the config grammar, largest units first", () => {
    assert.equal(formatDuration(365 * 86_400_000), "365d");
    assert.equal(formatDuration(5_400_000), "1h30m");
    assert.equal(formatDuration(120_000), "2m");
    assert.equal(formatDuration(0), "0ms");
    assert.equal(formatDuration(250), "250ms");
    assert.equal(formatDuration(-86_400_000), "-1d");
  });

  it("writes sub-second remainders in tenths", () => {
    assert.equal(formatDuration(1_500), "1.5s");
    assert.equal(formatDuration(61_500), "1m1.5s");
    assert.equal(formatDuration(59_960), "1m");
  });

  it("round-trips whole seconds", () => {
    for (const ms of [1_000, 61_000, 3_601_000, 90 * 86_400_000 + 5_000]) {
      assert.equal(parseDuration(formatDuration(ms)), ms);
    }
  });
});

describe("formatTime", () => {
  it("writes RFC 3339 UTC without fractions", () => {
    assert.equal(formatTime(new Date("2026-11-28T04:49:11.123Z")), "2026-11-28T04:49:11Z");
  });
});
