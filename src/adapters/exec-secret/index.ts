import type { SecretStore } from "../types.ts";
import { formatDuration } from "../../util/time.ts";
import { describeEnd, lastLines, runCommand, type CommandResult } from "../support/process.ts";
import type { AdapterDeps } from "../support/deps.ts";
import type { ExecSecretConfig } from "./schema.ts";
import type { OptionsOf } from "../support/config.ts";

/** Options of the `exec` secret store (already validated; durations in ms). */
export type ExecSecretStoreOptions = OptionsOf<ExecSecretConfig, "cwd" | "env">;

/** A command of the exec secret store failed; stderr is included with any secret value redacted. */
export class ExecSecretError extends Error {
  override readonly name = "ExecSecretError";
  /** Which command: `read` or `write`. */
  readonly operation: "read" | "write";
  /** Exit code, or null when it timed out or was killed. */
  readonly exitCode: number | null;
  constructor(operation: "read" | "write", exitCode: number | null, message: string) {
    super(message);
    this.operation = operation;
    this.exitCode = exitCode;
  }
}

/**
 * A secret kept wherever two commands put it: `write` receives the value on stdin (never in argv
 * or the environment, where other users and crash reports can see it), `read` prints it. Nothing
 * is durable between calls: the staged and previous values live in this process's memory only.
 */
export function createExecSecretStore(options: ExecSecretStoreOptions, deps: AdapterDeps = {}): SecretStore {
  const staged = new Map<string, string>();
  /** Runs whose write was started: a failed write may still have changed the value. */
  const attempted = new Set<string>();
  let previous: string | undefined;
  let previousKnown = false;
  const timeoutText = formatDuration(options.timeoutMs);

  const run = async (
    operation: "read" | "write",
    argv: readonly string[],
    stdin: string | undefined,
    secrets: readonly (string | undefined)[],
  ): Promise<CommandResult> => {
    const result = await runCommand({
      argv,
      timeoutMs: options.timeoutMs,
      ...(stdin === undefined ? {} : { stdin }),
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      ...(options.env === undefined ? {} : { env: options.env }),
      ...(deps.signal ? { signal: deps.signal } : {}),
    });
    if (result.code === 0 && !result.timedOut) return result;
    // A failing command may echo what it was given; make sure no value reaches the message.
    let detail = lastLines(result.stderr);
    for (const secret of [...secrets, ...staged.values(), previous]) {
      if (secret) detail = detail.split(secret).join("[REDACTED]");
    }
    throw new ExecSecretError(
      operation,
      result.code,
      `secret ${operation} command ${argv[0] ?? ""} ${describeEnd(result, timeoutText)}` +
        (detail ? `: ${detail}` : ""),
    );
  };

  const readCurrent = async (): Promise<string | undefined> => {
    if (!options.read) return undefined;
    const result = await run("read", options.read, undefined, []);
    const value = result.stdout.trim();
    return value === "" ? undefined : value;
  };

  const write = async (value: string): Promise<void> => {
    await run("write", options.write, value, [value]);
  };

  return {
    description: `exec ${options.write.join(" ")}`,
    durableStaging: false,

    read: readCurrent,

    stage(value, runId) {
      staged.set(runId, value);
      return Promise.resolve();
    },

    readStaged(runId) {
      return Promise.resolve(staged.get(runId));
    },

    async promote(runId) {
      const value = staged.get(runId);
      if (value === undefined) {
        throw new Error(`exec secret store: nothing staged for run ${runId} (staging is not durable)`);
      }
      const current = await readCurrent();
      // Already promoted (a repeated call): keep the remembered previous rather than overwrite it
      // with the new value.
      if (current === value && previousKnown) {
        staged.delete(runId);
        return;
      }
      previous = current;
      previousKnown = options.read !== undefined;
      attempted.add(runId);
      await write(value);
      staged.delete(runId);
    },

    readPrevious() {
      return Promise.resolve(previous);
    },

    async restorePrevious(runId) {
      if (!options.read) {
        throw new Error(
          "exec secret store: rollback needs a `read` command to remember the previous value; none is configured",
        );
      }
      // Never promoted (no write started): the current value is still the old one.
      if (staged.has(runId) && !attempted.has(runId)) return;
      if (!previousKnown || previous === undefined) {
        throw new Error(
          "exec secret store: no previous value to restore (promote did not run in this process, or the store was empty before it)",
        );
      }
      await write(previous);
    },

    discardStaged(runId) {
      staged.delete(runId);
      return Promise.resolve();
    },
  };
}

/** The registry's entry point (see `../registry.ts`). */
export { createExecSecretStore as create };
