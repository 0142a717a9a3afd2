/**
 * What most commands do first: load the config named by `--config`, print its warnings (once per
 * process), and make the Fastly client from FASTLY_API_TOKEN. Separate from io.ts because it loads
 * the config and Fastly modules, which `--help` never needs.
 */
import { loadConfig, type LoadedConfig } from "../config/index.ts";
import { createFastlyClient, type FastlyClient } from "../fastly/index.ts";
import { escapeControl } from "../util/escape.ts";
import { registerSecret } from "../util/redact.ts";
import { colours, println, UsageError, type CliIO } from "./io.ts";

/** Load the config named by `--config`; a missing or invalid file is a ConfigError (exit 2). */
export async function loadConfigOption(io: CliIO, path: string | undefined): Promise<LoadedConfig> {
  if (!path)
    throw new UsageError("--config is required: the path of the YAML config (see docs/configuration.md)");
  return loadConfig(path.startsWith("/") ? path : `${io.cwd}/${path}`);
}

/** The API endpoint: FASTLY_API_ENDPOINT, else the config's, else Fastly's. */
export function endpointFor(io: CliIO, loaded?: LoadedConfig): string | undefined {
  return io.env.FASTLY_API_ENDPOINT || loaded?.config.fastly.endpoint || undefined;
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
  return createFastlyClient({ token, endpoint: endpointFor(io, loaded) });
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
