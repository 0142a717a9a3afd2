/**
 * A local server speaking the part of Vault's HTTP API the `vault-kv` store uses, written from
 * Vault's API documentation: the KV v2 secrets engine (`/v1/<mount>/data/<path>` with versions,
 * `options.cas` and its "check-and-set parameter did not match the current version" refusal (400),
 * deleted versions answering 404 with their metadata; `/v1/<mount>/metadata/<path>` with
 * `current_version`, `versions` and `custom_metadata`), `X-Vault-Token` and `X-Vault-Namespace`,
 * AppRole login (`/v1/auth/<mount>/login`), and Vault's error body `{"errors": [...]}` for 400,
 * 403 (permission denied) and 404. Faults add 412, 429 with Retry-After, 503 and held calls.
 */
import { randomBytes } from "node:crypto";
import {
  startFakeHttp,
  type FakeAnswer,
  type FakeFault,
  type FakeRequest,
  type FakeRoute,
} from "./fake-http.ts";

interface VersionRecord {
  data: Record<string, unknown> | null;
  readonly created: string;
  deletion: string;
  destroyed: boolean;
}

interface KvSecret {
  readonly created: string;
  updated: string;
  readonly versions: Map<number, VersionRecord>;
  current: number;
  custom: Record<string, string> | null;
}

/** What a token may do. */
export type VaultPolicy = "read-write" | "read";

/** A running fake. */
export interface RunningVault {
  readonly url: string;
  readonly requests: readonly { operation: string; status: number; body: unknown }[];
  addToken(token: string, policy?: VaultPolicy, namespace?: string): void;
  addAppRole(roleId: string, secretId: string, policy?: VaultPolicy, mount?: string): void;
  /** Enable a KV v2 engine at `mount` (in `namespace`). */
  enableKv(mount: string, namespace?: string): void;
  /** Write a version as someone else would (no cas). */
  write(mount: string, path: string, data: Record<string, unknown>, namespace?: string): number;
  /** The current version's data (undefined when none or deleted). */
  current(mount: string, path: string, namespace?: string): Record<string, unknown> | undefined;
  currentVersion(mount: string, path: string, namespace?: string): number;
  customMetadata(mount: string, path: string, namespace?: string): Record<string, string> | null;
  /** Soft-delete a version. */
  deleteVersion(mount: string, path: string, version: number, namespace?: string): void;
  /** Every value ever written at `key`, oldest first. */
  history(mount: string, path: string, key: string, namespace?: string): string[];
  fail(fault: FakeFault): void;
  release(): void;
  held(timeoutMs?: number): Promise<void>;
  idle(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

const errors = (status: number, ...messages: string[]): FakeAnswer => ({
  status,
  body: { errors: messages },
});

/** Start the fake on 127.0.0.1, port 0. */
export async function startVault(): Promise<RunningVault> {
  const tokens = new Map<string, { policy: VaultPolicy; namespace: string }>();
  const approles = new Map<string, { secretId: string; policy: VaultPolicy }>();
  const mounts = new Map<string, Map<string, KvSecret>>(); // "<ns>|<mount>" → path → secret
  const now = () => new Date().toISOString();
  const envelope = (data: unknown, auth: unknown = null) => ({
    request_id: randomBytes(8).toString("hex"),
    lease_id: "",
    renewable: false,
    lease_duration: 0,
    data,
    wrap_info: null,
    warnings: null,
    auth,
  });

  const nsOf = (r: FakeRequest) => String(r.headers["x-vault-namespace"] ?? "").replace(/^\/|\/$/g, "");
  const engine = (r: FakeRequest) => mounts.get(`${nsOf(r)}|${r.params.mount ?? ""}`);
  const versionMeta = (s: KvSecret, n: number) => {
    const v = s.versions.get(n)!;
    return {
      created_time: v.created,
      custom_metadata: s.custom,
      deletion_time: v.deletion,
      destroyed: v.destroyed,
      version: n,
    };
  };
  const put = (s: KvSecret, data: Record<string, unknown>): number => {
    s.current += 1;
    s.versions.set(s.current, {
      data: structuredClone(data),
      created: now(),
      deletion: "",
      destroyed: false,
    });
    s.updated = now();
    return s.current;
  };
  const secretAt = (m: Map<string, KvSecret>, path: string, create: boolean): KvSecret | undefined => {
    let s = m.get(path);
    if (!s && create) {
      s = { created: now(), updated: now(), versions: new Map(), current: 0, custom: null };
      m.set(path, s);
    }
    return s;
  };

  const authorize = (r: FakeRequest, operation: string): FakeAnswer | undefined => {
    if (operation === "login") return undefined;
    const token = tokens.get(String(r.headers["x-vault-token"] ?? ""));
    if (!token) return errors(403, "permission denied");
    if (token.namespace !== nsOf(r)) return errors(403, "permission denied");
    if (token.policy === "read" && r.method !== "GET")
      return errors(403, "1 error occurred:\n\t* permission denied\n\n");
    return undefined;
  };

  const routes: FakeRoute[] = [
    {
      method: "POST",
      pattern: "/v1/auth/{mount}/login",
      operation: "login",
      handle(r) {
        const { role_id, secret_id } = (r.body ?? {}) as { role_id?: unknown; secret_id?: unknown };
        const role = approles.get(`${r.params.mount}|${String(role_id)}`);
        if (!role || role.secretId !== secret_id) return errors(400, "invalid role or secret ID");
        const token = `hvs.${randomBytes(18).toString("base64url")}`;
        tokens.set(token, { policy: role.policy, namespace: nsOf(r) });
        return {
          status: 200,
          body: envelope(null, {
            client_token: token,
            accessor: "x",
            policies: ["default", "ftr"],
            lease_duration: 3600,
            renewable: true,
          }),
        };
      },
    },
    {
      method: "GET",
      pattern: "/v1/{mount}/data/{path+}",
      operation: "read-data",
      handle(r) {
        const m = engine(r);
        if (!m)
          return errors(
            404,
            `no handler for route "${r.params.mount}/data/${r.params.path}". route entry not found.`,
          );
        const s = secretAt(m, r.params.path ?? "", false);
        if (!s || s.current === 0) return errors(404);
        const n = Number(r.query.get("version") ?? "0") || s.current;
        const v = s.versions.get(n);
        if (!v) return errors(404);
        if (v.data === null)
          return { status: 404, body: envelope({ data: null, metadata: versionMeta(s, n) }) };
        return { status: 200, body: envelope({ data: v.data, metadata: versionMeta(s, n) }) };
      },
    },
    ...(["POST", "PUT"] as const).map((method): FakeRoute => ({
      method,
      pattern: "/v1/{mount}/data/{path+}",
      operation: "write-data",
      handle(r) {
        const m = engine(r);
        if (!m)
          return errors(
            404,
            `no handler for route "${r.params.mount}/data/${r.params.path}". route entry not found.`,
          );
        const body = (r.body ?? {}) as { data?: unknown; options?: { cas?: unknown } };
        if (typeof body.data !== "object" || body.data === null || Array.isArray(body.data)) {
          return errors(400, "no data provided");
        }
        const s = secretAt(m, r.params.path ?? "", true)!;
        const cas = body.options?.cas;
        if (cas !== undefined && (typeof cas !== "number" || cas !== s.current)) {
          return errors(400, "check-and-set parameter did not match the current version");
        }
        const n = put(s, body.data as Record<string, unknown>);
        const meta = versionMeta(s, n);
        return { status: 200, body: envelope(meta) };
      },
    })),
    {
      method: "GET",
      pattern: "/v1/{mount}/metadata/{path+}",
      operation: "read-metadata",
      handle(r) {
        const m = engine(r);
        if (!m)
          return errors(
            404,
            `no handler for route "${r.params.mount}/metadata/${r.params.path}". route entry not found.`,
          );
        const s = secretAt(m, r.params.path ?? "", false);
        if (!s) return errors(404);
        const versions = Object.fromEntries(
          [...s.versions].map(([n, v]) => [
            String(n),
            { created_time: v.created, deletion_time: v.deletion, destroyed: v.destroyed },
          ]),
        );
        return {
          status: 200,
          body: envelope({
            cas_required: false,
            created_time: s.created,
            current_version: s.current,
            custom_metadata: s.custom,
            delete_version_after: "0s",
            max_versions: 0,
            oldest_version: s.versions.size ? Math.min(...s.versions.keys()) : 0,
            updated_time: s.updated,
            versions,
          }),
        };
      },
    },
    ...(["POST", "PUT"] as const).map((method): FakeRoute => ({
      method,
      pattern: "/v1/{mount}/metadata/{path+}",
      operation: "write-metadata",
      handle(r) {
        const m = engine(r);
        if (!m)
          return errors(
            404,
            `no handler for route "${r.params.mount}/metadata/${r.params.path}". route entry not found.`,
          );
        const body = (r.body ?? {}) as { custom_metadata?: unknown };
        const s = secretAt(m, r.params.path ?? "", true)!;
        if (body.custom_metadata !== undefined) {
          const c = body.custom_metadata as Record<string, unknown>;
          if (typeof c !== "object" || c === null || Object.values(c).some((v) => typeof v !== "string")) {
            return errors(400, "custom_metadata values must be strings");
          }
          if (Object.keys(c).length > 64) return errors(400, "custom_metadata can only have up to 64 keys");
          s.custom = c as Record<string, string>;
        }
        s.updated = now();
        return { status: 204 };
      },
    })),
  ];

  const fake = await startFakeHttp({
    routes,
    authorize,
    notFound: (r) => errors(404, `no handler for route "${r.path}"`),
  });
  const kv = (mount: string, ns = "") => {
    const m = mounts.get(`${ns}|${mount}`);
    if (!m) throw new Error(`no KV engine at ${mount}`);
    return m;
  };
  return {
    url: fake.url,
    requests: fake.requests,
    addToken: (token, policy = "read-write", namespace = "") => void tokens.set(token, { policy, namespace }),
    addAppRole: (roleId, secretId, policy = "read-write", mount = "approle") =>
      void approles.set(`${mount}|${roleId}`, { secretId, policy }),
    enableKv: (mount, namespace = "") => void mounts.set(`${namespace}|${mount}`, new Map()),
    write: (mount, path, data, ns) => put(secretAt(kv(mount, ns), path, true)!, data),
    current(mount, path, ns) {
      const s = kv(mount, ns).get(path);
      return s ? (s.versions.get(s.current)?.data ?? undefined) : undefined;
    },
    currentVersion: (mount, path, ns) => kv(mount, ns).get(path)?.current ?? 0,
    customMetadata: (mount, path, ns) => kv(mount, ns).get(path)?.custom ?? null,
    deleteVersion(mount, path, version, ns) {
      const v = kv(mount, ns).get(path)?.versions.get(version);
      if (v) {
        v.data = null;
        v.deletion = now();
      }
    },
    history: (mount, path, key, ns) =>
      [...(kv(mount, ns).get(path)?.versions.values() ?? [])]
        .map((v) => v.data?.[key])
        .filter((v): v is string => typeof v === "string"),
    fail: (f) => fake.fail(f),
    release: () => fake.release(),
    held: (t) => fake.held(t),
    idle: (t) => fake.idle(t),
    close: () => fake.close(),
  };
}
