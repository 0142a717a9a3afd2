/** `verify: - { type: kubernetes-logs }`: the config as written, and the verifier's Options. */
import * as z from "zod";
import { namePatternProblem } from "../../util/pattern.ts";
import { kubernetesTarget, type AdapterTarget } from "../support/describe.ts";
import {
  checkInterval,
  defined,
  duration,
  intervalField,
  k8sName,
  kubernetesAccess,
  kubernetesAccessShape,
  type ConfigContext,
} from "../support/config.ts";

/**
 * What fastly-exporter logs when Fastly refuses its token: `msg="token may be invalid"` on a 401
 * or 403 from the real-time API (pkg/rt/subscriber.go), and the status code of any refused call.
 */
export const FASTLY_EXPORTER_FAIL_ON = ["token may be invalid", "status_code=40[13]\\b"] as const;

/** The `kubernetes-logs` verify step: the new pods log nothing alarming once Ready. */
export function kubernetesLogsSchema(ctx: ConfigContext) {
  return z
    .strictObject({
      type: z.literal("kubernetes-logs"),
      namespace: k8sName("namespace", "monitoring"),
      deployment: k8sName("Deployment name", "fastly-exporter-prometheus-fastly-exporter")
        .meta({
          description: "The Deployment whose newest rollout's pods (its current ReplicaSet) are read.",
        })
        .optional(),
      selector: z
        .string()
        .min(1, { error: "the selector is empty; give a label selector such as app=fastly-exporter" })
        .meta({
          description:
            "A label selector (instead of deployment): the pods it selects that were created since the reload began are read.",
          examples: ["app.kubernetes.io/name=prometheus-fastly-exporter"],
        })
        .optional(),
      container: z
        .string()
        .min(1)
        .meta({
          description: "Only this container's log. Default: every container's.",
          examples: ["exporter"],
        })
        .optional(),
      failOn: z
        .array(
          z
            .string()
            .min(1, { error: "an empty pattern matches every line; remove it" })
            .superRefine((p, issues) => {
              const problem = namePatternProblem(p);
              if (problem !== undefined) {
                issues.addIssue({
                  code: "custom",
                  message: `not a valid regular expression (${problem}): failOn patterns use RE2 syntax, like nameMatches, which has no backreferences or lookaround, so matching cannot hang; fix it, or escape special characters with \\`,
                });
              }
            }),
        )
        .min(1, { error: "failOn is empty; give at least one pattern, or remove failOn for the default" })
        .meta({
          description: `Regular expressions in RE2 syntax (as nameMatches; no backreferences or lookaround); a log line matching any of them fails the check. Default: fastly-exporter's authentication and permission errors (${FASTLY_EXPORTER_FAIL_ON.map((p) => `\`${p}\``).join(", ")}).`,
          examples: [["token may be invalid", "status_code=40[13]\\b"]],
        })
        .default([...FASTLY_EXPORTER_FAIL_ON]),
      quietFor: duration("Pass once every pod has been Ready this long with no line matching failOn.", "30s"),
      ...kubernetesAccessShape,
      timeout: duration("Give up after this long.", "3m"),
      interval: intervalField("How often the pods and their logs are read."),
    })
    .meta({
      description:
        "Read the logs of the pods the reload started and fail on a line matching `failOn`; pass once they have been Ready for `quietFor` without one.",
    })
    .transform((entry, issues) => {
      if ((entry.deployment === undefined) === (entry.selector === undefined)) {
        issues.addIssue({
          code: "custom",
          path: [entry.deployment === undefined ? "deployment" : "selector"],
          message:
            entry.deployment === undefined
              ? "deployment is required: name the Deployment whose new pods to read (or give selector instead)"
              : "give deployment or selector, not both",
        });
      }
      const step = { timeoutMs: entry.timeout, intervalMs: entry.interval };
      checkInterval(issues, step);
      if (entry.quietFor >= entry.timeout) {
        issues.addIssue({
          code: "custom",
          path: ["quietFor"],
          message: "quietFor must be shorter than timeout, or the check can never pass",
        });
      }
      const { type, namespace, deployment, selector, container, failOn, quietFor, kubeconfig, context } =
        entry;
      return {
        type,
        namespace,
        ...defined({ deployment, selector, container }),
        failOn,
        quietForMs: quietFor,
        ...step,
        ...kubernetesAccess(ctx, { kubeconfig, context }),
      };
    });
}

/** Reads the new pods' logs for authentication errors. */
export type KubernetesLogsConfig = z.output<ReturnType<typeof kubernetesLogsSchema>>;

/** The pods whose logs are read, and for how long. */
export function describeKubernetesLogs(spec: KubernetesLogsConfig): AdapterTarget {
  const pods =
    spec.deployment !== undefined
      ? `Deployment ${spec.namespace}/${spec.deployment}`
      : `pods ${spec.namespace}/${spec.selector ?? ""}`;
  return {
    type: "kubernetes-logs",
    summary: `logs of ${pods}${spec.container !== undefined ? `, container ${spec.container}` : ""}`,
    target: {
      namespace: spec.namespace,
      ...defined({ deployment: spec.deployment, selector: spec.selector, container: spec.container }),
      ...kubernetesTarget(spec),
    },
    waitsFor: `the new pods' logs to stay free of authentication errors for ${Math.round(spec.quietForMs / 1000)}s`,
    timeoutMs: spec.timeoutMs,
  };
}
