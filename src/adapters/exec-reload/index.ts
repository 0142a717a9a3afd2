import type { AdapterContext, Reloader } from "../types.ts";
import { formatDuration } from "../../util/time.ts";
import { describeEnd, lastLines, runCommand } from "../support/process.ts";
import type { ExecReloadConfig } from "./schema.ts";
import type { OptionsOf } from "../support/config.ts";

/** Options of the `exec` reloader (already validated; durations in ms, cwd absolute). */
export type ExecReloaderOptions = OptionsOf<ExecReloadConfig, "cwd" | "env">;

/** The reload command failed, timed out or was interrupted. */
export class ExecReloadError extends Error {
  override readonly name = "ExecReloadError";
  /** Exit code, or null when it timed out or was killed. */
  readonly exitCode: number | null;
  readonly timedOut: boolean;
  constructor(message: string, exitCode: number | null, timedOut: boolean) {
    super(message);
    this.exitCode = exitCode;
    this.timedOut = timedOut;
  }
}

/**
 * Runs a command that makes the consumer pick up the new secret (restart a service, roll a
 * deployment) and waits for it to exit 0. It is told the environment and run id, never the token:
 * it should read the secret from where the consumer reads it.
 */
export function createExecReloader(options: ExecReloaderOptions): Reloader {
  const display = options.command.join(" ");
  return {
    description: `exec ${display}`,
    async run(ctx: AdapterContext) {
      const result = await runCommand({
        argv: options.command,
        timeoutMs: options.timeoutMs,
        env: { ...options.env, FTR_ENVIRONMENT: ctx.environment, FTR_RUN_ID: ctx.runId },
        onLine: (stream, line) => ctx.log.debug(line, { command: options.command[0], stream }),
        ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
        ...(ctx.signal === undefined ? {} : { signal: ctx.signal }),
      });
      if (result.code === 0 && !result.timedOut && !result.aborted) return;
      const tail = lastLines(result.stderr, 3);
      throw new ExecReloadError(
        `reload command ${display} ${describeEnd(result, formatDuration(options.timeoutMs))}` +
          (tail ? `: ${tail}` : ""),
        result.code,
        result.timedOut,
      );
    },
  };
}

/** The registry's entry point (see `../registry.ts`). */
export { createExecReloader as create };
