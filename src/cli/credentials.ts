/**
 * Credentials live in memory only. The process entry point imports `./capture.ts` first, so that
 * runs before any other module: the superuser's token and password (and the contract tests' ones) are read from the
 * environment and deleted from `process.env`, so no child process inherits them: not a reload
 * script, not a kubeconfig `exec` credential plugin, not an AWS `credential_process`, not an SDK
 * helper. Commands read them from `CliIO.env`, which holds the captured values.
 */
import { CREDENTIAL_VARIABLES } from "../util/credential-vars.ts";

/** The variables taken out of the process environment at start. */
export const CAPTURED_CREDENTIALS = CREDENTIAL_VARIABLES;

/**
 * Moves the credential variables out of `env` (default `process.env`) and returns them. Calling it
 * again returns nothing new: the values are gone from the environment after the first call.
 */
export function captureCredentials(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const captured: Record<string, string> = {};
  for (const name of CAPTURED_CREDENTIALS) {
    const value = env[name];
    if (value !== undefined) captured[name] = value;
    delete env[name];
  }
  return captured;
}
