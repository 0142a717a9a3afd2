/**
 * Secrets that the config names by environment variable (an Argo CD token's `tokenEnv`, a Slack
 * `webhookUrlEnv`, a webhook's `signingSecretEnv`, a header's `valueFromEnv`) are taken out of the
 * process environment as soon as the config is read, as the Fastly credentials are at start: no
 * command ftr runs, no kubeconfig `exec` plugin, no AWS `credential_process` inherits them. The
 * adapters read them from here (`resolveDeps`), and `commandEnv` withholds the names too.
 */
import { CREDENTIAL_VARIABLES } from "./credential-vars.ts";
import { registerSecret } from "./redact.ts";

const captured = new Map<string, string>();
const withheld = new Set<string>(CREDENTIAL_VARIABLES);

/**
 * Moves the variables `names` out of `env` (default `process.env`) into this process's memory,
 * registering each value as a secret; from then on commands ftr runs do not get them.
 */
export function captureSecretVariables(names: Iterable<string>, env: NodeJS.ProcessEnv = process.env): void {
  for (const name of names) {
    withheld.add(name);
    const value = env[name];
    if (value !== undefined) {
      captured.set(name, value);
      if (value !== "") registerSecret(value);
    }
    delete env[name];
  }
}

/** The values taken out of the environment, by name. */
export function capturedVariables(): Readonly<Record<string, string>> {
  return Object.fromEntries(captured);
}

/** Every variable name a command ftr runs must not get: the Fastly credentials and those captured. */
export function withheldVariables(): readonly string[] {
  return [...withheld];
}

/** The keys of a config that name a variable holding a secret. */
const SECRET_KEY = /^(?:[a-z][A-Za-z]*Env|valueFromEnv)$/;

/**
 * The environment variables a config names as holding secrets: the value of every key that ends in
 * `Env` (`tokenEnv`, `webhookUrlEnv`, `signingSecretEnv`, ...) or is `valueFromEnv`, anywhere in
 * it. Found by walking the config, so a new adapter's `…Env` option is covered without a list.
 */
export function secretVariableNames(config: unknown): string[] {
  const names = new Set<string>();
  const seen = new Set<object>();
  const walk = (value: unknown): void => {
    if (typeof value !== "object" || value === null || seen.has(value)) return;
    seen.add(value);
    if (Array.isArray(value)) {
      for (const item of value) walk(item);
      return;
    }
    for (const [key, item] of Object.entries(value)) {
      if (SECRET_KEY.test(key) && typeof item === "string" && item !== "") names.add(item);
      else walk(item);
    }
  };
  walk(config);
  return [...names];
}
