import type { Verifier, VerifyContext } from "../types.ts";
import { errorMessage, resolveDeps, type AdapterDeps } from "../support/deps.ts";
import { formatDuration } from "../../util/time.ts";
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
  const { now, sleep } = resolveDeps(deps);
  const display = options.command.join(" ");
  return {
    description: `exec ${display}`,
    async verify(ctx: VerifyContext) {
      const deadline = now().getTime() + options.timeoutMs;
      let attempts = 0;
      let last = "";
      for (;;) {
        const remaining = deadline - now().getTime();
        if (remaining <= 0) break;
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
            return { ok: true, detail: `${display} exited 0${out ? `: ${out}` : ""}` };
          }
          const tail = lastLines(result.stderr) || lastLines(result.stdout);
          last = `${describeEnd(result, formatDuration(options.timeoutMs))}${tail ? `: ${tail}` : ""}`;
          if (result.aborted) break;
        } catch (error) {
          // Cannot start: running it again will not help.
          return { ok: false, detail: `${display}: ${errorMessage(error)}` };
        }
        if (options.intervalMs === undefined || ctx.signal?.aborted) break;
        const pause = Math.min(options.intervalMs, deadline - now().getTime());
        if (pause <= 0) break;
        try {
          await sleep(pause, ctx.signal);
        } catch {
          break;
        }
      }
      const tries = attempts > 1 ? ` (${attempts} attempts)` : "";
      return { ok: false, detail: `${display} ${last || "did not run before the timeout"}${tries}` };
    },
  };
}

/** The registry's entry point (see `../registry.ts`). */
export { createExecVerifier as create };
