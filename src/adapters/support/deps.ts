/**
 * What adapter factories take besides their options: the clock, timers and HTTP, injected so tests
 * can drive them without touching globals.
 */
export interface AdapterDeps {
  /** HTTP client; defaults to the global `fetch`. */
  readonly fetch?: typeof fetch;
  /** The clock; defaults to `() => new Date()`. */
  readonly now?: () => Date;
  /** Waits `ms`, rejecting early with the signal's reason when it is aborted. */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** `AdapterDeps` with every member filled in. */
export interface ResolvedDeps {
  readonly fetch: typeof fetch;
  readonly now: () => Date;
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** Waits `ms` milliseconds; rejects with the signal's reason as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortReason(signal));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortReason(signal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Fills in the defaults of `deps`. */
export function resolveDeps(deps: AdapterDeps = {}): ResolvedDeps {
  return {
    // Bound late so a test that replaces globalThis.fetch after construction is still honoured.
    fetch: deps.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    now: deps.now ?? (() => new Date()),
    sleep: deps.sleep ?? sleep,
  };
}

/** The reason an aborted signal carries, as an Error. */
export function abortReason(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  if (reason instanceof Error) return reason;
  return new Error(typeof reason === "string" ? reason : "aborted");
}

/** The message of anything thrown. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
