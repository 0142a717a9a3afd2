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
  /**
   * Aborted on the first SIGINT/SIGTERM (its reason an `Interrupted`): every request, wait and child
   * process of the command stops, and no new step begins.
   */
  readonly signal?: AbortSignal;
  /** What the command is doing now (`<env> <step>`), named in the `stopping: …` line. */
  readonly activity?: { current: string | undefined };
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

/** The API endpoint: FASTLY_API_ENDPOINT, else the config's, else Fastly's. */
export function endpointFor(io: CliIO, loaded?: LoadedConfig): string | undefined {
  return io.env.FASTLY_API_ENDPOINT || loaded?.config.fastly.endpoint || undefined;
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
  return createFastlyClient({ token, endpoint: endpointFor(io, loaded), signal: io.signal });
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
  return ask(io, rl, "").finally(() => io.stderr.write("\n"));
}

/** Ask a yes/no question on the terminal; anything but y/yes is no. */
export async function confirm(io: CliIO, question: string): Promise<boolean> {
  const rl = createInterface({ input: io.stdin, output: io.stderr, terminal: true });
  const answer = await ask(io, rl, `${question} [y/N] `);
  return /^y(es)?$/i.test(answer.trim());
}

/**
 * One answer from `rl`, closing it after. A signal ends the question: it rejects with the abort
 * reason. A terminal in raw mode turns Ctrl-C into a keypress, not a signal: it is passed on as the
 * SIGINT it stands for.
 */
function ask(io: CliIO, rl: ReturnType<typeof createInterface>, prompt: string): Promise<string> {
  const signal = io.signal;
  return new Promise<string>((resolve, reject) => {
    const onAbort = (): void => {
      rl.close();
      const reason: unknown = signal?.reason;
      reject(reason instanceof Error ? reason : new Error("interrupted"));
    };
    if (signal?.aborted) {
      onAbort();
      return;
    }
    signal?.addEventListener("abort", onAbort, { once: true });
    rl.on("SIGINT", () => process.kill(process.pid, "SIGINT"));
    rl.question(prompt, (answer) => {
      signal?.removeEventListener("abort", onAbort);
      rl.close();
      resolve(answer);
    });
  });
}

/** Print config warnings to stderr, one a line. */
export function printWarnings(io: CliIO, loaded: LoadedConfig): void {
  const c = colours(io.stderr, io.env);
  for (const w of loaded.warnings)
    println(io.stderr, `${c.yellow("warning")} ${w.path ? w.path + ": " : ""}${w.message}`);
}
