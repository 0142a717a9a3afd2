/**
 * Running `ftr` from tests: in-process through `main(argv, io)` with PassThrough streams (fast, and
 * what most tests want), or as a real child process (`node --import tsx src/cli/bin.ts`), which is
 * what `kill -9` needs and what shows the output of a fresh process whose redaction registry has
 * not been primed by earlier runs in the test process.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { PassThrough } from "node:stream";
import type { CliIO } from "../../src/cli/io.ts";
import { main } from "../../src/cli/main.ts";

/** How one `ftr` command ended. */
export interface CliResult {
  /** The exit code; null when the process was ended by a signal. */
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Where a command runs. */
export interface CliOptions {
  /** The command's whole environment for in-process runs; added to a clean copy of ours for children. */
  readonly env?: Readonly<Record<string, string>>;
  /** Working directory (relative `--config` paths resolve against it). */
  readonly cwd?: string;
  /** Text on standard input (e.g. for `--password-stdin`); empty otherwise. */
  readonly stdin?: string;
  /** In-process only: stdout says it is a terminal (colours on). */
  readonly tty?: boolean;
  /** In-process only: resolving it interrupts the command, as SIGINT does; default never. */
  readonly interrupted?: Promise<void>;
}

/** The entry point, for child processes. */
export const CLI_BIN = fileURLToPath(new URL("../../src/cli/bin.ts", import.meta.url));

/** tsx's loader, resolved here so a child can run from any working directory. */
export const TSX_LOADER = import.meta.resolve("tsx");

/** `node` arguments that run the CLI from source. */
export const CLI_NODE_ARGS: readonly string[] = ["--import", TSX_LOADER, CLI_BIN];

/** Credentials and endpoints a developer may have exported; a test never inherits them. */
const INHERITED_CREDENTIALS = [
  "FASTLY_API_TOKEN",
  "FASTLY_API_KEY",
  "FASTLY_SUDO_PASSWORD",
  "FASTLY_API_ENDPOINT",
  "FASTLY_CONTRACT_TOKEN",
  "FTR_DEBUG",
  "ARGOCD_AUTH_TOKEN",
];

/** An in-process CLI io over in-memory streams, keeping what is printed. */
export interface CapturedIO extends CliIO {
  /** What was written to stdout so far. */
  out(): string;
  /** What was written to stderr so far. */
  err(): string;
}

/**
 * The io of an in-process run: its environment is exactly `options.env` (not ours), stdin holds
 * `options.stdin` and is not a terminal, and nothing printed reaches the test's own output.
 */
export function captureIO(options: CliOptions = {}): CapturedIO {
  const stdout = new PassThrough() as PassThrough & { isTTY?: boolean };
  const stderr = new PassThrough();
  const stdin = new PassThrough();
  stdin.end(options.stdin ?? "");
  if (options.tty) stdout.isTTY = true;
  let out = "";
  let err = "";
  stdout.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")));
  stderr.on("data", (chunk: Buffer) => (err += chunk.toString("utf8")));
  return {
    stdout,
    stderr,
    stdin,
    env: { ...options.env },
    cwd: options.cwd ?? process.cwd(),
    // Never interrupted unless the test says so.
    interrupted: options.interrupted ?? new Promise<void>(() => {}),
    out: () => out,
    err: () => err,
  };
}

/** Run `ftr argv` in this process, with the io of {@link captureIO}. */
export async function runCli(argv: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  const io = captureIO(options);
  const code = await main(argv, io);
  // Let the last writes through the streams.
  await new Promise((resolve) => setImmediate(resolve));
  return { code, stdout: io.out(), stderr: io.err() };
}

/** A running `ftr` child process. */
export interface CliProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** What it printed so far. */
  output(): { stdout: string; stderr: string };
  /** Resolves when it has exited (by itself or by a signal). */
  readonly done: Promise<CliResult & { signal: NodeJS.Signals | null }>;
}

/** Start `ftr argv` as a child process: `node --import tsx src/cli/bin.ts argv`. */
export function spawnCli(argv: readonly string[], options: CliOptions = {}): CliProcess {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of INHERITED_CREDENTIALS) delete env[name];
  const child = spawn(process.execPath, [...CLI_NODE_ARGS, ...argv], {
    cwd: options.cwd ?? process.cwd(),
    env: { ...env, ...options.env, NO_COLOR: "1" },
    stdio: ["pipe", "pipe", "pipe"],
  });
  if (child.pid === undefined) throw new Error("could not start the ftr child process");
  child.stdin.end(options.stdin ?? "");
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  const done = new Promise<CliResult & { signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once("error", reject);
    // "close" rather than "exit": every byte of output has arrived by then.
    child.once("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, pid: child.pid, output: () => ({ stdout, stderr }), done };
}

/** Run `ftr argv` as a child process and wait for it. */
export async function runCliProcess(argv: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  const { code, stdout, stderr } = await spawnCli(argv, options).done;
  return { code, stdout, stderr };
}
