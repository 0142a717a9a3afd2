/**
 * The Fastly API endpoints the emulator covers: a route table, the authentication and permission
 * rules that apply to every route, and one handler per endpoint.
 */
import { newTokenValue } from "./ids.ts";
import {
  ApiError,
  apiError,
  badRequest,
  booleanField,
  type Fields,
  intParam,
  type Reply,
  stringField,
  stringListField,
} from "./http.ts";
import { realtimeResponse } from "./realtime.ts";
import * as rep from "./representations.ts";
import {
  type AccountState,
  checkPassword,
  type ServiceRecord,
  type TokenRecord,
  type UserRecord,
} from "./state.ts";
import { formatOffsetTimestamp, unixSeconds } from "./time.ts";
import { formatTime } from "../util/time.ts";

/** The caller, once `Fastly-Key` has been checked. */
export interface Auth {
  readonly token: TokenRecord;
  /** The token's owner, or for an automation token its creator. */
  readonly user: UserRecord;
}

/** What a handler may use. */
export interface ApiContext {
  readonly state: AccountState;
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Emulator time at the start of the request. */
  readonly now: Date;
  /** Emulator time now (realtime polls wait). */
  readonly clockNow: () => Date;
  /** Absolute base URL for links, without a trailing slash. */
  readonly baseUrl: string;
  /** Set when the route authenticates and the key was valid. */
  readonly auth: Auth | undefined;
  /** The parsed body. */
  readonly body: () => Promise<Fields>;
  /** Count a write against `key`'s hourly limit; throws the 429. */
  readonly consumeRateLimit: (key: string) => void;
  /** Resolves after `ms`, or early when the emulator closes. */
  readonly sleep: (ms: number) => Promise<void>;
}

/** One endpoint. */
export interface Route {
  readonly method: string;
  readonly pattern: RegExp;
  /** `required`: 401 without a valid key; `optional`: checked only when present; `none`: public. */
  readonly auth: "required" | "optional" | "none";
  /** Realtime endpoints answer errors as `{"Error":...}` and have their own headers. */
  readonly realtime?: boolean;
  /** Writes allowed whatever the token's scope (revoking the calling token). */
  readonly anyScope?: boolean;
  /** The 2026 API answers this endpoint's errors as RFC 7807 problem+json. */
  readonly problemJson?: boolean;
  readonly handler: (ctx: ApiContext, params: readonly string[]) => Reply | Promise<Reply>;
}

/** The message the API sends for a missing, unknown or revoked key. */
export const INVALID_CREDENTIALS = "Provided credentials are missing or invalid";
/** The message for writes without a sudo session. */
export const SUDO_REQUIRED = "You must POST /sudo to access this endpoint";
/** The 429 message. */
export const RATE_LIMITED =
  "You have exceeded your hourly rate limit. Please contact support@fastly.com if you think this is a mistake.";

const SUDO_DEFAULT_MS = 5 * 60_000;
const SCOPES = new Set(["global", "global:read", "purge_all", "purge_select"]);
const ROLES: readonly string[] = ["billing", "engineer", "user"];

const ok = (body: unknown): Reply => ({ status: 200, body });
const noContent: Reply = { status: 204 };
const notFound = (): ApiError => apiError(404, "Record not found");

function requireAuth(ctx: ApiContext): Auth {
  // Routes declared `required` never reach a handler without auth; this narrows the type.
  if (!ctx.auth) throw apiError(401, INVALID_CREDENTIALS);
  return ctx.auth;
}

/** True when the token has expired on the emulator's clock. */
export function isExpired(token: TokenRecord, now: Date): boolean {
  return token.expiresAt !== null && token.expiresAt.getTime() <= now.getTime();
}

/** True when the scope string allows reads / writes. */
export function scopeAllows(scope: string, write: boolean): boolean {
  if (scope === "global") return true;
  const scopes = scope.split(" ");
  return write ? scopes.includes("global") : scopes.includes("global") || scopes.includes("global:read");
}

function validateScope(scope: string): string {
  const parts = scope.split(/\s+/).filter(Boolean);
  if (parts.length === 0 || !parts.every((s) => SCOPES.has(s))) {
    throw badRequest(`Invalid scope '${scope}': use global, global:read, purge_all or purge_select`);
  }
  return parts.join(" ");
}

function parseExpiry(text: string | undefined, now: Date, key: string): Date | null {
  // go-fastly sent the zero time for "never" in 2024; the API answered expires_at:null.
  if (text === undefined || text === "" || text.startsWith("0001-01-01")) return null;
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) throw badRequest(`'${key}' must be an RFC 3339 timestamp`);
  if (date.getTime() <= now.getTime()) throw badRequest(`'${key}' must be in the future`);
  // The API keeps whole seconds.
  return new Date(Math.floor(date.getTime() / 1000) * 1000);
}

function validateServices(state: AccountState, ids: readonly string[]): string[] {
  for (const id of ids) {
    if (!state.services.has(id)) throw badRequest(`Service '${id}' does not exist`);
  }
  return [...new Set(ids)];
}

/** Services the token may see: its own list when it is limited, else every service. */
export function visibleServices(state: AccountState, token: TokenRecord): ServiceRecord[] {
  if (!token.limitServices) return [...state.services.values()];
  return token.services.flatMap((id) => state.services.get(id) ?? []);
}

function canSeeService(token: TokenRecord, serviceId: string): boolean {
  return !token.limitServices || token.services.includes(serviceId);
}

function liveToken(state: AccountState, id: string): TokenRecord | undefined {
  const token = state.tokens.get(id);
  return token && token.revokedAt === null ? token : undefined;
}

function isSuperuserUserToken(auth: Auth): boolean {
  return auth.token.kind === "user" && auth.user.role === "superuser";
}

function requireSuperuser(auth: Auth, action: string): void {
  if (auth.token.kind === "automation") {
    throw apiError(403, `Automation tokens cannot ${action}`, "Use a superuser's user token");
  }
  if (auth.user.role !== "superuser") {
    throw apiError(
      403,
      `Only superusers can ${action}`,
      `User '${auth.user.login}' has role '${auth.user.role}'`,
    );
  }
}

function canRevoke(auth: Auth, target: TokenRecord): boolean {
  if (target.id === auth.token.id) return true;
  if (auth.token.kind === "user" && target.kind === "user" && target.userId === auth.user.id) return true;
  return isSuperuserUserToken(auth);
}

function revoke(target: TokenRecord, now: Date): void {
  target.revokedAt = now;
}

function rtError(status: number, message: string): ApiError {
  return new ApiError(status, { Error: message });
}

// ---------------------------------------------------------------------------------------------
// Handlers

function getCurrentUser(ctx: ApiContext): Reply {
  const auth = requireAuth(ctx);
  if (auth.token.kind === "automation") {
    throw apiError(403, "Automation tokens cannot access /current_user", "Use a user token");
  }
  return ok(rep.currentUser(auth.user, ctx.state.customer.id));
}

function getVerify(ctx: ApiContext): Reply {
  const auth = requireAuth(ctx);
  return ok(rep.verify(ctx.state, auth.user, auth.token, visibleServices(ctx.state, auth.token)));
}

async function postSudo(ctx: ApiContext): Promise<Reply> {
  const auth = requireAuth(ctx);
  if (auth.token.kind === "automation") {
    throw apiError(403, "Automation tokens cannot enter sudo mode", "Use a user token");
  }
  const fields = await ctx.body();
  const password = stringField(fields, "password");
  if (password === undefined || password === "") throw badRequest("'password' is required");
  const username = stringField(fields, "username");
  if ((username !== undefined && username !== auth.user.login) || !checkPassword(auth.user, password)) {
    throw apiError(403, "Forbidden", "The supplied username/password combination is not correct.");
  }
  const expiryText = stringField(fields, "expiry_time");
  const expiresAt =
    expiryText === undefined || expiryText === ""
      ? new Date(Math.floor((ctx.now.getTime() + SUDO_DEFAULT_MS) / 1000) * 1000)
      : parseExpiry(expiryText, ctx.now, "expiry_time");
  if (expiresAt === null) throw badRequest("'expiry_time' must be in the future");
  auth.user.sudoExpiresAt = expiresAt;
  auth.user.sudoTokenId = auth.token.id;
  auth.token.sudoExpiresAt = expiresAt;
  return ok({ expiry_time: formatOffsetTimestamp(expiresAt) });
}

function findUserByLogin(state: AccountState, login: string): UserRecord | undefined {
  for (const user of state.users.values()) if (user.login === login) return user;
  return undefined;
}

async function postTokens(ctx: ApiContext): Promise<Reply> {
  const fields = await ctx.body();
  const username = stringField(fields, "username");
  const password = stringField(fields, "password") || undefined;
  const wrongCredentials = (): ApiError =>
    apiError(403, "Forbidden", "The supplied username/password combination is not correct.");
  let user: UserRecord;
  if (ctx.auth) {
    if (ctx.auth.token.kind === "automation") {
      throw apiError(403, "Automation tokens cannot create tokens", "Use a user token and password");
    }
    user = ctx.auth.user;
    if (username !== undefined && username !== user.login) throw wrongCredentials();
    if (password === undefined) {
      // Without a password the key must be in sudo mode, the state the CLI's POST /sudo sets up.
      if (user.sudoExpiresAt === null || user.sudoExpiresAt <= ctx.now) throw apiError(403, SUDO_REQUIRED);
    } else if (!checkPassword(user, password)) {
      throw wrongCredentials();
    }
  } else {
    if (username === undefined || password === undefined) throw apiError(401, INVALID_CREDENTIALS);
    const found = findUserByLogin(ctx.state, username);
    if (found) ctx.consumeRateLimit(found.id);
    if (!found || !checkPassword(found, password)) throw wrongCredentials();
    user = found;
    if (user.sso) {
      throw apiError(403, "Password login is disabled because single sign-on (SSO) is enforced");
    }
    const otp = ctx.headers["fastly-otp"];
    if (user.mfa && !(typeof otp === "string" && /^\d{6}$/.test(otp))) {
      throw new ApiError(400, {
        msg: "A two-factor authentication code is required in the Fastly-OTP header",
        code: "2fa.verify",
      });
    }
  }
  const services = validateServices(ctx.state, stringListField(fields, "services") ?? []);
  const { token, value } = issueToken(ctx, fields, {
    kind: "user",
    name: requiredName(fields),
    userId: user.id,
    role: null,
    roles: [],
    services,
    limitServices: services.length > 0,
    workspaces: [],
    limitWorkspaces: false,
    tlsAccess: false,
  });
  return ok(rep.userTokenCreated(token, value, ctx.state.customer.id));
}

/** A create request's `name`, which every token needs. */
function requiredName(fields: Fields): string {
  const name = stringField(fields, "name");
  if (name === undefined || name === "") throw badRequest("'name' is required");
  return name;
}

/**
 * Create and store a token, user or automation alike: what differs (`kind`, roles, services, TLS
 * access) is given; scope and expiry are read from the create request's fields and checked.
 */
function issueToken(
  ctx: ApiContext,
  fields: Fields,
  given: Pick<
    TokenRecord,
    | "kind"
    | "name"
    | "userId"
    | "role"
    | "roles"
    | "services"
    | "limitServices"
    | "workspaces"
    | "limitWorkspaces"
    | "tlsAccess"
  >,
): { readonly token: TokenRecord; readonly value: string } {
  const scope = validateScope(stringField(fields, "scope") ?? "global");
  const expiresAt = parseExpiry(stringField(fields, "expires_at"), ctx.now, "expires_at");
  const value = newTokenValue();
  const token: TokenRecord = {
    id: ctx.state.newId(),
    ...given,
    scope,
    createdAt: wholeSecond(ctx.now),
    expiresAt,
    lastUsedAt: null,
    ip: null,
    userAgent: null,
    sudoExpiresAt: null,
    revokedAt: null,
  };
  ctx.state.addToken(token, value);
  return { token, value };
}

function wholeSecond(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 1000) * 1000);
}

function getTokens(ctx: ApiContext): Reply {
  const auth = requireAuth(ctx);
  if (auth.token.kind === "automation") {
    throw apiError(403, "Automation tokens cannot list user tokens", "Use GET /tokens/self");
  }
  const list = [...ctx.state.tokens.values()].filter(
    (t) => t.kind === "user" && t.userId === auth.user.id && t.revokedAt === null,
  );
  return ok(list.map((t) => rep.userToken(t, ctx.state.customer.id)));
}

function getTokenSelf(ctx: ApiContext): Reply {
  // Serialised once per state of the token: most callers ask this over and over.
  return ok(rep.tokenSelfJson(requireAuth(ctx).token, ctx.state));
}

function deleteTokenSelf(ctx: ApiContext): Reply {
  revoke(requireAuth(ctx).token, ctx.now);
  return noContent;
}

function getToken(ctx: ApiContext, [id]: readonly string[]): Reply {
  const auth = requireAuth(ctx);
  const target = liveToken(ctx.state, id ?? "");
  if (!target) throw notFound();
  if (!canRevoke(auth, target)) throw apiError(403, "You can only view your own tokens");
  return ok(rep.userToken(target, ctx.state.customer.id));
}

function deleteToken(ctx: ApiContext, [id]: readonly string[]): Reply {
  const auth = requireAuth(ctx);
  const target = liveToken(ctx.state, id ?? "");
  if (!target) throw notFound();
  if (!canRevoke(auth, target)) {
    throw apiError(403, "Users may only revoke their own tokens", "Superusers may revoke tokens of others");
  }
  revoke(target, ctx.now);
  return noContent;
}

async function deleteTokensBulk(ctx: ApiContext): Promise<Reply> {
  const auth = requireAuth(ctx);
  const fields = await ctx.body();
  const data = fields["data"];
  if (!Array.isArray(data) || data.length === 0) {
    throw badRequest('Expected {"data":[{"type":"token","id":"..."}]}');
  }
  const targets: TokenRecord[] = [];
  for (const item of data as unknown[]) {
    const entry = item as { type?: unknown; id?: unknown } | null;
    if (
      entry === null ||
      typeof entry !== "object" ||
      entry.type !== "token" ||
      typeof entry.id !== "string"
    ) {
      throw badRequest('Each item must be {"type":"token","id":"..."}');
    }
    const target = liveToken(ctx.state, entry.id);
    if (!target) throw apiError(404, "Record not found", `Token '${entry.id}' does not exist`);
    if (!canRevoke(auth, target)) {
      throw apiError(403, "Users may only revoke their own tokens", "Superusers may revoke tokens of others");
    }
    targets.push(target);
  }
  // All or nothing: every id is checked before any token is revoked.
  for (const target of targets) revoke(target, ctx.now);
  return noContent;
}

function getCustomerTokens(ctx: ApiContext, [customerId]: readonly string[]): Reply {
  const auth = requireAuth(ctx);
  if (customerId !== ctx.state.customer.id) throw notFound();
  requireSuperuser(auth, "list the customer's tokens");
  const list = [...ctx.state.tokens.values()].filter((t) => t.kind === "user" && t.revokedAt === null);
  return ok(list.map((t) => rep.userToken(t, ctx.state.customer.id)));
}

function getAutomationTokens(ctx: ApiContext): Reply {
  requireSuperuser(requireAuth(ctx), "list automation tokens");
  const page = intParam(ctx.query, "page", 1, 1, 1_000_000);
  const perPage = intParam(ctx.query, "per_page", 100, 1, 1000);
  const all = [...ctx.state.tokens.values()].filter((t) => t.kind === "automation" && t.revokedAt === null);
  const data = all
    .slice((page - 1) * perPage, page * perPage)
    .map((t) => rep.automationTokenListItem(t, ctx.state));
  return ok({
    data,
    meta: {
      per_page: perPage,
      current_page: page,
      record_count: all.length,
      total_pages: Math.max(1, Math.ceil(all.length / perPage)),
    },
  });
}

function automationTokenById(ctx: ApiContext, id: string | undefined): TokenRecord {
  const token = liveToken(ctx.state, id ?? "");
  if (!token || token.kind !== "automation") throw notFound();
  return token;
}

async function postAutomationTokens(ctx: ApiContext): Promise<Reply> {
  const auth = requireAuth(ctx);
  if (auth.token.kind === "automation") {
    throw apiError(403, "Automation tokens cannot create tokens", "Use a superuser's user token");
  }
  const { user } = auth;
  if (user.role !== "superuser") {
    throw apiError(
      403,
      "Only superusers can create automation tokens",
      `User '${user.login}' has role '${user.role}'`,
    );
  }
  if (user.sso) {
    throw apiError(403, "Automation tokens cannot be created while single sign-on (SSO) is enforced");
  }
  if (user.mfa) {
    throw apiError(
      403,
      "Automation tokens cannot be created while multi-factor authentication (MFA) is enforced",
    );
  }
  if (user.sudoExpiresAt === null || user.sudoExpiresAt <= ctx.now) throw apiError(403, SUDO_REQUIRED);

  let fields = await ctx.body();
  // fastly-js 13 wraps the body in {"attributes":{...}}; the API's own shape is flat.
  const attributes = fields["attributes"];
  if (fields["name"] === undefined && attributes !== null && typeof attributes === "object") {
    fields = attributes as Fields;
  }
  const name = requiredName(fields);
  const access =
    ctx.state.apiVersion === "2026" ? accessSince2026(ctx.state, fields) : accessUntil2025(ctx.state, fields);
  const { token, value } = issueToken(ctx, fields, {
    kind: "automation",
    name,
    userId: user.id,
    ...access,
    tlsAccess: booleanField(fields, "tls_access") ?? false,
  });
  return ok(rep.automationTokenCreated(token, value, ctx.state));
}

type Access = Pick<
  TokenRecord,
  "role" | "roles" | "services" | "limitServices" | "workspaces" | "limitWorkspaces"
>;

/** 2024-2025 (recorded): one `role`; `services` given means limited to them, none means every service. */
function accessUntil2025(state: AccountState, fields: Fields): Access {
  const role = ROLES.find((r) => r === stringField(fields, "role"));
  if (role === undefined) throw badRequest("'role' must be one of billing, engineer, user");
  const services = validateServices(state, stringListField(fields, "services") ?? []);
  const roleId = state.roleByName(role)?.id;
  return {
    role,
    roles: roleId ? [roleId] : [],
    services,
    limitServices: services.length > 0,
    workspaces: [],
    limitWorkspaces: false,
  };
}

/**
 * Since 2026-09: `roles` (ids from `GET /roles`) take precedence over `role`; `services` apply only
 * with `limit_services: true` (default false: every service); `workspaces` with `limit_workspaces`
 * (default true) only for roles that take workspaces.
 */
function accessSince2026(state: AccountState, fields: Fields): Access {
  const ids = stringListField(fields, "roles");
  let roles: string[];
  if (ids !== undefined && ids.length > 0) {
    const unknown = ids.filter((id) => !state.roles.has(id));
    if (unknown.length > 0) {
      throw badRequest(
        `Unknown role id ${unknown.map((id) => `'${id}'`).join(", ")}: list the roles with GET /roles`,
      );
    }
    roles = state.sortRoles(ids);
  } else {
    const name = stringField(fields, "role");
    const role = name === undefined ? undefined : state.roleByName(name);
    if (role === undefined) throw badRequest("'roles' (role ids from GET /roles) or 'role' is required");
    roles = [role.id];
  }
  const limitServices = booleanField(fields, "limit_services") ?? false;
  const services = limitServices ? validateServices(state, stringListField(fields, "services") ?? []) : [];
  const takesWorkspaces = roles.some((id) => state.roles.get(id)?.workspaces === true);
  const limitWorkspaces = takesWorkspaces && (booleanField(fields, "limit_workspaces") ?? true);
  const workspaces = limitWorkspaces ? [...new Set(stringListField(fields, "workspaces") ?? [])] : [];
  return {
    role: state.roles.get(roles[0] ?? "")?.name ?? null,
    roles,
    services,
    limitServices,
    workspaces,
    limitWorkspaces,
  };
}

function getRoles(ctx: ApiContext): Reply {
  requireAuth(ctx);
  const page = intParam(ctx.query, "page", 1, 1, 1_000_000);
  const perPage = intParam(ctx.query, "per_page", 100, 1, 1000);
  const all = [...ctx.state.roles.values()];
  return ok({
    data: all.slice((page - 1) * perPage, page * perPage).map((r) => rep.role(r)),
    meta: {
      per_page: perPage,
      current_page: page,
      record_count: all.length,
      total_pages: Math.max(1, Math.ceil(all.length / perPage)),
    },
  });
}

function getCustomerUsers(ctx: ApiContext, [customerId]: readonly string[]): Reply {
  const auth = requireAuth(ctx);
  if (customerId !== ctx.state.customer.id) throw notFound();
  if (auth.token.kind === "automation") {
    throw apiError(403, "Automation tokens cannot list users", "Use a user token");
  }
  const list = [...ctx.state.users.values()].filter((u) => u.deletedAt === null);
  return ok(list.map((u) => rep.currentUser(u, ctx.state.customer.id)));
}

function getAutomationToken(ctx: ApiContext, [id]: readonly string[]): Reply {
  requireSuperuser(requireAuth(ctx), "read automation tokens");
  return ok(rep.automationTokenGet(automationTokenById(ctx, id), ctx.state));
}

function getAutomationTokenServices(ctx: ApiContext, [id]: readonly string[]): Reply {
  requireSuperuser(requireAuth(ctx), "read automation tokens");
  return ok({ data: [...automationTokenById(ctx, id).services] });
}

function deleteAutomationToken(ctx: ApiContext, [id]: readonly string[]): Reply {
  requireSuperuser(requireAuth(ctx), "revoke automation tokens");
  revoke(automationTokenById(ctx, id), ctx.now);
  return noContent;
}

const SORTS = ["created", "name", "updated", "id"] as const;
type ServiceSort = (typeof SORTS)[number];
const isServiceSort = (text: string): text is ServiceSort => (SORTS as readonly string[]).includes(text);

function getServices(ctx: ApiContext): Reply {
  const auth = requireAuth(ctx);
  const page = intParam(ctx.query, "page", 1, 1, 1_000_000);
  const perPage = intParam(ctx.query, "per_page", 20, 1, 1000);
  const sort = ctx.query.get("sort") || "created";
  if (!isServiceSort(sort)) throw badRequest(`'sort' must be one of ${SORTS.join(", ")}`);
  const direction = ctx.query.get("direction") || "ascend";
  if (direction !== "ascend" && direction !== "descend") {
    throw badRequest("'direction' must be ascend or descend");
  }
  const includeVersions = ctx.query.get("filter[include_versions]") !== "false";
  const sorted = ctx.state.servicesSorted(sort, direction);
  const visible = auth.token.limitServices ? sorted.filter((s) => canSeeService(auth.token, s.id)) : sorted;
  const items = visible
    .slice((page - 1) * perPage, page * perPage)
    .map((s) => serviceListItemJson(s, ctx.state.customer.id, includeVersions));
  // Sent as it is: the JSON array of the items' JSON.
  const body = `[${items.join(",")}]`;
  const lastPage = Math.ceil(visible.length / perPage);
  const link = paginationLink(ctx, page, lastPage);
  return link ? { status: 200, body, headers: { Link: link } } : ok(body);
}

/**
 * Service list items as JSON, kept by record (with and without versions): a service never changes
 * (a reset makes new records), and a page of 1,000 would otherwise be rebuilt and serialised again
 * on every request.
 */
const serviceListJson = {
  with: new WeakMap<ServiceRecord, string>(),
  without: new WeakMap<ServiceRecord, string>(),
};

function serviceListItemJson(service: ServiceRecord, customerId: string, includeVersions: boolean): string {
  const cache = includeVersions ? serviceListJson.with : serviceListJson.without;
  let json = cache.get(service);
  if (json === undefined) {
    json = JSON.stringify(rep.serviceListItem(service, customerId, includeVersions));
    cache.set(service, json);
  }
  return json;
}

/**
 * The Link header as recorded: `last`, `next` while there are more pages, then `prev`, `first`
 * after page 1; URLs echo the request's query (sorted by name) with `page` replaced.
 */
function paginationLink(ctx: ApiContext, page: number, lastPage: number): string | undefined {
  const url = (target: number): string => {
    const params = new URLSearchParams(ctx.query);
    params.set("page", String(target));
    params.sort();
    return `<${ctx.baseUrl}${ctx.path}?${params.toString()}>`;
  };
  const parts: string[] = [];
  if (page < lastPage) parts.push(`${url(lastPage)}; rel="last"`, `${url(page + 1)}; rel="next"`);
  if (page > 1) parts.push(`${url(page - 1)}; rel="prev"`, `${url(1)}; rel="first"`);
  return parts.length > 0 ? parts.join(", ") : undefined;
}

function visibleService(ctx: ApiContext, id: string | undefined): ServiceRecord {
  const auth = requireAuth(ctx);
  const service = ctx.state.services.get(id ?? "");
  if (!service) throw apiError(404, "Record not found", `Cannot find service '${id ?? ""}'`);
  if (!canSeeService(auth.token, service.id)) {
    throw apiError(403, "Forbidden", `This token is not allowed to access service '${service.id}'`);
  }
  return service;
}

function getService(ctx: ApiContext, [id]: readonly string[]): Reply {
  return ok(rep.serviceGet(visibleService(ctx, id), ctx.state.customer.id));
}

function getServiceDetails(ctx: ApiContext, [id]: readonly string[]): Reply {
  return ok(rep.serviceDetails(visibleService(ctx, id), ctx.state.customer.id));
}

function searchService(ctx: ApiContext): Reply {
  const auth = requireAuth(ctx);
  const name = ctx.query.get("name");
  if (name === null || name === "") throw badRequest("'name' is required");
  const service = ctx.state.serviceByName(name);
  if (!service || !canSeeService(auth.token, service.id)) throw notFound();
  return ok(rep.serviceSearch(service, ctx.state.customer.id));
}

async function getRealtime(ctx: ApiContext, [serviceId, ts, limitText]: readonly string[]): Promise<Reply> {
  const auth = requireAuth(ctx);
  const service = ctx.state.services.get(serviceId ?? "");
  if (!service) throw rtError(404, "Service not found");
  if (!canSeeService(auth.token, service.id)) throw rtError(403, "unauthorized");
  const limit = limitText ? Math.max(1, Math.min(120, Number(limitText))) : 120;
  const nowSeconds = (): number => unixSeconds(ctx.clockNow());
  const after = (): number => (ts === "h" ? nowSeconds() - 121 : Number(ts));
  let body = realtimeResponse(service.id, nowSeconds(), after(), limit);
  if (body.Data.length === 0) {
    // rt.fastly.com long-polls until the next second has data; wait at most that second.
    const now = ctx.clockNow();
    await ctx.sleep(Math.min(1000, 1000 - now.getUTCMilliseconds() + 5));
    body = realtimeResponse(service.id, nowSeconds(), after(), limit);
  }
  return ok(body);
}

function getOpenIdConfiguration(ctx: ApiContext): Reply {
  const realm = `${ctx.baseUrl}/realms/fastly`;
  return ok({
    issuer: realm,
    authorization_endpoint: `${realm}/protocol/openid-connect/auth`,
    jwks_uri: `${realm}/protocol/openid-connect/certs`,
    token_endpoint: `${realm}/protocol/openid-connect/token`,
  });
}

const ID = "([0-9A-Za-z]+)";

/** Every covered endpoint. More specific patterns come first. */
export const routes: readonly Route[] = [
  { method: "GET", pattern: /^\/current_user$/, auth: "required", handler: getCurrentUser },
  { method: "GET", pattern: /^\/verify$/, auth: "required", handler: getVerify },
  { method: "POST", pattern: /^\/sudo$/, auth: "required", handler: postSudo },
  { method: "GET", pattern: /^\/tokens$/, auth: "required", handler: getTokens },
  { method: "POST", pattern: /^\/tokens$/, auth: "optional", handler: postTokens },
  { method: "DELETE", pattern: /^\/tokens$/, auth: "required", handler: deleteTokensBulk },
  { method: "GET", pattern: /^\/tokens\/self$/, auth: "required", handler: getTokenSelf },
  {
    method: "DELETE",
    pattern: /^\/tokens\/self$/,
    auth: "required",
    anyScope: true,
    handler: deleteTokenSelf,
  },
  { method: "GET", pattern: new RegExp(`^/tokens/${ID}$`), auth: "required", handler: getToken },
  { method: "DELETE", pattern: new RegExp(`^/tokens/${ID}$`), auth: "required", handler: deleteToken },
  {
    method: "GET",
    pattern: new RegExp(`^/customer/${ID}/tokens$`),
    auth: "required",
    handler: getCustomerTokens,
  },
  {
    method: "GET",
    pattern: new RegExp(`^/customer/${ID}/users$`),
    auth: "required",
    handler: getCustomerUsers,
  },
  { method: "GET", pattern: /^\/roles$/, auth: "required", problemJson: true, handler: getRoles },
  {
    method: "GET",
    pattern: /^\/automation-tokens$/,
    auth: "required",
    problemJson: true,
    handler: getAutomationTokens,
  },
  {
    method: "POST",
    pattern: /^\/automation-tokens$/,
    auth: "required",
    problemJson: true,
    handler: postAutomationTokens,
  },
  {
    method: "GET",
    pattern: new RegExp(`^/automation-tokens/${ID}/services$`),
    auth: "required",
    problemJson: true,
    handler: getAutomationTokenServices,
  },
  {
    method: "GET",
    pattern: new RegExp(`^/automation-tokens/${ID}$`),
    auth: "required",
    problemJson: true,
    handler: getAutomationToken,
  },
  {
    method: "DELETE",
    pattern: new RegExp(`^/automation-tokens/${ID}$`),
    auth: "required",
    problemJson: true,
    handler: deleteAutomationToken,
  },
  { method: "GET", pattern: /^\/service$/, auth: "required", handler: getServices },
  { method: "GET", pattern: /^\/service\/search$/, auth: "required", handler: searchService },
  { method: "GET", pattern: new RegExp(`^/service/${ID}$`), auth: "required", handler: getService },
  {
    method: "GET",
    pattern: new RegExp(`^/service/${ID}/details$`),
    auth: "required",
    handler: getServiceDetails,
  },
  {
    method: "GET",
    pattern: new RegExp(`^/v1/channel/${ID}/ts/(h|\\d+)(?:/limit/(\\d+))?$`),
    auth: "required",
    realtime: true,
    handler: getRealtime,
  },
  {
    method: "GET",
    pattern: /^\/realms\/fastly\/\.well-known\/openid-configuration$/,
    auth: "none",
    handler: getOpenIdConfiguration,
  },
];

type RouteMatch = { route: Route; params: string[] } | { route: undefined; pathKnown: boolean };

/** The first route matching `path` and `method` in table order, and whether any route matched the path. */
function scanRoutes(method: string, path: string): RouteMatch {
  let pathKnown = false;
  for (const route of routes) {
    const match = route.pattern.exec(path);
    if (!match) continue;
    pathKnown = true;
    if (route.method === method) return { route, params: match.slice(1).map((p) => p ?? "") };
  }
  return { route: undefined, pathKnown };
}

/**
 * The scan's answers for every path a pattern spells out literally (`/tokens/self`, `/service`),
 * by method, worked out once: most requests are to those paths, and a map lookup costs less than
 * testing the patterns in turn. A method no route has gets `pathKnown` (405), as the scan says.
 */
const literalPaths: ReadonlyMap<string, ReadonlyMap<string, RouteMatch>> = (() => {
  const methods = [...new Set(routes.map((r) => r.method))];
  const out = new Map<string, Map<string, RouteMatch>>();
  for (const route of routes) {
    const source = route.pattern.source;
    // `^...$` with only escaped punctuation between: no groups, classes or quantifiers.
    if (!/^\^(?:[A-Za-z0-9_\-/]|\\[./-])*\$$/.test(source)) continue;
    const path = source.slice(1, -1).replace(/\\(.)/g, "$1");
    if (!route.pattern.test(path) || out.has(path)) continue;
    out.set(path, new Map(methods.map((m) => [m, scanRoutes(m, path)])));
  }
  return out;
})();

/** The route for a request; HEAD is served as GET. */
export function matchRoute(method: string, path: string): RouteMatch {
  const wanted = method === "HEAD" ? "GET" : method;
  const literal = literalPaths.get(path);
  if (literal !== undefined) return literal.get(wanted) ?? { route: undefined, pathKnown: true };
  return scanRoutes(wanted, path);
}

/**
 * Authentication common to every route. Returns the caller (or undefined for public routes and
 * optional auth without a key); throws the error reply for a missing, unknown, revoked or expired
 * key. The caller records the use of a valid key and then checks its scope ({@link checkScope}):
 * a request refused for its scope still uses the token.
 */
export function authenticate(
  state: AccountState,
  route: Route,
  key: string | undefined,
  /** The token `key` belongs to (`state.tokenByValue(key)`), looked up once by the caller. */
  token: TokenRecord | undefined,
  now: Date,
): Auth | undefined {
  if (route.auth === "none" || (route.auth === "optional" && !key)) return undefined;
  if (!token || token.revokedAt !== null) throw invalidKey(route);
  if (isExpired(token, now)) {
    const message = `Token ${token.id} expired at ${formatTime(token.expiresAt ?? now)}`;
    throw route.realtime ? rtError(401, message) : apiError(401, message);
  }
  const user = state.users.get(token.userId);
  // A user who left the account takes their user tokens along; automation tokens they made stay.
  if (!user || (token.kind === "user" && user.deletedAt !== null)) throw invalidKey(route);
  return { token, user };
}

function invalidKey(route: Route): ApiError {
  return route.realtime ? rtError(403, "unauthorized") : apiError(401, INVALID_CREDENTIALS);
}

/** Throws the 403 when the caller's scope does not allow the request (`write`: not GET or HEAD). */
export function checkScope(route: Route, auth: Auth, write: boolean): void {
  if (!(route.anyScope ?? false) && !scopeAllows(auth.token.scope, write)) {
    const message = `A token with scope '${auth.token.scope}' cannot ${write ? "make write requests" : "read this"}`;
    throw route.realtime ? rtError(403, message) : apiError(403, "Forbidden", message);
  }
}

/** Record a use of the token, as the API does on every authenticated request. */
export function touch(auth: Auth, now: Date, ip: string, userAgent: string | undefined): void {
  auth.token.lastUsedAt = sameSecond(auth.token.lastUsedAt, now);
  auth.token.ip = ip;
  auth.token.userAgent = userAgent ?? null;
  if (auth.token.kind === "user") auth.user.lastActiveAt = sameSecond(auth.user.lastActiveAt, now);
}

/** `now` to the whole second: `previous` when it is already that (most uses fall in the same second). */
function sameSecond(previous: Date | null, now: Date): Date {
  const ms = Math.floor(now.getTime() / 1000) * 1000;
  return previous !== null && previous.getTime() === ms ? previous : new Date(ms);
}

/** The rate-limit identity: the user, or an automation token itself (it has no user). */
export function rateLimitKey(auth: Auth): string {
  return auth.token.kind === "automation" ? `token:${auth.token.id}` : auth.user.id;
}
