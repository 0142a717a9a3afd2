/** The state backend a config names: a directory (default) or Kubernetes, loaded on use. */
import type { Config, StateConfig } from "../../config/types.ts";
import type { Clock } from "../../adapters/support/poll.ts";
import { directoryState } from "./directory.ts";
import type { StateBackend } from "./types.ts";

export type { Journal, LockHolder, StateBackend, StateSession } from "./types.ts";
export { directoryState } from "./directory.ts";

/** What a backend may be handed besides its config. */
export interface StateDeps {
  /** Time for journal records and Lease expiry; default the system clock. */
  readonly clock?: Clock;
}

/** The state backend of `config` (`state:`; default the directory `stateDir`). */
export async function stateBackend(config: Config, deps: StateDeps = {}): Promise<StateBackend> {
  const state: StateConfig = config.state ?? { type: "directory", dir: config.stateDir };
  const now = deps.clock ? () => new Date(deps.clock!.now()) : () => new Date();
  if (state.type === "directory") return directoryState(state.dir, now);
  const { kubernetesState } = await import("./kubernetes.ts");
  return kubernetesState(state, deps);
}
