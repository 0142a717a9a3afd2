import { readFile } from "node:fs/promises";
import * as z from "zod";
import { digest } from "./ids.ts";
import { parseOffset } from "./time.ts";

/** A seed time: ISO 8601 timestamp, or a duration relative to the emulator's now (`+20d`, `-330d`). */
const seedTime = z.string().refine((text) => {
  if (/^[+-]/.test(text)) return parseOffset(text) !== undefined;
  return !Number.isNaN(new Date(text).getTime());
}, "expected an ISO 8601 timestamp such as 2026-12-01T00:00:00Z or a relative time such as +20d");

const fastlyId = z.string().regex(/^[0-9A-Za-z]{22}$/, "expected a 22-character base62 id");
const tokenValue = z
  .string()
  .min(8, "a token value needs at least 8 characters")
  .regex(/^\S+$/, "a token value cannot contain whitespace");
const scopeText = z
  .string()
  .regex(
    /^(global|global:read|purge_all|purge_select)( (global|global:read|purge_all|purge_select))*$/,
    "expected space-separated scopes from global, global:read, purge_all, purge_select",
  );

const seedUserTokenSchema = z.strictObject({
  id: fastlyId.optional(),
  name: z.string().min(1),
  value: tokenValue,
  scope: scopeText.default("global"),
  services: z.array(z.string().min(1)).default([]),
  expiresAt: seedTime.nullable().default(null),
  createdAt: seedTime.optional(),
});

const seedUserSchema = z.strictObject({
  id: fastlyId.optional(),
  login: z.string().min(1),
  name: z.string().min(1),
  role: z.enum(["user", "billing", "engineer", "superuser"]),
  password: z.string().min(1),
  mfa: z.boolean().default(false),
  sso: z.boolean().default(false),
  tokens: z.array(seedUserTokenSchema).default([]),
  /** The user left the account then (tokens it created stay; it is no longer listed). */
  deletedAt: seedTime.optional(),
});

const seedRoleSchema = z.strictObject({
  id: fastlyId.optional(),
  name: z.string().min(1),
  description: z.string().default(""),
  custom: z.boolean().default(true),
  /** A Next-Gen WAF role, which takes workspaces. */
  workspaces: z.boolean().default(false),
});

const seedServiceSchema = z.strictObject({
  id: fastlyId.optional(),
  name: z.string().min(1),
  type: z.enum(["vcl", "wasm"]).default("vcl"),
  comment: z.string().default(""),
  /** The active version; versions 1..version exist. */
  version: z.number().int().min(1).default(1),
  createdAt: seedTime.optional(),
});

const seedAutomationTokenSchema = z.strictObject({
  id: fastlyId.optional(),
  name: z.string().min(1),
  value: tokenValue,
  role: z.enum(["billing", "engineer", "user"]),
  /** Role ids or names (2026 API); default `[role]`. */
  roles: z.array(z.string().min(1)).min(1).optional(),
  scope: scopeText.default("global"),
  /** Service ids or names; empty means every service. */
  services: z.array(z.string().min(1)).default([]),
  /** Default: true when `services` is not empty. */
  limitServices: z.boolean().optional(),
  workspaces: z.array(z.string().min(1)).default([]),
  expiresAt: seedTime.nullable().default(null),
  /** The creating user: id or login. */
  createdBy: z.string().min(1),
  createdAt: seedTime.optional(),
  tlsAccess: z.boolean().default(false),
  lastUsedAt: seedTime.nullable().default(null),
  ip: z.string().nullable().default(null),
  userAgent: z.string().nullable().default(null),
});

/** The runtime schema of a seed (a seed file is this, as JSON). */
export const seedSchema = z.strictObject({
  /** Which API to serve: `2026` (today's, default) or `2025` (the recorded 2024-2025 shapes). */
  apiVersion: z.enum(["2025", "2026"]).default("2026"),
  /** Roles besides the built-in engineer, user and billing. */
  roles: z.array(seedRoleSchema).default([]),
  customer: z.strictObject({ id: fastlyId.optional(), name: z.string().min(1) }),
  users: z.array(seedUserSchema).min(1, "a seed needs at least one user"),
  services: z.array(seedServiceSchema).default([]),
  automationTokens: z.array(seedAutomationTokenSchema).default([]),
});

/** A seed as written by hand or in a file: ids, defaults and most fields optional. */
export type Seed = z.input<typeof seedSchema>;
/** A user in a seed. */
export type SeedUser = z.input<typeof seedUserSchema>;
/** A user token in a seed. `value` is the token value the emulator accepts. */
export type SeedUserToken = z.input<typeof seedUserTokenSchema>;
/** A role in a seed. */
export type SeedRole = z.input<typeof seedRoleSchema>;
/** A service in a seed. */
export type SeedService = z.input<typeof seedServiceSchema>;
/** An automation token in a seed. `value` is the token value the emulator accepts. */
export type SeedAutomationToken = z.input<typeof seedAutomationTokenSchema>;
/** A seed after validation: defaults filled in, references checked. */
export type ParsedSeed = z.output<typeof seedSchema>;

/** A seed that failed validation; `problems` name the field and what is wrong with it. */
export class EmulatorSeedError extends Error {
  override readonly name = "EmulatorSeedError";
  /** One line per problem, each starting with the field path. */
  readonly problems: readonly string[];

  constructor(source: string, problems: readonly string[]) {
    super(`invalid emulator seed (${source}):\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.problems = problems;
  }
}

function fieldPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) out += typeof key === "number" ? `[${key}]` : `${out ? "." : ""}${String(key)}`;
  return out || "(root)";
}

/**
 * Validate a seed: the schema, then the cross-references (unique ids, logins and token values;
 * token services and creators that exist). Throws {@link EmulatorSeedError} listing every problem.
 */
export function parseSeed(input: unknown, source = "seed"): ParsedSeed {
  const result = seedSchema.safeParse(input);
  if (!result.success) {
    throw new EmulatorSeedError(
      source,
      result.error.issues.map((issue) => `${fieldPath(issue.path)}: ${issue.message}`),
    );
  }
  const seed = result.data;
  const problems: string[] = [];
  const ids = new Map<string, string>();
  const claimId = (id: string | undefined, where: string): void => {
    if (id === undefined) return;
    const previous = ids.get(id);
    if (previous) problems.push(`${where}.id: ${id} is already used by ${previous}`);
    else ids.set(id, where);
  };
  claimId(seed.customer.id, "customer");

  const logins = new Set<string>();
  const values = new Map<string, string>();
  const claimValue = (value: string, where: string): void => {
    const key = digest(value);
    const previous = values.get(key);
    if (previous) problems.push(`${where}.value: the same value is already used by ${previous}`);
    else values.set(key, where);
  };

  const serviceKeys = new Set<string>();
  seed.services.forEach((service, i) => {
    claimId(service.id, `services[${i}]`);
    if (service.id) serviceKeys.add(service.id);
    serviceKeys.add(service.name);
  });
  const checkServices = (services: readonly string[], where: string): void => {
    for (const ref of services) {
      if (!serviceKeys.has(ref)) problems.push(`${where}.services: no service with id or name "${ref}"`);
    }
  };

  const userKeys = new Set<string>();
  seed.users.forEach((user, i) => {
    const where = `users[${i}]`;
    claimId(user.id, where);
    if (logins.has(user.login)) problems.push(`${where}.login: ${user.login} appears twice`);
    logins.add(user.login);
    if (user.id) userKeys.add(user.id);
    userKeys.add(user.login);
    user.tokens.forEach((token, j) => {
      claimId(token.id, `${where}.tokens[${j}]`);
      claimValue(token.value, `${where}.tokens[${j}]`);
      checkServices(token.services, `${where}.tokens[${j}]`);
    });
  });

  const roleKeys = new Set<string>(["engineer", "user", "billing"]);
  seed.roles.forEach((role, i) => {
    claimId(role.id, `roles[${i}]`);
    if (roleKeys.has(role.name)) problems.push(`roles[${i}].name: ${role.name} appears twice`);
    if (role.id) roleKeys.add(role.id);
    roleKeys.add(role.name);
  });

  seed.automationTokens.forEach((token, i) => {
    const where = `automationTokens[${i}]`;
    for (const ref of token.roles ?? []) {
      if (!roleKeys.has(ref)) problems.push(`${where}.roles: no role with id or name "${ref}"`);
    }
    claimId(token.id, where);
    claimValue(token.value, where);
    checkServices(token.services, where);
    if (!userKeys.has(token.createdBy)) {
      problems.push(`${where}.createdBy: no user with id or login "${token.createdBy}"`);
    }
  });

  if (problems.length > 0) throw new EmulatorSeedError(source, problems);
  return seed;
}

/** Read and validate a JSON seed file. Throws {@link EmulatorSeedError} with the file name. */
export async function loadSeedFile(path: string): Promise<ParsedSeed> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new EmulatorSeedError(path, [`cannot read the file: ${(error as Error).message}`]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new EmulatorSeedError(path, [`not valid JSON: ${(error as Error).message}`]);
  }
  return parseSeed(json, path);
}
