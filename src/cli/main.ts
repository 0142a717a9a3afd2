/**
 * The command line: a thin layer over the library. Commands live in `commands/`, one module each,
 * registered here by hand. Only this entry point decides exit codes: 0 done, 1 failed, 2 bad usage
 * or config, 130/143 stopped by SIGINT/SIGTERM.
 */
import { Command, CommanderError } from "commander";
import { ConfigError, formatIssues } from "../config/index.ts";
import { FastlyApiError } from "../fastly/index.ts";
import { LockedError } from "../rotation/journal.ts";
import { RollbackError } from "../rotation/resume.ts";
import {
  exitCodeFor,
  Interrupted,
  interruptionOf,
  runHardExitCleanups,
  type StopSignal,
} from "../util/interrupt.ts";
import { redact } from "../util/redact.ts";
import { VERSION } from "../version.ts";
import { colours, println, RunFailed, UsageError, type CliIO } from "./io.ts";
import * as demo from "./commands/demo.ts";
import * as emulator from "./commands/emulator.ts";
import * as monitor from "./commands/monitor.ts";
import * as rotation from "./commands/rotation.ts";
import * as validate from "./commands/validate.ts";

/** What a command module gets to register itself. */
export interface CommandContext {
  readonly io: CliIO;
  /** Run a command body; its number is the exit code. */
  readonly run: (body: () => Promise<number>) => Promise<void>;
}

const MODULES: { register(program: Command, ctx: CommandContext): void }[] = [
  validate,
  rotation,
  monitor,
  emulator,
  demo,
];

/** Run the CLI with `argv` (without node and script); resolves to the exit code. */
export async function main(argv: readonly string[], io: CliIO = processIO()): Promise<number> {
  let exitCode = 0;
  const program = new Command("ftr")
    .description(
      "Rotate Fastly automation tokens end to end, safely, for every environment at once, and warn well before any token expires.",
    )
    .version(VERSION, "-V, --version")
    .showHelpAfterError("(run with --help for usage and examples)")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .addHelpText(
      "after",
      `
Examples:
  $ ftr demo                                    the whole job on the embedded emulator
  $ ftr validate --config ftr.yaml
  $ ftr plan --config ftr.yaml --env staging
  $ FASTLY_API_TOKEN=... ftr rotate --config ftr.yaml
  $ ftr check --config ftr.yaml --within 30d    exit 1 when a token expires soon (cron, CI)

Credentials: FASTLY_API_TOKEN (a superuser's user token); the sudo password from a hidden
prompt, --password-stdin or FASTLY_SUDO_PASSWORD, never from argv. FASTLY_API_ENDPOINT
overrides the API base URL. Exit codes: 0 done, 1 failed, 2 bad usage or config, 130/143 interrupted (SIGINT/SIGTERM).`,
    );
  program.enablePositionalOptions();

  const ctx: CommandContext = {
    io,
    run: async (body) => {
      exitCode = await body();
    },
  };
  for (const module of MODULES) module.register(program, ctx);
  for (const command of program.commands) {
    command.exitOverride();
    command.configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
  }

  // Until a command says more (a rotation names its environment and step), the command's name.
  program.hook("preAction", (_program, action) => {
    if (io.activity) io.activity.current ??= action.name();
  });

  try {
    await program.parseAsync([...argv], { from: "user" });
    // A command that finished its work despite a signal (`serve` shutting down) exits as it says;
    // one that stopped because of it exits 130/143.
    const stopped = interruptionOf(io.signal);
    return stopped && exitCode !== 0 ? stopped.exitCode : exitCode;
  } catch (error) {
    const stopped = interruptionOf(io.signal);
    if (stopped) return stopped.exitCode;
    return reportError(io, error);
  }
}

/** Print one line for an error and choose the exit code. */
export function reportError(io: CliIO, error: unknown): number {
  const c = colours(io.stderr, io.env);
  const say = (text: string) => println(io.stderr, `${c.red("error:")} ${text}`);
  if (error instanceof CommanderError) {
    if (
      error.code === "commander.helpDisplayed" ||
      error.code === "commander.version" ||
      error.code === "commander.help"
    ) {
      return 0;
    }
    return 2; // commander already printed the message
  }
  if (error instanceof ConfigError) {
    say(`the config is not valid:\n${formatIssues({ errors: error.issues, warnings: [] }).join("\n")}`);
    return 2;
  }
  if (error instanceof UsageError || error instanceof RollbackError || error instanceof LockedError) {
    say(error.message);
    return error instanceof UsageError ? 2 : 1;
  }
  if (error instanceof RunFailed) return 1;
  if (error instanceof FastlyApiError) {
    say(error.message);
    return 1;
  }
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
  say(`unexpected failure (please report it): ${redact(text)}`);
  return 1;
}

/**
 * The real process's streams and environment; `credentials` (taken out of `process.env` at start)
 * are seen by commands through `env` only.
 *
 * The first SIGINT/SIGTERM prints `stopping: <what>…` and aborts the command's signal: the command
 * stops what is running, starts nothing new, releases the lock and exits 130/143. A second signal
 * exits at once with the same code, after the synchronous cleanups (the lock, child process groups).
 */
export function processIO(credentials: Readonly<Record<string, string>> = {}): CliIO {
  let resolveInterrupted: () => void = () => {};
  const interrupted = new Promise<void>((resolve) => {
    resolveInterrupted = resolve;
  });
  const controller = new AbortController();
  const activity: { current: string | undefined } = { current: undefined };
  const onSignal = (signal: StopSignal) => {
    if (!controller.signal.aborted) {
      process.stderr.write(`stopping${activity.current ? `: ${activity.current}` : ""}…\n`);
      controller.abort(new Interrupted(signal));
      resolveInterrupted();
      return;
    }
    process.stderr.write("stopping now\n");
    runHardExitCleanups();
    process.exit(exitCodeFor(signal));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: { ...process.env, ...credentials },
    cwd: process.cwd(),
    interrupted,
    signal: controller.signal,
    activity,
  };
}
