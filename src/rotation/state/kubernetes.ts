/**
 * Rotation state in Kubernetes: the lock is a coordination.k8s.io/v1 Lease, the journal a Secret
 * (or ConfigMap). Not yet implemented.
 */
import type { StateConfig } from "../../config/types.ts";
import type { StateDeps } from "./index.ts";
import type { StateBackend } from "./types.ts";

export function kubernetesState(
  _config: Extract<StateConfig, { type: "kubernetes" }>,
  _deps: StateDeps,
): Promise<StateBackend> {
  return Promise.reject(new Error("state type kubernetes is not implemented yet"));
}
