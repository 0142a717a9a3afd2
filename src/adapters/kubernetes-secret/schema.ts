/** `secret: { type: kubernetes-secret }`: the config as written, and the store's Options. */
import * as z from "zod";
import { kubernetesTarget, type AdapterTarget } from "../support/describe.ts";
import { k8sName, kubernetesAccess, kubernetesAccessShape, type ConfigContext } from "../support/config.ts";

/** The `kubernetes-secret` secret entry: one key of a Secret, in the cluster the kubeconfig names. */
export function kubernetesSecretSchema(ctx: ConfigContext) {
  return z
    .strictObject({
      type: z.literal("kubernetes-secret"),
      namespace: k8sName("namespace", "monitoring"),
      name: k8sName("Secret name", "govuk-fastly-api"),
      key: z
        .string()
        .regex(/^[-._a-zA-Z0-9]+$/, { error: 'not a Secret data key: use letters, digits, "-", "_" and "."' })
        .meta({
          description: "The key of the Secret's data holding the token.",
          examples: ["fastly-api-token"],
        }),
      ...kubernetesAccessShape,
    })
    .meta({
      description:
        "Store the token value in one key of a Kubernetes Secret; pending and previous values go to a companion Secret `<name>-ftr`.",
    })
    .transform(({ type, namespace, name, key, ...access }) => ({
      type,
      namespace,
      name,
      key,
      ...kubernetesAccess(ctx, access),
    }));
}

/** One key of a Kubernetes Secret. */
export type KubernetesSecretConfig = z.output<ReturnType<typeof kubernetesSecretSchema>>;

/** The Secret and key the token is written to. */
export function describeKubernetesSecret(spec: KubernetesSecretConfig): AdapterTarget {
  return {
    type: "kubernetes-secret",
    summary: `Kubernetes Secret ${spec.namespace}/${spec.name}, key ${spec.key}`,
    target: { namespace: spec.namespace, name: spec.name, key: spec.key, ...kubernetesTarget(spec) },
  };
}
