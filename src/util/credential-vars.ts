/**
 * The environment variables that hold the superuser's credentials (and the contract tests' ones).
 * The CLI takes them out of the process environment at start, and commands that adapters run never
 * get them: one list, so the two cannot drift apart.
 */
export const CREDENTIAL_VARIABLES = [
  "FASTLY_API_TOKEN",
  "FASTLY_API_KEY",
  "FASTLY_SUDO_PASSWORD",
  "FASTLY_CONTRACT_TOKEN",
  "FASTLY_CONTRACT_PASSWORD",
] as const;
