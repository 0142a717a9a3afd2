/**
 * The one way this project waits for something outside it: ask, and if it is not there yet, wait
 * and ask again until a deadline. Time comes from an injected `Clock`, so tests run it instantly,
 * and every wait ends early when the run's signal aborts.
 */

import { setLongTimeout } from "../../util/timer.ts";

/** Where time comes from. Injected wherever time passes, so tests can run it fast. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Waits `ms`; rejects promptly with an AbortError (the signal's reason) when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The machine's clock and timers; a wait of any length (beyond Node's 24.9-day timers) is whole. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(abortError(signal));
        return;
      }
      const onAbort = (): void => {
        timer.clear();
        reject(abortError(signal));
      };
      const timer = setLongTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      signal?.addEventListener("abort", onAbort, { once: true });
    }),
};

/** The error an aborted wait rejects with: the signal's reason when it is an Error, else an AbortError. */
export function abortError(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  if (reason instanceof Error) return reason;
  return new DOMException(typeof reason === "string" ? reason : "aborted", "AbortError");
}

/** What one look returns: done with a value, or not yet, saying why (for the timeout message). */
export type Probe<T> =
  | { readonly done: true; readonly value: T }
  | {
      readonly done: false;
      readonly reason: string;
      /** The next pause is at least this long (a server's Retry-After), still cut at the deadline. */
      readonly retryAfterMs?: number;
    };

/** How `pollUntil` waits. */
export interface PollOptions {
  /** Give up after the look that ends at or after this time (`clock.now()` milliseconds). */
  readonly deadline: number;
  /** Pause between looks, in ms; the last pause is shortened to the deadline. */
  readonly interval: number;
  /** Aborts the wait between looks. */
  readonly signal?: AbortSignal | undefined;
  /** Default `systemClock`. */
  readonly clock?: Clock | undefined;
  /** Pause once before the first look (for changes that need time to start showing). */
  readonly waitFirst?: boolean;
  /** At most this many looks (default: until the deadline). */
  readonly maxAttempts?: number;
  /** The error to reject with at the deadline, from the last reason (default a `PollTimeoutError`). */
  readonly timeoutError?: (reason: string) => Error;
  /** Told each look's reason for not being done yet (live progress: what the step waits for). */
  readonly onWait?: ((reason: string) => void) | undefined;
}

/** What each look is told. */
export interface PollAttempt {
  /** 1 for the first look. */
  readonly attempt: number;
  /** Milliseconds left until the deadline, never negative. */
  readonly remaining: number;
}

/** `pollUntil` reached its deadline (or its attempt limit) without a done look. */
export class PollTimeoutError extends Error {
  override readonly name = "PollTimeoutError";
  constructor(
    /** The reason the last look gave. */
    readonly reason: string,
    /** How many looks were made. */
    readonly attempts: number,
  ) {
    super(`not done before the deadline (${attempts} attempt${attempts === 1 ? "" : "s"}): ${reason}`);
  }
}

/**
 * Calls `probe` until it says done, pausing `interval` between calls, and resolves with its value.
 * Rejects with a `PollTimeoutError` carrying the last reason (or `timeoutError(reason)`) once the
 * deadline has passed, with the
 * abort reason (an AbortError) as soon as `signal` aborts, and with whatever `probe` throws.
 */
export async function pollUntil<T>(
  options: PollOptions,
  probe: (attempt: PollAttempt) => Promise<Probe<T>>,
): Promise<T> {
  const clock = options.clock ?? systemClock;
  const { deadline, interval, signal } = options;
  const pause = (atLeast = 0): Promise<void> =>
    clock.sleep(Math.min(Math.max(interval, atLeast), Math.max(0, deadline - clock.now())), signal);
  if (options.waitFirst) await pause();
  for (let attempt = 1; ; attempt++) {
    if (signal?.aborted) throw abortError(signal);
    const result = await probe({ attempt, remaining: Math.max(0, deadline - clock.now()) });
    if (result.done) return result.value;
    options.onWait?.(result.reason);
    if (signal?.aborted) throw abortError(signal);
    if (clock.now() >= deadline || attempt >= (options.maxAttempts ?? Infinity)) {
      throw options.timeoutError?.(result.reason) ?? new PollTimeoutError(result.reason, attempt);
    }
    await pause(result.retryAfterMs);
  }
}

/** A `Clock` whose sleeps return at once and move its time forward: tests run waits instantly. */
export interface InstantClock extends Clock {
  /** Every sleep asked for, in ms, in order. */
  readonly sleeps: number[];
}

/**
 * A clock starting at `start` (ms) where time passes only by sleeping, which returns at once. Its
 * sleep still rejects when the signal is aborted, like `systemClock`'s.
 */
export function instantClock(start = 0): InstantClock {
  let now = start;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    sleep: (ms, signal) => {
      if (signal?.aborted) return Promise.reject(abortError(signal));
      sleeps.push(ms);
      now += ms;
      return Promise.resolve();
    },
  };
}
