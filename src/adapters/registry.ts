/**
 * The adapters, registered by hand: one line per type, `{ schema, create }`. The config's `secret`,
 * `reload`, `verify` and `notify` unions are built from `schema`; `create` loads the implementation on first
 * use, so reading a config (or `--help`) never loads an SDK. Adding an adapter is one folder
 * (`schema.ts`, `index.ts` exporting `create`, tests) and one line here.
 */
import * as z from "zod";
import { MAX_SECRET_VALUE_BYTES, TooLargeError } from "../util/limits.ts";
import type { Notifier, Reloader, SecretStore, Verifier } from "./types.ts";
import type { AdapterDeps } from "./support/deps.ts";
import type { ConfigContext } from "./support/config.ts";
import type { AdapterTarget } from "./support/describe.ts";
import { describeAwsSecret, awsSecretSchema } from "./aws-secrets-manager/schema.ts";
import { describeExecSecret, execSecretSchema } from "./exec-secret/schema.ts";
import { describeFileSecret, fileSecretSchema } from "./file-secret/schema.ts";
import { describeKubernetesSecret, kubernetesSecretSchema } from "./kubernetes-secret/schema.ts";
import { describeExecReload, execReloadSchema } from "./exec-reload/schema.ts";
import { describeExternalSecret, externalSecretSchema } from "./external-secret/schema.ts";
import { describeKubernetesRollout, kubernetesRolloutSchema } from "./kubernetes-rollout/schema.ts";
import { describeArgoCd, argoCdSchema } from "./argocd/schema.ts";
import { describeExecVerify, execVerifySchema } from "./exec-verify/schema.ts";
import { describePrometheus, prometheusSchema } from "./prometheus/schema.ts";
import { describeTokenInUse, tokenInUseSchema } from "./token-in-use/schema.ts";
import { describeKubernetesLogs, kubernetesLogsSchema } from "./kubernetes-logs/schema.ts";
import { githubActionsSchema } from "./github-actions/schema.ts";
import { vaultKvSchema } from "./vault-kv/schema.ts";
import { hcpTerraformSchema } from "./hcp-terraform/schema.ts";
import { githubWorkflowSchema } from "./github-workflow/schema.ts";
import { hcpTerraformRunSchema } from "./hcp-terraform-run/schema.ts";
import { webhookNotifySchema } from "./webhook-notify/schema.ts";
import { slackNotifySchema } from "./slack-notify/schema.ts";

export type { AdapterDeps } from "./support/deps.ts";
export type { ConfigContext } from "./support/config.ts";
export type { AdapterTarget } from "./support/describe.ts";

/** An adapter's config schema: built for a context (base directory, warnings), ending in its Options. */
type SchemaFactory = (ctx: ConfigContext) => z.core.$ZodTypeDiscriminable;

/**
 * One registered adapter: its config schema, a factory that loads the implementation when called,
 * and (optionally) what it says of its target in a plan, from the config alone.
 */
export interface AdapterEntry<Factory extends SchemaFactory, Made> {
  readonly schema: Factory;
  readonly create: (spec: z.output<ReturnType<Factory>>, deps: AdapterDeps) => Promise<Made>;
  readonly describe?: (spec: z.output<ReturnType<Factory>>) => AdapterTarget;
}

/** `{ schema, create, describe }` for the adapter whose `index.ts` `load` imports (it exports `create`). */
function entry<Factory extends SchemaFactory, Made>(
  schema: Factory,
  load: () => Promise<{ create(spec: z.output<ReturnType<Factory>>, deps: AdapterDeps): Made }>,
  describe?: (spec: z.output<ReturnType<Factory>>) => AdapterTarget,
): AdapterEntry<Factory, Made> {
  return {
    schema,
    create: async (spec, deps) => (await load()).create(spec, deps),
    ...(describe ? { describe } : {}),
  };
}

/** Secret stores by `type`. */
export const secretStores = {
  file: entry(fileSecretSchema, () => import("./file-secret/index.ts"), describeFileSecret),
  exec: entry(execSecretSchema, () => import("./exec-secret/index.ts"), describeExecSecret),
  "aws-secrets-manager": entry(
    awsSecretSchema,
    () => import("./aws-secrets-manager/index.ts"),
    describeAwsSecret,
  ),
  "kubernetes-secret": entry(
    kubernetesSecretSchema,
    () => import("./kubernetes-secret/index.ts"),
    describeKubernetesSecret,
  ),
  "github-actions": entry(githubActionsSchema, () => import("./github-actions/index.ts")),
  "vault-kv": entry(vaultKvSchema, () => import("./vault-kv/index.ts")),
  "hcp-terraform": entry(hcpTerraformSchema, () => import("./hcp-terraform/index.ts")),
} satisfies Record<string, { readonly create: Create<never, SecretStore> }>;

/** Reloaders by `type`. */
export const reloaders = {
  exec: entry(execReloadSchema, () => import("./exec-reload/index.ts"), describeExecReload),
  "external-secret": entry(
    externalSecretSchema,
    () => import("./external-secret/index.ts"),
    describeExternalSecret,
  ),
  "kubernetes-rollout": entry(
    kubernetesRolloutSchema,
    () => import("./kubernetes-rollout/index.ts"),
    describeKubernetesRollout,
  ),
  argocd: entry(argoCdSchema, () => import("./argocd/index.ts"), describeArgoCd),
} satisfies Record<string, { readonly create: Create<never, Reloader> }>;

/** Verifiers by `type`. */
export const verifiers = {
  "token-in-use": entry(tokenInUseSchema, () => import("./token-in-use/index.ts"), describeTokenInUse),
  prometheus: entry(prometheusSchema, () => import("./prometheus/index.ts"), describePrometheus),
  exec: entry(execVerifySchema, () => import("./exec-verify/index.ts"), describeExecVerify),
  "kubernetes-logs": entry(
    kubernetesLogsSchema,
    () => import("./kubernetes-logs/index.ts"),
    describeKubernetesLogs,
  ),
  "github-workflow": entry(githubWorkflowSchema, () => import("./github-workflow/index.ts")),
  "hcp-terraform-run": entry(hcpTerraformRunSchema, () => import("./hcp-terraform-run/index.ts")),
} satisfies Record<string, { readonly create: Create<never, Verifier> }>;

/** Notifiers by `type`. */
export const notifiers = {
  webhook: entry(webhookNotifySchema, () => import("./webhook-notify/index.ts")),
  slack: entry(slackNotifySchema, () => import("./slack-notify/index.ts")),
} satisfies Record<string, { readonly create: Create<never, Notifier> }>;

type Table = Readonly<Record<string, { readonly schema: SchemaFactory }>>;
type SchemaOf<T extends Table> = ReturnType<T[keyof T]["schema"]>;
type SpecOf<T extends Table> = z.output<SchemaOf<T>>;

/** A secret store as configured (validated and normalised). */
export type SecretStoreSpec = SpecOf<typeof secretStores>;
/** A reloader as configured (validated and normalised). */
export type ReloaderSpec = SpecOf<typeof reloaders>;
/** A verifier as configured (validated and normalised). */
export type VerifierSpec = SpecOf<typeof verifiers>;
/** A notifier as configured (validated and normalised). */
export type NotifierSpec = SpecOf<typeof notifiers>;

/**
 * The discriminated union (on `type`) of the schemas in `table`, built for `ctx`: every one, or
 * with `only` those it names. Building an adapter's schema costs start-up, and a config uses a few
 * of them; `only` must name every type the input holds (else the input's type is unknown to it).
 */
export function unionOf<T extends Table>(
  table: T,
  ctx: ConfigContext,
  only?: ReadonlySet<string>,
): z.ZodDiscriminatedUnion<SchemaOf<T>[]> {
  const all = Object.keys(table);
  const names = only === undefined ? all : all.filter((name) => only.has(name));
  // A union needs an option: with none named (the config has no entry of this kind), the first,
  // which nothing is parsed against. A table always has entries, as zod's signature asks to be shown.
  const schemas = (names.length > 0 ? names : all.slice(0, 1)).map((name) => table[name]!.schema(ctx)) as [
    SchemaOf<T>,
    ...SchemaOf<T>[],
  ];
  return z.discriminatedUnion("type", schemas);
}

type Create<Spec, Made> = (spec: Spec, deps: AdapterDeps) => Promise<Made>;

/** The secret store `spec` describes; its implementation is loaded on first use. */
export function createSecretStore(spec: SecretStoreSpec, deps: AdapterDeps = {}): Promise<SecretStore> {
  // TypeScript cannot correlate `spec.type` with the factory's parameter; the table's type does.
  const create = secretStores[spec.type].create as Create<SecretStoreSpec, SecretStore>;
  return create(spec, deps).then(withValueCap);
}

/**
 * `store` with every value it reads checked against MAX_SECRET_VALUE_BYTES: a store holding
 * megabytes where a token belongs is refused in a line (naming the store), whatever its type.
 */
function withValueCap(store: SecretStore): SecretStore {
  const capped = (value: string | undefined): string | undefined => {
    if (value === undefined) return value;
    const size = Buffer.byteLength(value, "utf8");
    if (size > MAX_SECRET_VALUE_BYTES) {
      throw new TooLargeError(
        `the value in ${store.description}`,
        size,
        MAX_SECRET_VALUE_BYTES,
        "a Fastly token is 32 characters: check that the store and its key point at the token",
      );
    }
    return value;
  };
  return {
    description: store.description,
    durableStaging: store.durableStaging,
    ...(store.readBack === false ? { readBack: false } : {}),
    read: async () => capped(await store.read()),
    ...(store.preflight ? { preflight: store.preflight.bind(store) } : {}),
    stage: (value, runId) => store.stage(value, runId),
    readStaged: async (runId) => capped(await store.readStaged(runId)),
    promote: (runId) => store.promote(runId),
    readPrevious: async () => capped(await store.readPrevious()),
    restorePrevious: (runId) => store.restorePrevious(runId),
    discardStaged: (runId) => store.discardStaged(runId),
  };
}

/** The reloader `spec` describes; its implementation is loaded on first use. */
export function createReloader(spec: ReloaderSpec, deps: AdapterDeps = {}): Promise<Reloader> {
  const create = reloaders[spec.type].create as Create<ReloaderSpec, Reloader>;
  return create(spec, deps);
}

/** The verifier `spec` describes; its implementation is loaded on first use. */
export function createVerifier(spec: VerifierSpec, deps: AdapterDeps = {}): Promise<Verifier> {
  const create = verifiers[spec.type].create as Create<VerifierSpec, Verifier>;
  return create(spec, deps);
}

/** The notifier `spec` describes; its implementation is loaded on first use. */
export function createNotifier(spec: NotifierSpec, deps: AdapterDeps = {}): Promise<Notifier> {
  const create = notifiers[spec.type].create as Create<NotifierSpec, Notifier>;
  return create(spec, deps);
}

/** What `spec` targets, for a plan: the adapter's own `describe`, else its type alone. */
function describeWith<Spec extends { readonly type: string }>(
  table: Readonly<Record<string, { readonly describe?: (spec: never) => AdapterTarget }>>,
  spec: Spec,
): AdapterTarget {
  const describe = table[spec.type]?.describe as ((spec: Spec) => AdapterTarget) | undefined;
  return describe ? describe(spec) : { type: spec.type, summary: spec.type, target: {} };
}

/** The secret store's target (file, secret id and key, Kubernetes Secret), from its config. */
export function describeSecretStore(spec: SecretStoreSpec): AdapterTarget {
  return describeWith(secretStores, spec);
}

/** The reloader's target and time limit, from its config. */
export function describeReloader(spec: ReloaderSpec): AdapterTarget {
  return describeWith(reloaders, spec);
}

/** The verifier's target and time limit, from its config. */
export function describeVerifier(spec: VerifierSpec): AdapterTarget {
  return describeWith(verifiers, spec);
}
