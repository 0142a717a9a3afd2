/**
 * The admin API's wire types, shared by the server and {@link createEmulatorAdmin} so that a client
 * never needs the server's internals.
 */

/** One request the emulator answered (admin requests are not logged). */
export interface RequestLogEntry {
  readonly method: string;
  /** Path and query; query values that could be secrets are replaced by `REDACTED`. */
  readonly path: string;
  /** The status sent, or 0 when a fault dropped the connection. */
  readonly status: number;
  /** The id of the token in `Fastly-Key` (revoked and expired ones too); null when unknown or absent. */
  readonly tokenId: string | null;
  readonly userAgent: string | null;
  /** Emulator time, RFC 3339. */
  readonly at: string;
}

/**
 * A fault: the next `count` requests matching `method` and `path` are answered with `status` and
 * `body`, after `delayMs`, or have their connection destroyed (`drop`). With only `delayMs`, the
 * request is delayed and then answered normally.
 *
 * `path` matches the request path without its query: exact (`/tokens/self`), prefix when it ends
 * with `*` (`/automation-tokens*`), or a regular expression when it starts with `re:`
 * (`re:^/v1/channel/[^/]+/ts/`). Absent `method` or `path` match everything.
 */
export interface FaultSpec {
  readonly method?: string;
  readonly path?: string;
  /** How many requests the fault applies to (default 1). */
  readonly count?: number;
  readonly status?: number;
  /** JSON value (sent as JSON) or text; defaults to `{"msg":"<status text>"}`. */
  readonly body?: unknown;
  readonly delayMs?: number;
  readonly drop?: boolean;
  /**
   * Handle the request normally (a create takes effect), then send the answer's headers and only
   * its first `truncateAfter` bytes of body, and reset the connection.
   */
  readonly truncateAfter?: number;
  /** Handle the request normally, then send the answer's headers and never its body. */
  readonly stallBody?: boolean;
}

/**
 * A hook: the emulator notes the next matching request (or every one, with `once: false`) and,
 * with `action: "hold"`, keeps it unanswered until {@link EmulatorAdmin.releaseHook} or until the
 * client's connection dies. Tests wait for a hook to fire to know a request reached the server, e.g.
 * to kill the client at that moment.
 *
 * `phase` says where the request stops: `"before"` it is processed (nothing happened yet; if the
 * connection dies while held, the request is dropped unprocessed), or `"after"` (default): the effect
 * is applied (the token exists, the revocation is done) and only the answer is held, so a client
 * killed then never learns what it did. `method`, `path` and `userAgent` match as in {@link FaultSpec}
 * (`userAgent`: exact, prefix with a trailing `*`, or `re:`); absent ones match everything. Hooks
 * are checked before faults.
 */
export interface HookSpec {
  readonly method?: string;
  readonly path?: string;
  readonly userAgent?: string;
  readonly action: "hold" | "notify";
  readonly phase?: "before" | "after";
  /** Fire on the first matching request only (default true); a fired `once` hook stays listed. */
  readonly once?: boolean;
}

/** A hook as the admin API reports it. */
export interface HookState extends HookSpec {
  readonly id: string;
  readonly phase: "before" | "after";
  readonly once: boolean;
  /** Matching requests seen so far. */
  readonly fired: number;
  /** Requests held now. */
  readonly held: number;
}

/** A clock move: `advance` by a duration (`"90s"`, `"30d"`, `"-2h"`, or a number of seconds) or `set` to an instant. */
export type ClockChange = { readonly advance: string | number } | { readonly set: string };

/** `GET /__emulator/state`: the account without any secret. */
export interface EmulatorStateSnapshot {
  readonly now: string;
  /** The API served: `2026` (today's) or `2025` (the recorded shapes). */
  readonly apiVersion: "2025" | "2026";
  readonly customer: { readonly id: string; readonly name: string };
  readonly users: readonly {
    readonly id: string;
    readonly login: string;
    readonly name: string;
    readonly role: string;
    readonly mfa: boolean;
    readonly sso: boolean;
    readonly lastActiveAt: string | null;
  }[];
  readonly tokens: readonly EmulatorTokenSnapshot[];
  readonly automationTokens: readonly EmulatorTokenSnapshot[];
  readonly services: readonly {
    readonly id: string;
    readonly name: string;
    readonly type: string;
    readonly version: number;
  }[];
  readonly sudoSessions: readonly {
    readonly userId: string;
    readonly tokenId: string | null;
    readonly expiresAt: string;
    readonly active: boolean;
  }[];
  /** Pending faults. */
  readonly faults: readonly FaultSpec[];
  /** Hooks, fired or not, until removed. */
  readonly hooks: readonly HookState[];
  /**
   * API requests received and not answered yet, e.g. held by a fault's delay. Tests wait for 0
   * before checking what a killed client's last request did.
   */
  readonly inFlight: number;
}

/** A token in the state snapshot; never its value. */
export interface EmulatorTokenSnapshot {
  readonly id: string;
  readonly name: string;
  /** Owner of a user token; creator of an automation token. */
  readonly userId: string;
  readonly role: string | null;
  /** Role names, highest priority first (automation tokens). */
  readonly roles: readonly string[];
  readonly scope: string;
  readonly services: readonly string[];
  /** True when the token reaches only `services`. */
  readonly limitServices: boolean;
  readonly createdAt: string;
  readonly expiresAt: string | null;
  readonly lastUsedAt: string | null;
  readonly ip: string | null;
  readonly userAgent: string | null;
  readonly revokedAt: string | null;
  readonly expired: boolean;
}
