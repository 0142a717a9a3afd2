/** `reload: - { type: kubernetes-rollout }`: the config as written, and the reloader's Options. */
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

const WORKLOADS = [
  ["deployment", "Deployment"],
  ["statefulSet", "StatefulSet"],
  ["daemonSet", "DaemonSet"],
] as const;

/** The `kubernetes-rollout` reload step: restart one workload and wait for its rollout. */
export function kubernetesRolloutSchema(ctx: ConfigContext) {
  return z
    .strictObject({
      type: z.literal("kubernetes-rollout"),
      namespace: k8sName("namespace", "monitoring"),
      deployment: k8sName("Deployment name", "fastly-exporter-prometheus-fastly-exporter").optional(),
      statefulSet: k8sName("StatefulSet name (instead of deployment)", "fastly-exporter").optional(),
      daemonSet: k8sName("DaemonSet name (instead of deployment)", "fastly-exporter").optional(),
      restart: z
        .boolean()
        .meta({
          description:
            'Restart the workload (default true). false: restart nothing and wait for a rollout that something else starts when the Secret changes, such as Stakater Reloader (`reloader.stakater.com/auto: "true"`), then wait for it as kubectl rollout status does.',
          examples: [false],
        })
        .default(true),
      ...kubernetesAccessShape,
      timeout: duration("How long the rollout may take.", "5m"),
      interval: intervalField("How often its status is read."),
    })
    .meta({
      description:
        "Restart a Deployment (or `statefulSet`, `daemonSet`) as `kubectl rollout restart` does, or with `restart: false` wait for Reloader to, and wait as `kubectl rollout status` does.",
    })
    .transform((entry, issues) => {
      const given = WORKLOADS.flatMap(([key, kind]) => {
        const name = entry[key];
        return name === undefined ? [] : [{ key, kind, name }];
      });
      if (given.length !== 1) {
        issues.addIssue({
          code: "custom",
          path: [given[1]?.key ?? "deployment"],
          message:
            given.length === 0
              ? "deployment is required: name the Deployment to restart (or give statefulSet or daemonSet instead)"
              : `give one of deployment, statefulSet and daemonSet, not ${given.map(({ key }) => key).join(" and ")}; use one step per workload`,
        });
      }
      const step = { timeoutMs: entry.timeout, intervalMs: entry.interval };
      checkInterval(issues, step);
      const { kind, name } = given[0] ?? { kind: "Deployment", name: "" };
      const { type, namespace, kubeconfig, context, restart } = entry;
      return {
        type,
        namespace,
        kind,
        name,
        restart,
        ...step,
        ...kubernetesAccess(ctx, { kubeconfig, context }),
      };
    });
}

/** Restarts a Deployment, StatefulSet or DaemonSet and waits for the rollout. */
export type KubernetesRolloutConfig = z.output<ReturnType<typeof kubernetesRolloutSchema>>;

/** The workload restarted (or waited for), and how long the rollout may take. */
export function describeKubernetesRollout(spec: KubernetesRolloutConfig): AdapterTarget {
  const workload = `${spec.kind} ${spec.namespace}/${spec.name}`;
  return {
    type: "kubernetes-rollout",
    summary: spec.restart ? `restart ${workload}` : `wait for a rollout of ${workload}`,
    target: {
      namespace: spec.namespace,
      kind: spec.kind,
      name: spec.name,
      restart: String(spec.restart),
      ...kubernetesTarget(spec),
    },
    waitsFor: "the rollout to complete (every replica updated and available)",
    timeoutMs: spec.timeoutMs,
  };
}
