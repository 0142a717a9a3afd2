/** Waits on conditions, never for a fixed time. */
import assert from "node:assert/strict";
import { watch } from "node:fs";
import { instantClock, type Clock } from "../../src/adapters/support/poll.ts";

/**
 * Resolves once the wall clock's second has moved past the one `since` fell in: for APIs whose
 * timestamps have whole seconds (`sinceTime`, `restartedAt`), so a later instant is told apart.
 */
export async function untilNextSecond(since: number = Date.now()): Promise<void> {
  const second = Math.floor(since / 1000);
  while (Math.floor(Date.now() / 1000) <= second) {
    await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 1));
  }
}

/** A promise the test settles itself: `open()` lets whatever awaits `wait` go on. */
export function gate(): { readonly wait: Promise<void>; open(): void } {
  let open = (): void => undefined;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

/** Resolves once `condition` holds, looked at on every change in `dir` and every 5 ms (a bound, not a wait). */
export function whenInDir(dir: string, condition: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (!condition()) return;
      watcher.close();
      clearInterval(timer);
      resolve();
    };
    const watcher = watch(dir, check);
    const timer = setInterval(check, 5);
    check();
  });
}

/**
 * `work`'s outcome, which must come before a timer of `ms` set first would fire: a wait of `ms` in
 * `work` that should have been cut short (by an abort, a kill, a timeout) fails the test at the
 * moment that wait would have ended, with `what`, rather than by a budget on elapsed time. Node
 * fires timers of one length in the order they were set, so the order holds however busy the
 * machine is.
 */
export async function beforeTimer<T>(ms: number, what: string, work: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const lapsed = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: the ${ms} ms wait was not cut short`)), ms);
  });
  try {
    return await Promise.race([work(), lapsed]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Resolves once `condition` holds (it may be asked asynchronously: a request, a file), looked at
 * every few ms (a bound on a hang, not a wait).
 */
export async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 12_000; i += 1) {
    if (await condition()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** An instant clock (starting at `start`) that runs and awaits `onSleep(n)` at its n-th pause. */
export function hookedClock(
  start: number,
  onSleep: (n: number) => void | Promise<void> = () => undefined,
): Clock & { sleeps: number[] } {
  const clock = instantClock(start);
  let n = 0;
  return {
    sleeps: clock.sleeps,
    now: () => clock.now(),
    sleep: async (ms, signal) => {
      n += 1;
      await onSleep(n);
      return clock.sleep(ms, signal);
    },
  };
}
