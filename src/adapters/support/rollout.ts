/**
 * When a workload's rollout is complete, by the rules `kubectl rollout status` applies (its
 * `DeploymentStatusViewer`, `StatefulSetStatusViewer` and `DaemonSetStatusViewer`), over the few
 * fields they read. The Kubernetes client's `V1Deployment`, `V1StatefulSet` and `V1DaemonSet` and a
 * manifest parsed from Argo CD all fit `RolloutWorkload` as they are.
 */

import type { Clock } from "./poll.ts";

/** How many times a restart is made again after one that changed nothing (see {@link restartInNewSecond}). */
const SAME_SECOND_RETRIES = 3;

/**
 * A restart stamped in whole seconds (kubectl's `kubectl.kubernetes.io/restartedAt`, Argo CD's
 * restart action) changes nothing within the second of the previous one. `restart` makes one and
 * answers what it left; while `changed` says it left the workload as it was, the rest of the second
 * is waited out and the restart made again. Again up to three times: a timer can end a moment
 * before the wall clock's second does, and then the stamp is still the same. Answers the last
 * restart's result, changed or not: the caller says what a restart that changed nothing means.
 */
export async function restartInNewSecond<T>(
  clock: Clock,
  signal: AbortSignal | undefined,
  restart: () => Promise<T>,
  changed: (result: T) => boolean,
): Promise<T> {
  let result = await restart();
  for (let tries = 0; !changed(result) && tries < SAME_SECOND_RETRIES; tries++) {
    await clock.sleep(1000 - (clock.now() % 1000), signal);
    result = await restart();
  }
  return result;
}

/** Where a rollout stands: done, still going (with what it waits for), or failed. */
export interface RolloutState {
  readonly done: boolean;
  /** Why it can never finish (a Deployment past its progress deadline). */
  readonly failed?: string;
  /** What it waits for, for a log line or a timeout's message. */
  readonly waiting?: string;
}

/** The fields of a workload the rules read; every one may be missing. */
export interface RolloutWorkload {
  readonly spec?:
    | {
        /** Desired pods of a Deployment or StatefulSet (1 when unset, as the API server defaults it). */
        readonly replicas?: number | undefined;
        readonly updateStrategy?:
          | {
              readonly rollingUpdate?:
                | {
                    /** A StatefulSet's partition: pods below it keep the old revision. */
                    readonly partition?: number | undefined;
                    /**
                     * Not read. Named so that a DaemonSet's `rollingUpdate`, which has no partition,
                     * shares a field with this type and so fits it (TypeScript's weak type check).
                     */
                    readonly maxUnavailable?: unknown;
                  }
                | undefined;
            }
          | undefined;
      }
    | undefined;
  readonly status?:
    | {
        /** The generation the controller has acted on. */
        readonly observedGeneration?: number | undefined;
        readonly replicas?: number | undefined;
        readonly updatedReplicas?: number | undefined;
        readonly readyReplicas?: number | undefined;
        readonly availableReplicas?: number | undefined;
        /** A DaemonSet's nodes that should run its pod. */
        readonly desiredNumberScheduled?: number | undefined;
        readonly updatedNumberScheduled?: number | undefined;
        readonly numberAvailable?: number | undefined;
        /** A Deployment's conditions; `Progressing` says whether its deadline passed. */
        readonly conditions?:
          readonly { readonly type?: string | undefined; readonly reason?: string | undefined }[] | undefined;
      }
    | undefined;
}

/** The controller has not yet acted on the generation waited for. */
export const OBSERVING: RolloutState = { done: false, waiting: "waiting for the spec update to be observed" };

/**
 * The rollout of `generation` (the one the restart or change produced) of a workload of `kind`:
 * a Deployment, StatefulSet or DaemonSet by kubectl's rules (RollingUpdate only; an `OnDelete`
 * StatefulSet or DaemonSet never rolls out, so callers refuse one before they wait); any other kind
 * (an Argo Rollouts `Rollout`, say) is done once it reports `generation` observed, or at once when it
 * reports no `observedGeneration`.
 */
export function rolloutState(kind: string, workload: RolloutWorkload, generation: number): RolloutState {
  if (kind === "Deployment") return deploymentState(workload, generation);
  if (kind === "StatefulSet") return statefulSetState(workload, generation);
  if (kind === "DaemonSet") return daemonSetState(workload, generation);
  const observed = workload.status?.observedGeneration;
  return observed !== undefined && observed < generation ? OBSERVING : { done: true };
}

/** New replicas updated, old ones gone, the new ones available; an exceeded deadline fails. */
function deploymentState({ spec, status = {} }: RolloutWorkload, generation: number): RolloutState {
  if ((status.observedGeneration ?? 0) < generation) return OBSERVING;
  const progressing = status.conditions?.find((c) => c.type === "Progressing");
  if (progressing?.reason === "ProgressDeadlineExceeded") {
    return { done: false, failed: "the rollout exceeded its progress deadline" };
  }
  const want = spec?.replicas ?? 1;
  const updated = status.updatedReplicas ?? 0;
  if (updated < want) return { done: false, waiting: `${updated} of ${want} new replicas updated` };
  const total = status.replicas ?? 0;
  if (total > updated) return { done: false, waiting: `${total - updated} old replicas pending termination` };
  const available = status.availableReplicas ?? 0;
  if (available < updated) {
    return { done: false, waiting: `${available} of ${updated} updated replicas available` };
  }
  return { done: true };
}

/** Every pod ready, and every pod above the partition (all of them without one) at the new revision. */
function statefulSetState({ spec, status = {} }: RolloutWorkload, generation: number): RolloutState {
  // kubectl reads an observedGeneration of 0 as not observed yet, whatever the generation.
  if (!status.observedGeneration || status.observedGeneration < generation) return OBSERVING;
  const want = spec?.replicas ?? 1;
  const ready = status.readyReplicas ?? 0;
  if (ready < want) return { done: false, waiting: `${ready} of ${want} pods ready` };
  const partition = spec?.updateStrategy?.rollingUpdate?.partition ?? 0;
  const updated = status.updatedReplicas ?? 0;
  if (updated < want - partition) {
    const above = partition > 0 ? ` (partition ${partition})` : "";
    return { done: false, waiting: `${updated} of ${want - partition} pods updated${above}` };
  }
  return { done: true };
}

/** Every node that should run the pod runs the new one, and it is available there. */
function daemonSetState({ status = {} }: RolloutWorkload, generation: number): RolloutState {
  if ((status.observedGeneration ?? 0) < generation) return OBSERVING;
  const want = status.desiredNumberScheduled ?? 0;
  const updated = status.updatedNumberScheduled ?? 0;
  if (updated < want) return { done: false, waiting: `${updated} of ${want} new pods updated` };
  const available = status.numberAvailable ?? 0;
  if (available < want) return { done: false, waiting: `${available} of ${want} updated pods available` };
  return { done: true };
}
