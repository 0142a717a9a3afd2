/**
 * Local servers speaking the wire protocols of the token's homes (AWS Secrets Manager, the
 * Kubernetes API with External Secrets and a Deployment controller), used by the tests and by
 * `ftr sandbox` for rehearsals.
 */
export {
  controlSandbox,
  GOVUK,
  renderSandbox,
  runningSandboxIn,
  SANDBOX_ENVIRONMENTS,
  SANDBOX_FAULTS,
  sandboxConfig,
  SandboxDirError,
  startSandbox,
} from "./sandbox.ts";
export type {
  RunningSandbox,
  SandboxEnvironment,
  SandboxEnvironmentInfo,
  SandboxFault,
  SandboxInfo,
  SandboxOptions,
} from "./sandbox.ts";
export { startAwsSecretsManager } from "./aws-secrets-manager-server.ts";
export type { RunningAwsSecretsManager } from "./aws-secrets-manager-server.ts";
export { startKubernetesApi } from "./kubernetes-api-server.ts";
export type { KubernetesApiOptions, RunningKubernetesApi } from "./kubernetes-api-server.ts";
export { readAwsCurrent } from "./aws-external-secret-sync.ts";
