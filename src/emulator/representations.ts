/**
 * The JSON bodies the API returns, one function per recorded representation. The same object is
 * rendered differently by create, get and list (`scope` vs `scopes`, `""` vs `null`, fields present
 * or not); key order follows the recordings.
 */
import type { AccountState, RoleRecord, ServiceRecord, TokenRecord, UserRecord } from "./state.ts";
import { formatTime as formatTimeOnce } from "../util/time.ts";

/**
 * Formatted times by their milliseconds: a token's times change at most once a second, and a
 * representation is built on every request that shows one. Bounded: emptied when it fills.
 */
const formatted = new Map<number, string>();

function formatTime(date: Date): string {
  const ms = date.getTime();
  let text = formatted.get(ms);
  if (text === undefined) {
    text = formatTimeOnce(date);
    if (formatted.size >= 10_000) formatted.clear();
    formatted.set(ms, text);
  }
  return text;
}

const ts = (date: Date | null): string | null => (date === null ? null : formatTime(date));
/** The 2025 create response writes unset times and strings as "". */
const tsOrEmpty = (date: Date | null): string => (date === null ? "" : formatTime(date));

/**
 * What the 2026 API adds to an automation token (reference/changes/2026/09, fastly-api 15's
 * `AutomationToken`): its roles, `limit_services`, and workspaces. `services` is empty unless
 * `limit_services` is true.
 */
function since2026(token: TokenRecord, state: AccountState) {
  return {
    roles: token.roles.map((id) => ({ id, name: state.roles.get(id)?.name ?? "" })),
    limit_services: token.limitServices,
    limit_workspaces: token.limitWorkspaces,
    workspaces: [...token.workspaces],
  };
}

/** The services a representation lists: none for a token that reaches every service. */
function listedServices(token: TokenRecord): string[] {
  return token.limitServices ? [...token.services] : [];
}

/** `POST /automation-tokens` (2025 recording; the 2026 fields after `role`). */
export function automationTokenCreated(token: TokenRecord, value: string, state: AccountState) {
  const recorded = {
    id: token.id,
    services: listedServices(token),
    name: token.name,
    role: token.role,
  };
  return {
    ...recorded,
    ...(state.apiVersion === "2026" ? since2026(token, state) : {}),
    access_token: value,
    scope: token.scope,
    ip: token.ip ?? "",
    created_at: formatTime(token.createdAt),
    last_used_at: tsOrEmpty(token.lastUsedAt),
    expires_at: tsOrEmpty(token.expiresAt),
    user_agent: token.userAgent ?? "",
    tls_access: token.tlsAccess,
    customer_id: state.customer.id,
  };
}

/** `GET /automation-tokens/{id}`: nulls, `access_token:""`, `services:null` when unrestricted. */
export function automationTokenGet(token: TokenRecord, state: AccountState) {
  const services = listedServices(token);
  return {
    id: token.id,
    services: services.length === 0 ? null : services,
    name: token.name,
    role: token.role,
    ...(state.apiVersion === "2026" ? since2026(token, state) : {}),
    access_token: "",
    scope: token.scope,
    ip: token.ip,
    created_at: formatTime(token.createdAt),
    last_used_at: ts(token.lastUsedAt),
    expires_at: ts(token.expiresAt),
    user_agent: token.userAgent,
  };
}

/** An item of `GET /automation-tokens`: `scopes` is a string here, plus `creator_id` and friends. */
export function automationTokenListItem(token: TokenRecord, state: AccountState) {
  const services = listedServices(token);
  return {
    id: token.id,
    creator_id: token.userId,
    customer_id: state.customer.id,
    name: token.name,
    access_token: "",
    role: token.role,
    ...(state.apiVersion === "2026" ? since2026(token, state) : {}),
    ip: token.ip,
    user_agent: token.userAgent,
    scopes: token.scope,
    services: services.length === 0 ? null : services,
    service_id: null,
    sudo_expires_at: null,
    last_used_at: ts(token.lastUsedAt),
    created_at: formatTime(token.createdAt),
    expires_at: ts(token.expiresAt),
    tls_access: token.tlsAccess,
  };
}

/**
 * `GET /tokens/self`: the user-token shape; an automation token on the 2026 API also says its
 * roles and `limit_services` (not recorded: inferred from the automation-token representations).
 */
export function tokenSelf(token: TokenRecord, state: AccountState) {
  const base = userToken(token, state.customer.id);
  if (token.kind !== "automation" || state.apiVersion !== "2026") return base;
  const { roles, limit_services } = since2026(token, state);
  return { ...base, role: token.role, roles, limit_services };
}

/**
 * The fields of a token that change after it is made (`touch`, sudo, revocation). The type is
 * every writable field of {@link TokenRecord}: a new one fails to compile here until the cache
 * below compares it too.
 */
type WritableKeys<T> = {
  [K in keyof T]-?: (<U>() => U extends { [Q in K]: T[K] } ? 1 : 2) extends <U>() => U extends {
    -readonly [Q in K]: T[K];
  }
    ? 1
    : 2
    ? K
    : never;
}[keyof T];
export const TOKEN_FIELDS_THAT_CHANGE: Readonly<Record<WritableKeys<TokenRecord>, true>> = {
  lastUsedAt: true,
  ip: true,
  userAgent: true,
  sudoExpiresAt: true,
  revokedAt: true,
};

/** A `GET /tokens/self` body as sent, and what it was made from. */
interface SelfBody {
  readonly state: AccountState;
  readonly lastUsedAt: number | null;
  readonly ip: string | null;
  readonly userAgent: string | null;
  readonly sudoExpiresAt: number | null;
  readonly revokedAt: number | null;
  readonly json: string;
}

const selfBodies = new WeakMap<TokenRecord, SelfBody>();
const msOf = (date: Date | null): number | null => (date === null ? null : date.getTime());

/**
 * {@link tokenSelf} serialised, made again only when a field of the token that can change has
 * changed (or the account was reset): a token used over and over within the same second, from the
 * same address and agent, is answered with the same text.
 */
export function tokenSelfJson(token: TokenRecord, state: AccountState): string {
  const kept = selfBodies.get(token);
  if (
    kept !== undefined &&
    kept.state === state &&
    kept.lastUsedAt === msOf(token.lastUsedAt) &&
    kept.ip === token.ip &&
    kept.userAgent === token.userAgent &&
    kept.sudoExpiresAt === msOf(token.sudoExpiresAt) &&
    kept.revokedAt === msOf(token.revokedAt)
  ) {
    return kept.json;
  }
  const json = JSON.stringify(tokenSelf(token, state));
  selfBodies.set(token, {
    state,
    lastUsedAt: msOf(token.lastUsedAt),
    ip: token.ip,
    userAgent: token.userAgent,
    sudoExpiresAt: msOf(token.sudoExpiresAt),
    revokedAt: msOf(token.revokedAt),
    json,
  });
  return json;
}

/** An item of `GET /roles` (IAM roles; the shape of fastly-api's `IamRole`). */
export function role(record: RoleRecord) {
  return {
    id: record.id,
    object: "role",
    name: record.name,
    description: record.description,
    custom: record.custom,
  };
}

/**
 * `GET /tokens`, `/tokens/self`, `/tokens/{id}`, `/customer/{id}/tokens`: `scopes` is an array,
 * `service_id` one of the services. Automation tokens use it too, with their creator as `user_id`.
 */
export function userToken(token: TokenRecord, customerId: string) {
  return {
    id: token.id,
    user_id: token.userId,
    customer_id: customerId,
    name: token.name,
    last_used_at: ts(token.lastUsedAt),
    created_at: formatTime(token.createdAt),
    expires_at: ts(token.expiresAt),
    ip: token.ip,
    user_agent: token.userAgent,
    sudo_expires_at: ts(token.sudoExpiresAt),
    scopes: token.scope.split(" "),
    scope: token.scope,
    services: token.limitServices ? [...token.services] : [],
    service_id: (token.limitServices ? token.services.at(-1) : undefined) ?? null,
  };
}

/** `POST /tokens`. */
export function userTokenCreated(token: TokenRecord, value: string, customerId: string) {
  return {
    id: token.id,
    name: token.name,
    user_id: token.userId,
    customer_id: customerId,
    service_id: token.services.at(-1) ?? null,
    expires_at: ts(token.expiresAt),
    created_at: formatTime(token.createdAt),
    updated_at: formatTime(token.createdAt),
    scope: token.scope,
    services: [...token.services],
    access_token: value,
  };
}

/** `GET /current_user`. */
export function currentUser(user: UserRecord, customerId: string) {
  return {
    id: user.id,
    created_at: formatTime(user.createdAt),
    updated_at: formatTime(user.updatedAt),
    name: user.name,
    customer_id: customerId,
    require_new_password: false,
    role: user.role,
    login: user.login,
    deleted_at: null,
    locked: false,
    // The recording has null for an account that never configured 2FA.
    two_factor_auth_enabled: user.mfa ? true : null,
    limit_services: false,
    last_active_at: ts(user.lastActiveAt),
  };
}

/** `GET /verify`, used by `fastly whoami`. */
export function verify(
  state: AccountState,
  user: UserRecord,
  token: TokenRecord,
  services: readonly ServiceRecord[],
) {
  return {
    customer: { id: state.customer.id, name: state.customer.name },
    user: { id: user.id, name: user.name, login: user.login },
    services: Object.fromEntries(services.map((s) => [s.id, s.name])),
    token: {
      id: token.id,
      name: token.name,
      created_at: formatTime(token.createdAt),
      expires_at: ts(token.expiresAt),
      scope: token.scope,
    },
  };
}

function versionTime(service: ServiceRecord, number: number): Date {
  // Versions one hour apart from the service's creation, so they sort and look plausible.
  return new Date(service.createdAt.getTime() + (number - 1) * 3_600_000);
}

/** A version as it appears inside a service list item. */
function listVersion(service: ServiceRecord, number: number) {
  const at = formatTime(versionTime(service, number));
  return {
    active: number === service.version,
    created_at: at,
    number,
    staging: false,
    service_id: service.id,
    deleted_at: null,
    updated_at: at,
    locked: true,
    deployed: number === service.version,
    testing: false,
    comment: "",
  };
}

function versions(service: ServiceRecord) {
  return Array.from({ length: service.version }, (_, i) => listVersion(service, i + 1));
}

/** An item of `GET /service`; `filter[include_versions]=false` leaves `versions` out. */
export function serviceListItem(service: ServiceRecord, customerId: string, includeVersions: boolean) {
  const common = {
    id: service.id,
    type: service.type,
    customer_id: customerId,
    version: service.version,
    created_at: formatTime(service.createdAt),
    comment: service.comment,
    paused: false,
    updated_at: formatTime(service.updatedAt),
    deleted_at: null,
  };
  return includeVersions
    ? { ...common, versions: versions(service), name: service.name }
    : { ...common, name: service.name };
}

/** `GET /service/{id}`: no top-level `version`, has `publish_key`. */
export function serviceGet(service: ServiceRecord, customerId: string) {
  return {
    comment: service.comment,
    type: service.type,
    updated_at: formatTime(service.updatedAt),
    customer_id: customerId,
    paused: false,
    deleted_at: null,
    created_at: formatTime(service.createdAt),
    id: service.id,
    name: service.name,
    versions: versions(service),
    publish_key: "",
  };
}

/** `GET /service/search?name=`. */
export function serviceSearch(service: ServiceRecord, customerId: string) {
  return {
    comment: service.comment,
    deleted_at: null,
    customer_id: customerId,
    updated_at: formatTime(service.updatedAt),
    type: service.type,
    name: service.name,
    id: service.id,
    versions: versions(service),
    created_at: formatTime(service.createdAt),
  };
}

/** `GET /service/{id}/details`: the service plus its active version in full. */
export function serviceDetails(service: ServiceRecord, customerId: string) {
  const active = {
    ...listVersion(service, service.version),
    backends: [],
    cache_settings: [],
    conditions: [],
    directors: [],
    domains: [],
    gzips: [],
    headers: [],
    healthchecks: [],
    request_settings: [],
    response_objects: [],
    settings: {},
    snippets: [],
    vcls: [],
    wasm: null,
  };
  return {
    ...serviceGet(service, customerId),
    environments: [],
    active_version: active,
    version: active,
  };
}
