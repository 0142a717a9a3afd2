import type { AppsV1Api, V1DaemonSet, V1Deployment, V1StatefulSet } from "@kubernetes/client-node";
import type { AdapterContext, Reloader } from "../types.ts";
import { resolveDeps, untilAborted, type AdapterDeps } from "../support/deps.ts";
import { formatDuration, formatTime } from "../../util/time.ts";
import { pollUntil, type Probe } from "../support/poll.ts";
import {
  explainKubernetesError,
  kubernetesClient,
  KubernetesError,
  loadKubeConfig,
  retryAfterMs,
} from "../support/kubernetes.ts";
import type { KubernetesRolloutConfig } from "./schema.ts";
import type { OptionsOf } from "../support/config.ts";

/** The workloads `kubectl rollout restart` can restart. */
export type WorkloadKind = "Deployment" | "StatefulSet" | "DaemonSet";

/** Options of the `kubernetes-rollout` reloader (already validated; durations in ms). */
export type KubernetesRolloutOptions = OptionsOf<KubernetesRolloutConfig, "kind" | "intervalMs">;

/** The annotation `kubectl rollout restart` sets on the pod template. */
export const RESTARTED_AT = "kubectl.kubernetes.io/restartedAt";

/** Where a rollout stands: done, still going (with what it waits for), or failed. */
export interface RolloutState {
  readonly done: boolean;
  readonly failed?: string;
  readonly waiting?: string;
}

const OBSERVING: RolloutState = { done: false, waiting: "waiting for the spec update to be observed" };

/**
 * A Deployment's rollout by kubectl's rules (`rollout status`). `generation` is the one the
 * restart produced.
 */
export function rolloutStatus(deployment: V1Deployment, generation: number): RolloutState {
  const name = deployment.metadata?.name ?? "?";
  const status = deployment.status ?? {};
  if ((status.observedGeneration ?? 0) < generation) return OBSERVING;
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
  if (available < updated) {
    return { done: false, waiting: `${available} of ${updated} updated replicas available` };
  }
  return { done: true };
}

/**
 * A StatefulSet's rollout by kubectl's rules (RollingUpdate only): every pod ready, and every pod
 * above the partition (all of them without one) at the new revision.
 */
export function statefulSetStatus(set: V1StatefulSet, generation: number): RolloutState {
  const status = set.status ?? { replicas: 0 };
  if (!status.observedGeneration || status.observedGeneration < generation) return OBSERVING;
  const want = set.spec?.replicas ?? 1;
  const ready = status.readyReplicas ?? 0;
  if (ready < want) return { done: false, waiting: `${ready} of ${want} pods ready` };
  // Pods at the new revision: all of them, or those above a partition.
  const partition = set.spec?.updateStrategy?.rollingUpdate?.partition ?? 0;
  const updated = status.updatedReplicas ?? 0;
  if (updated < want - partition) {
    return {
      done: false,
      waiting: `${updated} of ${want - partition} pods updated${partition > 0 ? ` (partition ${partition})` : ""}`,
    };
  }
  return { done: true };
}

/** A DaemonSet's rollout by kubectl's rules (RollingUpdate only). */
export function daemonSetStatus(set: V1DaemonSet, generation: number): RolloutState {
  const status = set.status;
  if (!status || (status.observedGeneration ?? 0) < generation) return OBSERVING;
  const want = status.desiredNumberScheduled;
  const updated = status.updatedNumberScheduled ?? 0;
  if (updated < want) return { done: false, waiting: `${updated} of ${want} new pods updated` };
  const available = status.numberAvailable ?? 0;
  if (available < want) return { done: false, waiting: `${available} of ${want} updated pods available` };
  return { done: true };
}

type Workload = V1Deployment | V1StatefulSet | V1DaemonSet;

/** The calls and rules of one kind. */
interface KindOps {
  readonly resource: string;
  read(api: AppsV1Api, ref: { name: string; namespace: string }): Promise<Workload>;
  patch(
    api: AppsV1Api,
    ref: { name: string; namespace: string; body: object },
    options: object,
  ): Promise<Workload>;
  status(object: Workload, generation: number): RolloutState;
}

const KINDS: Readonly<Record<WorkloadKind, KindOps>> = {
  Deployment: {
    resource: "deployment",
    read: (api, ref) => api.readNamespacedDeployment(ref),
    patch: (api, ref, options) => api.patchNamespacedDeployment(ref, options),
    status: (object, generation) => rolloutStatus(object, generation),
  },
  StatefulSet: {
    resource: "statefulset",
    read: (api, ref) => api.readNamespacedStatefulSet(ref),
    patch: (api, ref, options) => api.patchNamespacedStatefulSet(ref, options),
    status: (object, generation) => statefulSetStatus(object as V1StatefulSet, generation),
  },
  DaemonSet: {
    resource: "daemonset",
    read: (api, ref) => api.readNamespacedDaemonSet(ref),
    patch: (api, ref, options) => api.patchNamespacedDaemonSet(ref, options),
    status: (object, generation) => daemonSetStatus(object as V1DaemonSet, generation),
  },
};

/**
 * Restarts a Deployment, StatefulSet or DaemonSet the way `kubectl rollout restart` does (a new
 * `restartedAt` annotation on the pod template, so the workload's own update strategy replaces the
 * pods; a Deployment with the default surge starts the new pod before stopping the old one) and
 * waits as `kubectl rollout status` does. Fails at once on a paused Deployment, an exceeded progress
 * deadline or an `OnDelete` update strategy.
 */
export function createKubernetesRolloutReloader(
  options: KubernetesRolloutOptions,
  deps: AdapterDeps = {},
): Reloader {
  const { clock } = resolveDeps(deps);
  const ops = KINDS[options.kind ?? "Deployment"];
  const target = `${ops.resource} ${options.namespace}/${options.name}`;
  const intervalMs = options.intervalMs ?? 2000;
  const describe = `kubectl -n ${options.namespace} describe ${ops.resource} ${options.name}`;
  return {
    description: `kubernetes-rollout ${target}`,
    async run(ctx: AdapterContext) {
      const { AppsV1Api: Api, PatchStrategy, setHeaderOptions } = await kubernetesClient();
      const api = (await loadKubeConfig(options)).makeApiClient(Api);
      const ref = { name: options.name, namespace: options.namespace };
      const read = async (): Promise<Workload> => {
        try {
          // The client takes no signal: a stopped run stops waiting for the answer.
          return await untilAborted(ops.read(api, ref), ctx.signal);
        } catch (error) {
          throw explainKubernetesError(`reading ${target}`, error);
        }
      };
      const current = await read();
      const spec = current.spec;
      if (spec && "paused" in spec && spec.paused) {
        throw new KubernetesError(`${target} is paused; resume it (kubectl rollout resume) and run again`);
      }
      // StatefulSets and DaemonSets only (a Deployment's strategies are RollingUpdate and Recreate).
      if (spec && "updateStrategy" in spec && spec.updateStrategy?.type === "OnDelete") {
        throw new KubernetesError(
          `${target} uses the OnDelete update strategy: a restart never rolls out; see ${describe}`,
        );
      }
      const restart = async (): Promise<[string, Workload]> => {
        const at = formatTime(new Date(clock.now()));
        try {
          const result = await untilAborted(
            ops.patch(
              api,
              { ...ref, body: { spec: { template: { metadata: { annotations: { [RESTARTED_AT]: at } } } } } },
              setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
            ),
            ctx.signal,
          );
          return [at, result];
        } catch (error) {
          throw explainKubernetesError(`restarting ${target}`, error);
        }
      };
      let [restartedAt, patched] = await restart();
      if ((patched.metadata?.generation ?? 0) <= (current.metadata?.generation ?? 0)) {
        // Restarted before within this same second: the annotation (whole seconds, as kubectl
        // writes it) kept its value, so nothing rolls. Once the second is over, a new value does.
        await clock.sleep(1000 - (clock.now() % 1000), ctx.signal);
        [restartedAt, patched] = await restart();
      }
      const generation = patched.metadata?.generation ?? 0;
      ctx.log.info(`restarted ${target}`, { environment: ctx.environment, restartedAt, generation });
      let last = OBSERVING.waiting ?? "";
      await pollUntil(
        {
          deadline: clock.now() + options.timeoutMs,
          interval: intervalMs,
          signal: ctx.signal,
          clock,
          waitFirst: true,
          timeoutError: (reason) =>
            new KubernetesError(
              `${target} did not finish rolling out within ${formatDuration(options.timeoutMs)} (${reason}); see kubectl -n ${options.namespace} rollout status ${ops.resource}/${options.name}`,
            ),
        },
        async (): Promise<Probe<undefined>> => {
          // A 429 while waiting is the API server asking for patience, not a failed rollout.
          const object = await read().catch((error: unknown) => {
            const wait = retryAfterMs(error);
            if (wait === undefined) throw error;
            return wait;
          });
          if (typeof object === "number") {
            return { done: false, reason: "the API server asked to slow down (429)", retryAfterMs: object };
          }
          const state = ops.status(object, generation);
          if (state.failed) throw new KubernetesError(`${state.failed}; see ${describe}`);
          if (state.done) {
            ctx.log.info(`${target} rolled out`, { environment: ctx.environment });
            return { done: true, value: undefined };
          }
          if (state.waiting && state.waiting !== last) {
            last = state.waiting;
            ctx.log.debug(`${target}: ${last}`, { environment: ctx.environment });
          }
          return { done: false, reason: last };
        },
      );
    },
  };
}

/** The registry's entry point (see `../registry.ts`). */
export { createKubernetesRolloutReloader as create };
