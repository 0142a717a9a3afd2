/**
 * A Fastly API emulator: the endpoints automation-token rotation touches, with the representations,
 * errors, sudo, expiry and rate-limit semantics of the real service, plus an admin API for tests.
 */
import { demoSeed } from "./demo-account.ts";
import { loadSeedFile } from "./seed.ts";
import { createEmulator, type RunningEmulator } from "./server.ts";

export { createEmulatorAdmin } from "./admin-client.ts";
export type { EmulatorAdmin, EmulatorAdminOptions } from "./admin-client.ts";
export { demoCredentials, demoSeed, demoServiceIds, generateSeed } from "./demo-account.ts";
export type { GenerateSeedOptions } from "./demo-account.ts";
export { EmulatorSeedError, loadSeedFile, parseSeed, seedSchema } from "./seed.ts";
export type {
  ParsedSeed,
  Seed,
  SeedAutomationToken,
  SeedRole,
  SeedService,
  SeedUser,
  SeedUserToken,
} from "./seed.ts";
export type { ApiVersion } from "./state.ts";
export { createEmulator } from "./server.ts";
export type { EmulatorOptions, RunningEmulator } from "./server.ts";
export { systemClock } from "./time.ts";
export type { Clock } from "./time.ts";
export type {
  ClockChange,
  EmulatorStateSnapshot,
  EmulatorTokenSnapshot,
  FaultSpec,
  HookSpec,
  HookState,
  RequestLogEntry,
} from "./types.ts";

/** Options of {@link startEmulatorFromCli}, as `ftr emulator` parses them. */
export interface EmulatorCliOptions {
  readonly port?: number;
  readonly host?: string;
  /** `demo` (default) or the path of a JSON seed file. */
  readonly seed?: string;
  /** `2026` (today's API) or `2025` (the recorded shapes); default the seed's. */
  readonly apiVersion?: "2025" | "2026";
}

/**
 * What `ftr emulator` runs: load the seed (`demo` or a file; a bad file throws `EmulatorSeedError`
 * whose message lists every problem) and start listening. The caller prints the URL.
 */
export async function startEmulatorFromCli(options: EmulatorCliOptions = {}): Promise<RunningEmulator> {
  const seedName = options.seed ?? "demo";
  const seed = seedName === "demo" ? demoSeed : await loadSeedFile(seedName);
  return createEmulator({
    seed,
    ...(options.host === undefined ? {} : { host: options.host }),
    ...(options.port === undefined ? {} : { port: options.port }),
    ...(options.apiVersion === undefined ? {} : { apiVersion: options.apiVersion }),
  });
}
