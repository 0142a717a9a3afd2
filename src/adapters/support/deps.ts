import { systemClock, type Clock } from "./poll.ts";

/**
 * What adapter factories take besides their options: the clock and HTTP, injected so tests can
 * drive them without touching globals. The run's AbortSignal reaches adapters per call, in their
 * `AdapterContext`.
 */
export interface AdapterDeps {
  /** HTTP client; defaults to the global `fetch`. */
  readonly fetch?: typeof fetch;
  /** Time and waits; defaults to `systemClock`. */
  readonly clock?: Clock;
  /** Environment variables secrets are read from (`…Env` options); defaults to `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** `AdapterDeps` with every member filled in. */
export interface ResolvedDeps {
  readonly fetch: typeof fetch;
  readonly clock: Clock;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** Fills in the defaults of `deps`. */
export function resolveDeps(deps: AdapterDeps = {}): ResolvedDeps {
  return {
    // Bound late so a test that replaces globalThis.fetch after construction is still honoured.
    fetch: deps.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    clock: deps.clock ?? systemClock,
    env: deps.env ?? process.env,
  };
}

/**
 * An adapter cannot be made from its options and the environment (a credential's variable unset,
 * a setting refused): a usage problem, said in one line before the run changes anything.
 */
export class AdapterSetupError extends Error {
  override readonly name = "AdapterSetupError";
}

/** The message of anything thrown. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
