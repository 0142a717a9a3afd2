/**
 * fastly-token-rotator as a library: the Fastly client, the config, the plan, the rotation engine,
 * the adapters, notifications, monitoring, a config from the account (`initConfig`), and the
 * emulator. The command line is a thin layer over these.
 */
export * from "./fastly/index.ts";
export * from "./config/index.ts";
export * from "./plan/index.ts";
export * from "./rotation/index.ts";
export { createNotifier, createReloader, createSecretStore, createVerifier } from "./adapters/registry.ts";
export type { NotifierSpec, ReloaderSpec, SecretStoreSpec, VerifierSpec } from "./adapters/registry.ts";
export * from "./notify/index.ts";
export {
  initConfig,
  renderConfig,
  resolveEnvironments,
  INIT_STORES,
  type EnvRequest,
  type InitEnvironment,
  type InitOptions,
  type InitProblem,
  type InitResult,
  type InitStore,
} from "./init/index.ts";
export type * from "./adapters/types.ts";
export {
  createEmulator,
  createEmulatorAdmin,
  demoCredentials,
  demoSeed,
  generateSeed,
  loadSeedFile,
} from "./emulator/index.ts";
export { startExporter } from "./emulator/exporter.ts";
export { main } from "./cli/main.ts";
export { redact, registerSecret } from "./util/redact.ts";
/** The abort reason of a run stopped by SIGINT/SIGTERM; `exitCode` is 130 or 143. */
export { Interrupted } from "./util/interrupt.ts";
export type { Logger } from "./util/log.ts";
export { VERSION } from "./version.ts";
