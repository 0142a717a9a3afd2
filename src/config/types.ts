/**
 * The normalised configuration the rest of the code sees: defaults merged into every environment,
 * paths absolute, durations in milliseconds, selectors as discriminated unions. The YAML shape users
 * write is described by the zod schema in `schema.ts`; nothing outside `src/config/` should need it.
 */
import type { AutomationTokenRole } from "../fastly/types.ts";

/** A scope an automation token can carry (Fastly sends several space-separated). */
export type TokenScope = "global" | "global:read" | "purge_select" | "purge_all";

/** Which services a token is limited to. */
export type ServiceSelector =
  /** Every service whose name matches `pattern` (a JavaScript RegExp source, unanchored search). */
  | { readonly kind: "nameMatches"; readonly pattern: string }
  /** Exactly these service ids. */
  | { readonly kind: "ids"; readonly ids: readonly string[] }
  /** Every service in the account (Fastly's meaning of "no services given"). */
  | { readonly kind: "all" };

/** The automation token one environment's consumer should hold. */
export interface TokenSpec {
  /** The token's name in Fastly; identifies the environment's tokens, so it is unique across environments. */
  readonly name: string;
  /** Role the token carries. */
  readonly role: AutomationTokenRole;
  /** Scope string as sent to Fastly: scopes separated by single spaces, e.g. `global:read`. */
  readonly scope: string;
  /** The same scopes, split. */
  readonly scopes: readonly TokenScope[];
  /** Lifetime of a new token, from its creation. */
  readonly expiresInMs: number;
  /** A token is due for rotation when it expires within this long. Always less than `expiresInMs`. */
  readonly rotateBeforeMs: number;
  /** Whether the token may use TLS management endpoints (`tls_access`). */
  readonly tlsAccess: boolean;
  /** Services the token is limited to. */
  readonly services: ServiceSelector;
}

/** A file holding the token value: the whole file, or one key of a JSON object in it. */
export interface FileSecretConfig {
  readonly type: "file";
  /** Absolute path. */
  readonly path: string;
  /** When set, the file is a JSON object and only this key is read and written; other keys are kept. */
  readonly jsonKey?: string;
}

/** Commands that write (value on stdin) and optionally read (value on stdout) the token value. */
export interface ExecSecretConfig {
  readonly type: "exec";
  /** argv run to store a value; the value arrives on stdin, never in argv or the environment. */
  readonly write: readonly string[];
  /** argv run to read the current value from stdout; without it the deployed token cannot be identified. */
  readonly read?: readonly string[];
  /** Per-command time limit. Default 30 s. */
  readonly timeoutMs: number;
  /** Absolute working directory. Default: the config file's directory. */
  readonly cwd: string;
  /** Extra environment variables, added to the process environment. */
  readonly env: Readonly<Record<string, string>>;
}

/** A secret in AWS Secrets Manager: the whole secret string, or one key of a JSON object in it. */
export interface AwsSecretConfig {
  readonly type: "aws-secrets-manager";
  /** Name or ARN. */
  readonly secretId: string;
  /** When set, the secret string is a JSON object and only this key is read and written. */
  readonly jsonKey?: string;
  readonly region?: string;
  readonly endpoint?: string;
  readonly profile?: string;
}

/** One key of a Kubernetes Secret. */
export interface KubernetesSecretConfig extends KubernetesAccessConfig {
  readonly type: "kubernetes-secret";
  readonly namespace: string;
  readonly name: string;
  readonly key: string;
}

/** Where one environment's token value lives. */
export type SecretConfig = FileSecretConfig | ExecSecretConfig | AwsSecretConfig | KubernetesSecretConfig;

/** Runs a command and waits for it to exit 0. */
export interface ExecReloadConfig {
  readonly type: "exec";
  /** argv, run without a shell; wrap in `["sh", "-c", "..."]` when a shell is needed. */
  readonly command: readonly string[];
  /** Time limit. Default 60 s. */
  readonly timeoutMs: number;
  /** Absolute working directory. Default: the config file's directory. */
  readonly cwd: string;
  /** Extra environment variables, added to the process environment. */
  readonly env: Readonly<Record<string, string>>;
}

/** Which cluster, for the Kubernetes reloaders. */
export interface KubernetesAccessConfig {
  /** Absolute path of a kubeconfig file; default KUBECONFIG, ~/.kube/config, in-cluster. */
  readonly kubeconfig?: string;
  readonly context?: string;
}

/** Forces an External Secrets sync and waits for it. */
export interface ExternalSecretReloadConfig extends KubernetesAccessConfig {
  readonly type: "external-secret";
  readonly namespace: string;
  readonly name: string;
  /** group/version. Default `external-secrets.io/v1`. */
  readonly apiVersion: string;
  readonly timeoutMs: number;
  readonly intervalMs: number;
}

/** Restarts a Deployment, StatefulSet or DaemonSet and waits for the rollout. */
export interface KubernetesRolloutReloadConfig extends KubernetesAccessConfig {
  readonly type: "kubernetes-rollout";
  readonly namespace: string;
  readonly kind: "Deployment" | "StatefulSet" | "DaemonSet";
  readonly name: string;
  readonly timeoutMs: number;
  readonly intervalMs: number;
}

/** A step that makes the consumer pick up the current secret; run in order. */
export type ReloadConfig = ExecReloadConfig | ExternalSecretReloadConfig | KubernetesRolloutReloadConfig;

/** Passes once Fastly reports the expected token used after the switch-over (`last_used_at`). */
export interface TokenInUseVerifyConfig {
  readonly type: "token-in-use";
  /** Give up after this long. Default 2 min. */
  readonly timeoutMs: number;
  /** Poll this often. Default 2 s. */
  readonly intervalMs: number;
}

/** Passes once Prometheus shows the exporter reporting the expected token id (and `query`, if set, holds). */
export interface PrometheusVerifyConfig {
  readonly type: "prometheus";
  /** Prometheus base URL, e.g. `http://127.0.0.1:9090` (no trailing slash). */
  readonly url: string;
  /** Metric carrying the token id. Default `fastly_rt_token_expiration`. */
  readonly metric: string;
  /** Label of `metric` holding the token id. Default `token_id`. */
  readonly tokenIdLabel: string;
  /** Optional health query that must return a non-empty result, e.g. `up{job="fastly-exporter"} == 1`. */
  readonly query?: string;
  /** Also require the old tokens' ids to be absent from `metric`. Default false. */
  readonly requireOthersAbsent: boolean;
  /** Extra HTTP headers for queries (e.g. `Authorization`). Default none. */
  readonly headers: Readonly<Record<string, string>>;
  /** Give up after this long. Default 2 min. */
  readonly timeoutMs: number;
  /** Poll this often. Default 2 s. */
  readonly intervalMs: number;
}

/** Passes once a command exits 0 (retried every `intervalMs` until `timeoutMs`). */
export interface ExecVerifyConfig {
  readonly type: "exec";
  /** argv, run without a shell. */
  readonly command: readonly string[];
  /** Give up after this long. Default 30 s. */
  readonly timeoutMs: number;
  /** Retry this often. Default 2 s. */
  readonly intervalMs: number;
  /** Absolute working directory. Default: the config file's directory. */
  readonly cwd: string;
  /** Extra environment variables, added to the process environment. */
  readonly env: Readonly<Record<string, string>>;
}

/** A check that the consumer uses the expected token and is healthy. */
export type VerifyConfig = TokenInUseVerifyConfig | PrometheusVerifyConfig | ExecVerifyConfig;

/** Whether a person must confirm before an environment is rotated (`--yes` skips the question). */
export type Approval = "required" | "none";

/** One environment: its token, where the value lives, how the consumer reloads, how to verify. */
export interface EnvironmentConfig {
  /** Unique; matches `ENV_NAME_PATTERN` (used in file names and metric labels). */
  readonly name: string;
  /** Position in the config file's `environments` list (rotation runs in this order). */
  readonly index: number;
  readonly token: TokenSpec;
  readonly secret: SecretConfig;
  /** Run in order after the secret is promoted. May be empty. */
  readonly reload: readonly ReloadConfig[];
  /** All must pass before old tokens are revoked. May be empty (a warning). */
  readonly verify: readonly VerifyConfig[];
  readonly approval: Approval;
}

/** The whole normalised configuration. */
export interface Config {
  readonly version: 1;
  readonly fastly: {
    /** API base URL without a trailing slash; `FASTLY_API_ENDPOINT` overrides it at run time. */
    readonly endpoint?: string;
    /** Plain http to a host that is not loopback is allowed (`fastly.allowInsecure: true`). */
    readonly allowInsecure?: boolean;
  };
  /** Absolute journal directory. Default `.ftr-state` beside the config file. */
  readonly stateDir: string;
  /** Absolute directory relative paths were resolved against (the config file's directory). */
  readonly baseDir: string;
  /** Absolute path of the config file, when it came from one. */
  readonly configPath?: string;
  /** In config order. */
  readonly environments: readonly EnvironmentConfig[];
}

/** One problem found in a config. */
export interface ConfigIssue {
  /** Where, as written in the config, e.g. `environments[1].secret.path`; `""` for the whole document. */
  readonly path: string;
  /** What is wrong and how to fix it. */
  readonly message: string;
  /** 1-based line in the source text, when known. */
  readonly line?: number;
  /** 1-based column in the source text, when known. */
  readonly column?: number;
}

/** The outcome of parsing and validating: `config` is present exactly when `errors` is empty. */
export interface ConfigResult {
  readonly config?: Config;
  readonly errors: readonly ConfigIssue[];
  readonly warnings: readonly ConfigIssue[];
}

/** A valid config read from a file. */
export interface LoadedConfig {
  readonly config: Config;
  readonly warnings: readonly ConfigIssue[];
  /** Absolute path of the file read. */
  readonly path: string;
}
