import { spawn } from "node:child_process";
import { CREDENTIAL_VARIABLES } from "../../util/credential-vars.ts";
import { withheldVariables } from "../../util/secret-env.ts";
import { onHardExit } from "../../util/interrupt.ts";
import { setLongTimeout } from "../../util/timer.ts";

/**
 * Variables never passed on to commands: the superuser's credential and password belong to this
 * process only, and a reload or verify script has no business seeing them.
 */
export const WITHHELD_ENV = CREDENTIAL_VARIABLES;

/** How to run one command. */
export interface CommandSpec {
  /** Program and arguments; run directly, never through a shell. */
  readonly argv: readonly string[];
  readonly cwd?: string;
  /** Added to (and overriding) the inherited environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** Written to the command's stdin, which is then closed. Without it stdin is empty. */
  readonly stdin?: string;
  /** The whole process group is killed after this long. */
  readonly timeoutMs: number;
  /** Kills the process group when aborted. */
  readonly signal?: AbortSignal;
  /** Called with every complete output line as it arrives. */
  readonly onLine?: (stream: "stdout" | "stderr", line: string) => void;
}

/** How a command ended. */
export interface CommandResult {
  /** Exit code, or null when it was ended by a signal. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
  readonly aborted: boolean;
}

/** Thrown when a command cannot be started at all (not found, not executable, bad cwd). */
export class CommandStartError extends Error {
  override readonly name = "CommandStartError";
  /** The program that failed to start. */
  readonly program: string;
  /** The system error code, e.g. `ENOENT`. */
  readonly code: string | undefined;
  constructor(program: string, code: string | undefined, cause: unknown) {
    super(`cannot run ${JSON.stringify(program)}: ${code ?? "spawn failed"}`, { cause });
    this.program = program;
    this.code = code;
  }
}

// Output beyond this is dropped: commands here print a value or a few status lines.
const MAX_CAPTURE = 1024 * 1024;
// After the main process exits, descendants may keep the pipes open; stop waiting for them.
const PIPE_GRACE_MS = 500;
// Between SIGTERM and SIGKILL on timeout.
const KILL_GRACE_MS = 2000;

/**
 * The environment a command gets: ours, minus the Fastly credentials and every secret variable the
 * config names (`captureSecretVariables`), plus `extra`.
 */
export function commandEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of WITHHELD_ENV) delete env[name];
  for (const name of withheldVariables()) delete env[name];
  return { ...env, ...extra };
}

/**
 * Runs a command in its own process group, so a timeout or abort kills everything it started.
 * Resolves with how it ended (any exit code); rejects only when it cannot be started.
 */
export function runCommand(spec: CommandSpec): Promise<CommandResult> {
  const [program, ...args] = spec.argv;
  if (program === undefined || program === "") {
    return Promise.reject(new Error("empty command"));
  }
  return new Promise<CommandResult>((resolve, reject) => {
    const child = spawn(program, args, {
      cwd: spec.cwd,
      env: commandEnv(spec.env),
      detached: true,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    const partial = { stdout: "", stderr: "" };
    let timedOut = false;
    let aborted = false;
    let settled = false;
    let killTimer: NodeJS.Timeout | undefined;
    let pipeTimer: NodeJS.Timeout | undefined;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;

    const killGroup = (sig: NodeJS.Signals): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        // ESRCH: the group is already gone.
      }
    };
    const terminate = (): void => {
      killGroup("SIGTERM");
      killTimer ??= setTimeout(() => killGroup("SIGKILL"), KILL_GRACE_MS);
    };
    // If this process must exit at once (a second signal), the command's group goes with it.
    const forgetGroup = onHardExit(() => killGroup("SIGKILL"));
    // Any length: Node's own timer would fire after 1 ms for a timeout from 24.9 days on.
    const timer = setLongTimeout(() => {
      timedOut = true;
      terminate();
    }, spec.timeoutMs);
    const onAbort = (): void => {
      aborted = true;
      terminate();
    };
    if (spec.signal?.aborted) onAbort();
    else spec.signal?.addEventListener("abort", onAbort, { once: true });

    const collect = (stream: "stdout" | "stderr", chunk: Buffer): void => {
      const text = chunk.toString("utf8");
      if (stream === "stdout") {
        if (stdout.length < MAX_CAPTURE) stdout += text;
      } else if (stderr.length < MAX_CAPTURE) stderr += text;
      if (!spec.onLine) return;
      const lines = (partial[stream] + text).split(/\r?\n/);
      partial[stream] = lines.pop() ?? "";
      for (const line of lines) spec.onLine(stream, line);
    };
    child.stdout.on("data", (chunk: Buffer) => collect("stdout", chunk));
    child.stderr.on("data", (chunk: Buffer) => collect("stderr", chunk));
    // A command that exits without reading its stdin makes our write fail with EPIPE: not our error.
    child.stdin.on("error", () => {});
    child.stdin.end(spec.stdin ?? "");

    const finish = (): void => {
      if (settled || exit === undefined) return;
      settled = true;
      forgetGroup();
      timer.clear();
      clearTimeout(killTimer);
      clearTimeout(pipeTimer);
      spec.signal?.removeEventListener("abort", onAbort);
      if (spec.onLine) {
        if (partial.stdout) spec.onLine("stdout", partial.stdout);
        if (partial.stderr) spec.onLine("stderr", partial.stderr);
      }
      resolve({ ...exit, stdout, stderr, timedOut, aborted });
    };
    child.on("error", (error: NodeJS.ErrnoException) => {
      if (settled) return;
      settled = true;
      forgetGroup();
      timer.clear();
      spec.signal?.removeEventListener("abort", onAbort);
      reject(new CommandStartError(program, error.code, error));
    });
    child.on("exit", (code, signal) => {
      exit = { code, signal };
      // If the command was killed, take the rest of its group with it.
      if (timedOut || aborted) killGroup("SIGKILL");
      pipeTimer = setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        finish();
      }, PIPE_GRACE_MS);
    });
    child.on("close", finish);
  });
}

/** The last `n` non-empty lines of `text`, joined with ` | `, for one-line error messages. */
export function lastLines(text: string, n = 1): string {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "")
    .slice(-n)
    .join(" | ");
}

/** Describes how a command ended, e.g. `exited with code 3` or `timed out after 5s`. */
export function describeEnd(result: CommandResult, timeoutText: string): string {
  if (result.timedOut) return `timed out after ${timeoutText} (process group killed)`;
  if (result.aborted) return "was interrupted";
  if (result.code !== null) return `exited with code ${result.code}`;
  return `was killed by ${result.signal ?? "a signal"}`;
}
