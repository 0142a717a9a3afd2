/** Reads the live state a plan is computed from. Read-only: no request here writes anything. */
import type { SecretStore } from "../adapters/types.ts";
import { writeOnlyReason } from "../adapters/support/store.ts";
import type { Config } from "../config/types.ts";
import { createFastlyClient } from "../fastly/client.ts";
import { FastlyApiError, FastlyAuthError, FastlyForbiddenError } from "../fastly/errors.ts";
import type { FastlyClient } from "../fastly/types.ts";
import { registerSecret } from "../util/redact.ts";
import type { DeployedState, LiveState } from "./plan.ts";

/** What `gatherState` needs. */
export interface GatherOptions {
  /** The superuser's (or any account-wide) client. */
  readonly client: FastlyClient;
  readonly config: Config;
  /** Secret stores by environment name (only the environments to look at). */
  readonly stores: ReadonlyMap<string, SecretStore>;
  /** Injected fetch for the per-value clients (tests). */
  readonly fetch?: typeof fetch;
  /** Stops the per-value clients' requests (the superuser's client carries its own). */
  readonly signal?: AbortSignal | undefined;
}

/** List tokens and services and identify each environment's deployed token. */
export async function gatherState(options: GatherOptions): Promise<LiveState> {
  const { client, stores } = options;
  const [automationTokens, services, deployedPairs, problemPairs] = await allSettledOrThrow([
    client.listAutomationTokens(),
    client.listServices(),
    Promise.all(
      [...stores].map(
        async ([name, store]) =>
          [name, await deployedState(store, client, options.fetch, options.signal)] as const,
      ),
    ),
    Promise.all([...stores].map(async ([name, store]) => [name, (await store.preflight?.()) ?? []] as const)),
  ]);
  const storeProblems = Object.fromEntries(problemPairs.filter(([, problems]) => problems.length > 0));
  // The account's roles, only when an environment names some (`token.roles`).
  const roles = options.config.environments.some((env) => env.token.roles !== undefined)
    ? await client.listRoles()
    : undefined;
  return {
    automationTokens,
    ...(roles ? { roles } : {}),
    services,
    deployed: Object.fromEntries(deployedPairs),
    ...(Object.keys(storeProblems).length > 0 ? { storeProblems } : {}),
  };
}

/**
 * Every task's value, or the first failure, thrown only once the others have settled, so nothing
 * this gathering started is still in flight when it throws. With `Promise.all` the rest ran on after
 * the error, and a caller in the same process (the demo, a test counting a command's requests) met
 * their requests later. The tasks are reads with their own timeouts; the run's signal still stops
 * them at once.
 */
async function allSettledOrThrow<T extends readonly unknown[]>(tasks: {
  readonly [K in keyof T]: Promise<T[K]>;
}): Promise<T> {
  let failure: { readonly error: unknown } | undefined;
  const settled = await Promise.allSettled(
    tasks.map((task: Promise<unknown>) =>
      task.catch((error: unknown) => {
        failure ??= { error };
        throw error;
      }),
    ),
  );
  if (failure !== undefined) throw failure.error;
  return settled.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

/** Which token a store's value is: `GET /tokens/self` with that value, at `client`'s endpoint. */
export async function deployedState(
  store: SecretStore,
  client: Pick<FastlyClient, "endpoint" | "allowInsecure">,
  fetchImpl?: typeof fetch,
  signal?: AbortSignal,
): Promise<DeployedState> {
  if (store.readBack === false) return { status: "write-only", reason: writeOnlyReason(store.description) };
  let value: string | undefined;
  try {
    value = await store.read();
  } catch (error) {
    return { status: "unreadable", reason: error instanceof Error ? error.message : String(error) };
  }
  if (value === undefined || value === "") return { status: "absent" };
  registerSecret(value);
  const asDeployed = createFastlyClient({
    token: value,
    endpoint: client.endpoint,
    allowInsecure: client.allowInsecure,
    ...(fetchImpl ? { fetch: fetchImpl } : {}),
    retry: { retries: 2, baseDelayMs: 200 },
    signal,
  });
  try {
    return { status: "valid", token: await asDeployed.getTokenSelf() };
  } catch (error) {
    if (error instanceof FastlyAuthError || error instanceof FastlyForbiddenError) {
      const expired = error instanceof FastlyAuthError && error.expired;
      return { status: "dead", reason: expired ? "expired" : `refused with ${error.status}` };
    }
    return {
      status: "unknown",
      reason: error instanceof FastlyApiError ? error.message : String(error),
    };
  }
}
