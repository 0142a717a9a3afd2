import type {
  ClockChange,
  EmulatorStateSnapshot,
  FaultSpec,
  HookSpec,
  HookState,
  RequestLogEntry,
} from "./types.ts";

/** A typed client for the emulator's admin API (`/__emulator/`). */
export interface EmulatorAdmin {
  /** Every API request answered since start, reset or {@link EmulatorAdmin.clearRequests}. */
  requests(): Promise<RequestLogEntry[]>;
  /** Empty the request log. */
  clearRequests(): Promise<void>;
  /** The account as the emulator sees it, without secrets. */
  state(): Promise<EmulatorStateSnapshot>;
  /** Add one fault, or several in order. */
  fault(spec: FaultSpec | readonly FaultSpec[]): Promise<void>;
  /** Remove every pending fault. */
  clearFaults(): Promise<void>;
  /** Add a hook (see {@link HookSpec}); resolves to it, with its id. */
  hook(spec: HookSpec): Promise<HookState>;
  /**
   * Wait until the hook has fired (a matching request reached the emulator, and is held if the hook
   * holds); rejects after `timeoutMs` (default 120 s), a bound on a hang rather than a budget.
   */
  waitForHook(id: string, options?: { readonly timeoutMs?: number }): Promise<HookState>;
  /** Let the requests a hook holds now go on; resolves to how many were released. */
  releaseHook(id: string): Promise<number>;
  /** Every hook, fired or not. */
  hooks(): Promise<HookState[]>;
  /** Remove every hook, letting what they hold go on. */
  clearHooks(): Promise<void>;
  /** Move the emulator's clock forward (or back, with a negative duration); resolves to the new now. */
  advanceClock(by: string | number): Promise<Date>;
  /** Set the emulator's clock to an instant; resolves to the new now. */
  setClock(at: Date | string): Promise<Date>;
  /** The emulator's now. */
  now(): Promise<Date>;
  /** Back to the seed: state, request log, faults and clock offset. */
  reset(): Promise<void>;
}

/** Options of {@link createEmulatorAdmin}. */
export interface EmulatorAdminOptions {
  /** The fetch to use (default: the global one). */
  readonly fetch?: typeof fetch;
}

/** A client for the admin API of the emulator at `url` (its base URL). */
export function createEmulatorAdmin(url: string, options: EmulatorAdminOptions = {}): EmulatorAdmin {
  const doFetch = options.fetch ?? fetch;
  const base = `${url.replace(/\/+$/, "")}/__emulator`;
  const call = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const response = await doFetch(`${base}/${path}`, {
      method,
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`emulator admin ${method} ${path} failed: ${response.status} ${text}`);
    return text === "" ? undefined : (JSON.parse(text) as unknown);
  };
  const clock = async (change: ClockChange): Promise<Date> => {
    const result = (await call("POST", "clock", change)) as { now: string };
    return new Date(result.now);
  };
  return {
    requests: async () => (await call("GET", "requests")) as RequestLogEntry[],
    clearRequests: async () => {
      await call("DELETE", "requests");
    },
    state: async () => (await call("GET", "state")) as EmulatorStateSnapshot,
    fault: async (spec) => {
      await call("POST", "faults", spec);
    },
    clearFaults: async () => {
      await call("DELETE", "faults");
    },
    hook: async (spec) => (await call("POST", "hooks", spec)) as HookState,
    waitForHook: async (id, waitOptions = {}) => {
      const deadline = Date.now() + (waitOptions.timeoutMs ?? 120_000);
      for (;;) {
        // Long-polls: the emulator answers as soon as the hook fires, or after the wait it allows.
        const left = Math.max(0, deadline - Date.now());
        const hook = (await call(
          "GET",
          `hooks/${encodeURIComponent(id)}?waitMs=${Math.min(left, 30_000)}`,
        )) as HookState;
        if (hook.fired > 0) return hook;
        if (Date.now() >= deadline) throw new Error(`emulator hook ${id} did not fire`);
      }
    },
    releaseHook: async (id) =>
      ((await call("POST", `hooks/${encodeURIComponent(id)}/release`)) as { released: number }).released,
    hooks: async () => ((await call("GET", "hooks")) as { hooks: HookState[] }).hooks,
    clearHooks: async () => {
      await call("DELETE", "hooks");
    },
    advanceClock: (by) => clock({ advance: by }),
    setClock: (at) => clock({ set: typeof at === "string" ? at : at.toISOString() }),
    now: async () => new Date(((await call("GET", "clock")) as { now: string }).now),
    reset: async () => {
      await call("POST", "reset");
    },
  };
}
