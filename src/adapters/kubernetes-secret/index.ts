import type { CoreV1Api, V1Secret } from "@kubernetes/client-node";
import type { SecretStore } from "../types.ts";
import {
  explainKubernetesError,
  kubernetesClient,
  KubernetesError,
  makeApiClient,
} from "../support/kubernetes.ts";
import type { KubernetesSecretConfig } from "./schema.ts";
import type { OptionsOf } from "../support/config.ts";
import { untilAborted, type AdapterDeps } from "../support/deps.ts";

/** Options of the `kubernetes-secret` store (already validated). */
export type KubernetesSecretStoreOptions = OptionsOf<KubernetesSecretConfig>;

/** Keys of the companion Secret `<name>-ftr`, which holds what a rotation must not lose. */
const PENDING = "pending";
const PENDING_RUN = "pending-run";
const PREVIOUS = "previous";
const PROMOTED_RUN = "promoted-run";
/** The companion's keys cleared when a pending value is consumed or dropped. */
const NO_PENDING = { [PENDING]: null, [PENDING_RUN]: null } as const;

/** The companion Secret's name: the consumer's Secret stays exactly as it was, but for its key. */
export function companionName(name: string): string {
  return `${name}-ftr`.slice(0, 253);
}

const decode = (data: Record<string, string> | undefined, key: string): string | undefined => {
  const encoded = data?.[key];
  if (encoded === undefined) return undefined;
  const value = Buffer.from(encoded, "base64").toString("utf8");
  return value === "" ? undefined : value;
};
const encode = (value: string): string => Buffer.from(value, "utf8").toString("base64");

/**
 * A key of a Kubernetes Secret, as a consumer reads it through `secretKeyRef` or a volume. A Secret
 * has no versions, so the pending and previous values live in a companion Secret `<name>-ftr` in
 * the same namespace (created on first use, labelled as this tool's): staging never touches the
 * consumer's Secret, promotion changes only its key with a merge patch, and rollback writes the
 * previous value back. Every step is idempotent for its run id, as the `file` store's are.
 */
export function createKubernetesSecretStore(
  options: KubernetesSecretStoreOptions,
  deps: AdapterDeps = {},
): SecretStore {
  const where = `secret ${options.namespace}/${options.name}`;
  const companion = companionName(options.name);
  let api: CoreV1Api | undefined;

  const client = async (): Promise<CoreV1Api> => {
    if (!api) {
      const { CoreV1Api: Api } = await kubernetesClient();
      api = await makeApiClient(options, Api);
    }
    return api;
  };

  const get = async (name: string, required: boolean): Promise<V1Secret | undefined> => {
    const core = await client();
    try {
      return await untilAborted(
        core.readNamespacedSecret({ name, namespace: options.namespace }),
        deps.signal,
      );
    } catch (error) {
      const explained = explainKubernetesError(`reading secret ${options.namespace}/${name}`, error);
      if (explained.status === 404 && !required) return undefined;
      if (explained.status === 404) {
        throw new KubernetesError(
          `${where} does not exist; create it (kubectl -n ${options.namespace} create secret generic ${options.name}) or fix namespace and name`,
          404,
          { cause: error },
        );
      }
      throw explained;
    }
  };

  const patch = async (name: string, data: Record<string, string | null>): Promise<void> => {
    const core = await client();
    const { PatchStrategy, setHeaderOptions } = await kubernetesClient();
    try {
      await untilAborted(
        core.patchNamespacedSecret(
          { name, namespace: options.namespace, body: { data } },
          setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
        ),
        deps.signal,
      );
    } catch (error) {
      throw explainKubernetesError(`updating secret ${options.namespace}/${name}`, error);
    }
  };

  /** Writes keys of the companion Secret, creating it when it is not there yet. */
  const writeCompanion = async (data: Record<string, string | null>): Promise<void> => {
    try {
      await patch(companion, data);
      return;
    } catch (error) {
      if (!(error instanceof KubernetesError) || error.status !== 404) throw error;
    }
    const core = await client();
    const body: V1Secret = {
      metadata: {
        name: companion,
        namespace: options.namespace,
        labels: { "app.kubernetes.io/managed-by": "fastly-token-rotator" },
        annotations: { "fastly-token-rotator/for": options.name },
      },
      type: "Opaque",
      data: Object.fromEntries(Object.entries(data).filter((e): e is [string, string] => e[1] !== null)),
    };
    try {
      await untilAborted(core.createNamespacedSecret({ namespace: options.namespace, body }), deps.signal);
    } catch (error) {
      const explained = explainKubernetesError(`creating secret ${options.namespace}/${companion}`, error);
      // Created at the same moment (a retry): write into it instead.
      if (explained.status === 409) await patch(companion, data);
      else throw explained;
    }
  };

  const current = async (): Promise<string | undefined> =>
    decode((await get(options.name, true))?.data, options.key);

  return {
    description: `kubernetes-secret ${options.namespace}/${options.name}#${options.key}`,
    durableStaging: true,

    read: current,

    async stage(value, runId) {
      if (/[\r\n]/.test(value)) throw new KubernetesError("refusing to store a value with a line break");
      await get(options.name, true); // fail before writing anything when the Secret is missing
      await writeCompanion({ [PENDING]: encode(value), [PENDING_RUN]: encode(runId) });
    },

    async readStaged(runId) {
      const data = (await get(companion, false))?.data;
      return decode(data, PENDING_RUN) === runId ? decode(data, PENDING) : undefined;
    },

    async promote(runId) {
      const data = (await get(companion, false))?.data;
      const pending = decode(data, PENDING);
      const run = decode(data, PENDING_RUN);
      if (pending === undefined || run === undefined) {
        if (decode(data, PROMOTED_RUN) === runId) return; // done already
        throw new KubernetesError(`nothing staged for run ${runId} in ${where}`);
      }
      if (run !== runId) {
        throw new KubernetesError(`the pending value in ${where} belongs to run ${run}, not ${runId}`);
      }
      const now = await current();
      if (now !== pending) {
        // Keep the value being replaced, then switch. A crash between the two leaves `previous`
        // right and the switch still to do; one after the switch is recognised above (now === pending).
        await writeCompanion(now === undefined ? { [PREVIOUS]: null } : { [PREVIOUS]: encode(now) });
        await patch(options.name, { [options.key]: encode(pending) });
      }
      await writeCompanion({ ...NO_PENDING, [PROMOTED_RUN]: encode(runId) });
    },

    async readPrevious() {
      return decode((await get(companion, false))?.data, PREVIOUS);
    },

    async restorePrevious(runId) {
      const data = (await get(companion, false))?.data;
      const pending = decode(data, PENDING);
      if (decode(data, PENDING_RUN) === runId && pending !== undefined && (await current()) !== pending) {
        // Never promoted: the current value is still the old one.
        await writeCompanion(NO_PENDING);
        return;
      }
      const previous = decode(data, PREVIOUS);
      if (previous === undefined) throw new KubernetesError(`${where} has no previous value to restore`);
      await patch(options.name, { [options.key]: encode(previous) });
      // This run's pending value only; another run's is its own business.
      if (pending !== undefined && decode(data, PENDING_RUN) === runId) {
        await writeCompanion(NO_PENDING);
      }
    },

    async discardStaged(runId) {
      const data = (await get(companion, false))?.data;
      if (decode(data, PENDING_RUN) === runId) await writeCompanion(NO_PENDING);
    },
  };
}

/** The registry's entry point (see `../registry.ts`). */
export { createKubernetesSecretStore as create };
