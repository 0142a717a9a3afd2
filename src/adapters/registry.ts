/**
 * The adapters, registered by hand: one line per type. Config validation and the factories below
 * read these tables, so adding an adapter is one import and one line here.
 */
import type { Reloader, SecretStore, Verifier } from "./types.ts";
import type { AdapterDeps } from "./support/deps.ts";
import {
  createAwsSecretsManagerStore,
  type AwsSecretsManagerStoreOptions,
} from "./aws-secrets-manager/index.ts";
import { createExecSecretStore, type ExecSecretStoreOptions } from "./exec-secret/index.ts";
import { createExecReloader, type ExecReloaderOptions } from "./exec-reload/index.ts";
import { createExternalSecretReloader, type ExternalSecretOptions } from "./external-secret/index.ts";
import {
  createKubernetesRolloutReloader,
  type KubernetesRolloutOptions,
} from "./kubernetes-rollout/index.ts";
import { createExecVerifier, type ExecVerifierOptions } from "./exec-verify/index.ts";
import { createKubernetesSecretStore, type KubernetesSecretStoreOptions } from "./kubernetes-secret/index.ts";
import { createFileSecretStore, type FileSecretStoreOptions } from "./file-secret/index.ts";
import { createPrometheusVerifier, type PrometheusVerifierOptions } from "./prometheus/index.ts";
import { createTokenInUseVerifier, type TokenInUseOptions } from "./token-in-use/index.ts";

export type { AdapterDeps } from "./support/deps.ts";

/** A secret store as configured (validated and normalised). */
export type SecretStoreSpec =
  | ({ readonly type: "file" } & FileSecretStoreOptions)
  | ({ readonly type: "exec" } & ExecSecretStoreOptions)
  | ({ readonly type: "aws-secrets-manager" } & AwsSecretsManagerStoreOptions)
  | ({ readonly type: "kubernetes-secret" } & KubernetesSecretStoreOptions);

/** A reloader as configured (validated and normalised). */
export type ReloaderSpec =
  | ({ readonly type: "exec" } & ExecReloaderOptions)
  | ({ readonly type: "external-secret" } & ExternalSecretOptions)
  | ({ readonly type: "kubernetes-rollout" } & KubernetesRolloutOptions);

/** A verifier as configured (validated and normalised). */
export type VerifierSpec =
  | ({ readonly type: "token-in-use" } & TokenInUseOptions)
  | ({ readonly type: "prometheus" } & PrometheusVerifierOptions)
  | ({ readonly type: "exec" } & ExecVerifierOptions);

type Factories<Spec extends { readonly type: string }, Adapter> = {
  readonly [K in Spec["type"]]: (spec: Extract<Spec, { readonly type: K }>, deps: AdapterDeps) => Adapter;
};

/** Secret store factories by `type`. */
export const secretStores: Factories<SecretStoreSpec, SecretStore> = {
  file: (spec) => createFileSecretStore(spec),
  exec: (spec) => createExecSecretStore(spec),
  "aws-secrets-manager": (spec) => createAwsSecretsManagerStore(spec),
  "kubernetes-secret": (spec) => createKubernetesSecretStore(spec),
};

/** Reloader factories by `type`. */
export const reloaders: Factories<ReloaderSpec, Reloader> = {
  exec: (spec) => createExecReloader(spec),
  "external-secret": (spec, deps) => createExternalSecretReloader(spec, deps),
  "kubernetes-rollout": (spec, deps) => createKubernetesRolloutReloader(spec, deps),
};

/** Verifier factories by `type`. */
export const verifiers: Factories<VerifierSpec, Verifier> = {
  "token-in-use": (spec, deps) => createTokenInUseVerifier(spec, deps),
  prometheus: (spec, deps) => createPrometheusVerifier(spec, deps),
  exec: (spec, deps) => createExecVerifier(spec, deps),
};

/** The secret store `spec` describes. */
export function createSecretStore(spec: SecretStoreSpec, deps: AdapterDeps = {}): SecretStore {
  // TypeScript cannot correlate `spec.type` with the factory's parameter; the table's type does.
  const factory = secretStores[spec.type] as (spec: SecretStoreSpec, deps: AdapterDeps) => SecretStore;
  return factory(spec, deps);
}

/** The reloader `spec` describes. */
export function createReloader(spec: ReloaderSpec, deps: AdapterDeps = {}): Reloader {
  const factory = reloaders[spec.type] as (spec: ReloaderSpec, deps: AdapterDeps) => Reloader;
  return factory(spec, deps);
}

/** The verifier `spec` describes. */
export function createVerifier(spec: VerifierSpec, deps: AdapterDeps = {}): Verifier {
  const factory = verifiers[spec.type] as (spec: VerifierSpec, deps: AdapterDeps) => Verifier;
  return factory(spec, deps);
}
