import type { AutomationToken } from "../../fastly/types.ts";
import type { Verifier, VerifyContext, VerifyResult } from "../types.ts";
import { errorMessage, resolveDeps, type AdapterDeps } from "../support/deps.ts";
import { formatDuration, formatTime } from "../../util/time.ts";
import type { TokenInUseConfig } from "./schema.ts";
import type { OptionsOf } from "../support/config.ts";
import { pollUntil, PollTimeoutError, type Probe } from "../support/poll.ts";

/** Options of the `token-in-use` verifier (already validated; durations in ms). */
export type TokenInUseOptions = OptionsOf<TokenInUseConfig, "intervalMs">;

const DEFAULT_INTERVAL_MS = 5000;

/**
 * Whether a recorded use of the token counts as the consumer's, given when it was switched over.
 * Fastly keeps only the last use, with one-second resolution, and this tool (its rotation test step,
 * or a `status`/`serve` running elsewhere) may be that last user: a use counts only when it is at
 * or after the switch-over second and came from another User-Agent. When the tool's own request
 * hides the consumer's, the next poll sees the consumer again, since it keeps using its token.
 */
export function isConsumerUse(
  token: Pick<AutomationToken, "lastUsedAt" | "userAgent">,
  since: Date,
  ownUserAgent: string,
): boolean {
  if (token.lastUsedAt === undefined) return false;
  const sinceSecond = Math.floor(since.getTime() / 1000) * 1000;
  const ownProduct = ownUserAgent.split(" ")[0] ?? ownUserAgent;
  const ours = token.userAgent !== undefined && token.userAgent.startsWith(ownProduct);
  return token.lastUsedAt.getTime() >= sinceSecond && !ours;
}

/**
 * Polls the expected token's `last_used_at` through the API until the consumer has used it since
 * the switch-over: the most direct evidence that the consumer runs with the new secret.
 */
export function createTokenInUseVerifier(options: TokenInUseOptions, deps: AdapterDeps = {}): Verifier {
  const { clock } = resolveDeps(deps);
  const interval = options.intervalMs ?? DEFAULT_INTERVAL_MS;
  return {
    description: `token-in-use (timeout ${formatDuration(options.timeoutMs)})`,
    async verify(ctx: VerifyContext): Promise<VerifyResult> {
      let last: AutomationToken | undefined;
      let lastError: string | undefined;
      try {
        return await pollUntil(
          {
            deadline: clock.now() + options.timeoutMs,
            interval,
            signal: ctx.signal,
            clock,
            onWait: ctx.onWaiting,
          },
          async (): Promise<Probe<VerifyResult>> => {
            try {
              last = await ctx.client.getAutomationToken(ctx.tokenId);
              lastError = undefined;
              if (isConsumerUse(last, ctx.since, ctx.ownUserAgent)) {
                return {
                  done: true,
                  value: { ok: true, detail: `token ${ctx.tokenId} used ${describeUse(last)}` },
                };
              }
              return {
                done: false,
                reason: `not used since the switch-over yet (${last.lastUsedAt === undefined ? "never used" : `last used ${describeUse(last)}`})`,
              };
            } catch (error) {
              lastError = errorMessage(error);
              return { done: false, reason: lastError };
            }
          },
        );
      } catch (error) {
        if (!(error instanceof PollTimeoutError) && !ctx.signal?.aborted) throw error;
      }
      const interrupted = ctx.signal?.aborted ? " (interrupted)" : "";
      if (lastError !== undefined) {
        return {
          ok: false,
          detail: `could not read token ${ctx.tokenId}: ${lastError}${interrupted}`,
        };
      }
      const seen = last?.lastUsedAt === undefined ? "never used" : `last used ${describeUse(last)}`;
      return {
        ok: false,
        detail:
          `token ${ctx.tokenId} not used since ${formatTime(ctx.since)} (${seen})${interrupted}; ` +
          "is the consumer restarted and reading the new secret?",
      };
    },
  };
}

function describeUse(token: AutomationToken): string {
  const at = token.lastUsedAt === undefined ? "at an unknown time" : `at ${formatTime(token.lastUsedAt)}`;
  return `${at} by ${token.userAgent ?? "unknown user agent"} from ${token.ip ?? "unknown ip"}`;
}

/** The registry's entry point (see `../registry.ts`). */
export { createTokenInUseVerifier as create };
