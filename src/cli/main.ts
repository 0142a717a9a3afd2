/**
 * The command line: a thin layer over the library. Commands live in `commands/`, one module each,
 * registered here by hand from their names, options and help alone; each command's body (in
 * `actions/`) and everything it needs are imported when the command runs, so `--help` and a typo
 * load nothing heavy. Only this entry point decides exit codes: 0 done, 1 failed or refused by a
 * remote, 2 bad usage or config, 130/143 interrupted (docs/operations.md).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Command, CommanderError } from "commander";
import { escapeControl, escapeControlLines } from "../util/escape.ts";
import {
  exitCodeFor,
  Interrupted,
  interruptionOf,
  runHardExitCleanups,
  type StopSignal,
} from "../util/interrupt.ts";
import { redact } from "../util/redact.ts";
import { VERSION } from "../version.ts";
import type { CommandContext } from "./context.ts";
import { colours, OsError, println, RefusedError, RunFailed, UsageError, type CliIO } from "./io.ts";
import * as completion from "./commands/completion.ts";
import * as demo from "./commands/demo.ts";
import * as emulator from "./commands/emulator.ts";
import * as init from "./commands/init.ts";
import * as monitor from "./commands/monitor.ts";
import * as rotation from "./commands/rotation.ts";
import * as sandbox from "./commands/sandbox.ts";
import * as validate from "./commands/validate.ts";

export type { CommandContext } from "./context.ts";

const MODULES: { register(program: Command, ctx: CommandContext): void }[] = [
  validate,
  init,
  rotation,
  monitor,
  emulator,
  demo,
  sandbox,
  completion,
];

/** Allows plain http to an API endpoint that is not loopback; see `endpointFor`. */
const INSECURE_FLAG = "--insecure-endpoint";
/** No colours, as `NO_COLOR=1` (any command). */
const NO_COLOR_FLAG = "--no-color";

/** Run the CLI with `argv` (without node and script); resolves to the exit code. */
export async function main(argv: readonly string[], givenIO: CliIO = processIO()): Promise<number> {
  let exitCode = 0;
  // A global flag, accepted before or after the command name (but not after `--`).
  const end = argv.indexOf("--") === -1 ? argv.length : argv.indexOf("--");
  const insecureEndpoint = argv.slice(0, end).includes(INSECURE_FLAG);
  // --no-color, as NO_COLOR: every colour function reads the environment.
  const noColor = argv.slice(0, end).includes(NO_COLOR_FLAG);
  const withColor = noColor ? { ...givenIO, env: { ...givenIO.env, NO_COLOR: "1" } } : givenIO;
  const io: CliIO = insecureEndpoint ? { ...withColor, insecureEndpoint } : withColor;
  const args = [
    ...argv.slice(0, end).filter((a) => a !== INSECURE_FLAG && a !== NO_COLOR_FLAG),
    ...argv.slice(end),
  ];
  const detailed = argv.slice(0, end).includes("--detailed-exitcode");
  const program = new Command("ftr")
    .description(
      "Rotate Fastly automation tokens end to end, safely, for every environment at once, and warn well before any token expires.",
    )
    .version(VERSION, "-V, --version")
    .option("--debug", "print the stack of an unexpected failure")
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

Config: --config, else FTR_CONFIG, else ./ftr.yaml when it exists. --no-color (any command),
or NO_COLOR, turns colours off.

Credentials: FASTLY_API_TOKEN (a superuser's user token); the sudo password from a hidden
prompt, --password-stdin or FASTLY_SUDO_PASSWORD, never from argv. FASTLY_API_ENDPOINT
overrides the API base URL; it must be https:// unless it is loopback, or ${INSECURE_FLAG}
(any command) allows plain http to another host. HTTPS_PROXY, HTTP_PROXY and NO_PROXY are
honoured; trust a private CA with NODE_EXTRA_CA_CERTS (NODE_TLS_REJECT_UNAUTHORIZED=0 is
refused unless ${INSECURE_FLAG} is given). Exit codes: 0 done, 1 failed or refused by a
remote, 2 bad usage or config, 130/143 interrupted by SIGINT/SIGTERM
(docs/operations.md).`,
    );
  program.enablePositionalOptions();

  const ctx: CommandContext = {
    io,
    run: async (body) => {
      exitCode = await body();
    },
  };
  for (const module of MODULES) module.register(program, ctx);
  const defaultConfig = defaultConfigPath(io);
  for (const command of program.commands) {
    command.exitOverride();
    command.configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
    // --config defaults to FTR_CONFIG, else ./ftr.yaml when it exists.
    if (defaultConfig !== undefined && command.options.some((o) => o.attributeName() === "config")) {
      command.setOptionValueWithSource("config", defaultConfig, "default");
    }
  }

  // Bare `ftr`: the help on stdout, and exit 2 as for any other usage error.
  if (args.length === 0) {
    io.stdout.write(program.helpInformation());
    return 2;
  }

  // Until a command says more (a rotation names its environment and step), the command's name.
  program.hook("preAction", (_program, action) => {
    if (io.activity) io.activity.current ??= action.name();
    checkCertificateChecks(io, action.name());
  });

  try {
    await program.parseAsync(args, { from: "user" });
    // A command that finished its work despite a signal (`serve` shutting down) exits as it says;
    // one that stopped because of it exits 130/143.
    const stopped = interruptionOf(io.signal);
    return stopped && exitCode !== 0 ? stopped.exitCode : exitCode;
  } catch (error) {
    const stopped = interruptionOf(io.signal);
    if (stopped) return stopped.exitCode;
    const code = await reportError(io, error, program.opts<{ debug?: boolean }>().debug === true);
    // `plan --detailed-exitcode` keeps 2 for "something to rotate": every error is 1 there.
    return detailed && code === 2 ? 1 : code;
  }
}

/** Commands that send credentials over the network (the emulator and the demo stay on loopback). */
const NETWORK_COMMANDS = new Set([
  "plan",
  "rotate",
  "resume",
  "rollback",
  "status",
  "check",
  "serve",
  "init",
]);

/** The runs that have printed the certificate-checks warning: at most one a run. */
const warnedTls = new WeakSet<CliIO>();

/**
 * `NODE_TLS_REJECT_UNAUTHORIZED=0` turns certificate checks off for every connection of the process:
 * `Fastly-Key`, the sudo password and every other credential would go to whoever intercepts the
 * connection, with only Node's generic warning. ftr refuses (exit 2) unless the user accepts it with
 * `--insecure-endpoint`, and then says so once. `validate` sends nothing and only warns.
 */
function checkCertificateChecks(io: CliIO, command: string): void {
  if (io.env.NODE_TLS_REJECT_UNAUTHORIZED !== "0") return;
  const what =
    "NODE_TLS_REJECT_UNAUTHORIZED=0 turns off certificate checks for every connection: the Fastly token, the sudo password and every other credential would go to whoever intercepts them";
  if (NETWORK_COMMANDS.has(command) && io.insecureEndpoint !== true) {
    throw new UsageError(
      `${what}; unset it (for a proxy or private CA of your network, give its certificate with NODE_EXTRA_CA_CERTS=/path/to/ca.pem), or pass ${INSECURE_FLAG} to accept the risk`,
    );
  }
  if (warnedTls.has(io)) return;
  warnedTls.add(io);
  println(io.stderr, `${colours(io.stderr, io.env).yellow("warning")} ${what} (${INSECURE_FLAG})`);
}

/** The config file `--config` defaults to: FTR_CONFIG, else `ftr.yaml` in the working directory. */
function defaultConfigPath(io: CliIO): string | undefined {
  const fromEnv = io.env.FTR_CONFIG;
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  return existsSync(join(io.cwd, "ftr.yaml")) ? "ftr.yaml" : undefined;
}

/**
 * Print one line for an error and choose the exit code. The error classes of the config, Fastly and
 * rotation modules are imported here, on the way out, so that start-up does not load them.
 */
export async function reportError(io: CliIO, error: unknown, debug = false): Promise<number> {
  const c = colours(io.stderr, io.env);
  // Error messages quote names and server answers: their control characters are made visible.
  const say = (text: string, lines = false) =>
    println(io.stderr, `${c.red("error:")} ${lines ? escapeControlLines(text) : escapeControl(text)}`);
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
  if (error instanceof RunFailed) return 1;
  if (error instanceof UsageError) {
    say(error.message);
    return 2;
  }
  if (error instanceof RefusedError || error instanceof OsError) {
    say(error.message);
    if (debug && error.cause instanceof Error) println(io.stderr, redact(error.cause.stack ?? ""));
    return 1;
  }
  const [
    { ConfigError, formatIssues },
    { FastlyApiError },
    { LockedError, UnsafeStateDirError },
    { RollbackError },
    { AdapterSetupError },
  ] = await Promise.all([
    import("../config/parse.ts"),
    import("../fastly/errors.ts"),
    import("../rotation/journal.ts"),
    import("../rotation/resume.ts"),
    import("../adapters/support/deps.ts"),
  ]);
  if (error instanceof ConfigError) {
    const [only] = error.issues;
    if (error.issues.length === 1 && only !== undefined && only.path === "" && only.line === undefined) {
      // The file itself (missing, unreadable): one line naming it.
      say(`${error.source}: ${only.message}`);
    } else {
      say(
        `the config is not valid:\n${formatIssues({ errors: error.issues, warnings: [] }, error.source)
          .map(escapeControl)
          .join("\n")}`,
        true,
      );
    }
    return 2;
  }
  if (error instanceof AdapterSetupError) {
    // An adapter that cannot be made from its config and the environment (a variable unset): 2.
    say(redact(error.message));
    return 2;
  }
  if (error instanceof UnsafeStateDirError) {
    // An unsafe state directory is set up wrongly, like a config: 2. A live holder is a failure: 1.
    say(error.message);
    return 2;
  }
  if (error instanceof RollbackError || error instanceof LockedError || error instanceof FastlyApiError) {
    say(error.message);
    return 1;
  }
  const os = OsError.from(error);
  if (os !== undefined) {
    say(os.message);
    if (debug && error instanceof Error) println(io.stderr, redact(error.stack ?? ""));
    return 1;
  }
  const text =
    error instanceof Error ? (debug ? (error.stack ?? error.message) : error.message) : String(error);
  say(`unexpected failure (please report it${debug ? "" : "; --debug shows where"}): ${redact(text)}`);
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
    // A getter: touching process.stdin sets up a stream for it, which costs start-up time that most
    // commands never need.
    get stdin() {
      return process.stdin;
    },
    env: { ...process.env, ...credentials },
    cwd: process.cwd(),
    interrupted,
    signal: controller.signal,
    activity,
  };
}
