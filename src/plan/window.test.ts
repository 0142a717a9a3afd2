import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkTimeZone, parseWindow, windowState, WindowError } from "./window.ts";

const at = (iso: string) => new Date(iso);

describe("parseWindow", () => {
  it("reads days, ranges of days, lists and a time range", () => {
    const w = parseWindow("Mon-Thu 09:30-16:00");
    assert.deepEqual([...w.days].sort(), [1, 2, 3, 4]);
    assert.equal(w.start, 9 * 60 + 30);
    assert.equal(w.end, 16 * 60);
    assert.deepEqual([...parseWindow("mon,wed,Fri 10:00-12:00").days].sort(), [1, 3, 5]);
    assert.deepEqual([...parseWindow("Fri-Mon 10:00-12:00").days].sort(), [0, 1, 5, 6]);
    assert.equal(parseWindow("daily 00:00-24:00").end, 1440);
    assert.equal(parseWindow("08:00-09:00").days.size, 7);
  });

  it("refuses what it cannot read, naming the part", () => {
    assert.throws(() => parseWindow("Mon-Thu"), /not a time range/);
    assert.throws(() => parseWindow("Mon-Thx 09:00-10:00"), /"thx" is not a day/);
    assert.throws(() => parseWindow("Mon 25:00-26:00"), /25:00 is not a time of day/);
    assert.throws(() => parseWindow("Mon 09:00-09:00"), /opens and closes at the same time/);
    assert.throws(() => parseWindow("Mon 09:00-10:00 extra"), WindowError);
  });
});

describe("windowState", () => {
  const weekdays = [parseWindow("Mon-Thu 09:30-16:00")];

  it("is open inside the window, in its time zone", () => {
    // 2026-12-07 is a Monday; London is on UTC in winter.
    assert.equal(windowState(weekdays, "Europe/London", at("2026-12-07T10:00:00Z")).open, true);
    // 09:00 UTC is 10:00 in Berlin: open there, not in London.
    assert.equal(windowState(weekdays, "Europe/Berlin", at("2026-12-07T09:00:00Z")).open, true);
    assert.equal(windowState(weekdays, "Europe/London", at("2026-12-07T09:00:00Z")).open, false);
  });

  it("names the next opening when closed", () => {
    // Thursday 16:00 closes it; it opens again on Monday 09:30.
    const s = windowState(weekdays, "Europe/London", at("2026-12-10T16:00:00Z"));
    assert.equal(s.open, false);
    assert.equal(s.nextOpen?.toISOString(), "2026-12-14T09:30:00.000Z");
    // In summer time the same wall-clock opening is an hour earlier in UTC.
    const summer = windowState(weekdays, "Europe/London", at("2026-07-03T12:00:00Z"));
    assert.equal(summer.nextOpen?.toISOString(), "2026-07-06T08:30:00.000Z");
  });

  it("runs past midnight when the end is before the start", () => {
    const night = [parseWindow("Fri 22:00-02:00")];
    // 2026-12-12 is a Saturday: 01:00 is still Friday's window, 03:00 is not.
    assert.equal(windowState(night, "UTC", at("2026-12-12T01:00:00Z")).open, true);
    assert.equal(windowState(night, "UTC", at("2026-12-12T03:00:00Z")).open, false);
    assert.equal(windowState(night, "UTC", at("2026-12-11T23:00:00Z")).open, true);
  });

  it("is always open without windows", () => {
    assert.equal(windowState([], "UTC", at("2026-12-12T03:00:00Z")).open, true);
  });

  it("checks time zones", () => {
    checkTimeZone("Europe/London");
    assert.throws(() => checkTimeZone("Mars/Olympus"), /not a time zone/);
  });
});
