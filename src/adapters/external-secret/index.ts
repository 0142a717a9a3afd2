import type { AdapterContext, Reloader } from "../types.ts";
import { resolveDeps, untilAborted, type AdapterDeps } from "../support/deps.ts";
import { formatDuration } from "../../util/time.ts";
import { pollUntil, type Probe } from "../support/poll.ts";
import {
  explainKubernetesError,
  kubernetesClient,
  KubernetesError,
  retryAfterMs,
  makeApiClient,
} from "../support/kubernetes.ts";
import type { ExternalSecretConfig } from "./schema.ts";
import type { OptionsOf } from "../support/config.ts";

/** Options of the `external-secret` reloader (already validated; durations in ms). */
export type ExternalSecretOptions = OptionsOf<ExternalSecretConfig, "apiVersion" | "intervalMs">;

/** The annotation External Secrets' docs (and Argo CD's refresh action) use to force a sync. */
export const FORCE_SYNC = "force-sync";

/** The parts of an ExternalSecret read here. */
interface ExternalSecret {
  metadata?: { generation?: number };
  spec?: { refreshInterval?: string; refreshPolicy?: string };
  status?: {
    refreshTime?: string;
    syncedResourceVersion?: string;
    conditions?: {
      type?: string;
      status?: string;
      reason?: string;
      message?: string;
      lastTransitionTime?: string;
    }[];
  };
}

/** Why a force-sync would do nothing for this ExternalSecret, if it would not. */
export function syncBlocker(es: ExternalSecret): string | undefined {
  const policy = es.spec?.refreshPolicy ?? "Periodic";
  if (policy === "CreatedOnce") return "its refreshPolicy is CreatedOnce, so it never syncs again";
  const interval = es.spec?.refreshInterval;
  if (policy === "Periodic" && interval !== undefined && /^0+(s|m|h)?$/.test(interval.trim())) {
    return "its refreshInterval is 0 with the Periodic policy, so it never syncs again";
  }
  return undefined;
}

/**
 * Makes External Secrets copy the new value now rather than at its next refresh: sets the
 * `force-sync` annotation (a merge patch, as `kubectl annotate` and Argo CD's refresh action do),
 * then waits until the operator has synced again: `status.syncedResourceVersion` (generation plus
 * a hash of the annotations, set only by a successful sync) has changed and `Ready` is `True`.
 * Fails at once when the `Ready` condition turns to `False` (or changes while `False`), and
 * refuses an ExternalSecret whose policy means it would never sync.
 */
export function createExternalSecretReloader(
  options: ExternalSecretOptions,
  deps: AdapterDeps = {},
): Reloader {
  const { clock } = resolveDeps(deps);
  const [group = "external-secrets.io", version = "v1"] = (
    options.apiVersion ?? "external-secrets.io/v1"
  ).split("/");
  const target = `externalsecret ${options.namespace}/${options.name}`;
  const intervalMs = options.intervalMs ?? 2000;
  return {
    description: `external-secret ${options.namespace}/${options.name}`,
    async run(ctx: AdapterContext) {
      const { CustomObjectsApi, PatchStrategy, setHeaderOptions } = await kubernetesClient();
      const api = await makeApiClient(options, CustomObjectsApi);
      const ref = {
        group,
        version,
        namespace: options.namespace,
        plural: "externalsecrets",
        name: options.name,
      };
      const read = async (): Promise<ExternalSecret> => {
        try {
          // The client takes no signal: a stopped run stops waiting for the answer.
          return (await untilAborted(api.getNamespacedCustomObject(ref), ctx.signal)) as ExternalSecret;
        } catch (error) {
          throw explainKubernetesError(`reading ${target}`, error);
        }
      };
      const before = await read();
      const blocker = syncBlocker(before);
      if (blocker) throw new KubernetesError(`${target} cannot be force-synced: ${blocker}; change its spec`);
      const readyBefore = before.status?.conditions?.find((c) => c.type === "Ready");
      const started = new Date(clock.now());
      try {
        await untilAborted(
          api.patchNamespacedCustomObject(
            { ...ref, body: { metadata: { annotations: { [FORCE_SYNC]: String(started.getTime()) } } } },
            setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
          ),
          ctx.signal,
        );
      } catch (error) {
        throw explainKubernetesError(`annotating ${target}`, error);
      }
      ctx.log.info(`asked ${target} to sync`, { environment: ctx.environment });
      // Judged by what the operator writes, not by clocks: the cluster's and this machine's differ.
      // The operator sets syncedResourceVersion (generation plus a hash of the annotations) only
      // after a successful sync, so a new one with Ready=True means our annotation was synced.
      await pollUntil(
        {
          deadline: started.getTime() + options.timeoutMs,
          interval: intervalMs,
          signal: ctx.signal,
          clock,
          onWait: ctx.onWaiting,
          waitFirst: true,
          timeoutError: (reason) =>
            new KubernetesError(
              `${target} did not sync within ${formatDuration(options.timeoutMs)} (${reason}); is the External Secrets operator running?`,
            ),
        },
        async (): Promise<Probe<undefined>> => {
          // A 429 while waiting is the API server asking for patience, not a failed sync.
          const polled = await read().catch((error: unknown) => {
            const wait = retryAfterMs(error);
            if (wait === undefined) throw error;
            return wait;
          });
          if (typeof polled === "number") {
            return { done: false, reason: "the API server asked to slow down (429)", retryAfterMs: polled };
          }
          const es = polled;
          const status = es.status ?? {};
          const ready = status.conditions?.find((c) => c.type === "Ready");
          const resynced = status.syncedResourceVersion !== before.status?.syncedResourceVersion;
          if (resynced && ready?.status === "True") {
            ctx.log.info(`${target} synced`, {
              environment: ctx.environment,
              refreshTime: status.refreshTime,
            });
            return { done: true, value: undefined };
          }
          const changed =
            ready?.status !== readyBefore?.status ||
            ready?.reason !== readyBefore?.reason ||
            ready?.message !== readyBefore?.message ||
            ready?.lastTransitionTime !== readyBefore?.lastTransitionTime;
          if (ready?.status === "False" && changed) {
            throw new KubernetesError(
              `${target} failed to sync: ${ready.reason ?? "?"}${ready.message ? `: ${ready.message}` : ""}; see kubectl -n ${options.namespace} describe externalsecret ${options.name}`,
            );
          }
          return {
            done: false,
            reason: ready
              ? `Ready=${ready.status ?? "?"} (${ready.reason ?? "?"}${ready.status === "False" && ready.message ? `: ${ready.message}` : ""}), last sync ${status.refreshTime ?? "never"}`
              : "no Ready condition",
          };
        },
      );
    },
  };
}

/** The registry's entry point (see `../registry.ts`). */
export { createExternalSecretReloader as create };
