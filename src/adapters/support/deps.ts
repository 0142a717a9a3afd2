import { systemClock, type Clock } from "./poll.ts";
import { CREDENTIAL_HEADER, type HeaderValue } from "./config.ts";
import { registerSecret } from "../../util/redact.ts";
import { capturedVariables } from "../../util/secret-env.ts";
import { netFetch } from "../../util/net.ts";

/**
 * What adapter factories take besides their options: the clock and HTTP, injected so tests can
 * drive them without touching globals. The run's AbortSignal reaches adapters per call, in their
 * `AdapterContext`.
 */
export interface AdapterDeps {
  /** HTTP client; defaults to `netFetch` (proxies from the environment, loopback checked). */
  readonly fetch?: typeof fetch;
  /** Time and waits; defaults to `systemClock`. */
  readonly clock?: Clock;
  /**
   * The run's signal, for what has no `AdapterContext`: a secret store's calls (AWS SDK calls get it
   * as `abortSignal`; others stop waiting when it aborts).
   */
  readonly signal?: AbortSignal;
  /**
   * Environment variables secrets are read from (`…Env` options, `valueFromEnv`); defaults to
   * `process.env` with the variables the CLI took out of it at start (`captureSecretVariables`).
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** `AdapterDeps` with every member filled in. */
export interface ResolvedDeps {
  readonly fetch: typeof fetch;
  readonly clock: Clock;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** Fills in the defaults of `deps`. */
export function resolveDeps(deps: AdapterDeps = {}): ResolvedDeps {
  return {
    // Through the proxy the environment names, a loopback name only to loopback (src/util/net.ts).
    fetch: deps.fetch ?? netFetch,
    clock: deps.clock ?? systemClock,
    env: deps.env ?? { ...capturedVariables(), ...process.env },
  };
}

/**
 * An adapter cannot be made from its options and the environment (a credential's variable unset,
 * a setting refused): a usage problem, said in one line before the run changes anything.
 */
export class AdapterSetupError extends Error {
  override readonly name = "AdapterSetupError";
}

/** The message of anything thrown. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * `work`, or the abort reason as soon as `signal` aborts, whichever comes first. For calls that take
 * no signal of their own (the Kubernetes client's): the call may still complete in the background,
 * but nobody waits for it, and the step that made it is journaled as interrupted.
 */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  const reason = (): Error => {
    const r: unknown = signal.reason;
    return r instanceof Error ? r : new DOMException("aborted", "AbortError");
  };
  if (signal.aborted) return Promise.reject(reason());
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(reason());
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

/**
 * Header values as sent: each `{ valueFromEnv: NAME }` read from `env` (and registered as a secret),
 * each credential-like header's written value registered too. `what` names the step in the error
 * for a variable that is not set.
 */
export function resolveHeaders(
  headers: Readonly<Record<string, HeaderValue>> | undefined,
  env: Readonly<Record<string, string | undefined>>,
  what: string,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (typeof value === "string") {
      if (CREDENTIAL_HEADER.test(name)) registerSecret(value);
      out[name] = value;
      continue;
    }
    const read = env[value.valueFromEnv];
    if (read === undefined || read === "") {
      throw new AdapterSetupError(
        `${what}: header ${name} is read from ${value.valueFromEnv} (valueFromEnv), which is not set; export it, or remove the header`,
      );
    }
    registerSecret(read);
    out[name] = read;
  }
  return out;
}
