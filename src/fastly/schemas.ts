/**
 * Response schemas: each lists only the fields the tool reads and normalises the representations
 * the API uses for them. `""`, `null` and `0001-01-01T00:00:00Z` all mean "unset"; `scope` (string)
 * and `scopes` (string or array) both become `scopes: string[]`; `services: null` becomes `[]`.
 * Each schema is built the first time it parses (`z.lazy`), so a command builds only those it uses.
 */
import * as z from "zod";
import type {
  AccountUser,
  AutomationToken,
  Role,
  CreatedAutomationToken,
  CurrentUser,
  Service,
  SudoSession,
  TokenSelf,
} from "./types.ts";

/**
 * The field kinds the response schemas share, built on first use: a command that reads one answer
 * builds the few schemas it parses with, not all of them (start-up).
 */
const fields = once(() => {
  /** A time field: RFC 3339 string, or one of the API's ways of saying "unset". */
  const time = z
    .union([z.string(), z.null()])
    .optional()
    .transform((value, ctx): Date | undefined => {
      if (value === undefined || value === null || value === "" || value.startsWith("0001-01-01")) {
        return undefined;
      }
      const date = new Date(value);
      if (Number.isNaN(date.getTime())) {
        ctx.addIssue({ code: "custom", message: "is not a valid timestamp" });
        return z.NEVER;
      }
      return date;
    });

  /** An optional string where `""` and `null` mean unset. */
  const text = z
    .union([z.string(), z.null()])
    .optional()
    .transform((value) => (value === null || value === undefined || value === "" ? undefined : value));

  const services = z
    .union([z.array(z.string()), z.null()])
    .optional()
    .transform((value) => value ?? []);

  const scopeValue = z.union([z.string(), z.array(z.string()), z.null()]).optional();

  /** `roles: [{id, name}]` (2026 API); ids alone are accepted too. Absent or null: not said. */
  const rolesValue = z
    .union([
      z.array(
        z.union([z.object({ id: z.string(), name: z.union([z.string(), z.null()]).optional() }), z.string()]),
      ),
      z.null(),
    ])
    .optional()
    .transform((value): Role[] | undefined =>
      value === null || value === undefined
        ? undefined
        : value.map((r) => (typeof r === "string" ? { id: r, name: "" } : { id: r.id, name: r.name ?? "" })),
    );

  const flag = z
    .union([z.boolean(), z.null()])
    .optional()
    .transform((v) => v ?? undefined);
  return { time, text, services, scopeValue, rolesValue, flag };
});

/** `make()`, called once, on first use. */
function once<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}

function splitScopes(value: string | string[] | null | undefined): string[] {
  if (value === null || value === undefined) return [];
  const parts = Array.isArray(value) ? value.flatMap((s) => s.split(" ")) : value.split(" ");
  return parts.filter((s) => s !== "");
}

const automationTokenFields = once(() => {
  const { time, text, services, scopeValue, rolesValue, flag } = fields();
  return z.object({
    id: z.string().min(1),
    name: z.string(),
    role: text,
    scope: scopeValue,
    scopes: scopeValue,
    services,
    expires_at: time,
    last_used_at: time,
    created_at: time,
    ip: text,
    user_agent: text,
    customer_id: text,
    creator_id: text,
    user_id: text,
    tls_access: z.union([z.boolean(), z.null()]).optional(),
    roles: rolesValue,
    limit_services: flag,
    workspaces: z
      .union([z.array(z.string()), z.null()])
      .optional()
      .transform((v) => v ?? undefined),
  });
});

type AutomationTokenFields = z.output<ReturnType<typeof automationTokenFields>>;

function toAutomationToken(raw: AutomationTokenFields): AutomationToken {
  // `scopes` wins where both appear: the list endpoint sends only `scopes`, the others only `scope`.
  // Built field by field (no intermediate object): a listing makes one for each of thousands.
  const token: Mutable<AutomationToken> = {
    id: raw.id,
    name: raw.name,
    role: raw.role ?? raw.roles?.[0]?.name ?? "",
    scopes: splitScopes(raw.scopes ?? raw.scope),
    services: raw.services,
  };
  if (raw.roles !== undefined) token.roles = raw.roles;
  if (raw.limit_services !== undefined) token.limitServices = raw.limit_services;
  if (raw.workspaces !== undefined) token.workspaces = raw.workspaces;
  if (raw.expires_at !== undefined) token.expiresAt = raw.expires_at;
  if (raw.last_used_at !== undefined) token.lastUsedAt = raw.last_used_at;
  if (raw.created_at !== undefined) token.createdAt = raw.created_at;
  if (raw.ip !== undefined) token.ip = raw.ip;
  if (raw.user_agent !== undefined) token.userAgent = raw.user_agent;
  if (raw.customer_id !== undefined) token.customerId = raw.customer_id;
  const creatorId = raw.creator_id ?? raw.user_id;
  if (creatorId !== undefined) token.creatorId = creatorId;
  if (raw.tls_access !== undefined && raw.tls_access !== null) token.tlsAccess = raw.tls_access;
  return token;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** `GET /automation-tokens/{id}` and one item of the list. */
export const automationTokenSchema = z.lazy(() => automationTokenFields().transform(toAutomationToken));

/** `POST /automation-tokens`: the create shape, carrying the one-time `access_token`. */
export const createdAutomationTokenSchema = z.lazy(() =>
  automationTokenFields()
    .extend({ access_token: z.string().min(1, "access_token is empty") })
    .transform((raw): CreatedAutomationToken => ({
      ...toAutomationToken(raw),
      accessToken: raw.access_token,
    })),
);

/** `GET /automation-tokens`: `{data, meta}` envelope. */
export const automationTokenPageSchema = z.lazy(() =>
  z.object({
    data: z.array(automationTokenSchema),
    meta: z
      .object({
        total_pages: z.number().int().nonnegative().optional(),
        current_page: z.number().int().optional(),
        per_page: z.number().int().optional(),
        record_count: z.number().int().optional(),
      })
      .optional(),
  }),
);

/** `GET /tokens/self` (and items of `GET /tokens`). */
export const tokenSelfSchema = z.lazy(() => {
  const { time, text, services, scopeValue, rolesValue, flag } = fields();
  return z
    .object({
      id: z.string().min(1),
      name: z.union([z.string(), z.null()]).transform((v) => v ?? ""),
      user_id: text,
      customer_id: text,
      scope: scopeValue,
      scopes: scopeValue,
      services,
      expires_at: time,
      last_used_at: time,
      created_at: time,
      ip: text,
      user_agent: text,
      roles: rolesValue,
      limit_services: flag,
    })
    .transform((raw): TokenSelf =>
      withoutUndefined({
        id: raw.id,
        name: raw.name,
        userId: raw.user_id,
        customerId: raw.customer_id,
        scopes: splitScopes(raw.scopes ?? raw.scope),
        services: raw.services,
        expiresAt: raw.expires_at,
        lastUsedAt: raw.last_used_at,
        createdAt: raw.created_at,
        ip: raw.ip,
        userAgent: raw.user_agent,
        roles: raw.roles,
        limitServices: raw.limit_services,
      }),
    );
});

/** `GET /roles`: `{data, meta}` (meta optional). */
export const rolePageSchema = z.lazy(() =>
  z.object({
    data: z.array(
      z
        .object({ id: z.string().min(1), name: z.string() })
        .transform((r): Role => ({ id: r.id, name: r.name })),
    ),
    meta: z.object({ total_pages: z.number().int().nonnegative().optional() }).optional(),
  }),
);

/** `GET /customer/{id}/users`: a bare array of users. */
export const userListSchema = z.lazy(() =>
  z.array(
    z
      .object({ id: z.string().min(1), login: z.string(), role: z.string() })
      .transform((u): AccountUser => ({ id: u.id, login: u.login, role: u.role })),
  ),
);

/** `GET /current_user`. */
export const currentUserSchema = z.lazy(() =>
  z
    .object({
      id: z.string().min(1),
      login: z.string(),
      name: z.union([z.string(), z.null()]).transform((v) => v ?? ""),
      role: z.string(),
      customer_id: z.string(),
      two_factor_auth_enabled: z.union([z.boolean(), z.null()]).optional(),
      locked: z.union([z.boolean(), z.null()]).optional(),
    })
    .transform((raw): CurrentUser =>
      withoutUndefined({
        id: raw.id,
        login: raw.login,
        name: raw.name,
        role: raw.role,
        customerId: raw.customer_id,
        twoFactorAuthEnabled: raw.two_factor_auth_enabled ?? undefined,
        locked: raw.locked ?? undefined,
      }),
    ),
);

/** One service, from list, get or search. */
export const serviceSchema = z.lazy(() => {
  const { text } = fields();
  return z
    .object({
      id: z.string().min(1),
      name: z.string(),
      type: text,
      customer_id: text,
      version: z.union([z.number(), z.null()]).optional(),
    })
    .transform(toService);
});

function toService(raw: {
  id: string;
  name: string;
  type: string | undefined;
  customer_id: string | undefined;
  version?: number | null | undefined;
}): Service {
  const service: Mutable<Service> = { id: raw.id, name: raw.name };
  if (raw.type !== undefined) service.type = raw.type;
  if (raw.customer_id !== undefined) service.customerId = raw.customer_id;
  if (raw.version !== undefined && raw.version !== null) service.version = raw.version;
  return service;
}

/** `GET /service`: a bare array. */
export const serviceListSchema = z.lazy(() => z.array(serviceSchema));

/**
 * What an error body says, in any of the shapes Fastly uses (`{msg, detail}`, `{title, detail}`,
 * `{errors: [{title, detail}]}`, `{Error}`, `{error}`, plain text); never fails.
 */
export const apiErrorSchema = z.lazy(() => {
  /** Any value as a message: a non-empty string, else unset. */
  const said = z
    .unknown()
    .optional()
    .transform((v) => (typeof v === "string" && v !== "" ? v : undefined));
  /** One item of a JSON:API `errors` array; anything else there says nothing. */
  const errorItemSchema = z
    .object({ title: said, detail: said })
    .catch({ title: undefined, detail: undefined });
  return z
    .union([
      z.string().transform((text): ApiErrorSaid => ({ apiMessage: text })),
      z
        .object({
          msg: said,
          title: said,
          detail: said,
          Error: said,
          error: said,
          errors: z.array(errorItemSchema).catch([]).optional(),
        })
        .transform((raw): ApiErrorSaid => {
          const first = raw.errors?.[0];
          const message = raw.msg ?? raw.title ?? first?.title ?? raw.Error ?? raw.error;
          const detail = raw.detail ?? first?.detail;
          return { ...(message ? { apiMessage: message } : {}), ...(detail ? { apiDetail: detail } : {}) };
        }),
    ])
    .catch({});
});

/** What an error body says. */
interface ApiErrorSaid {
  readonly apiMessage?: string;
  readonly apiDetail?: string;
}

/** `POST /sudo`. */
export const sudoSchema = z.lazy(() =>
  z.object({ expiry_time: fields().time }).transform((raw, ctx): SudoSession => {
    if (raw.expiry_time === undefined) {
      ctx.addIssue({ code: "custom", message: "expiry_time is missing", path: ["expiry_time"] });
      return z.NEVER;
    }
    return { expiresAt: raw.expiry_time };
  }),
);

/**
 * Drop keys whose value is undefined, so objects satisfy `exactOptionalPropertyTypes` and compare
 * equal in tests whether a field was absent or unset.
 */
function withoutUndefined<T extends object>(value: { [K in keyof T]: T[K] | undefined }): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/*
 * Fast paths for the list pages, which a status at scale reads by the thousand. Each checks the
 * shape the API sends (every field the schema reads, with the same rules) and builds the same
 * output as the schema, without zod's per-field machinery. Anything else, even a shape the schema
 * would accept, gives undefined: the caller then parses with the schema, which accepts it or says
 * what is wrong, so results and error messages are the schema's own.
 */

/** The same as `text`, or FAIL. */
function fastText(value: unknown): string | undefined | typeof FAIL {
  if (value === undefined || value === null || value === "") return undefined;
  return typeof value === "string" ? value : FAIL;
}

/** The same as `time`, or FAIL (an unreadable timestamp is the schema's to report). */
function fastTime(value: unknown): Date | undefined | typeof FAIL {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") return FAIL;
  if (value.startsWith("0001-01-01")) return undefined;
  const ms = apiTimeMs(value);
  if (!Number.isNaN(ms)) return new Date(ms);
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? FAIL : date;
}

/** The digit at `i` of `text` as a number; NaN for any other character. */
function digit(text: string, i: number): number {
  const d = text.charCodeAt(i) - 48;
  return d >= 0 && d <= 9 ? d : Number.NaN;
}

/**
 * The instant of a time in the form the API writes (`2026-12-24T11:06:15Z`), read by hand: what
 * `new Date(text)` gives for it, at a fraction of the cost of parsing a date string (three a token,
 * by the ten thousand). NaN for any other form, and for a year before 100 (which `Date.UTC` would
 * take for 19xx), so the caller parses those as before.
 */
export function apiTimeMs(text: string): number {
  if (
    text.length !== 20 ||
    text.charCodeAt(4) !== 45 || // -
    text.charCodeAt(7) !== 45 ||
    text.charCodeAt(10) !== 84 || // T
    text.charCodeAt(13) !== 58 || // :
    text.charCodeAt(16) !== 58 ||
    text.charCodeAt(19) !== 90 // Z
  ) {
    return Number.NaN;
  }
  const year = digit(text, 0) * 1000 + digit(text, 1) * 100 + digit(text, 2) * 10 + digit(text, 3);
  const month = digit(text, 5) * 10 + digit(text, 6);
  const day = digit(text, 8) * 10 + digit(text, 9);
  const hour = digit(text, 11) * 10 + digit(text, 12);
  const minute = digit(text, 14) * 10 + digit(text, 15);
  const second = digit(text, 17) * 10 + digit(text, 18);
  // Within these ranges new Date(text) is Date.UTC of the fields (a 31st of a shorter month rolls
  // over alike); NaN (a character that is not a digit) fails every comparison.
  if (
    !(year >= 100) ||
    !(month >= 1 && month <= 12) ||
    !(day >= 1 && day <= 31) ||
    !(hour <= 23) ||
    !(minute <= 59) ||
    !(second <= 59)
  ) {
    return Number.NaN;
  }
  return Date.UTC(year, month - 1, day, hour, minute, second);
}

function isStringArray(value: unknown): value is string[] {
  if (!Array.isArray(value)) return false;
  for (const item of value) if (typeof item !== "string") return false;
  return true;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Marks a field the fast path does not accept. */
const FAIL: unique symbol = Symbol("fail");

/** The same as `scopeValue`, or FAIL. */
function fastScope(value: unknown): string | string[] | null | undefined | typeof FAIL {
  return value === undefined || value === null || typeof value === "string" || isStringArray(value)
    ? value
    : FAIL;
}

/** The same as `rolesValue` for `[{id, name}]`, `null` or absent; or FAIL. */
function fastRoles(value: unknown): Role[] | undefined | typeof FAIL {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) return FAIL;
  const roles: Role[] = [];
  for (const r of value) {
    if (!isRecord(r) || typeof r["id"] !== "string") return FAIL;
    const name = r["name"];
    if (name !== undefined && name !== null && typeof name !== "string") return FAIL;
    roles.push({ id: r["id"], name: name ?? "" });
  }
  return roles;
}

/** The same as `services` (and `workspaces`): a list of strings, or null or absent; else FAIL. */
function fastStrings(value: unknown): string[] | null | undefined | typeof FAIL {
  return value === undefined || value === null || isStringArray(value) ? value : FAIL;
}

/** The same as `splitScopes`: a single scope (no space) needs no splitting. */
function fastSplitScopes(value: string | string[] | null | undefined): string[] {
  if (typeof value === "string" && value !== "" && !value.includes(" ")) return [value];
  return splitScopes(value);
}

/**
 * One automation token as `automationTokenSchema` reads it, or undefined. Built directly, field by
 * field in `toAutomationToken`'s order, without the intermediate object the schema makes.
 */
function fastAutomationToken(raw: unknown): AutomationToken | undefined {
  if (!isRecord(raw)) return undefined;
  const { id, name } = raw;
  if (typeof id !== "string" || id === "" || typeof name !== "string") return undefined;
  const role = fastText(raw["role"]);
  const scope = fastScope(raw["scope"]);
  const scopes = fastScope(raw["scopes"]);
  const services = fastStrings(raw["services"]);
  const expires = fastTime(raw["expires_at"]);
  const lastUsed = fastTime(raw["last_used_at"]);
  const created = fastTime(raw["created_at"]);
  const ip = fastText(raw["ip"]);
  const userAgent = fastText(raw["user_agent"]);
  const customerId = fastText(raw["customer_id"]);
  const creatorId = fastText(raw["creator_id"]);
  const userId = fastText(raw["user_id"]);
  const tls = raw["tls_access"];
  const roles = fastRoles(raw["roles"]);
  const limit = raw["limit_services"];
  const workspaces = fastStrings(raw["workspaces"]);
  if (
    role === FAIL ||
    scope === FAIL ||
    scopes === FAIL ||
    services === FAIL ||
    expires === FAIL ||
    lastUsed === FAIL ||
    created === FAIL ||
    ip === FAIL ||
    userAgent === FAIL ||
    customerId === FAIL ||
    creatorId === FAIL ||
    userId === FAIL ||
    (tls !== undefined && tls !== null && typeof tls !== "boolean") ||
    roles === FAIL ||
    (limit !== undefined && limit !== null && typeof limit !== "boolean") ||
    workspaces === FAIL
  ) {
    return undefined;
  }
  // As toAutomationToken: `scopes` wins where both appear.
  const token: Mutable<AutomationToken> = {
    id,
    name,
    role: role ?? roles?.[0]?.name ?? "",
    scopes: fastSplitScopes(scopes ?? scope),
    services: services ?? [],
  };
  if (roles !== undefined) token.roles = roles;
  if (limit !== undefined && limit !== null) token.limitServices = limit;
  if (workspaces !== undefined && workspaces !== null) token.workspaces = workspaces;
  if (expires !== undefined) token.expiresAt = expires;
  if (lastUsed !== undefined) token.lastUsedAt = lastUsed;
  if (created !== undefined) token.createdAt = created;
  if (ip !== undefined) token.ip = ip;
  if (userAgent !== undefined) token.userAgent = userAgent;
  if (customerId !== undefined) token.customerId = customerId;
  const creator = creatorId ?? userId;
  if (creator !== undefined) token.creatorId = creator;
  if (tls !== undefined && tls !== null) token.tlsAccess = tls;
  return token;
}

/** A `GET /automation-tokens` page as `automationTokenPageSchema` reads it, or undefined. */
export function fastAutomationTokenPage(
  body: unknown,
): z.output<typeof automationTokenPageSchema> | undefined {
  if (!isRecord(body) || !Array.isArray(body["data"])) return undefined;
  const meta = body["meta"];
  let readMeta: Mutable<NonNullable<z.output<typeof automationTokenPageSchema>["meta"]>> | undefined;
  if (meta !== undefined) {
    if (!isRecord(meta)) return undefined;
    readMeta = {};
    for (const field of ["total_pages", "current_page", "per_page", "record_count"] as const) {
      const value = meta[field];
      if (value === undefined) continue;
      if (typeof value !== "number" || !Number.isSafeInteger(value)) return undefined;
      readMeta[field] = value;
    }
    if ((readMeta.total_pages ?? 0) < 0) return undefined;
  }
  const data: AutomationToken[] = [];
  for (const item of body["data"] as unknown[]) {
    const token = fastAutomationToken(item);
    if (token === undefined) return undefined;
    data.push(token);
  }
  return readMeta === undefined ? { data } : { data, meta: readMeta };
}

/** A `GET /service` page as `serviceListSchema` reads it, or undefined. */
export function fastServiceList(body: unknown): Service[] | undefined {
  if (!Array.isArray(body)) return undefined;
  const out: Service[] = [];
  for (const raw of body as unknown[]) {
    if (!isRecord(raw)) return undefined;
    const { id, name, version } = raw;
    if (typeof id !== "string" || id === "" || typeof name !== "string") return undefined;
    const type = fastText(raw["type"]);
    const customerId = fastText(raw["customer_id"]);
    if (type === FAIL || customerId === FAIL) return undefined;
    if (version !== undefined && version !== null && typeof version !== "number") return undefined;
    out.push(toService({ id, name, type, customer_id: customerId, version }));
  }
  return out;
}
