import type { ClockChange, EmulatorStateSnapshot, FaultSpec, RequestLogEntry } from "./types.ts";

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
    advanceClock: (by) => clock({ advance: by }),
    setClock: (at) => clock({ set: typeof at === "string" ? at : at.toISOString() }),
    now: async () => new Date(((await call("GET", "clock")) as { now: string }).now),
    reset: async () => {
      await call("POST", "reset");
    },
  };
}
