import type { V1Deployment } from "@kubernetes/client-node";
import type { AdapterContext, Reloader } from "../types.ts";
import { formatDuration, resolveDeps, type AdapterDeps } from "../support/deps.ts";
import {
  explainKubernetesError,
  kubernetesClient,
  KubernetesError,
  loadKubeConfig,
  type KubernetesAccess,
} from "../support/kubernetes.ts";

/** Options of the `kubernetes-rollout` reloader (already validated; durations in ms). */
export interface KubernetesRolloutOptions extends KubernetesAccess {
  readonly namespace: string;
  /** The Deployment whose pods read the secret. */
  readonly deployment: string;
  /** How long the rollout may take. */
  readonly timeoutMs: number;
  /** How often its status is read. Default 2 s. */
  readonly intervalMs?: number;
}

/** The annotation `kubectl rollout restart` sets on the pod template. */
export const RESTARTED_AT = "kubectl.kubernetes.io/restartedAt";

/**
 * Where a rollout stands, by kubectl's own rules (`rollout status`): done, still going (with what
 * it waits for), or failed. `generation` is the one the restart produced.
 */
export function rolloutStatus(
  deployment: V1Deployment,
  generation: number,
): { done: boolean; failed?: string; waiting?: string } {
  const name = deployment.metadata?.name ?? "?";
  const status = deployment.status ?? {};
  if ((status.observedGeneration ?? 0) < generation) {
    return { done: false, waiting: "waiting for the deployment spec update to be observed" };
  }
  const progressing = status.conditions?.find((c) => c.type === "Progressing");
  if (progressing?.reason === "ProgressDeadlineExceeded") {
    return { done: false, failed: `deployment ${name} exceeded its progress deadline` };
  }
  const want = deployment.spec?.replicas ?? 1;
  const updated = status.updatedReplicas ?? 0;
  if (updated < want) return { done: false, waiting: `${updated} of ${want} new replicas updated` };
  if ((status.replicas ?? 0) > updated) {
    return { done: false, waiting: `${(status.replicas ?? 0) - updated} old replicas pending termination` };
  }
  const available = status.availableReplicas ?? 0;
  if (available < updated)
    return { done: false, waiting: `${available} of ${updated} updated replicas available` };
  return { done: true };
}

/**
 * Restarts a Deployment the way `kubectl rollout restart` does (a new `restartedAt` annotation on
 * the pod template, so a new ReplicaSet rolls out under the Deployment's own surge rules, gap-free
 * with the defaults) and waits as `kubectl rollout status` does until every replica is new and
 * available. Fails at once on a paused Deployment or an exceeded progress deadline.
 */
export function createKubernetesRolloutReloader(
  options: KubernetesRolloutOptions,
  deps: AdapterDeps = {},
): Reloader {
  const { now, sleep } = resolveDeps(deps);
  const target = `deployment ${options.namespace}/${options.deployment}`;
  const intervalMs = options.intervalMs ?? 2000;
  return {
    description: `kubernetes-rollout ${target}`,
    async run(ctx: AdapterContext) {
      const { AppsV1Api, PatchStrategy, setHeaderOptions } = await kubernetesClient();
      const api = (await loadKubeConfig(options)).makeApiClient(AppsV1Api);
      const ref = { name: options.deployment, namespace: options.namespace };
      let current: V1Deployment;
      try {
        current = await api.readNamespacedDeployment(ref);
      } catch (error) {
        throw explainKubernetesError(`reading ${target}`, error);
      }
      if (current.spec?.paused) {
        throw new KubernetesError(`${target} is paused; resume it (kubectl rollout resume) and run again`);
      }
      const restartedAt = now()
        .toISOString()
        .replace(/\.\d{3}Z$/, "Z");
      let patched: V1Deployment;
      try {
        patched = await api.patchNamespacedDeployment(
          {
            ...ref,
            body: { spec: { template: { metadata: { annotations: { [RESTARTED_AT]: restartedAt } } } } },
          },
          setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
        );
      } catch (error) {
        throw explainKubernetesError(`restarting ${target}`, error);
      }
      const generation = patched.metadata?.generation ?? 0;
      ctx.log.info(`restarted ${target}`, { environment: ctx.environment, restartedAt, generation });
      const deadline = now().getTime() + options.timeoutMs;
      let last = "waiting for the deployment spec update to be observed";
      for (;;) {
        await sleep(Math.min(intervalMs, Math.max(0, deadline - now().getTime())), ctx.signal);
        let deployment: V1Deployment;
        try {
          deployment = await api.readNamespacedDeployment(ref);
        } catch (error) {
          throw explainKubernetesError(`reading ${target}`, error);
        }
        const state = rolloutStatus(deployment, generation);
        if (state.failed)
          throw new KubernetesError(
            `${state.failed}; see kubectl -n ${options.namespace} describe deployment ${options.deployment}`,
          );
        if (state.done) {
          ctx.log.info(`${target} rolled out`, { environment: ctx.environment });
          return;
        }
        if (state.waiting && state.waiting !== last) {
          last = state.waiting;
          ctx.log.debug(`${target}: ${last}`, { environment: ctx.environment });
        }
        if (now().getTime() >= deadline) {
          throw new KubernetesError(
            `${target} did not finish rolling out within ${formatDuration(options.timeoutMs)} (${last}); see kubectl -n ${options.namespace} rollout status deployment/${options.deployment}`,
          );
        }
      }
    },
  };
}
