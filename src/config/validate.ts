/**
 * Schema-checked data → normalised `Config`, plus the rules that span more than one adapter's entry:
 * uniqueness across environments, token settings merged with `defaults.token`, what an environment
 * lacks as a whole. Each adapter's own rules, defaults and normalisation live in its `schema.ts`.
 * Every environment is checked on its own, so one broken environment does not hide the problems of
 * the others: all errors are reported at once.
 */
import { resolve } from "node:path";
import type * as z from "zod";
import { notifiers, reloaders, secretStores, verifiers } from "../adapters/registry.ts";
import type { ConfigContext } from "../adapters/support/config.ts";
import { parseDuration, formatDuration } from "../util/time.ts";
import { isSecureOrLoopback } from "../util/http.ts";
import { checkTimeZone, parseWindow } from "../plan/window.ts";
import { UNWORDED, formatPath, valueAt, wordZodIssues, type IssuePath } from "./issues.ts";
import {
  BUILTIN_POLICY,
  BUILTIN_TOKEN_DEFAULTS,
  DEFAULT_STATE_DIR,
  adapterSelection,
  configSchemaFor,
  environmentEntrySchema,
  tokenDefaultFields,
  type ParsedEnvironment,
  type ParsedTokenDefaults,
} from "./schema.ts";
import type {
  Config,
  ConfigIssue,
  ConfigResult,
  EnvironmentConfig,
  ScheduleConfig,
  ServiceSelector,
  StateConfig,
  TokenScope,
  TokenSpec,
} from "./types.ts";

/** Where relative paths resolve, and which file the config came from. */
export interface ValidateOptions {
  /** Directory relative paths are resolved against: the config file's directory. */
  readonly baseDir: string;
  /** Absolute path of the config file, when there is one (a `file` secret must not overwrite it). */
  readonly configPath?: string;
}

export { BUILTIN_TOKEN_DEFAULTS, DEFAULT_STATE_DIR };

const ONE_YEAR_MS = 365 * 86_400_000;

class Collector {
  readonly errors: ConfigIssue[] = [];
  readonly warnings: ConfigIssue[] = [];
  private readonly seen = new Set<string>();
  error(path: IssuePath, message: string): void {
    this.add(this.errors, "e", path, message);
  }
  warn(path: IssuePath, message: string): void {
    this.add(this.warnings, "w", path, message);
  }
  // A problem in `defaults` would otherwise be reported once per environment inheriting it.
  private add(list: ConfigIssue[], kind: string, path: IssuePath, message: string): void {
    const issue = { path: formatPath(path), message };
    const id = `${kind}\u0000${issue.path}\u0000${message}`;
    if (this.seen.has(id)) return;
    this.seen.add(id);
    list.push(issue);
  }
}

/** One effective token setting and where it was written, so a message can point at that line. */
interface Sourced<T> {
  readonly value: T;
  readonly path: IssuePath | undefined;
}

function pick<K extends keyof ParsedTokenDefaults & keyof typeof BUILTIN_TOKEN_DEFAULTS>(
  key: K,
  env: ParsedEnvironment,
  index: number,
  defaults: ParsedTokenDefaults,
): Sourced<NonNullable<ParsedTokenDefaults[K]> | (typeof BUILTIN_TOKEN_DEFAULTS)[K]> {
  const own = env.token[key];
  if (own !== undefined) return { value: own, path: ["environments", index, "token", key] };
  const inherited = defaults[key];
  if (inherited !== undefined) return { value: inherited, path: ["defaults", "token", key] };
  return { value: BUILTIN_TOKEN_DEFAULTS[key], path: undefined };
}

function positive(c: Collector, text: string, path: IssuePath): number {
  const ms = parseDuration(text);
  if (ms <= 0) c.error(path, `must be longer than zero; e.g. ${formatDuration(60_000)}`);
  return ms;
}

function checkPathText(c: Collector, path: IssuePath, text: string): void {
  if (text.startsWith("~")) {
    c.warn(
      path,
      `"~" is not expanded: ${JSON.stringify(text)} is taken relative to the config file's directory; write the path out`,
    );
  }
}

function normaliseToken(
  c: Collector,
  env: ParsedEnvironment,
  index: number,
  defaults: ParsedTokenDefaults,
): TokenSpec {
  const at = (...rest: PropertyKey[]): IssuePath => ["environments", index, "token", ...rest];
  const role = pick("role", env, index, defaults);
  // No built-in default: without them the token has its one `role` and no workspace limit.
  const roles = env.token.roles ?? defaults.roles;
  const workspaces = env.token.workspaces ?? defaults.workspaces;
  const scope = pick("scope", env, index, defaults);
  const expiresIn = pick("expiresIn", env, index, defaults);
  const rotateBefore = pick("rotateBefore", env, index, defaults);
  const tlsAccess = pick("tlsAccess", env, index, defaults);

  const expiresInMs = positive(c, expiresIn.value, expiresIn.path ?? at("expiresIn"));
  const rotateBeforeMs = positive(c, rotateBefore.value, rotateBefore.path ?? at("rotateBefore"));
  if (expiresInMs > 0 && rotateBeforeMs >= expiresInMs) {
    c.error(
      rotateBefore.path ?? expiresIn.path ?? at("rotateBefore"),
      `rotateBefore (${rotateBefore.value}) must be shorter than expiresIn (${expiresIn.value}), or every new token is due for rotation at once; e.g. expiresIn: 365d with rotateBefore: 30d`,
    );
  }
  if (expiresInMs > ONE_YEAR_MS) {
    c.warn(
      expiresIn.path ?? at("expiresIn"),
      `expiresIn ${expiresIn.value} is longer than a year; a leaked token stays valid that long. Consider 365d or less`,
    );
  }

  const scopes = scope.value.trim().split(/\s+/) as TokenScope[];
  if (scopes.includes("global")) {
    c.warn(
      scope.path ?? at("scope"),
      `scope "global" can change service configuration; a read-only consumer such as the exporter needs only "global:read"`,
    );
  }

  let services: ServiceSelector;
  const selector = env.token.services;
  if (selector.nameMatches !== undefined) {
    // The schema has already checked that the pattern compiles.
    services = { kind: "nameMatches", pattern: selector.nameMatches };
  } else if (selector.ids !== undefined) {
    services = { kind: "ids", ids: selector.ids };
    const seen = new Set<string>();
    selector.ids.forEach((id, i) => {
      if (seen.has(id))
        c.warn(at("services", "ids", i), `service id ${JSON.stringify(id)} is listed twice; remove one`);
      seen.add(id);
    });
  } else {
    services = { kind: "all" };
    c.warn(
      at("services", "all"),
      "the token will reach every service in the account; limit it with nameMatches or ids if the consumer needs fewer",
    );
  }

  return {
    name: env.token.name,
    role: role.value,
    ...(roles === undefined ? {} : { roles: [...new Set(roles)] }),
    ...(workspaces === undefined ? {} : { workspaces: [...new Set(workspaces)] }),
    scope: scopes.join(" "),
    scopes,
    expiresInMs,
    rotateBeforeMs,
    tlsAccess: tlsAccess.value,
    services,
  };
}

/** An adapter entry's schema, as the registry holds it. */
type SchemaFactory = (ctx: ConfigContext) => z.ZodType;

/**
 * How the config is parsed: issues keep zod's codes (worded by `wordZodIssues`), and without zod's
 * compiled fast path, which costs more to generate than it saves on a document parsed once.
 */
const PARSE = { error: () => UNWORDED, jitless: true } as const;

/**
 * Runs adapter entries' schemas again, each alone, so the warnings they report (with paths relative
 * to the entry) can be placed where the entry is; the environment's schema has already normalised
 * them. Each adapter's schema is built once per document: its context's `warn` goes to the entry
 * being parsed (parsing is synchronous, so one entry at a time).
 */
class AdapterWarnings {
  readonly #built = new Map<SchemaFactory, z.ZodType>();
  readonly #ctx: ConfigContext;
  #warn: ConfigContext["warn"] = () => undefined;

  constructor(options: ValidateOptions) {
    this.#ctx = { ...options, warn: (relative, message) => this.#warn(relative, message) };
  }

  /** Parse `raw` with `schema`, its warnings reported to `c` at `path`. */
  check(c: Collector, schema: SchemaFactory, raw: unknown, path: IssuePath): void {
    let built = this.#built.get(schema);
    if (built === undefined) {
      built = schema(this.#ctx);
      this.#built.set(schema, built);
    }
    this.#warn = (relative, message) => c.warn([...path, ...relative], message);
    try {
      built.safeParse(raw, PARSE);
    } finally {
      this.#warn = () => undefined;
    }
  }
}

function normaliseEnvironment(
  c: Collector,
  raw: unknown,
  env: ParsedEnvironment,
  index: number,
  defaults: ParsedTokenDefaults,
  warnings: AdapterWarnings,
): EnvironmentConfig {
  const at = (...rest: PropertyKey[]): IssuePath => ["environments", index, ...rest];
  const token = normaliseToken(c, env, index, defaults);
  const { secret, reload, verify, approval } = env;
  warnings.check(c, secretStores[secret.type].schema, valueAt(raw, ["secret"]), at("secret"));
  reload.forEach((step, i) => {
    warnings.check(c, reloaders[step.type].schema, valueAt(raw, ["reload", i]), at("reload", i));
  });
  verify.forEach((step, i) => {
    warnings.check(c, verifiers[step.type].schema, valueAt(raw, ["verify", i]), at("verify", i));
  });

  if (verify.length === 0) {
    c.warn(
      at("verify"),
      "no verifiers: old tokens would be revoked without proof that the consumer uses the new one; add - { type: token-in-use }",
    );
  } else if (verify.every((v) => v.type === "exec" || v.type === "kubernetes-logs")) {
    // A quiet log says nothing was refused, not that the new token is the one in use.
    const kinds = verify.some((v) => v.type === "kubernetes-logs")
      ? verify.some((v) => v.type === "exec")
        ? "exec and kubernetes-logs"
        : "kubernetes-logs"
      : "exec";
    c.warn(
      at("verify"),
      `only ${kinds} verifiers: none of them proves which token the consumer uses; add - { type: token-in-use } or a prometheus verifier`,
    );
  }
  if (reload.length === 0) {
    c.warn(
      at("reload"),
      "no reloaders: nothing makes the consumer pick up the new token (the exporter reads it only at start); add a reload step unless the consumer reloads by itself",
    );
  }
  if (approval === "none" && /prod/i.test(env.name)) {
    c.warn(
      at("approval"),
      `"${env.name}" looks like production but is rotated without asking; add approval: required`,
    );
  }
  return { name: env.name, index, token, secret, reload, verify, approval };
}

/** Rules across environments. They read the raw data, so environments that failed the schema still count. */
function checkAcrossEnvironments(
  c: Collector,
  raw: readonly unknown[],
  environments: readonly EnvironmentConfig[],
): void {
  const unique = (
    path: (i: number) => IssuePath,
    value: (entry: unknown) => unknown,
    describe: (v: string, first: number, i: number) => string,
  ): void => {
    const firstIndex = new Map<string, number>();
    raw.forEach((entry, i) => {
      const v = value(entry);
      if (typeof v !== "string") return;
      const first = firstIndex.get(v);
      if (first === undefined) firstIndex.set(v, i);
      else c.error(path(i), describe(v, first, i));
    });
  };
  unique(
    (i) => ["environments", i, "name"],
    (entry) => valueAt(entry, ["name"]),
    (v, first) =>
      `environment name "${v}" is already used by environments[${first}]; give each environment a unique name`,
  );
  unique(
    (i) => ["environments", i, "token", "name"],
    (entry) => {
      const name = valueAt(entry, ["token", "name"]);
      return typeof name === "string" ? name.trim() : undefined;
    },
    (v, first, i) => {
      const envName = valueAt(raw[i], ["name"]);
      return `token name "${v}" is already used by environments[${first}]; tokens are found by name, so each environment needs its own, e.g. "... for ${typeof envName === "string" ? envName : "<environment>"}"`;
    },
  );

  const destinations = new Map<string, number>();
  for (const env of environments) {
    if (env.secret.type === "exec") continue;
    const secret = env.secret;
    // The whole container counts, not just the key: a rollback puts back the whole file or AWS
    // version as it was before this environment's promotion, which would undo another
    // environment's rotation of another key in it.
    const destination =
      secret.type === "file"
        ? `file:${secret.path}`
        : secret.type === "kubernetes-secret"
          ? // The same name in another cluster (context) is another Secret.
            `k8s:${secret.kubeconfig ?? ""}:${secret.context ?? ""}:${secret.namespace}/${secret.name}`
          : secret.type === "aws-secrets-manager"
            ? // The same name in another account (profile) or region is another secret.
              `aws:${secret.profile ?? ""}:${secret.endpoint ?? ""}:${secret.region ?? ""}:${secret.secretId}`
            : // Any other store: the same settings but the key are the same place (a rollback
              // writes back the whole secret, other keys included).
              `${secret.type}:${JSON.stringify({ ...secret, key: undefined })}`;
    const first = destinations.get(destination);
    if (first !== undefined) {
      const field =
        secret.type === "file"
          ? "path"
          : secret.type === "kubernetes-secret"
            ? "name"
            : secret.type === "aws-secrets-manager"
              ? "secretId"
              : "type";
      const what = secret.type === "file" ? "file" : "secret";
      c.error(
        ["environments", env.index, "secret", field],
        `environments[${first}] stores its token in the same ${what}; give each environment its own ${what} (a rollback restores the whole ${what}, which would undo the other environment's rotation)`,
      );
    } else destinations.set(destination, env.index);
  }
}

function parseWithSchema<T extends z.ZodType>(schema: T, data: unknown): z.output<T> | undefined {
  const result = schema.safeParse(data, PARSE);
  return result.success ? result.data : undefined;
}

/** The `defaults.token` fields that are valid on their own; broken ones are reported by the schema. */
function parseDefaults(raw: unknown): ParsedTokenDefaults {
  const out: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(tokenDefaultFields)) {
    const value = valueAt(raw, [key]);
    if (value === undefined) continue;
    const parsed = parseWithSchema(schema, value);
    if (parsed !== undefined) out[key] = parsed;
  }
  return out;
}

/**
 * Validates already-parsed config data (e.g. YAML turned into plain objects) and normalises it.
 * Pure: no I/O. `config` is present exactly when there are no errors.
 */
export function validateConfig(data: unknown, options: ValidateOptions): ConfigResult {
  const c = new Collector();
  const baseDir = resolve(options.baseDir);
  const opts: ValidateOptions =
    options.configPath === undefined
      ? { baseDir }
      : { baseDir, configPath: resolve(baseDir, options.configPath) };
  // Warnings are collected per adapter entry below, where their place in the document is known.
  const ctx: ConfigContext = { ...opts, warn: () => undefined };
  // Only the adapters the document names are built (all of them when a type is unknown).
  const only = adapterSelection(data);
  const environmentSchema = environmentEntrySchema(ctx, only);
  const configSchema = configSchemaFor(ctx, only, environmentSchema);
  const warnings = new AdapterWarnings(opts);

  const whole = configSchema.safeParse(data, PARSE);
  const schemaIssues = whole.success ? [] : wordZodIssues(whole.error.issues, configSchema, data);

  // Rules run on whatever parts passed the schema, so their findings join the schema's in one report.
  const defaults = parseDefaults(valueAt(data, ["defaults", "token"]));
  const rawEnvironments = (data as { environments?: unknown } | undefined)?.environments;
  const environments: EnvironmentConfig[] = [];
  if (Array.isArray(rawEnvironments)) {
    rawEnvironments.forEach((raw, index) => {
      // The whole document parsed: its environments are these, parsed by the same schema already.
      const env = whole.success ? whole.data.environments[index] : parseWithSchema(environmentSchema, raw);
      if (env !== undefined) environments.push(normaliseEnvironment(c, raw, env, index, defaults, warnings));
    });
  }
  checkAcrossEnvironments(c, Array.isArray(rawEnvironments) ? rawEnvironments : [], environments);

  let stateDir = resolve(baseDir, DEFAULT_STATE_DIR);
  if (whole.success && whole.data.state?.dir !== undefined) {
    checkPathText(c, ["state", "dir"], whole.data.state.dir);
    stateDir = resolve(baseDir, whole.data.state.dir);
  }
  const state = whole.success ? stateConfig(c, whole.data.state, stateDir, baseDir) : undefined;
  const schedule = whole.success ? scheduleConfig(c, whole.data.schedule) : undefined;
  // Plain http is refused unless it stays on this machine or the user opted in; loopback needs no word.
  if (
    whole.success &&
    whole.data.fastly?.endpoint !== undefined &&
    !isSecureOrLoopback(whole.data.fastly.endpoint)
  ) {
    if (whole.data.fastly.allowInsecure === true) {
      c.warn(
        ["fastly", "endpoint"],
        "the endpoint is plain http (allowed by fastly.allowInsecure): the user token and sudo password cross the network unencrypted",
      );
    } else {
      c.error(
        ["fastly", "endpoint"],
        "the endpoint is plain http to a host that is not loopback: the user token and sudo password would cross the network unencrypted; use https://, or set fastly.allowInsecure: true if the network is trusted",
      );
    }
  }

  if (whole.success) {
    whole.data.notify.forEach((spec, i) => {
      warnings.check(c, notifiers[spec.type].schema, valueAt(data, ["notify", i]), ["notify", i]);
    });
  }

  const errors = [...schemaIssues, ...c.errors];
  if (!whole.success || errors.length > 0) return { errors, warnings: c.warnings };

  const endpoint = whole.data.fastly?.endpoint?.replace(/\/+$/, "");
  const policy = {
    unusedAfterMs: parseDuration(whole.data.policy?.unusedAfter ?? BUILTIN_POLICY.unusedAfter),
    maxLifetimeMs: parseDuration(whole.data.policy?.maxLifetime ?? BUILTIN_POLICY.maxLifetime),
  };
  const config: Config = {
    version: 1,
    fastly: {
      ...(endpoint === undefined ? {} : { endpoint }),
      ...(whole.data.fastly?.allowInsecure === true ? { allowInsecure: true } : {}),
    },
    stateDir,
    ...(state ? { state } : {}),
    ...(schedule ? { schedule } : {}),
    baseDir,
    ...(options.configPath === undefined ? {} : { configPath: resolve(baseDir, options.configPath) }),
    environments,
    notify: whole.data.notify,
    policy,
  };
  return { config, errors: [], warnings: c.warnings };
}

type StateInput = {
  type?: "directory" | "kubernetes" | undefined;
  namespace?: string | undefined;
  name?: string | undefined;
  resource?: "secret" | "configmap" | undefined;
  kubeconfig?: string | undefined;
  context?: string | undefined;
  leaseDuration?: string | undefined;
};

/** `state:` as a `StateConfig`: a directory by default, or Kubernetes with its namespace and name. */
function stateConfig(
  c: Collector,
  input: StateInput | undefined,
  stateDir: string,
  baseDir: string,
): StateConfig | undefined {
  if (input?.type !== "kubernetes") {
    for (const key of ["namespace", "name", "resource", "kubeconfig", "context", "leaseDuration"] as const) {
      if (input?.[key] !== undefined) {
        c.error(
          ["state", key],
          `state.${key} applies only with \`type: kubernetes\`; add it or remove the key`,
        );
      }
    }
    return { type: "directory", dir: stateDir };
  }
  if (input.namespace === undefined)
    c.error(["state", "namespace"], "state with `type: kubernetes` needs a namespace, e.g. monitoring");
  if (input.name === undefined)
    c.error(
      ["state", "name"],
      "state with `type: kubernetes` needs a name for its Lease and journal, e.g. ftr-state",
    );
  let leaseDurationMs = 60_000;
  if (input.leaseDuration !== undefined) {
    let ms = NaN;
    try {
      ms = parseDuration(input.leaseDuration);
    } catch {
      // Worded below.
    }
    if (!Number.isFinite(ms) || ms < 15_000 || ms > 3_600_000) {
      c.error(
        ["state", "leaseDuration"],
        `state.leaseDuration "${input.leaseDuration}" must be a duration from 15s to 1h, e.g. 60s`,
      );
    } else leaseDurationMs = ms;
  }
  if (input.namespace === undefined || input.name === undefined) return undefined;
  return {
    type: "kubernetes",
    namespace: input.namespace,
    name: input.name,
    resource: input.resource ?? "secret",
    ...(input.kubeconfig === undefined ? {} : { kubeconfig: resolve(baseDir, input.kubeconfig) }),
    ...(input.context === undefined ? {} : { context: input.context }),
    leaseDurationMs,
  };
}

/** `schedule:` checked: every window readable, the time zone known. */
function scheduleConfig(
  c: Collector,
  input: { window?: string | string[] | undefined; timeZone?: string | undefined } | undefined,
): ScheduleConfig | undefined {
  if (input === undefined) return undefined;
  const windows =
    input.window === undefined ? [] : typeof input.window === "string" ? [input.window] : input.window;
  windows.forEach((w, i) => {
    try {
      parseWindow(w);
    } catch (error) {
      c.error(
        typeof input.window === "string" ? ["schedule", "window"] : ["schedule", "window", i],
        (error as Error).message,
      );
    }
  });
  const timeZone = input.timeZone ?? "UTC";
  try {
    checkTimeZone(timeZone);
  } catch (error) {
    c.error(["schedule", "timeZone"], (error as Error).message);
  }
  return { windows, timeZone };
}
