/**
 * What adapter config schemas share: the context they normalise in (the config file's directory, a
 * place for warnings) and the field kinds several adapters use (durations, commands, Kubernetes
 * names). Only zod and `node:path` here: config parsing loads every adapter's schema, and must not
 * load an SDK for it.
 */
import { resolve } from "node:path";
import * as z from "zod";
import { DURATION_PATTERN, durationProblem, formatDuration, parseDuration } from "../../util/time.ts";

/** What an adapter's schema needs to turn config as written into its Options. */
export interface ConfigContext {
  /** Absolute directory relative paths are resolved against: the config file's directory. */
  readonly baseDir: string;
  /** Absolute path of the config file, when there is one. */
  readonly configPath?: string;
  /** Reports something allowed but probably unintended; `path` is relative to the adapter's entry. */
  warn(path: readonly PropertyKey[], message: string): void;
}

/** A context for describing schemas (the JSON Schema) rather than normalising a config. */
export const describingContext: ConfigContext = { baseDir: resolve("."), warn: () => undefined };

/** The config document's duration fields (before their transform), so messages can explain the grammar. */
export const durationSchemas = new WeakSet<z.ZodType>();

const DURATION_RE = new RegExp(DURATION_PATTERN);

function durationText(description: string, example: string): z.ZodString {
  const schema = z
    .string()
    .regex(DURATION_RE, {
      error: (issue) =>
        `invalid duration ${JSON.stringify(issue.input)}: ${durationProblem(String(issue.input))}`,
    })
    // In the grammar but longer than any date or timer holds (the regex alone lets it through).
    .refine((text) => !DURATION_RE.test(text) || durationProblem(text) === undefined, {
      error: (issue) =>
        `invalid duration ${JSON.stringify(issue.input)}: ${durationProblem(String(issue.input))}`,
    })
    .meta({ description, examples: [example] });
  durationSchemas.add(schema);
  return schema;
}

function toPositiveMs(text: string, ctx: z.RefinementCtx): number {
  const ms = parseDuration(text);
  if (ms <= 0)
    ctx.addIssue({ code: "custom", message: `must be longer than zero; e.g. ${formatDuration(60_000)}` });
  return ms;
}

/** A duration written in the config grammar, in milliseconds once parsed; `dflt` when left out. */
export function duration(description: string, dflt: string) {
  return durationText(`${description} Default \`${dflt}\`.`, dflt).default(dflt).transform(toPositiveMs);
}

/** A duration without a default (the token settings, merged with `defaults.token` by the config). */
export function durationWithoutDefault(description: string, example: string): z.ZodString {
  return durationText(description, example);
}

/** The poll interval every polling step defaults to. */
export const DEFAULT_INTERVAL = "2s";

/** `interval`: how often a polling step looks again. */
export const intervalField = (description = "Poll this often.") => duration(description, DEFAULT_INTERVAL);

/**
 * An error when a polling step's interval is not shorter than its timeout. It points at `interval`
 * unless that is the default (then the timeout is what was written too short).
 */
export function checkInterval(
  issues: z.RefinementCtx,
  step: { readonly timeoutMs: number; readonly intervalMs: number },
  why = "",
): void {
  const { timeoutMs, intervalMs } = step;
  if (intervalMs > 0 && timeoutMs > 0 && intervalMs >= timeoutMs) {
    issues.addIssue({
      code: "custom",
      path: [intervalMs === parseDuration(DEFAULT_INTERVAL) ? "timeout" : "interval"],
      message: `interval (${formatDuration(intervalMs)}) must be shorter than timeout (${formatDuration(timeoutMs)})${why}`,
    });
  }
}

/** A program and its arguments, run without a shell. */
export function argv(description: string, example: string[]) {
  return z
    .array(z.string().min(1, { error: "an empty string is not a valid argument; remove it" }))
    .min(1, {
      error: 'the command is empty; give the program and its arguments, e.g. ["./restart.sh", "prod"]',
    })
    .meta({ description, examples: [example] });
}

/** A warning for a path written with `~`, which is not expanded. */
export function warnTilde(ctx: ConfigContext, path: readonly PropertyKey[], text: string): void {
  if (text.startsWith("~")) {
    ctx.warn(
      path,
      `"~" is not expanded: ${JSON.stringify(text)} is taken relative to the config file's directory; write the path out`,
    );
  }
}

/** A command's working directory, resolved against the config file's directory. */
export const cwdField = z
  .string()
  .min(1)
  .meta({
    description: "Working directory, relative to the config file's directory. Default: that directory.",
    examples: ["./scripts"],
  })
  .optional();

/** Extra environment variables for a command. */
export const envField = z
  .record(z.string(), z.string())
  .meta({
    description: "Extra environment variables for the command, added to the inherited environment.",
    examples: [{ AWS_REGION: "eu-west-1" }],
  })
  .default({});

const K8S_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** A Kubernetes object name (a DNS subdomain). */
export function k8sName(what: string, example: string) {
  return z
    .string()
    .max(253, { error: `a Kubernetes ${what} has at most 253 characters` })
    .regex(K8S_NAME, {
      error: `not a Kubernetes ${what}: use lower-case letters, digits, "-" and ".", starting and ending with a letter or digit`,
    })
    .meta({ description: `The ${what}.`, examples: [example] });
}

/** Which cluster: the fields every Kubernetes adapter takes. */
export const kubernetesAccessShape = {
  kubeconfig: z
    .string()
    .min(1, { error: "kubeconfig is empty; give a path or remove kubeconfig" })
    .meta({
      description:
        "Kubeconfig file, relative to the config file's directory. Default: KUBECONFIG, then ~/.kube/config, then the pod's service account.",
      examples: ["./kubeconfig.yaml"],
    })
    .optional(),
  context: z
    .string()
    .min(1, { error: "context is empty; give a kubeconfig context or remove context" })
    .meta({ description: "Kubeconfig context. Default: the current context.", examples: ["integration"] })
    .optional(),
};

/** `kubeconfig` resolved against the config file's directory, and `context`, when given. */
export function kubernetesAccess(
  ctx: ConfigContext,
  step: { readonly kubeconfig?: string | undefined; readonly context?: string | undefined },
): { kubeconfig?: string; context?: string } {
  const access: { kubeconfig?: string; context?: string } = {};
  if (step.kubeconfig !== undefined) {
    warnTilde(ctx, ["kubeconfig"], step.kubeconfig);
    access.kubeconfig = resolve(ctx.baseDir, step.kubeconfig);
  }
  if (step.context !== undefined) access.context = step.context;
  return access;
}

/** The object without its `undefined` members, for options read with `exactOptionalPropertyTypes`. */
export function defined<T extends Record<string, unknown>>(
  value: T,
): { [K in keyof T]?: Exclude<T[K], undefined> } {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) if (v !== undefined) out[key] = v;
  return out as { [K in keyof T]?: Exclude<T[K], undefined> };
}

/**
 * An adapter's Options from its config's output: without `type`, and with the keys in `K` optional
 * for callers that build options by hand (the config always fills them in from the schema's defaults).
 */
export type OptionsOf<Config, K extends keyof Config = never> = Omit<Config, "type" | K> & {
  readonly [P in K]?: Config[P];
};

/** A variable name as a POSIX shell accepts it. */
export const ENV_VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A header whose value is probably a credential. */
export const CREDENTIAL_HEADER = /auth|token|key|secret|cookie|password/i;

/** One header's value: written in the config, or `{ valueFromEnv: NAME }`, read from that variable. */
export type HeaderValue = string | { readonly valueFromEnv: string };

/** A header value as the config writes it: text, or `{ valueFromEnv: NAME }`. */
export const headerValue = z.union([
  z.string(),
  z.strictObject({
    valueFromEnv: z
      .string()
      .regex(ENV_VARIABLE_NAME, { error: "not an environment variable name; e.g. PROMETHEUS_TOKEN" })
      .meta({
        description:
          "Read the value from this environment variable when the step is made (kept out of the config, and from every command ftr runs).",
      }),
  }),
]);

/**
 * Warns about credentials written literally in the config: a header whose name says it is one
 * (Authorization, a token, a key, a cookie) with a text value, and a URL with a password in it.
 * Anyone who can read the config, its repository or a support bundle then has them.
 */
export function warnLiteralCredentials(
  ctx: ConfigContext,
  step: {
    readonly headers?: Readonly<Record<string, HeaderValue>>;
    readonly urls?: Readonly<Record<string, string>>;
  },
): void {
  for (const [name, value] of Object.entries(step.headers ?? {})) {
    if (typeof value === "string" && CREDENTIAL_HEADER.test(name) && value !== "") {
      ctx.warn(
        ["headers", name],
        `a credential is written in the config; read it from the environment instead: ${name}: { valueFromEnv: <VARIABLE> }`,
      );
    }
  }
  for (const [key, url] of Object.entries(step.urls ?? {})) {
    if (URL.canParse(url) && new URL(url).password !== "") {
      ctx.warn(
        [key],
        "the URL holds a password; anyone who can read the config has it: take it out of the URL",
      );
    }
  }
}
