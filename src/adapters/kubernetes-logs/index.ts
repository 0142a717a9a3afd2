import type { AppsV1Api, CoreV1Api, V1Pod } from "@kubernetes/client-node";
import type { Verifier, VerifyContext, VerifyResult } from "../types.ts";
import { errorMessage, resolveDeps, untilAborted, type AdapterDeps } from "../support/deps.ts";
import { pollUntil, PollTimeoutError, type Probe } from "../support/poll.ts";
import {
  explainKubernetesError,
  kubernetesClient,
  KubernetesError,
  makeApiClient,
  retryAfterMs,
} from "../support/kubernetes.ts";
import type { OptionsOf } from "../support/config.ts";
import { formatDuration } from "../../util/time.ts";
import { redact } from "../../util/redact.ts";
import { compileNamePattern } from "../../util/pattern.ts";
import type { KubernetesLogsConfig } from "./schema.ts";

/** Options of the `kubernetes-logs` verifier (already validated; durations in ms). */
export type KubernetesLogsOptions = OptionsOf<KubernetesLogsConfig, "intervalMs">;

/** The annotation tying a Deployment to the ReplicaSet of its newest rollout. */
const REVISION = "deployment.kubernetes.io/revision";

/** Lines longer than this are matched on their start only: a bound on the work a pattern does. */
const MAX_LINE = 4096;
/** How far the nodes' clocks may be behind this machine's without a log line being missed. */
const SKEW_MS = 60_000;
/** How much of a matching line an error quotes. */
const QUOTE = 300;

/**
 * `text` safe to print on one line: control characters (ANSI escapes, carriage returns) escaped
 * as `\xNN`, so a log line cannot rewrite the terminal or forge lines of the report.
 */
export function escapeControl(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f\\]/g, (c) =>
    c === "\\" ? "\\\\" : `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
}

/** A log line as an error may quote it: secrets redacted, control characters escaped, shortened. */
export function quoteLogLine(line: string): string {
  const clean = escapeControl(redact(line));
  return clean.length > QUOTE ? `${clean.slice(0, QUOTE)}…` : clean;
}

const isReady = (pod: V1Pod): boolean =>
  pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;

/** A selector's `matchLabels` as the query parameter (ftr's own Deployments use only those). */
const labelSelector = (labels: Record<string, string>): string =>
  Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");

/** The probe found what to report: a matching line, or an API failure; ends the wait. */
class Finding extends Error {
  override readonly name = "Finding";
}

/**
 * The runbook's "read the new pod's logs": reads the logs of the pods this reload started (the
 * Deployment's current ReplicaSet, or with `selector` the pods created since the reload began) and
 * fails on the first line matching `failOn`; passes once every one of them has been Ready for
 * `quietFor` with no such line. Quoted lines are redacted and their control characters escaped.
 * Patterns are JavaScript regular expressions (as `nameMatches`), applied to at most the first
 * 4096 characters of a line.
 */
export function createKubernetesLogsVerifier(
  options: KubernetesLogsOptions,
  deps: AdapterDeps = {},
): Verifier {
  const { clock } = resolveDeps(deps);
  const interval = options.intervalMs ?? 2000;
  // RE2 (linear time): a crafted log line cannot make a pattern backtrack and block the event loop.
  const patterns = options.failOn.map((p) => ({ source: p, re: compileNamePattern(p) }));
  const target = options.deployment
    ? `deployment ${options.namespace}/${options.deployment}`
    : `pods ${options.selector ?? ""} in ${options.namespace}`;
  /** What the pods read are, in messages. */
  const which = (n: number): string =>
    `${n} pod${n === 1 ? "" : "s"} of ${options.deployment ? "the current ReplicaSet" : "the selector created since the reload"}`;
  return {
    description: `kubernetes-logs ${target}`,
    async verify(ctx: VerifyContext): Promise<VerifyResult> {
      let core: CoreV1Api;
      let apps: AppsV1Api;
      try {
        const { AppsV1Api: Apps, CoreV1Api: Core } = await kubernetesClient();
        core = await makeApiClient(options, Core);
        apps = await makeApiClient(options, Apps);
      } catch (error) {
        return { ok: false, detail: errorMessage(error) };
      }
      const namespace = options.namespace;
      const call = async <T>(what: string, request: () => Promise<T>): Promise<T> => {
        try {
          // The client takes no signal: a stopped run stops waiting for the answer.
          return await untilAborted(request(), ctx.signal);
        } catch (error) {
          if (ctx.signal?.aborted || retryAfterMs(error) !== undefined) throw error;
          throw new Finding(explainKubernetesError(what, error).message);
        }
      };

      /** The pods of this rollout. */
      const rolloutPods = async (): Promise<V1Pod[]> => {
        if (options.deployment) {
          const name = options.deployment;
          const dep = await call(`reading deployment ${namespace}/${name}`, () =>
            apps.readNamespacedDeployment({ name, namespace }),
          );
          const selector = labelSelector(dep.spec?.selector.matchLabels ?? {});
          const revision = dep.metadata?.annotations?.[REVISION];
          const sets = await call(`listing the replicasets of ${target}`, () =>
            apps.listNamespacedReplicaSet({ namespace, labelSelector: selector }),
          );
          const current = sets.items.find(
            (rs) =>
              rs.metadata?.ownerReferences?.some((o) => o.uid === dep.metadata?.uid) &&
              rs.metadata.annotations?.[REVISION] === revision,
          );
          const hash = current?.metadata?.labels?.["pod-template-hash"];
          if (!hash) return [];
          const pods = await call(`listing the pods of ${target}`, () =>
            core.listNamespacedPod({ namespace, labelSelector: `${selector},pod-template-hash=${hash}` }),
          );
          return pods.items;
        }
        const pods = await call(`listing pods ${options.selector ?? ""} in ${namespace}`, () =>
          core.listNamespacedPod({ namespace, labelSelector: options.selector ?? "" }),
        );
        // Created since the reload began (creationTimestamp has whole seconds).
        const since = Math.floor(ctx.since.getTime() / 1000) * 1000;
        return pods.items.filter((p) => (p.metadata?.creationTimestamp?.getTime() ?? 0) >= since);
      };

      /** The first line of `pod`'s logs since the reload that matches a pattern. */
      const scan = async (pod: V1Pod): Promise<string | undefined> => {
        const name = pod.metadata?.name ?? "";
        const containers = (pod.spec?.containers ?? [])
          .map((c) => c.name)
          .filter((c) => options.container === undefined || c === options.container);
        const started = new Set(
          (pod.status?.containerStatuses ?? [])
            .filter((s) => s.state?.running || s.state?.terminated)
            .map((s) => s.name),
        );
        for (const container of containers) {
          if (!started.has(container)) continue;
          // Since the reload began, with a minute's allowance: the kubelet counts on the node's clock.
          const sinceSeconds = Math.ceil((clock.now() - ctx.since.getTime() + SKEW_MS) / 1000);
          const text = await call(`reading the log of pod ${namespace}/${name}`, () =>
            core.readNamespacedPodLog({ name, namespace, container, sinceSeconds }),
          );
          for (const line of String(text).split("\n")) {
            const head = line.slice(0, MAX_LINE);
            const hit = patterns.find((p) => p.re.test(head));
            if (hit) {
              return `pod ${name}${containers.length > 1 ? ` (container ${container})` : ""} logged a line matching /${hit.source}/: "${quoteLogLine(line)}"`;
            }
          }
        }
        return undefined;
      };

      let readySince: number | undefined;
      let lastReason = "no pods yet";
      try {
        return await pollUntil(
          {
            deadline: clock.now() + options.timeoutMs,
            interval,
            signal: ctx.signal,
            clock,
            onWait: ctx.onWaiting,
          },
          async (): Promise<Probe<VerifyResult>> => {
            let pods: V1Pod[];
            try {
              pods = await rolloutPods();
              for (const pod of pods) {
                const found = await scan(pod);
                if (found) return { done: true, value: { ok: false, detail: found } };
              }
            } catch (error) {
              const wait = retryAfterMs(error);
              if (wait === undefined) throw error;
              return { done: false, reason: "the API server asked to slow down (429)", retryAfterMs: wait };
            }
            if (pods.length === 0) {
              readySince = undefined;
              lastReason = options.deployment
                ? `no pods of the current ReplicaSet of ${target} yet`
                : `no pods selected by ${options.selector ?? ""} created since the reload began yet`;
              return { done: false, reason: lastReason };
            }
            const ready = pods.filter(isReady).length;
            if (ready < pods.length) {
              readySince = undefined;
              lastReason = `${ready} of ${which(pods.length)} Ready`;
              return { done: false, reason: lastReason };
            }
            readySince ??= clock.now();
            const quiet = clock.now() - readySince;
            if (quiet >= options.quietForMs) {
              return {
                done: true,
                value: {
                  ok: true,
                  detail: `${which(pods.length)} Ready and quiet for ${formatDuration(options.quietForMs)} (no line matching failOn)`,
                },
              };
            }
            lastReason = `${which(pods.length)} Ready, quiet for ${formatDuration(quiet)} of ${formatDuration(options.quietForMs)}`;
            return { done: false, reason: lastReason };
          },
        );
      } catch (error) {
        if (error instanceof Finding || error instanceof KubernetesError) {
          return { ok: false, detail: error.message };
        }
        if (!(error instanceof PollTimeoutError) && !ctx.signal?.aborted) throw error;
      }
      const interrupted = ctx.signal?.aborted ? " (interrupted)" : "";
      return {
        ok: false,
        detail: `not quiet for ${formatDuration(options.quietForMs)} within ${formatDuration(options.timeoutMs)}: ${lastReason}${interrupted}; see kubectl -n ${namespace} get pods${options.selector ? ` -l ${options.selector}` : ""}`,
      };
    },
  };
}

/** The registry's entry point (see `../registry.ts`). */
export { createKubernetesLogsVerifier as create };
