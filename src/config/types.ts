/**
 * The normalised configuration the rest of the code sees: defaults merged into every environment,
 * paths absolute, durations in milliseconds, selectors as discriminated unions. The YAML shape users
 * write is described by the zod schema in `schema.ts`, whose `secret`, `reload` and `verify` entries
 * are the adapters' own schemas (`src/adapters/<type>/schema.ts`); their outputs are the types here.
 */
import type { AutomationTokenRole } from "../fastly/types.ts";
import type { NotifierSpec, ReloaderSpec, SecretStoreSpec, VerifierSpec } from "../adapters/registry.ts";
import type { ParsedEnvironment, TOKEN_SCOPES } from "./schema.ts";

/** A scope an automation token can carry (Fastly sends several space-separated). */
export type TokenScope = (typeof TOKEN_SCOPES)[number];

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
  /** Role the token carries (sent as `role`; with `roles`, the API lets those take precedence). */
  readonly role: AutomationTokenRole;
  /** Role names (`token.roles`), resolved to ids through `GET /roles` when the plan is made. */
  readonly roles?: readonly string[];
  /** Next-Gen WAF workspace ids (`token.workspaces`). */
  readonly workspaces?: readonly string[];
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

/** Where one environment's token value lives: the output of one secret store's schema. */
export type SecretConfig = SecretStoreSpec;
/** A step that makes the consumer pick up the current secret: the output of one reloader's schema. */
export type ReloadConfig = ReloaderSpec;
/** A check that the consumer uses the expected token: the output of one verifier's schema. */
export type VerifyConfig = VerifierSpec;
/** Where rotation events are sent: the output of one notifier's schema. */
export type NotifyConfig = NotifierSpec;

export type { FileSecretConfig } from "../adapters/file-secret/schema.ts";
export type { ExecSecretConfig } from "../adapters/exec-secret/schema.ts";
export type { AwsSecretConfig } from "../adapters/aws-secrets-manager/schema.ts";
export type { KubernetesSecretConfig } from "../adapters/kubernetes-secret/schema.ts";
export type { ExecReloadConfig } from "../adapters/exec-reload/schema.ts";
export type { ExternalSecretConfig as ExternalSecretReloadConfig } from "../adapters/external-secret/schema.ts";
export type { KubernetesRolloutConfig as KubernetesRolloutReloadConfig } from "../adapters/kubernetes-rollout/schema.ts";
export type { TokenInUseConfig as TokenInUseVerifyConfig } from "../adapters/token-in-use/schema.ts";
export type { PrometheusConfig as PrometheusVerifyConfig } from "../adapters/prometheus/schema.ts";
export type { ExecVerifyConfig } from "../adapters/exec-verify/schema.ts";
export type { WebhookNotifyConfig } from "../adapters/webhook-notify/schema.ts";
export type { SlackNotifyConfig } from "../adapters/slack-notify/schema.ts";

/** Whether a person must confirm before an environment is rotated (`--yes` skips the question). */
export type Approval = ParsedEnvironment["approval"];

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

/** Where the lock and the journal live. */
export type StateConfig =
  | { readonly type: "directory"; readonly dir: string }
  | {
      readonly type: "kubernetes";
      readonly namespace: string;
      readonly name: string;
      /** The journal's kind. */
      readonly resource: "secret" | "configmap";
      readonly kubeconfig?: string;
      readonly context?: string;
      readonly leaseDurationMs: number;
    };

/** Maintenance windows for unattended rotation. */
export interface ScheduleConfig {
  /** Window specs as written, e.g. `Mon-Thu 09:30-16:00` (parsed by plan/window.ts). */
  readonly windows: readonly string[];
  /** IANA time zone; default UTC. */
  readonly timeZone: string;
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
  /** Where the lock and journal live; absent: the directory `stateDir`. */
  readonly state?: StateConfig;
  /** When `ftr rotate --due` may start an environment; absent: any time. */
  readonly schedule?: ScheduleConfig;
  /** Absolute directory relative paths were resolved against (the config file's directory). */
  readonly baseDir: string;
  /** Absolute path of the config file, when it came from one. */
  readonly configPath?: string;
  /** In config order. */
  readonly environments: readonly EnvironmentConfig[];
  /** Notifiers told about rotations and expiring tokens; empty when none are configured. */
  readonly notify: readonly NotifyConfig[];
  /** Hygiene rules for every automation token in the account (`policy:`, with defaults). */
  readonly policy: PolicyConfig;
}

/** `policy:` in ms. */
export interface PolicyConfig {
  /** Unused (or never used and older) for longer than this is a finding. */
  readonly unusedAfterMs: number;
  /** A lifetime longer than this (or none: never expires) is a finding. */
  readonly maxLifetimeMs: number;
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
