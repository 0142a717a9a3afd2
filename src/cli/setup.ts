/**
 * What most commands do first: load the config named by `--config`, print its warnings (once per
 * process), and make the Fastly client from FASTLY_API_TOKEN. Separate from io.ts because it loads
 * the config and Fastly modules, which `--help` never needs.
 */
import { loadConfig, type LoadedConfig } from "../config/index.ts";
import { createFastlyClient, type FastlyClient } from "../fastly/index.ts";
import { isSecureOrLoopback } from "../util/http.ts";
import { escapeControl } from "../util/escape.ts";
import { formatDuration } from "../util/time.ts";
import { registerSecret } from "../util/redact.ts";
import { captureSecretVariables, secretVariableNames } from "../util/secret-env.ts";
import { colours, println, UsageError, type CliIO } from "./io.ts";

/**
 * Load the config named by `--config`; a missing or invalid file is a ConfigError (exit 2). The
 * secrets it names by environment variable (`tokenEnv`, `webhookUrlEnv`, `signingSecretEnv`,
 * `valueFromEnv`) leave the process environment at once, before any adapter or child process runs.
 */
export async function loadConfigOption(io: CliIO, path: string | undefined): Promise<LoadedConfig> {
  if (!path)
    throw new UsageError("--config is required: the path of the YAML config (see docs/configuration.md)");
  const loaded = await loadConfig(path.startsWith("/") ? path : `${io.cwd}/${path}`);
  captureSecretVariables(secretVariableNames(loaded.config));
  return loaded;
}

/** The runs that have printed the plain-http note: at most one a run. */
const notedInsecure = new WeakSet<CliIO>();

/** Whether the user opted in to plain http off loopback: `--insecure-endpoint` or `fastly.allowInsecure`. */
export function insecureAllowed(io: CliIO, loaded?: LoadedConfig): boolean {
  return io.insecureEndpoint === true || loaded?.config.fastly.allowInsecure === true;
}

/**
 * The API endpoint: FASTLY_API_ENDPOINT, else the config's, else Fastly's. Plain http is refused
 * (a usage error with the fix) unless the host is loopback or the user opted in with
 * `--insecure-endpoint` or `fastly.allowInsecure: true`; an opted-in one is noted once a run (the
 * config's own is already warned about by validation).
 */
export function endpointFor(io: CliIO, loaded?: LoadedConfig): string | undefined {
  const fromEnv = io.env.FASTLY_API_ENDPOINT || undefined;
  const endpoint = fromEnv ?? loaded?.config.fastly.endpoint;
  if (endpoint === undefined) return undefined;
  const source = fromEnv === undefined ? "fastly.endpoint" : "FASTLY_API_ENDPOINT";
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new UsageError(`${source} is not a URL: give the API base URL, e.g. https://api.fastly.com`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new UsageError(`${source} must be an https:// URL, e.g. https://api.fastly.com`);
  }
  if (isSecureOrLoopback(url)) return endpoint;
  if (!insecureAllowed(io, loaded)) {
    throw new UsageError(
      `${source} ${url.origin} is plain http to a host that is not loopback: the user token and sudo password would cross the network unencrypted; use https://, or pass --insecure-endpoint (config: fastly.allowInsecure: true) if the network is trusted`,
    );
  }
  if (fromEnv !== undefined && !notedInsecure.has(io)) {
    notedInsecure.add(io);
    println(
      io.stderr,
      `${colours(io.stderr, io.env).yellow("note")} ${url.origin} is plain http: the user token and sudo password cross the network unencrypted (--insecure-endpoint)`,
    );
  }
  return endpoint;
}

/** The user's client from FASTLY_API_TOKEN, or a usage error saying how to supply it. */
export function requireClient(io: CliIO, loaded?: LoadedConfig): FastlyClient {
  const client = optionalClient(io, loaded);
  if (client === undefined) {
    throw new UsageError(
      "FASTLY_API_TOKEN is not set: export the user token of a Fastly superuser (it is never read from the command line)",
    );
  }
  return client;
}

/** The user's client from FASTLY_API_TOKEN, or undefined when it is not set (read-only commands). */
export function optionalClient(io: CliIO, loaded?: LoadedConfig): FastlyClient | undefined {
  const token = io.env.FASTLY_API_TOKEN;
  if (!token) return undefined;
  registerSecret(token);
  return createFastlyClient({
    token,
    endpoint: endpointFor(io, loaded),
    allowInsecure: insecureAllowed(io, loaded),
    signal: io.signal,
    onClockSkew: (skewMs) => warnClockSkew(io, skewMs),
  });
}

/** The runs that have printed the clock-skew warning: at most one a run. */
const warnedSkew = new WeakSet<CliIO>();

/**
 * Say once a run that this machine's clock and the Fastly API's differ by more than five minutes,
 * to the minute (the `Date` header has whole seconds, and the answer took some time to arrive).
 */
export function warnClockSkew(io: CliIO, skewMs: number): void {
  if (warnedSkew.has(io)) return;
  warnedSkew.add(io);
  println(
    io.stderr,
    `${colours(io.stderr, io.env).yellow("warning")} the Fastly API's clock is ${formatDuration(Math.round(Math.abs(skewMs) / 60_000) * 60_000)} ${skewMs > 0 ? "ahead of" : "behind"} this machine's: expiry is judged by the API's time; check this machine's clock (NTP)`,
  );
}

/** Warn about the config's kubeconfigs (`insecure-skip-tls-verify`), like config warnings. */
export async function printKubeconfigWarnings(io: CliIO, loaded: LoadedConfig): Promise<void> {
  const { kubeconfigWarnings } = await import("../adapters/support/kubeconfig-warnings.ts");
  const c = colours(io.stderr, io.env);
  for (const w of await kubeconfigWarnings(loaded.config.environments)) {
    println(io.stderr, `${c.yellow("warning")} ${escapeControl(`${w.path}: ${w.message}`)}`);
  }
}

// The demo runs several commands in one process; a warning about the same config says nothing new
// the second time.
const warned = new Set<string>();

/** Print config warnings to stderr, one a line, each at most once per process. */
export function printWarnings(io: CliIO, loaded: LoadedConfig): void {
  const c = colours(io.stderr, io.env);
  for (const w of loaded.warnings) {
    const text = `${w.path ? w.path + ": " : ""}${w.message}`;
    if (warned.has(`${loaded.path}\n${text}`)) continue;
    warned.add(`${loaded.path}\n${text}`);
    println(io.stderr, `${c.yellow("warning")} ${escapeControl(text)}`);
  }
}
