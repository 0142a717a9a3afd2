/**
 * Response schemas: each lists only the fields the tool reads and normalises the representations
 * the API uses for them. `""`, `null` and `0001-01-01T00:00:00Z` all mean "unset"; `scope` (string)
 * and `scopes` (string or array) both become `scopes: string[]`; `services: null` becomes `[]`.
 */
import { z } from "zod";
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

function splitScopes(value: string | string[] | null | undefined): string[] {
  if (value === null || value === undefined) return [];
  const parts = Array.isArray(value) ? value.flatMap((s) => s.split(" ")) : value.split(" ");
  return parts.filter((s) => s !== "");
}

const automationTokenFields = z.object({
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

type AutomationTokenFields = z.output<typeof automationTokenFields>;

function toAutomationToken(raw: AutomationTokenFields): AutomationToken {
  // `scopes` wins where both appear: the list endpoint sends only `scopes`, the others only `scope`.
  const scopes = splitScopes(raw.scopes ?? raw.scope);
  return withoutUndefined({
    id: raw.id,
    name: raw.name,
    role: raw.role ?? raw.roles?.[0]?.name ?? "",
    roles: raw.roles,
    limitServices: raw.limit_services,
    workspaces: raw.workspaces,
    scopes,
    services: raw.services,
    expiresAt: raw.expires_at,
    lastUsedAt: raw.last_used_at,
    createdAt: raw.created_at,
    ip: raw.ip,
    userAgent: raw.user_agent,
    customerId: raw.customer_id,
    creatorId: raw.creator_id ?? raw.user_id,
    tlsAccess: raw.tls_access ?? undefined,
  });
}

/** `GET /automation-tokens/{id}` and one item of the list. */
export const automationTokenSchema = automationTokenFields.transform(toAutomationToken);

/** `POST /automation-tokens`: the create shape, carrying the one-time `access_token`. */
export const createdAutomationTokenSchema = automationTokenFields
  .extend({ access_token: z.string().min(1, "access_token is empty") })
  .transform((raw): CreatedAutomationToken => ({ ...toAutomationToken(raw), accessToken: raw.access_token }));

/** `GET /automation-tokens`: `{data, meta}` envelope. */
export const automationTokenPageSchema = z.object({
  data: z.array(automationTokenSchema),
  meta: z
    .object({
      total_pages: z.number().int().nonnegative().optional(),
      current_page: z.number().int().optional(),
      per_page: z.number().int().optional(),
      record_count: z.number().int().optional(),
    })
    .optional(),
});

/** `GET /tokens/self` (and items of `GET /tokens`). */
export const tokenSelfSchema = z
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

/** `GET /roles`: `{data, meta}` (meta optional). */
export const rolePageSchema = z.object({
  data: z.array(
    z
      .object({ id: z.string().min(1), name: z.string() })
      .transform((r): Role => ({ id: r.id, name: r.name })),
  ),
  meta: z.object({ total_pages: z.number().int().nonnegative().optional() }).optional(),
});

/** `GET /customer/{id}/users`: a bare array of users. */
export const userListSchema = z.array(
  z
    .object({ id: z.string().min(1), login: z.string(), role: z.string() })
    .transform((u): AccountUser => ({ id: u.id, login: u.login, role: u.role })),
);

/** `GET /current_user`. */
export const currentUserSchema = z
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
  );

/** One service, from list, get or search. */
export const serviceSchema = z
  .object({
    id: z.string().min(1),
    name: z.string(),
    type: text,
    customer_id: text,
    version: z.union([z.number(), z.null()]).optional(),
  })
  .transform((raw): Service =>
    withoutUndefined({
      id: raw.id,
      name: raw.name,
      type: raw.type,
      customerId: raw.customer_id,
      version: raw.version ?? undefined,
    }),
  );

/** `GET /service`: a bare array. */
export const serviceListSchema = z.array(serviceSchema);

/** Any value as a message: a non-empty string, else unset. */
const said = z
  .unknown()
  .optional()
  .transform((v) => (typeof v === "string" && v !== "" ? v : undefined));

/** One item of a JSON:API `errors` array; anything else there says nothing. */
const errorItemSchema = z
  .object({ title: said, detail: said })
  .catch({ title: undefined, detail: undefined });

/**
 * What an error body says, in any of the shapes Fastly uses (`{msg, detail}`, `{title, detail}`,
 * `{errors: [{title, detail}]}`, `{Error}`, `{error}`, plain text); never fails.
 */
export const apiErrorSchema = z
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

/** What an error body says. */
interface ApiErrorSaid {
  readonly apiMessage?: string;
  readonly apiDetail?: string;
}

/** `POST /sudo`. */
export const sudoSchema = z.object({ expiry_time: time }).transform((raw, ctx): SudoSession => {
  if (raw.expiry_time === undefined) {
    ctx.addIssue({ code: "custom", message: "expiry_time is missing", path: ["expiry_time"] });
    return z.NEVER;
  }
  return { expiresAt: raw.expiry_time };
});

/**
 * Drop keys whose value is undefined, so objects satisfy `exactOptionalPropertyTypes` and compare
 * equal in tests whether a field was absent or unset.
 */
function withoutUndefined<T extends object>(value: { [K in keyof T]: T[K] | undefined }): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
