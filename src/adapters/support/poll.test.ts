import assert from "node:assert/strict";
import { beforeTimer } from "../../../test/helpers/wait.ts";
import { describe, it } from "node:test";
import { instantClock, pollUntil, PollTimeoutError, systemClock, type Probe } from "./poll.ts";

const notYet = (reason: string): Extract<Probe<unknown>, { done: false }> => ({ done: false, reason });

describe("pollUntil", () => {
  it("tells onWait each look's reason while not done (live progress)", async () => {
    const clock = instantClock(0);
    const reasons: string[] = [];
    await pollUntil({ deadline: 60_000, interval: 1000, clock, onWait: (r) => reasons.push(r) }, async (a) =>
      a.attempt < 3 ? notYet(`rollout ${a.attempt}/2 replicas updated`) : { done: true, value: 1 },
    );
    assert.deepEqual(reasons, ["rollout 1/2 replicas updated", "rollout 2/2 replicas updated"]);
  });

  it("returns the value of the first done look, pausing the interval between looks", async () => {
    const clock = instantClock(1000);
    const seen: { attempt: number; remaining: number }[] = [];
    const value = await pollUntil({ deadline: 11_000, interval: 2000, clock }, async (a) => {
      seen.push(a);
      return a.attempt < 3 ? notYet("not yet") : { done: true, value: "ready" };
    });
    assert.equal(value, "ready");
    assert.deepEqual(seen, [
      { attempt: 1, remaining: 10_000 },
      { attempt: 2, remaining: 8000 },
      { attempt: 3, remaining: 6000 },
    ]);
    assert.deepEqual(clock.sleeps, [2000, 2000]);
  });

  it("shortens the last pause to the deadline and reports the last reason", async () => {
    const clock = instantClock();
    let n = 0;
    const error = await pollUntil({ deadline: 5000, interval: 2000, clock }, async () =>
      notYet(`look ${++n}`),
    ).then(
      () => assert.fail("resolved"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof PollTimeoutError);
    assert.equal(error.reason, "look 4");
    assert.equal(error.attempts, 4);
    assert.match(error.message, /4 attempts\): look 4$/);
    assert.deepEqual(clock.sleeps, [2000, 2000, 1000]);
  });

  it("rejects with the caller's own error at the deadline when given one", async () => {
    await assert.rejects(
      pollUntil(
        {
          deadline: 3000,
          interval: 1000,
          clock: instantClock(),
          timeoutError: (reason) => new RangeError(`gave up (${reason})`),
        },
        async () => notYet("still 2 pods old"),
      ),
      { name: "RangeError", message: "gave up (still 2 pods old)" },
    );
  });

  it("waits once before the first look when asked", async () => {
    const clock = instantClock();
    const at: number[] = [];
    await pollUntil({ deadline: 10_000, interval: 3000, clock, waitFirst: true }, async () => {
      at.push(clock.now());
      return at.length === 2 ? { done: true, value: undefined } : notYet("x");
    });
    assert.deepEqual(at, [3000, 6000]);
  });

  it("stops after maxAttempts", async () => {
    const clock = instantClock();
    await assert.rejects(
      pollUntil({ deadline: 60_000, interval: 1000, clock, maxAttempts: 1 }, async () => notYet("once")),
      (e: unknown) => e instanceof PollTimeoutError && e.attempts === 1 && e.reason === "once",
    );
    assert.deepEqual(clock.sleeps, []);
  });

  it("passes on what the probe throws", async () => {
    await assert.rejects(
      pollUntil({ deadline: 60_000, interval: 1000, clock: instantClock() }, () =>
        Promise.reject(new Error("broken")),
      ),
      /broken/,
    );
  });

  it("does not look at all when the signal is already aborted", async () => {
    const controller = new AbortController();
    controller.abort();
    let looks = 0;
    await assert.rejects(
      pollUntil(
        { deadline: 60_000, interval: 1000, clock: instantClock(), signal: controller.signal },
        async () => {
          looks++;
          return notYet("x");
        },
      ),
      { name: "AbortError" },
    );
    assert.equal(looks, 0);
  });

  it("stops when the signal aborts during a look", async () => {
    const controller = new AbortController();
    const clock = instantClock();
    await assert.rejects(
      pollUntil({ deadline: 60_000, interval: 1000, clock, signal: controller.signal }, async (a) => {
        if (a.attempt === 2) controller.abort(new Error("interrupted by SIGTERM"));
        return notYet("x");
      }),
      /interrupted by SIGTERM/,
    );
    assert.deepEqual(clock.sleeps, [1000]);
  });

  it("with the system clock, an abort ends a long sleep promptly", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 20);
    await beforeTimer(30_000, "the pause between polls", () =>
      assert.rejects(
        pollUntil({ deadline: Date.now() + 60_000, interval: 30_000, signal: controller.signal }, async () =>
          notYet("x"),
        ),
        { name: "AbortError" },
      ),
    );
  });
});

describe("systemClock.sleep", () => {
  it("waits the given time", async () => {
    const started = Date.now();
    await systemClock.sleep(20);
    assert.ok(Date.now() - started >= 15);
  });

  it("rejects at once with an AbortError for an aborted signal", async () => {
    await assert.rejects(systemClock.sleep(60_000, AbortSignal.abort()), { name: "AbortError" });
  });

  it("rejects with the signal's reason when it is an Error", async () => {
    const controller = new AbortController();
    const pending = systemClock.sleep(60_000, controller.signal);
    controller.abort(new Error("stop"));
    await assert.rejects(pending, /^Error: stop$/);
  });
});
