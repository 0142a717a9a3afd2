import type { Verifier, VerifyContext, VerifyResult } from "../types.ts";
import { errorMessage, resolveDeps, type AdapterDeps } from "../support/deps.ts";
import { formatDuration } from "../../util/time.ts";
import { pollUntil, PollTimeoutError, type Probe } from "../support/poll.ts";
import { describeEnd, lastLines, runCommand } from "../support/process.ts";
import type { ExecVerifyConfig } from "./schema.ts";
import type { OptionsOf } from "../support/config.ts";

/** Options of the `exec` verifier (already validated; durations in ms). */
export type ExecVerifierOptions = OptionsOf<ExecVerifyConfig, "intervalMs" | "cwd" | "env">;

/**
 * Runs a check command, which learns the expected token id from `FTR_TOKEN_ID` (an id, not a
 * secret), and passes when it exits 0 within the timeout.
 */
export function createExecVerifier(options: ExecVerifierOptions, deps: AdapterDeps = {}): Verifier {
  const { clock } = resolveDeps(deps);
  const display = options.command.join(" ");
  return {
    description: `exec ${display}`,
    async verify(ctx: VerifyContext) {
      let attempts = 0;
      let last = "";
      try {
        return await pollUntil(
          {
            deadline: clock.now() + options.timeoutMs,
            interval: options.intervalMs ?? 0,
            signal: ctx.signal,
            clock,
            onWait: ctx.onWaiting,
            // Without an interval the command runs once.
            ...(options.intervalMs === undefined ? { maxAttempts: 1 } : {}),
          },
          async ({ remaining }): Promise<Probe<VerifyResult>> => {
            if (remaining <= 0) return { done: false, reason: last };
            attempts += 1;
            try {
              const result = await runCommand({
                argv: options.command,
                timeoutMs: remaining,
                env: {
                  ...options.env,
                  FTR_TOKEN_ID: ctx.tokenId,
                  FTR_ENVIRONMENT: ctx.environment,
                  FTR_RUN_ID: ctx.runId,
                },
                onLine: (stream, line) => ctx.log.debug(line, { command: options.command[0], stream }),
                ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
                ...(ctx.signal === undefined ? {} : { signal: ctx.signal }),
              });
              if (result.code === 0 && !result.timedOut && !result.aborted) {
                const out = lastLines(result.stdout);
                return {
                  done: true,
                  value: { ok: true, detail: `${display} exited 0${out ? `: ${out}` : ""}` },
                };
              }
              const tail = lastLines(result.stderr) || lastLines(result.stdout);
              last = `${describeEnd(result, formatDuration(options.timeoutMs))}${tail ? `: ${tail}` : ""}`;
              return { done: false, reason: last };
            } catch (error) {
              // Cannot start: running it again will not help.
              return { done: true, value: { ok: false, detail: `${display}: ${errorMessage(error)}` } };
            }
          },
        );
      } catch (error) {
        // Out of time or interrupted: report what the last run said.
        if (!(error instanceof PollTimeoutError) && !ctx.signal?.aborted) throw error;
      }
      const tries = attempts > 1 ? ` (${attempts} attempts)` : "";
      return { ok: false, detail: `${display} ${last || "did not run before the timeout"}${tries}` };
    },
  };
}

/** The registry's entry point (see `../registry.ts`). */
export { createExecVerifier as create };
