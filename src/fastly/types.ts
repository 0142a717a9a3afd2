/**
 * The normalised shapes the rest of the code sees. Every Fastly response passes through a schema in
 * `schemas.ts` that turns the API's drifting representations (`scope` vs `scopes`, `""` vs `null` vs
 * `0001-01-01T00:00:00Z`, `services: null`) into these.
 */

/** Roles an automation token can carry. */
export type AutomationTokenRole = "billing" | "engineer" | "user";

/** Roles a user can have. */
export type UserRole = "user" | "billing" | "engineer" | "superuser";

/** A role an automation token can carry (`GET /roles`; on tokens since the 2026 API). */
export interface Role {
  readonly id: string;
  readonly name: string;
}

/** A user of the customer (`GET /customer/{id}/users`). */
export interface AccountUser {
  readonly id: string;
  readonly login: string;
  readonly role: string;
}

/** An automation token as listed or fetched (never carries its value). */
export interface AutomationToken {
  readonly id: string;
  readonly name: string;
  /** The highest-priority role's name. */
  readonly role: string;
  /** Every role (2026 API); absent when the API does not say. */
  readonly roles?: readonly Role[];
  /**
   * False: every service (2026 API, whatever `services` says); true: only `services`. Absent when
   * the API does not say (2024-2025), where an empty `services` means every service.
   */
  readonly limitServices?: boolean;
  /** Next-Gen WAF workspace ids (2026 API). */
  readonly workspaces?: readonly string[];
  /** Scopes, split on spaces; `scope` and `scopes` in the API both end up here. */
  readonly scopes: string[];
  /** Service ids the token is limited to; empty means every service. */
  readonly services: string[];
  readonly expiresAt?: Date;
  readonly lastUsedAt?: Date;
  readonly createdAt?: Date;
  readonly ip?: string;
  readonly userAgent?: string;
  readonly customerId?: string;
  readonly creatorId?: string;
  readonly tlsAccess?: boolean;
}

/** The create response: the only place a token's value ever appears. */
export interface CreatedAutomationToken extends AutomationToken {
  /** The one-time token value. Keep it in memory and in the secret store only. */
  readonly accessToken: string;
}

/** `GET /tokens/self`: the token that authenticated the request. */
export interface TokenSelf {
  readonly id: string;
  readonly name: string;
  readonly userId?: string;
  readonly customerId?: string;
  readonly scopes: string[];
  readonly services: string[];
  readonly expiresAt?: Date;
  readonly lastUsedAt?: Date;
  readonly createdAt?: Date;
  readonly ip?: string;
  readonly userAgent?: string;
  /** Automation tokens on the 2026 API: role names and `limit_services`, when it says them. */
  readonly roles?: readonly Role[];
  readonly limitServices?: boolean;
}

/** `GET /current_user`. */
export interface CurrentUser {
  readonly id: string;
  readonly login: string;
  readonly name: string;
  readonly role: string;
  readonly customerId: string;
  readonly twoFactorAuthEnabled?: boolean;
  readonly locked?: boolean;
}

/** A service, as listed, fetched or searched. */
export interface Service {
  readonly id: string;
  readonly name: string;
  readonly type?: string;
  readonly customerId?: string;
  readonly version?: number;
}

/** `POST /sudo` result. */
export interface SudoSession {
  readonly expiresAt: Date;
}

/** Input of `createAutomationToken`. */
export interface CreateAutomationTokenInput {
  readonly name: string;
  readonly role: AutomationTokenRole;
  /** Role ids (from `GET /roles`); sent as `roles`, which takes precedence over `role`. */
  readonly roles?: readonly string[];
  /** Next-Gen WAF workspace ids; sent with `limit_workspaces: true`. */
  readonly workspaces?: readonly string[];
  /** Space-delimited scopes, e.g. `global:read`. */
  readonly scope: string;
  /** Service ids; empty means every service. Given ones are sent with `limit_services: true`. */
  readonly services: readonly string[];
  /** Omit for a token that never expires. */
  readonly expiresAt?: Date;
  readonly tlsAccess?: boolean;
}

/** The rate-limit headers Fastly sends on non-GET responses. */
export interface RateLimitInfo {
  readonly remaining?: number;
  readonly reset?: Date;
}

/** The Fastly API client: one method per endpoint the tool uses. */
export interface FastlyClient {
  /** The API base URL in use. */
  readonly endpoint: string;
  /** Whether the client was allowed plain http to a host that is not loopback (`allowInsecure`). */
  readonly allowInsecure: boolean;
  /** The last rate-limit headers seen, if any. */
  readonly rateLimit: RateLimitInfo;
  /** How many HTTP requests this client has sent, retries included. */
  readonly requestCount: number;
  /** How many of those were not GETs (Fastly rate-limits these: 1,000 per user per hour). */
  readonly writeRequestCount: number;
  /**
   * The Fastly API's clock minus the local one, in ms, from the last answer's `Date` header; 0
   * until an answer came, and within the header's one-second resolution.
   */
  readonly clockSkewMs: number;
  /** The API's time now: the local clock corrected by {@link clockSkewMs}. */
  apiNow(): Date;
  /** `GET /roles`: the account's roles, every page. */
  listRoles(): Promise<Role[]>;
  /** `GET /customer/{id}/users`: the users in the account now. */
  listUsers(customerId: string): Promise<AccountUser[]>;
  getCurrentUser(): Promise<CurrentUser>;
  getTokenSelf(): Promise<TokenSelf>;
  sudo(input: { password: string; username?: string; expiryTime?: Date }): Promise<SudoSession>;
  listAutomationTokens(options?: { perPage?: number }): Promise<AutomationToken[]>;
  getAutomationToken(id: string): Promise<AutomationToken>;
  createAutomationToken(input: CreateAutomationTokenInput): Promise<CreatedAutomationToken>;
  /** `DELETE /tokens/{id}`, falling back to `DELETE /automation-tokens/{id}`. */
  revokeToken(id: string): Promise<void>;
  /** `DELETE /tokens/self` with this client's token. */
  revokeSelf(): Promise<void>;
  listServices(options?: { perPage?: number }): Promise<Service[]>;
  getService(id: string): Promise<Service>;
  searchService(name: string): Promise<Service>;
}
