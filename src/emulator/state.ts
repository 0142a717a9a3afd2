import { randomBytes, scryptSync, timingSafeEqual } from "node:crypto";
import { digest, newId } from "./ids.ts";
import type { ParsedSeed } from "./seed.ts";
import { resolveSeedTime } from "./time.ts";

/** Roles of users. */
export type UserRole = "user" | "billing" | "engineer" | "superuser";
/** Roles of automation tokens (the built-in ones; an account may have more, see {@link RoleRecord}). */
export type AutomationRole = "billing" | "engineer" | "user";

/**
 * Which API the emulator serves: `2026` is today's (several roles, `limit_services`, workspaces,
 * problem+json errors on the automation-token endpoints); `2025` keeps the 2024-2025 shapes and
 * semantics the go-fastly recordings show.
 */
export type ApiVersion = "2025" | "2026";

/** A role an automation token can carry (`GET /roles`). */
export interface RoleRecord {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  /** Fastly's own roles are not custom. */
  readonly custom: boolean;
  /** Next-Gen WAF roles take workspaces. */
  readonly workspaces: boolean;
}

/** The built-in roles, highest priority first (the order decides a token's `role`). */
export const BUILTIN_ROLES: readonly Omit<RoleRecord, "id">[] = [
  {
    name: "engineer",
    description: "Create services and manage their configurations",
    custom: false,
    workspaces: false,
  },
  {
    name: "user",
    description: "View basic information about service configurations, and controls",
    custom: false,
    workspaces: false,
  },
  {
    name: "billing",
    description: "View basic information about service configurations, invoices and billing history",
    custom: false,
    workspaces: false,
  },
];

/** A user of the customer. */
export interface UserRecord {
  readonly id: string;
  readonly login: string;
  readonly name: string;
  readonly role: UserRole;
  readonly mfa: boolean;
  readonly sso: boolean;
  readonly createdAt: Date;
  updatedAt: Date;
  lastActiveAt: Date | null;
  /** Salted scrypt digest; the password itself is not kept. */
  readonly passwordSalt: Buffer;
  readonly passwordDigest: Buffer;
  /** When this user's sudo session ends (null: never entered sudo). */
  sudoExpiresAt: Date | null;
  /** The token that opened the sudo session. */
  sudoTokenId: string | null;
  /** When the user left the account: no longer listed, cannot authenticate. */
  readonly deletedAt: Date | null;
}

/** A user token or an automation token. */
export interface TokenRecord {
  readonly id: string;
  readonly kind: "user" | "automation";
  readonly name: string;
  /** Owner (user token) or creator (automation token). */
  readonly userId: string;
  /** Automation tokens only: the name of its highest-priority role. */
  readonly role: string | null;
  /** Automation tokens only: role ids, highest priority first. */
  readonly roles: readonly string[];
  readonly scope: string;
  /** Service ids; with `limitServices` false they are ignored (every service). */
  readonly services: readonly string[];
  /** True when the token reaches only `services` (none when that is empty). */
  readonly limitServices: boolean;
  /** Next-Gen WAF workspace ids, and whether they limit the token. */
  readonly workspaces: readonly string[];
  readonly limitWorkspaces: boolean;
  readonly tlsAccess: boolean;
  readonly createdAt: Date;
  readonly expiresAt: Date | null;
  lastUsedAt: Date | null;
  ip: string | null;
  userAgent: string | null;
  /** The sudo expiry of the last session this token opened. */
  sudoExpiresAt: Date | null;
  revokedAt: Date | null;
}

/** A service. */
export interface ServiceRecord {
  readonly id: string;
  readonly name: string;
  readonly type: "vcl" | "wasm";
  readonly comment: string;
  /** The active version; versions 1..version exist and all are locked. */
  readonly version: number;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/** Everything the emulator knows about the account. */
export class AccountState {
  readonly customer: { readonly id: string; readonly name: string; readonly createdAt: Date };
  readonly users = new Map<string, UserRecord>();
  readonly tokens = new Map<string, TokenRecord>();
  readonly services = new Map<string, ServiceRecord>();
  /** Roles, highest priority first. */
  readonly roles = new Map<string, RoleRecord>();
  /** The API's shapes and semantics. */
  readonly apiVersion: ApiVersion;
  /** Token digest -> token id, including revoked tokens so the log can still name them. */
  private readonly byDigest = new Map<string, string>();
  private readonly servicesByName = new Map<string, ServiceRecord>();
  private sortedServices = new Map<string, readonly ServiceRecord[]>();

  constructor(seed: ParsedSeed, now: Date, apiVersion: ApiVersion = seed.apiVersion) {
    this.apiVersion = apiVersion;
    const time = (text: string | undefined, fallback: Date): Date =>
      (text === undefined ? undefined : resolveSeedTime(text, now)) ?? fallback;
    const nullableTime = (text: string | null): Date | null =>
      text === null ? null : (resolveSeedTime(text, now) ?? null);
    const daysAgo = (days: number): Date => new Date(now.getTime() - days * 86_400_000);

    this.customer = { id: seed.customer.id ?? newId(), name: seed.customer.name, createdAt: daysAgo(1000) };

    seed.services.forEach((service, i) => {
      const createdAt = time(service.createdAt, daysAgo(seed.services.length - i));
      this.addService({
        id: service.id ?? newId(),
        name: service.name,
        type: service.type,
        comment: service.comment,
        version: service.version,
        createdAt,
        // The last version was created an hour after the previous one (see representations.ts).
        updatedAt: new Date(createdAt.getTime() + (service.version - 1) * 3_600_000),
      });
    });
    const serviceIds = (refs: readonly string[]): string[] =>
      refs.map((ref) => (this.services.has(ref) ? ref : (this.servicesByName.get(ref)?.id ?? ref)));

    for (const role of [...BUILTIN_ROLES, ...seed.roles]) {
      const record: RoleRecord = {
        id: ("id" in role && typeof role.id === "string" ? role.id : undefined) ?? newId(),
        name: role.name,
        description: role.description,
        custom: role.custom,
        workspaces: role.workspaces,
      };
      this.roles.set(record.id, record);
    }
    const roleIds = (refs: readonly string[]): string[] =>
      refs.map((ref) => (this.roles.has(ref) ? ref : (this.roleByName(ref)?.id ?? ref)));

    const userIdByKey = new Map<string, string>();
    for (const user of seed.users) {
      const salt = randomBytes(16);
      const record: UserRecord = {
        id: user.id ?? newId(),
        login: user.login,
        name: user.name,
        role: user.role,
        mfa: user.mfa,
        sso: user.sso,
        createdAt: daysAgo(900),
        updatedAt: daysAgo(30),
        lastActiveAt: null,
        passwordSalt: salt,
        passwordDigest: hashPassword(user.password, salt),
        sudoExpiresAt: null,
        sudoTokenId: null,
        deletedAt: user.deletedAt === undefined ? null : (resolveSeedTime(user.deletedAt, now) ?? null),
      };
      this.users.set(record.id, record);
      userIdByKey.set(record.id, record.id);
      userIdByKey.set(record.login, record.id);
      for (const token of user.tokens) {
        this.addToken(
          {
            id: token.id ?? newId(),
            kind: "user",
            name: token.name,
            userId: record.id,
            role: null,
            roles: [],
            scope: token.scope,
            services: serviceIds(token.services),
            limitServices: token.services.length > 0,
            workspaces: [],
            limitWorkspaces: false,
            tlsAccess: false,
            createdAt: time(token.createdAt, daysAgo(1)),
            expiresAt: nullableTime(token.expiresAt),
            lastUsedAt: null,
            ip: null,
            userAgent: null,
            sudoExpiresAt: null,
            revokedAt: null,
          },
          token.value,
        );
      }
    }

    for (const token of seed.automationTokens) {
      const roles = this.sortRoles(roleIds(token.roles ?? [token.role]));
      this.addToken(
        {
          id: token.id ?? newId(),
          kind: "automation",
          name: token.name,
          userId: userIdByKey.get(token.createdBy) ?? token.createdBy,
          role: this.roles.get(roles[0] ?? "")?.name ?? token.role,
          roles,
          scope: token.scope,
          services: serviceIds(token.services),
          limitServices: token.limitServices ?? token.services.length > 0,
          workspaces: token.workspaces,
          limitWorkspaces: token.workspaces.length > 0,
          tlsAccess: token.tlsAccess,
          createdAt: time(token.createdAt, daysAgo(1)),
          expiresAt: nullableTime(token.expiresAt),
          lastUsedAt: nullableTime(token.lastUsedAt),
          ip: token.ip,
          userAgent: token.userAgent,
          sudoExpiresAt: null,
          revokedAt: null,
        },
        token.value,
      );
    }
  }

  /** A role by exact name. */
  roleByName(name: string): RoleRecord | undefined {
    for (const role of this.roles.values()) if (role.name === name) return role;
    return undefined;
  }

  /** Role ids, deduplicated, highest priority (the account's role order) first. */
  sortRoles(ids: readonly string[]): string[] {
    const order = [...this.roles.keys()];
    return [...new Set(ids)].sort((a, b) => order.indexOf(a) - order.indexOf(b));
  }

  /** A fresh id no record uses yet. */
  newId(): string {
    let id = newId();
    while (this.tokens.has(id) || this.users.has(id) || this.services.has(id)) id = newId();
    return id;
  }

  /** Register a token under the digest of its value. */
  addToken(token: TokenRecord, value: string): void {
    this.tokens.set(token.id, token);
    this.byDigest.set(digest(value), token.id);
  }

  private addService(service: ServiceRecord): void {
    this.services.set(service.id, service);
    this.servicesByName.set(service.name, service);
  }

  /** The token a `Fastly-Key` value belongs to, revoked and expired ones included. */
  tokenByValue(value: string): TokenRecord | undefined {
    const id = this.byDigest.get(digest(value));
    return id === undefined ? undefined : this.tokens.get(id);
  }

  /** The token whose value has this digest (used to keep token values out of the request log). */
  hasTokenDigest(valueDigest: string): boolean {
    return this.byDigest.has(valueDigest);
  }

  /** A service by exact name. */
  serviceByName(name: string): ServiceRecord | undefined {
    return this.servicesByName.get(name);
  }

  /** Every service ordered by `sort` and `direction`, cached because services never change. */
  servicesSorted(
    sort: "created" | "name" | "updated" | "id",
    direction: "ascend" | "descend",
  ): readonly ServiceRecord[] {
    const key = `${sort}:${direction}`;
    let list = this.sortedServices.get(key);
    if (!list) {
      const sign = direction === "ascend" ? 1 : -1;
      const value = (s: ServiceRecord): string | number =>
        sort === "name"
          ? s.name
          : sort === "id"
            ? s.id
            : (sort === "updated" ? s.updatedAt : s.createdAt).getTime();
      list = [...this.services.values()].sort((a, b) => {
        const x = value(a);
        const y = value(b);
        if (x < y) return -sign;
        if (x > y) return sign;
        return a.id < b.id ? -sign : a.id > b.id ? sign : 0;
      });
      this.sortedServices.set(key, list);
    }
    return list;
  }
}

/** The salted digest of a password. */
export function hashPassword(password: string, salt: Buffer): Buffer {
  // Low cost parameters: the emulator only needs to avoid keeping the password, not resist cracking.
  return scryptSync(password, salt, 32, { N: 1024 });
}

/** True when `password` is the user's password. */
export function checkPassword(user: UserRecord, password: string): boolean {
  return timingSafeEqual(hashPassword(password, user.passwordSalt), user.passwordDigest);
}
