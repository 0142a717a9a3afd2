/**
 * Timers for waits of any length. Node's `setTimeout` holds at most 2^31 - 1 ms (about 24.9 days):
 * a longer delay fires after 1 ms, with only a warning. `serve --interval 30d` then refreshed
 * without pause, and an exec reload with `timeout: 25d` "timed out" at once. These wait in chunks
 * of at most that size until the whole delay has passed.
 */

/** The longest delay Node's timers hold. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A pending long timer. */
export interface LongTimer {
  /** Cancels it; calling it after it fired does nothing. */
  clear(): void;
}

/** The timer functions a long timer is built on; injected by tests. */
export interface TimerFunctions {
  readonly setTimeout: (fn: () => void, ms: number) => object;
  readonly clearTimeout: (timer: never) => void;
}

const nodeTimers: TimerFunctions = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (timer) => clearTimeout(timer),
};

/**
 * Calls `fn` once `ms` have passed, however long that is, in chunks of at most `MAX_TIMER_MS`.
 * `unref: true` keeps it from holding the process open, like `timer.unref()`.
 */
export function setLongTimeout(
  fn: () => void,
  ms: number,
  options: { readonly unref?: boolean; readonly timers?: TimerFunctions } = {},
): LongTimer {
  const timers = options.timers ?? nodeTimers;
  let timer: ReturnType<TimerFunctions["setTimeout"]> | undefined;
  let cleared = false;
  let remaining = Number.isFinite(ms) ? Math.max(0, ms) : MAX_TIMER_MS;
  const arm = (): void => {
    const chunk = Math.min(remaining, MAX_TIMER_MS);
    timer = timers.setTimeout(() => {
      if (cleared) return;
      remaining -= chunk;
      if (remaining > 0) arm();
      else fn();
    }, chunk);
    if (options.unref) (timer as { unref?: () => unknown }).unref?.();
  };
  arm();
  return {
    clear: () => {
      cleared = true;
      if (timer !== undefined) timers.clearTimeout(timer as never);
    },
  };
}

/** Waits `ms` (any length); rejects with the signal's reason as soon as `signal` aborts. */
export function longSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const reason = (): Error => {
      const given: unknown = signal?.reason;
      return given instanceof Error ? given : new DOMException("aborted", "AbortError");
    };
    if (signal?.aborted) {
      reject(reason());
      return;
    }
    const onAbort = (): void => {
      timer.clear();
      reject(reason());
    };
    const timer = setLongTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Like `AbortSignal.timeout(ms)` for any `ms`: aborted with a `TimeoutError` DOMException once `ms`
 * have passed. The timer does not hold the process open.
 */
export function timeoutSignal(ms: number): AbortSignal {
  if (ms <= MAX_TIMER_MS) return AbortSignal.timeout(ms);
  const controller = new AbortController();
  setLongTimeout(
    () => controller.abort(new DOMException("The operation was aborted due to timeout", "TimeoutError")),
    ms,
    { unref: true },
  );
  return controller.signal;
}
