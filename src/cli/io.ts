/**
 * What commands read and write, passed in so tests can run the CLI in-process, and the helpers every
 * command shares: usage errors, colours only on a TTY, JSON output, the sudo password. Kept free of
 * the config and Fastly modules so that `--help` loads nothing heavy (those helpers are in setup.ts).
 */
import type { Interface as ReadlineInterface } from "node:readline";
import pc from "picocolors";
import type { Logger, LogFields } from "../util/log.ts";
import { escapeControl } from "../util/escape.ts";
import { redact, registerSecret, secretSpansLines } from "../util/redact.ts";

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
  /** `--insecure-endpoint`: plain http to a host that is not loopback is allowed. */
  readonly insecureEndpoint?: boolean;
}

/** Bad usage or config: exit code 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** A remote (Fastly, a secret store) refused what the credentials allow: exit code 1, like any refusal. */
export class RefusedError extends Error {
  override readonly name = "RefusedError";
}

/** A run that failed after doing what it could: exit code 1, message already printed. */
export class RunFailed extends Error {
  override readonly name = "RunFailed";
}

/** What each operating-system error means to a user, and what usually fixes it. */
const OS_REASONS: Readonly<Record<string, { readonly reason: string; readonly fix: string }>> = {
  EADDRINUSE: { reason: "the address is already in use", fix: "stop what listens there or choose another" },
  EADDRNOTAVAIL: { reason: "the address is not one of this machine's", fix: "choose a local address" },
  EACCES: { reason: "permission denied", fix: "check the permissions (ports below 1024 need privileges)" },
  EPERM: { reason: "operation not permitted", fix: "check the permissions" },
  ENOENT: { reason: "no such file or directory", fix: "check the path" },
  EISDIR: { reason: "it is a directory", fix: "give the path of a file" },
  ENOTDIR: { reason: "a part of the path is not a directory", fix: "check the path" },
  EROFS: { reason: "the file system is read-only", fix: "choose a writable location" },
  ENOSPC: { reason: "no space left on the device", fix: "free some space" },
};

/**
 * An operating-system error (address in use, permission denied, file missing) said in one line:
 * the thing, what went wrong, the fix. Exit code 1; the stack only with --debug.
 */
export class OsError extends Error {
  override readonly name = "OsError";
  /** The errno code, e.g. EADDRINUSE. */
  readonly code: string;
  constructor(message: string, code: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  /**
   * `error` as an OsError when it is one of the known OS errors, else undefined. `what` names the
   * thing (`cannot listen on :9300`); `flag` is the option that changes it, named in the fix.
   */
  static from(error: unknown, what?: string, flag?: string): OsError | undefined {
    if (!(error instanceof Error) || !("code" in error) || typeof error.code !== "string") return undefined;
    const known = OS_REASONS[error.code];
    if (known === undefined) return undefined;
    const e = error as NodeJS.ErrnoException & { address?: string; port?: number };
    const thing =
      what ??
      (e.path !== undefined
        ? `cannot ${e.syscall ?? "use"} ${e.path}`
        : e.address !== undefined
          ? `cannot ${e.syscall ?? "use"} ${e.address}${e.port === undefined ? "" : `:${e.port}`}`
          : `${e.syscall ?? "system call"} failed`);
    const fix = flag === undefined ? known.fix : `${known.fix} with ${flag}`;
    return new OsError(`${thing}: ${known.reason} (${error.code}); ${fix}`, error.code, { cause: error });
  }
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

/** About how much text {@link printPieces} writes at once. */
const CHUNK_CHARS = 64 * 1024;

/**
 * `println` of the text `pieces` make when joined, written a chunk of whole lines at a time, each
 * redacted, waiting whenever the stream asks to drain: a large report (`ftr status` at thousands of
 * tokens) is never one string in memory, and a slow reader does not make the output pile up. The
 * bytes written are println's. Secrets are found within a line (a chunk ends at a line break); a
 * registered secret that holds a line break makes the text redacted whole, as println does.
 */
export async function printPieces(stream: NodeJS.WritableStream, pieces: Iterable<string>): Promise<void> {
  const whole = secretSpansLines();
  let pending = "";
  for (const piece of pieces) {
    pending += piece;
    if (whole || pending.length < CHUNK_CHARS) continue;
    const end = pending.lastIndexOf("\n") + 1;
    if (end === 0) continue;
    const wait = writeDrained(stream, redact(pending.slice(0, end)));
    pending = pending.slice(end);
    if (wait) await wait;
  }
  await writeDrained(stream, redact(pending) + "\n");
}

/** Write `text`; when the stream's buffer is full, a promise of it draining (or closing). */
function writeDrained(stream: NodeJS.WritableStream, text: string): Promise<void> | undefined {
  if (stream.write(text)) return undefined;
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off("drain", done);
      stream.off("close", done);
      stream.off("error", done);
      resolve();
    };
    stream.on("drain", done);
    stream.on("close", done);
    stream.on("error", done);
  });
}

/** The pieces of `lines` joined with line breaks. */
export function* joinLines(lines: Iterable<string>): Generator<string, void, undefined> {
  let first = true;
  for (const line of lines) {
    yield first ? line : `\n${line}`;
    first = false;
  }
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
    // Messages and fields quote names and server answers; JSON.stringify leaves C1 and bidi
    // controls as they are, so both are escaped.
    println(
      io.stderr,
      `${paint(level)} ${escapeControl(message)}${kv ? " " + c.dim(escapeControl(kv)) : ""}`,
    );
  };
  return {
    debug: debug ? line("debug", c.dim) : () => {},
    info: line("info", c.cyan),
    warn: line("warn", c.yellow),
    error: line("error", c.red),
  };
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

/** How many times a person at a terminal may type the sudo password. */
export const PASSWORD_TRIES = 3;

/**
 * After Fastly refused the password: on a terminal (where it was asked), ask again, up to
 * {@link PASSWORD_TRIES} in all; elsewhere (stdin, FASTLY_SUDO_PASSWORD) nobody can retype it.
 */
export function passwordRetry(io: CliIO, fromStdin: boolean): () => Promise<string | undefined> {
  let tries = 1;
  return async () => {
    if (fromStdin || io.env.FASTLY_SUDO_PASSWORD || !(io.stdin.isTTY && io.stderr.isTTY)) return undefined;
    if (tries >= PASSWORD_TRIES) return undefined;
    tries++;
    println(io.stderr, `Fastly did not accept the password; try again (${tries} of ${PASSWORD_TRIES}).`);
    const password = await hiddenPrompt(io, "Fastly password (for sudo mode): ");
    if (!password) return undefined;
    registerSecret(password);
    return password;
  };
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let text = "";
  for await (const chunk of stream) text += typeof chunk === "string" ? chunk : chunk.toString("utf8");
  return text;
}

/**
 * Ask a question on the terminal without echoing the answer. node:readline and node:stream are
 * loaded here, on the first question: most commands never ask one.
 */
export async function hiddenPrompt(io: CliIO, question: string): Promise<string> {
  const [{ createInterface }, { Writable }] = await Promise.all([
    import("node:readline"),
    import("node:stream"),
  ]);
  const muted = new Writable({ write: (_chunk, _enc, done) => done() });
  // The terminal stops echoing (raw mode) before the question shows: an answer typed the moment
  // it appears is never echoed.
  const rl = createInterface({ input: io.stdin, output: muted, terminal: true });
  io.stderr.write(question);
  return ask(io, rl, "").finally(() => io.stderr.write("\n"));
}

/** Ask a yes/no question on the terminal; anything but y/yes is no. */
export async function confirm(io: CliIO, question: string): Promise<boolean> {
  const { createInterface } = await import("node:readline");
  const rl = createInterface({ input: io.stdin, output: io.stderr, terminal: true });
  const answer = await ask(io, rl, `${question} [y/N] `);
  return /^y(es)?$/i.test(answer.trim());
}

/**
 * One answer from `rl`, closing it after. A signal ends the question: it rejects with the abort
 * reason. A terminal in raw mode turns Ctrl-C into a keypress, not a signal: it is passed on as the
 * SIGINT it stands for.
 */
function ask(io: CliIO, rl: ReadlineInterface, prompt: string): Promise<string> {
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
