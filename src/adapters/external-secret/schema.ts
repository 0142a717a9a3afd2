/** `reload: - { type: external-secret }`: the config as written, and the reloader's Options. */
import * as z from "zod";
import { kubernetesTarget, type AdapterTarget } from "../support/describe.ts";
import {
  checkInterval,
  duration,
  intervalField,
  k8sName,
  kubernetesAccess,
  kubernetesAccessShape,
  type ConfigContext,
} from "../support/config.ts";

/** The `external-secret` reload step: force a sync of an ExternalSecret and wait for it. */
export function externalSecretSchema(ctx: ConfigContext) {
  return z
    .strictObject({
      type: z.literal("external-secret"),
      namespace: k8sName("namespace", "monitoring"),
      name: k8sName("ExternalSecret name", "govuk-fastly-api"),
      apiVersion: z
        .string()
        .regex(/^[a-z0-9.-]+\/v[0-9a-z]+$/, { error: "give group/version, e.g. external-secrets.io/v1" })
        .meta({
          description: "The ExternalSecret's group/version.",
          examples: ["external-secrets.io/v1beta1"],
        })
        .default("external-secrets.io/v1"),
      ...kubernetesAccessShape,
      timeout: duration("How long the sync may take.", "2m"),
      interval: intervalField("How often its status is read."),
    })
    .meta({
      description:
        "Force an External Secrets sync (the `force-sync` annotation) and wait until the operator has synced and reports Ready.",
    })
    .transform(({ type, namespace, name, apiVersion, timeout, interval, ...access }, issues) => {
      const step = { timeoutMs: timeout, intervalMs: interval };
      checkInterval(issues, step);
      return { type, namespace, name, apiVersion, ...step, ...kubernetesAccess(ctx, access) };
    });
}

/** Forces an External Secrets sync and waits for it. */
export type ExternalSecretConfig = z.output<ReturnType<typeof externalSecretSchema>>;

/** The ExternalSecret force-synced, and how long the sync may take. */
export function describeExternalSecret(spec: ExternalSecretConfig): AdapterTarget {
  return {
    type: "external-secret",
    summary: `force-sync ExternalSecret ${spec.namespace}/${spec.name}`,
    target: {
      namespace: spec.namespace,
      name: spec.name,
      apiVersion: spec.apiVersion,
      ...kubernetesTarget(spec),
    },
    waitsFor: "the operator to sync it and report Ready",
    timeoutMs: spec.timeoutMs,
  };
}
