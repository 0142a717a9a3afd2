import type { SecretStore } from "../types.ts";
import type { OptionsOf } from "../support/config.ts";
import { AdapterSetupError, resolveDeps, type AdapterDeps } from "../support/deps.ts";
import { NothingWrittenError } from "../support/store.ts";
import { isRedirect, isSecureOrLoopback, readTextCapped, redirectHost } from "../../util/http.ts";
import { redact, registerSecret } from "../../util/redact.ts";
import { USER_AGENT } from "../../version.ts";
import type { VaultKvConfig } from "./schema.ts";

/** Options of the `vault-kv` store (already validated; durations in ms). */
export type VaultKvOptions = OptionsOf<
  VaultKvConfig,
  "mount" | "key" | "auth" | "timeoutMs" | "allowInsecure"
>;

/** A Vault request failed; `status` is Vault's HTTP status (0 when no answer came). */
export class VaultError extends Error {
  override readonly name: string = "VaultError";
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** Vault's one refusal that says someone else wrote: check-and-set did not match. */
const CAS_MISMATCH = /check-and-set parameter did not match/i;

/** Markers in the secret's custom metadata (ids and version numbers, never a value). */
const RUN = "ftr-run";
const BASE = "ftr-base";
const RESTORE_RUN = "ftr-restore-run";
const RESTORE_BASE = "ftr-restore-base";

interface Metadata {
  readonly currentVersion: number;
  readonly custom: Record<string, string>;
}

interface Version {
  readonly version: number;
  readonly data: Record<string, unknown>;
}

/**
 * One key of a Vault KV v2 secret, over Vault's HTTP API (`/v1/<mount>/data/<path>`,
 * `/v1/<mount>/metadata/<path>`), logged in with a token or an AppRole, in a namespace when given.
 *
 * `stage` notes the version it read and the run in the secret's custom metadata (`ftr-run`,
 * `ftr-base`: ids and numbers, no value) and keeps the value in memory; `promote` writes the whole
 * secret, the other keys as they were, with `cas` set to that version, so a write by anyone else
 * in between is refused by Vault and the run stops having changed nothing. Whether a run's write
 * landed is read from the metadata (current version = base + 1), so a repeated or resumed
 * promote or restore knows what to do. A rollback writes the data of the version before the run
 * back as a new version, again with `cas`, noting `ftr-restore-run` first.
 */
export function createVaultKvStore(options: VaultKvOptions, deps: AdapterDeps = {}): SecretStore {
  const { fetch: fetchImpl, clock, env } = resolveDeps(deps);
  const mount = options.mount ?? "secret";
  const key = options.key ?? "token";
  const login = options.auth ?? { method: "token" as const, tokenEnv: "VAULT_TOKEN" };
  const timeoutMs = options.timeoutMs ?? 10_000;
  const where = `Vault ${mount}/${options.path}#${key}${options.namespace ? ` (namespace ${options.namespace})` : ""}`;
  const base = new URL(options.address);
  const encodedPath = options.path.split("/").map(encodeURIComponent).join("/");
  const staged = new Map<string, { value: string; base: number; data: Record<string, unknown> }>();
  let token: string | undefined;

  const need = `a policy with "read", "create" and "update" on ${mount}/data/${options.path} and ${mount}/metadata/${options.path}`;

  /** Every string in what Vault answered or was sent: other keys may be credentials too. */
  const registerStrings = (value: unknown): void => {
    if (typeof value === "string") registerSecret(value);
    else if (typeof value === "object" && value !== null) Object.values(value).forEach(registerStrings);
  };

  const credential = (name: string): string => {
    const value = env[name]?.trim() ?? "";
    if (value === "")
      throw new AdapterSetupError(`${where}: ${name} is not set; set it (docs/configuration.md, vault-kv)`);
    registerSecret(value);
    return value;
  };

  interface Answer {
    readonly status: number;
    readonly body: Record<string, unknown> | undefined;
    readonly headers: Headers;
  }

  /** One exchange; a redirect, a network failure or an unreadable body is a VaultError. */
  const exchange = async (
    method: string,
    path: string,
    body: unknown,
    auth: string | undefined,
  ): Promise<Answer> => {
    if (!options.allowInsecure && !isSecureOrLoopback(base)) {
      throw new AdapterSetupError(
        `${where}: plain http to ${base.host} would send the token unencrypted; use https:// (or allowInsecure: true)`,
      );
    }
    const url = new URL(`${options.address}${path}`);
    const timeout = AbortSignal.timeout(timeoutMs);
    let response: Response;
    try {
      response = await fetchImpl(url, {
        method,
        headers: {
          "User-Agent": USER_AGENT,
          Accept: "application/json",
          ...(auth ? { "X-Vault-Token": auth } : {}),
          ...(options.namespace ? { "X-Vault-Namespace": options.namespace } : {}),
          ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        redirect: "manual",
        signal: deps.signal ? AbortSignal.any([deps.signal, timeout]) : timeout,
      });
    } catch (error) {
      throw new VaultError(
        `${method} ${url.pathname} (${where}) failed: ${redact(error instanceof Error ? error.message : String(error))}; check address and that Vault answers`,
        0,
      );
    }
    if (isRedirect(response.status)) {
      await response.body?.cancel().catch(() => undefined);
      throw new VaultError(
        `${method} ${url.pathname} (${where}) answered HTTP ${response.status} redirecting to ${redirectHost(response.headers.get("location"), url)}; redirects are not followed, so the token stays with ${base.host}: set address to the active node`,
        response.status,
      );
    }
    const text = await readTextCapped(response, 1024 * 1024);
    let parsed: Record<string, unknown> | undefined;
    try {
      parsed = text === "" ? undefined : (JSON.parse(text) as Record<string, unknown>);
    } catch {
      parsed = undefined;
    }
    return { status: response.status, body: parsed, headers: response.headers };
  };

  const vaultSaid = (answer: Answer): string => {
    const errors = answer.body?.errors;
    const text = Array.isArray(errors) ? errors.map(String).join("; ") : "";
    return redact(text).replace(/\s+/g, " ").replace(/\* /g, "").trim() || `HTTP ${answer.status}`;
  };

  /** A 404 that is not "no such secret" (whose `errors` is empty) but no such mount or route. */
  const routeMissing = (answer: Answer): boolean => {
    const errors = answer.body?.errors;
    return Array.isArray(errors) && errors.length > 0;
  };

  const fail = (what: string, answer: Answer): VaultError => {
    const said = vaultSaid(answer);
    const fix =
      answer.status === 403
        ? login.method === "approle"
          ? `permission denied: the AppRole's token needs ${need}`
          : `permission denied: the token in ${login.tokenEnv} is expired, revoked, or needs ${need}`
        : answer.status === 404
          ? `not found: check address, mount (a KV v2 engine), path${options.namespace ? " and namespace" : ""}`
          : answer.status === 429
            ? "Vault's rate limit quota was hit; try again later"
            : answer.status === 503
              ? "Vault is sealed or in maintenance; try again once it is unsealed"
              : answer.status >= 500
                ? "Vault failed; try again later"
                : "Vault refused the request";
    return new VaultError(
      `${what} on ${where} failed: HTTP ${answer.status}: ${said}; ${fix}`,
      answer.status,
    );
  };

  /** A Vault token: the configured one, or one from an AppRole login (kept for the run). */
  const vaultToken = async (fresh = false): Promise<string> => {
    if (token !== undefined && !fresh) return token;
    if (login.method === "token") {
      token = credential(login.tokenEnv);
      return token;
    }
    const answer = await exchange(
      "POST",
      `/v1/auth/${login.mount}/login`,
      { role_id: credential(login.roleIdEnv), secret_id: credential(login.secretIdEnv) },
      undefined,
    );
    const auth = answer.body?.auth as { client_token?: unknown } | undefined;
    if (answer.status !== 200 || typeof auth?.client_token !== "string") {
      const error = fail(`AppRole login (auth/${login.mount})`, answer);
      throw new VaultError(
        `${error.message}${answer.status === 400 ? ` (check ${login.roleIdEnv} and ${login.secretIdEnv}: the secret_id may have expired)` : ""}`,
        answer.status,
      );
    }
    token = auth.client_token;
    registerSecret(token);
    return token;
  };

  /**
   * A request with the Vault token: 412 (a standby not caught up) and 429 (a rate limit quota,
   * with Retry-After) are waited out a few times; an AppRole token refused is renewed once.
   */
  const request = async (method: string, path: string, body?: unknown): Promise<Answer> => {
    let relogged = false;
    for (let attempt = 0; ; attempt++) {
      const answer = await exchange(method, path, body, await vaultToken());
      if (answer.status === 403 && login.method === "approle" && !relogged) {
        relogged = true;
        await vaultToken(true);
        continue;
      }
      if ((answer.status === 412 || answer.status === 429) && attempt < 3) {
        const retryAfter = Number(answer.headers.get("retry-after"));
        const waitMs =
          Number.isFinite(retryAfter) && retryAfter > 0
            ? Math.min(retryAfter, 30) * 1000
            : 500 * (attempt + 1);
        await clock.sleep(waitMs, deps.signal);
        continue;
      }
      return answer;
    }
  };

  const readMetadata = async (): Promise<Metadata | undefined> => {
    const answer = await request("GET", `/v1/${mount}/metadata/${encodedPath}`);
    if (answer.status === 404 && !routeMissing(answer)) return undefined;
    if (answer.status !== 200) throw fail("reading the metadata", answer);
    const data = (answer.body?.data ?? {}) as { current_version?: unknown; custom_metadata?: unknown };
    const custom: Record<string, string> = {};
    if (typeof data.custom_metadata === "object" && data.custom_metadata !== null) {
      for (const [k, v] of Object.entries(data.custom_metadata)) if (typeof v === "string") custom[k] = v;
    }
    return { currentVersion: typeof data.current_version === "number" ? data.current_version : 0, custom };
  };

  const writeMetadata = async (custom: Record<string, string>): Promise<void> => {
    const answer = await request("POST", `/v1/${mount}/metadata/${encodedPath}`, { custom_metadata: custom });
    if (answer.status !== 204 && answer.status !== 200) throw fail("writing the custom metadata", answer);
  };

  /** A version's data (the current one without `version`); undefined when absent or deleted. */
  const readVersion = async (version?: number): Promise<Version | undefined> => {
    const answer = await request(
      "GET",
      `/v1/${mount}/data/${encodedPath}${version === undefined ? "" : `?version=${version}`}`,
    );
    if (answer.status === 404 && !routeMissing(answer)) return undefined;
    if (answer.status !== 200)
      throw fail(`reading ${version === undefined ? "the secret" : `version ${version}`}`, answer);
    const outer = (answer.body?.data ?? {}) as { data?: unknown; metadata?: { version?: unknown } };
    if (typeof outer.data !== "object" || outer.data === null) return undefined; // deleted or destroyed
    // The secret's other keys may be credentials too: none of its values may reach a message.
    registerStrings(outer.data);
    return {
      version: typeof outer.metadata?.version === "number" ? outer.metadata.version : (version ?? 0),
      data: outer.data as Record<string, unknown>,
    };
  };

  const extract = (version: Version | undefined): string | undefined => {
    const value = version?.data[key];
    if (value === undefined || value === null || value === "") return undefined;
    if (typeof value !== "string") {
      throw new VaultError(
        `${where} holds a ${typeof value}, not a string, at key ${key}; fix the secret by hand`,
        0,
      );
    }
    return value;
  };

  /** Write `data` as the next version, only if the current one is `cas`; false when Vault refused on cas. */
  const writeData = async (data: Record<string, unknown>, cas: number): Promise<boolean> => {
    const answer = await request("POST", `/v1/${mount}/data/${encodedPath}`, { options: { cas }, data });
    if (answer.status === 200 || answer.status === 204) return true;
    if (answer.status === 400 && CAS_MISMATCH.test(vaultSaid(answer))) return false;
    throw fail("writing the secret", answer);
  };

  const withoutRestoreMarks = (custom: Record<string, string>): Record<string, string> => {
    const { [RESTORE_RUN]: _r, [RESTORE_BASE]: _b, ...rest } = custom;
    return rest;
  };

  return {
    description: `vault-kv ${mount}/${options.path}#${key}`,
    durableStaging: false,

    async read() {
      return extract(await readVersion());
    },

    async stage(value, runId) {
      if (/[\r\n]/.test(value)) throw new VaultError("refusing to store a value with a line break", 0);
      const current = await readVersion();
      extract(current); // a non-string at the key stops here, before anything is written
      const meta = await readMetadata();
      const version = meta?.currentVersion ?? 0;
      if (current !== undefined && current.version !== version) {
        throw new VaultError(
          `${where} changed while it was read (version ${current.version}, then ${version}); run again`,
          0,
        );
      }
      await writeMetadata({
        ...withoutRestoreMarks(meta?.custom ?? {}),
        [RUN]: runId,
        [BASE]: String(version),
      });
      staged.set(runId, { value, base: version, data: current?.data ?? {} });
    },

    readStaged: (runId) => Promise.resolve(staged.get(runId)?.value),

    async promote(runId) {
      const meta = await readMetadata();
      const ours = meta?.custom[RUN] === runId ? Number(meta.custom[BASE]) : undefined;
      const current = meta?.currentVersion ?? 0;
      if (ours !== undefined && current === ours + 1) {
        staged.delete(runId);
        return; // written already
      }
      if (ours !== undefined && current > ours + 1) {
        throw new VaultError(
          `version ${current} of ${where} was written by someone else after run ${runId}'s write; stopping rather than guess`,
          0,
        );
      }
      const pending = staged.get(runId);
      if (pending === undefined || ours === undefined) {
        throw new NothingWrittenError(
          `nothing staged for run ${runId} in ${where}: the value was held in memory only, and this process does not have it`,
        );
      }
      if (current !== pending.base) {
        throw new NothingWrittenError(
          `someone else wrote version ${current} of ${where} after run ${runId} read version ${pending.base}; nothing was changed, run the rotation again`,
        );
      }
      if (!(await writeData({ ...pending.data, [key]: pending.value }, pending.base))) {
        throw new NothingWrittenError(
          `check-and-set refused the write: someone else wrote ${where} after run ${runId} read version ${pending.base}; nothing was changed, run the rotation again`,
        );
      }
      staged.delete(runId);
    },

    async readPrevious() {
      const meta = await readMetadata();
      if (!meta) return undefined;
      const ours = meta.custom[RUN] !== undefined ? Number(meta.custom[BASE]) : undefined;
      const previous =
        ours !== undefined && meta.currentVersion === ours + 1 ? ours : meta.currentVersion - 1;
      return previous > 0 ? extract(await readVersion(previous)) : undefined;
    },

    async restorePrevious(runId) {
      const meta = await readMetadata();
      if (!meta) throw new VaultError(`${where} does not exist; there is nothing to restore`, 404);
      const current = meta.currentVersion;
      if (meta.custom[RESTORE_RUN] === runId) {
        const restoreBase = Number(meta.custom[RESTORE_BASE]);
        if (current === restoreBase + 1) return; // put back already
      }
      const lastRun = meta.custom[RUN];
      const before = Number(meta.custom[BASE]);
      if (lastRun === undefined || !Number.isInteger(before)) {
        throw new VaultError(
          `${where} carries no record of a rotation (custom metadata ${RUN}); nothing to restore`,
          0,
        );
      }
      if (lastRun === runId && current === before) return; // this run never wrote
      if (
        meta.custom[RESTORE_RUN] !== undefined &&
        meta.custom[RESTORE_RUN] !== runId &&
        current === Number(meta.custom[RESTORE_BASE]) + 1
      ) {
        throw new VaultError(
          `the current value of ${where} was put back by an earlier rollback (run ${meta.custom[RESTORE_RUN]}); there is nothing to undo`,
          0,
        );
      }
      const restoring = meta.custom[RESTORE_RUN] === runId ? Number(meta.custom[RESTORE_BASE]) : current;
      if (restoring !== before + 1 || current !== restoring) {
        throw new VaultError(
          `version ${current} of ${where} was written after run ${lastRun}'s write (version ${before + 1}); refusing to overwrite it with version ${before}`,
          0,
        );
      }
      // Version 0: the secret had no version before the run; putting that back is an empty secret.
      const previous = before === 0 ? { version: 0, data: {} } : await readVersion(before);
      if (previous === undefined) {
        throw new VaultError(
          `version ${before} of ${where} is deleted or destroyed; it cannot be put back`,
          0,
        );
      }
      await writeMetadata({ ...meta.custom, [RESTORE_RUN]: runId, [RESTORE_BASE]: String(current) });
      if (!(await writeData(previous.data, current))) {
        throw new VaultError(
          `check-and-set refused the rollback: someone else wrote ${where} meanwhile; nothing was changed, check the secret`,
          0,
        );
      }
    },

    discardStaged(runId) {
      staged.delete(runId);
      return Promise.resolve();
    },
  };
}

/** The registry's entry point (see `../registry.ts`). */
export { createVaultKvStore as create };
