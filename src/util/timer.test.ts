import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { longSleep, MAX_TIMER_MS, setLongTimeout, timeoutSignal, type TimerFunctions } from "./timer.ts";

/** Timers that run when the test says, recording each delay asked. */
function manualTimers() {
  const pending: { fn: () => void; ms: number; cleared: boolean }[] = [];
  const timers: TimerFunctions = {
    setTimeout: (fn, ms) => {
      const t = { fn, ms, cleared: false };
      pending.push(t);
      return t;
    },
    clearTimeout: (t) => {
      (t as { cleared: boolean }).cleared = true;
    },
  };
  const fireNext = (): number | undefined => {
    const t = pending.shift();
    if (t === undefined) return undefined;
    if (!t.cleared) t.fn();
    return t.ms;
  };
  return { timers, pending, fireNext };
}

describe("setLongTimeout", () => {
  it("waits 30 days in chunks no longer than Node's timers hold, then fires once", () => {
    const thirtyDays = 30 * 86_400_000;
    const { timers, fireNext } = manualTimers();
    let fired = 0;
    setLongTimeout(() => fired++, thirtyDays, { timers });
    const delays: number[] = [];
    for (let ms = fireNext(); ms !== undefined; ms = fireNext()) delays.push(ms);
    assert.equal(fired, 1);
    assert.ok(delays.length >= 2);
    assert.ok(
      delays.every((ms) => ms <= MAX_TIMER_MS && ms > 0),
      String(delays),
    );
    assert.equal(
      delays.reduce((a, b) => a + b, 0),
      thirtyDays,
    );
  });

  it("a short delay is one timer; clear() stops a long one between chunks", () => {
    const { timers, pending, fireNext } = manualTimers();
    let fired = 0;
    setLongTimeout(() => fired++, 5_000, { timers });
    assert.equal(pending[0]?.ms, 5_000);
    fireNext();
    assert.equal(fired, 1);
    const long = setLongTimeout(() => fired++, 3 * MAX_TIMER_MS, { timers });
    fireNext();
    long.clear();
    while (fireNext() !== undefined);
    assert.equal(fired, 1);
  });
});

describe("longSleep and timeoutSignal", () => {
  it("a long sleep ends at once with the signal's reason", async () => {
    const controller = new AbortController();
    const sleeping = longSleep(40 * 86_400_000, controller.signal);
    controller.abort(new Error("stop"));
    await assert.rejects(sleeping, /stop/);
  });

  it("a timeout signal of 25 days is not aborted at once (Node's own fires after 1 ms)", async () => {
    const signal = timeoutSignal(25 * 86_400_000);
    await new Promise((resolve) => setImmediate(resolve));
    await longSleep(5);
    assert.equal(signal.aborted, false);
  });
});
