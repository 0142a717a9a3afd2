/**
 * What commands read and write, passed in so tests can run the CLI in-process, and the helpers every
 * command shares: usage errors, colours only on a TTY, JSON output, credentials.
 */
import { createInterface } from "node:readline";
import { Writable } from "node:stream";
import pc from "picocolors";
import { loadConfig, type LoadedConfig } from "../config/index.ts";
import { createFastlyClient, type FastlyClient } from "../fastly/index.ts";
import type { Logger, LogFields } from "../util/log.ts";
import { isSecureOrLoopback } from "../util/http.ts";
import { redact, registerSecret } from "../util/redact.ts";

/** The process surface a command uses. */
export interface CliIO {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  /** Resolves when the user interrupts (SIGINT/SIGTERM); long-running commands stop then. */
  readonly interrupted: Promise<void>;
  /** `--insecure-endpoint`: plain http to a host that is not loopback is allowed. */
  readonly insecureEndpoint?: boolean;
}

/** Bad usage or config: exit code 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** A run that failed after doing what it could: exit code 1, message already printed. */
export class RunFailed extends Error {
  override readonly name = "RunFailed";
}

/** Colour functions that do nothing unless `stream` is a terminal (and NO_COLOR is unset). */
export function colours(
  stream: { isTTY?: boolean },
  env: NodeJS.ProcessEnv,
): ReturnType<typeof pc.createColors> {
  const enabled = stream.isTTY === true && env.NO_COLOR === undefined && env.TERM !== "dumb";
  return pc.createColors(enabled || env.FORCE_COLOR === "1");
}

/** Write a line to a stream, secrets removed. */
export function println(stream: NodeJS.WritableStream, text = ""): void {
  stream.write(redact(text) + "\n");
}

/** Print `value` as JSON on stdout (dates as ISO strings), secrets removed. */
export function printJson(io: CliIO, value: unknown): void {
  println(io.stdout, JSON.stringify(value, null, 2));
}

/** A logger writing `level message key=value` lines to stderr; debug only with FTR_DEBUG. */
export function stderrLogger(io: CliIO): Logger {
  const c = colours(io.stderr, io.env);
  const debug = io.env.FTR_DEBUG !== undefined && io.env.FTR_DEBUG !== "";
  const line = (level: string, paint: (s: string) => string) => (message: string, fields?: LogFields) => {
    const kv = Object.entries(fields ?? {})
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(" ");
    println(io.stderr, `${paint(level)} ${message}${kv ? " " + c.dim(kv) : ""}`);
  };
  return {
    debug: debug ? line("debug", c.dim) : () => {},
    info: line("info", c.cyan),
    warn: line("warn", c.yellow),
    error: line("error", c.red),
  };
}

/** Load the config named by `--config`, turning config errors into usage errors (exit 2). */
export async function loadConfigOption(io: CliIO, path: string | undefined): Promise<LoadedConfig> {
  if (!path)
    throw new UsageError("--config is required: the path of the YAML config (see docs/configuration.md)");
  return loadConfig(resolvePath(io, path));
}

function resolvePath(io: CliIO, path: string): string {
  return path.startsWith("/") ? path : `${io.cwd}/${path}`;
}

/** The runs that have printed the plain-http note: at most one a run. */
const notedInsecure = new WeakSet<CliIO>();

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
  const optedIn = io.insecureEndpoint === true || loaded?.config.fastly.allowInsecure === true;
  if (!optedIn) {
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
export function clientFromEnv(io: CliIO, loaded?: LoadedConfig, required = true): FastlyClient | undefined {
  const token = io.env.FASTLY_API_TOKEN;
  if (!token) {
    if (!required) return undefined;
    throw new UsageError(
      "FASTLY_API_TOKEN is not set: export the user token of a Fastly superuser (it is never read from the command line)",
    );
  }
  registerSecret(token);
  return createFastlyClient({ token, endpoint: endpointFor(io, loaded) });
}

/**
 * The sudo password: `--password-stdin`, else FASTLY_SUDO_PASSWORD, else a hidden prompt on a
 * terminal. Never from argv. Asked once, when first needed.
 */
export function passwordSource(io: CliIO, fromStdin: boolean): () => Promise<string> {
  let cached: Promise<string> | undefined;
  return () => {
    cached ??= (async () => {
      let password: string | undefined;
      if (fromStdin) {
        password = (await readAll(io.stdin)).replace(/\r?\n$/, "");
      } else if (io.env.FASTLY_SUDO_PASSWORD) {
        password = io.env.FASTLY_SUDO_PASSWORD;
      } else if (io.stdin.isTTY && io.stderr.isTTY) {
        password = await hiddenPrompt(io, "Fastly password (for sudo mode): ");
      }
      if (!password) {
        throw new UsageError(
          "the sudo password is needed to create tokens: set FASTLY_SUDO_PASSWORD, pipe it with --password-stdin, or run on a terminal to be asked",
        );
      }
      registerSecret(password);
      return password;
    })();
    return cached;
  };
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let text = "";
  for await (const chunk of stream) text += typeof chunk === "string" ? chunk : chunk.toString("utf8");
  return text;
}

/** Ask a question on the terminal without echoing the answer. */
export function hiddenPrompt(io: CliIO, question: string): Promise<string> {
  io.stderr.write(question);
  const muted = new Writable({ write: (_chunk, _enc, done) => done() });
  const rl = createInterface({ input: io.stdin, output: muted, terminal: true });
  return new Promise((resolve) => {
    rl.question("", (answer) => {
      rl.close();
      io.stderr.write("\n");
      resolve(answer);
    });
  });
}

/** Ask a yes/no question on the terminal; anything but y/yes is no. */
export function confirm(io: CliIO, question: string): Promise<boolean> {
  const rl = createInterface({ input: io.stdin, output: io.stderr, terminal: true });
  return new Promise((resolve) => {
    rl.question(`${question} [y/N] `, (answer) => {
      rl.close();
      resolve(/^y(es)?$/i.test(answer.trim()));
    });
  });
}

/** Print config warnings to stderr, one a line. */
export function printWarnings(io: CliIO, loaded: LoadedConfig): void {
  const c = colours(io.stderr, io.env);
  for (const w of loaded.warnings)
    println(io.stderr, `${c.yellow("warning")} ${w.path ? w.path + ": " : ""}${w.message}`);
}
