import { isDeepStrictEqual } from "node:util";
import type { AppsV1Api, V1DaemonSet, V1Deployment, V1StatefulSet } from "@kubernetes/client-node";
import type { AdapterContext, Reloader } from "../types.ts";
import { resolveDeps, untilAborted, type AdapterDeps } from "../support/deps.ts";
import { formatDuration, formatTime } from "../../util/time.ts";
import { pollUntil, type Probe } from "../support/poll.ts";
import {
  explainKubernetesError,
  kubernetesClient,
  KubernetesError,
  retryAfterMs,
  makeApiClient,
} from "../support/kubernetes.ts";
import { OBSERVING, restartInNewSecond, rolloutState, type RolloutState } from "../support/rollout.ts";
import type { KubernetesRolloutConfig } from "./schema.ts";
import type { OptionsOf } from "../support/config.ts";

/** The workloads `kubectl rollout restart` can restart. */
export type WorkloadKind = "Deployment" | "StatefulSet" | "DaemonSet";

/** Options of the `kubernetes-rollout` reloader (already validated; durations in ms). */
export type KubernetesRolloutOptions = OptionsOf<KubernetesRolloutConfig, "kind" | "intervalMs" | "restart">;

/** The annotation `kubectl rollout restart` sets on the pod template. */
export const RESTARTED_AT = "kubectl.kubernetes.io/restartedAt";

const NOT_STARTED = "waiting for a new pod template";

type Workload = V1Deployment | V1StatefulSet | V1DaemonSet;

/** The calls of one kind. */
interface KindOps {
  readonly resource: string;
  read(api: AppsV1Api, ref: { name: string; namespace: string }): Promise<Workload>;
  patch(
    api: AppsV1Api,
    ref: { name: string; namespace: string; body: object },
    options: object,
  ): Promise<Workload>;
}

const KINDS: Readonly<Record<WorkloadKind, KindOps>> = {
  Deployment: {
    resource: "deployment",
    read: (api, ref) => api.readNamespacedDeployment(ref),
    patch: (api, ref, options) => api.patchNamespacedDeployment(ref, options),
  },
  StatefulSet: {
    resource: "statefulset",
    read: (api, ref) => api.readNamespacedStatefulSet(ref),
    patch: (api, ref, options) => api.patchNamespacedStatefulSet(ref, options),
  },
  DaemonSet: {
    resource: "daemonset",
    read: (api, ref) => api.readNamespacedDaemonSet(ref),
    patch: (api, ref, options) => api.patchNamespacedDaemonSet(ref, options),
  },
};

/** Reloader's workload annotations, either of which makes it restart the workload on a change. */
export const RELOADER_ANNOTATIONS = {
  auto: "reloader.stakater.com/auto",
  secret: "secret.reloader.stakater.com/reload",
} as const;

/** What a workload looked like before the secret changed: a pod template unequal to it (compared by value) is a new rollout. */
interface Before {
  readonly template: unknown;
}

const before = (object: Workload): Before => ({ template: object.spec?.template ?? {} });

/**
 * Restarts a Deployment, StatefulSet or DaemonSet the way `kubectl rollout restart` does (a new
 * `restartedAt` annotation on the pod template, so the workload's own update strategy replaces the
 * pods; a Deployment with the default surge starts the new pod before stopping the old one) and
 * waits as `kubectl rollout status` does. Fails at once on a paused Deployment, an exceeded progress
 * deadline or an `OnDelete` update strategy.
 *
 * With `restart: false` it restarts nothing: it waits for a rollout someone else starts when the
 * Secret changes (Stakater Reloader), that is a pod template other than the one noted just before
 * the secret changed (`prepare`, called before promote and restore, so a rollout Reloader started
 * before this step began still counts), then waits for it by the same rules.
 */
export function createKubernetesRolloutReloader(
  options: KubernetesRolloutOptions,
  deps: AdapterDeps = {},
): Reloader {
  const { clock } = resolveDeps(deps);
  const kind = options.kind ?? "Deployment";
  const ops = KINDS[kind];
  const target = `${ops.resource} ${options.namespace}/${options.name}`;
  const intervalMs = options.intervalMs ?? 2000;
  const restarts = options.restart ?? true;
  const describe = `kubectl -n ${options.namespace} describe ${ops.resource} ${options.name}`;
  const ref = { name: options.name, namespace: options.namespace };
  let api: AppsV1Api | undefined;
  const connect = async (): Promise<AppsV1Api> => {
    if (!api) {
      const { AppsV1Api: Api } = await kubernetesClient();
      api = await makeApiClient(options, Api);
    }
    return api;
  };
  /** Reads the workload; `signal` stops the wait (the client takes no signal of its own). */
  const read = async (signal: AbortSignal | undefined): Promise<Workload> => {
    try {
      return await untilAborted(
        connect().then((a) => ops.read(a, ref)),
        signal,
      );
    } catch (error) {
      throw explainKubernetesError(`reading ${target}`, error);
    }
  };
  /** The pod template before the secret changed, when `prepare` could note it. */
  let noted: Before | undefined;
  /** The template noted before a secret change that no rollout followed (the pods never restarted). */
  let unstarted: Before | undefined;
  /** The next `run` has nothing to wait for (see `prepare`). */
  let nothingToWaitFor = false;

  /** Waits until `state(object)` says done; `state` undefined means not started yet. */
  const waitFor = async (
    ctx: AdapterContext,
    generationOf: (object: Workload) => number | undefined,
    timeoutMessage: (reason: string, object: Workload | undefined) => string,
  ): Promise<void> => {
    let last = OBSERVING.waiting ?? "";
    let seen: Workload | undefined;
    await pollUntil(
      {
        deadline: clock.now() + options.timeoutMs,
        interval: intervalMs,
        signal: ctx.signal,
        clock,
        onWait: ctx.onWaiting,
        waitFirst: restarts,
        timeoutError: (reason) => new KubernetesError(timeoutMessage(reason, seen)),
      },
      async (): Promise<Probe<undefined>> => {
        // A 429 while waiting is the API server asking for patience, not a failed rollout.
        const object = await read(ctx.signal).catch((error: unknown) => {
          const wait = retryAfterMs(error);
          if (wait === undefined) throw error;
          return wait;
        });
        if (typeof object === "number") {
          const reason = "the API server asked to slow down (429)";
          ctx.log.debug(`${target}: ${reason}; reading again in ${formatDuration(object)}`, {
            environment: ctx.environment,
          });
          return { done: false, reason, retryAfterMs: object };
        }
        seen = object;
        const generation = generationOf(object);
        const state: RolloutState =
          generation === undefined
            ? { done: false, waiting: NOT_STARTED }
            : rolloutState(kind, object, generation);
        if (state.failed) throw new KubernetesError(`${target}: ${state.failed}; see ${describe}`);
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
  };

  const rolloutTimeout = (reason: string): string =>
    `${target} did not finish rolling out within ${formatDuration(options.timeoutMs)} (${reason}); see kubectl -n ${options.namespace} rollout status ${ops.resource}/${options.name}`;

  const checkRollable = (current: Workload): void => {
    const spec = current.spec;
    if (spec && "paused" in spec && spec.paused) {
      throw new KubernetesError(`${target} is paused; resume it (kubectl rollout resume) and run again`);
    }
    // StatefulSets and DaemonSets only (a Deployment's strategies are RollingUpdate and Recreate).
    if (spec && "updateStrategy" in spec && spec.updateStrategy?.type === "OnDelete") {
      throw new KubernetesError(
        `${target} uses the OnDelete update strategy: a ${restarts ? "restart" : "changed pod template"} never rolls out; see ${describe}`,
      );
    }
  };

  if (!restarts) {
    return {
      description: `kubernetes-rollout ${target} (waits for Reloader)`,
      async prepare(ctx: AdapterContext) {
        nothingToWaitFor = false;
        try {
          noted = before(await read(ctx.signal));
          // No rollout followed the previous change (it timed out), and the template is still the
          // one from before it: the pods still run what this change (a restore) puts back.
          nothingToWaitFor = unstarted !== undefined && isDeepStrictEqual(unstarted.template, noted.template);
          unstarted = undefined;
        } catch (error) {
          noted = undefined;
          ctx.log.warn(`could not read ${target} before the secret changed`, {
            environment: ctx.environment,
            error: error instanceof Error ? error.message : String(error),
          });
        }
      },
      async run(ctx: AdapterContext) {
        const from = noted;
        noted = undefined;
        if (nothingToWaitFor) {
          nothingToWaitFor = false;
          ctx.log.info(
            `${target}: no rollout followed the previous secret change, so its pods already run with the secret as it is now; nothing to wait for`,
            { environment: ctx.environment },
          );
          return;
        }
        const current = await read(ctx.signal);
        checkRollable(current);
        if (!from) {
          // A resumed run: what the template was before the secret changed is not known here, so
          // the rollout in progress (if any) is the one waited for, and verify judges the result.
          ctx.log.warn(
            `${target}: the pod template before the secret changed is not known (a resumed run?); waiting for the current rollout only`,
            { environment: ctx.environment },
          );
        }
        ctx.log.info(`waiting for ${target} to roll out a new pod template`, {
          environment: ctx.environment,
          generation: current.metadata?.generation ?? 0,
        });
        await waitFor(
          ctx,
          (object) =>
            from === undefined || !isDeepStrictEqual(before(object).template, from.template)
              ? (object.metadata?.generation ?? 0)
              : undefined,
          (reason, object) => {
            if (reason !== NOT_STARTED) return rolloutTimeout(reason);
            unstarted = from;
            const annotations = object?.metadata?.annotations ?? {};
            const annotated =
              annotations[RELOADER_ANNOTATIONS.auto] === "true" ||
              annotations[RELOADER_ANNOTATIONS.secret] !== undefined;
            return `${target} did not start a rollout within ${formatDuration(options.timeoutMs)}: its pod template did not change after the secret did. restart: false waits for Reloader (stakater/reloader) to restart it; check that Reloader is running and that the ${ops.resource} carries the annotation ${RELOADER_ANNOTATIONS.auto}: "true" or ${RELOADER_ANNOTATIONS.secret}: "<the Secret's name>"${annotated ? "" : " (it has neither)"}; or remove restart: false to restart it from here`;
          },
        );
      },
    };
  }

  return {
    description: `kubernetes-rollout ${target}`,
    async run(ctx: AdapterContext) {
      const { PatchStrategy, setHeaderOptions } = await kubernetesClient();
      const current = await read(ctx.signal);
      checkRollable(current);
      const restart = async (): Promise<[string, Workload]> => {
        const at = formatTime(new Date(clock.now()));
        try {
          const result = await untilAborted(
            connect().then((a) =>
              ops.patch(
                a,
                {
                  ...ref,
                  body: { spec: { template: { metadata: { annotations: { [RESTARTED_AT]: at } } } } },
                },
                setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
              ),
            ),
            ctx.signal,
          );
          return [at, result];
        } catch (error) {
          throw explainKubernetesError(`restarting ${target}`, error);
        }
      };
      /** The restart moved the generation on: the pod template changed, and rolls out. */
      const rolls = (after: Workload): boolean =>
        (after.metadata?.generation ?? 0) > (current.metadata?.generation ?? 0);
      const [restartedAt, patched] = await restartInNewSecond(clock, ctx.signal, restart, ([, after]) =>
        rolls(after),
      );
      if (!rolls(patched)) {
        throw new KubernetesError(
          `restarting ${target} did not change its pod template (${RESTARTED_AT} stayed ${restartedAt}), so nothing rolls out; see ${describe}`,
        );
      }
      const generation = patched.metadata?.generation ?? 0;
      ctx.log.info(`restarted ${target}`, { environment: ctx.environment, restartedAt, generation });
      await waitFor(ctx, () => generation, rolloutTimeout);
    },
  };
}

/** The registry's entry point (see `../registry.ts`). */
export { createKubernetesRolloutReloader as create };
