/** `verify: - { type: token-in-use }`: the config as written, and the verifier's Options. */
import * as z from "zod";
import type { AdapterTarget } from "../support/describe.ts";
import { checkInterval, duration, intervalField, type ConfigContext } from "../support/config.ts";

/** The `token-in-use` verify step: Fastly reports the new token used after the switch-over. */
export function tokenInUseSchema(_ctx: ConfigContext) {
  return z
    .strictObject({
      type: z.literal("token-in-use"),
      timeout: duration("Give up after this long.", "2m"),
      interval: intervalField(),
    })
    .meta({
      description: "Wait until Fastly reports the new token used after the switch-over (last_used_at).",
    })
    .transform(({ type, timeout, interval }, issues) => {
      const step = { timeoutMs: timeout, intervalMs: interval };
      checkInterval(issues, step, " so the check can be retried");
      return { type, ...step };
    });
}

/** Passes once Fastly reports the expected token used after the switch-over (`last_used_at`). */
export type TokenInUseConfig = z.output<ReturnType<typeof tokenInUseSchema>>;

/** What Fastly must report, and for how long it is asked. */
export function describeTokenInUse(spec: TokenInUseConfig): AdapterTarget {
  return {
    type: "token-in-use",
    summary: "Fastly reports the new token used",
    target: {},
    waitsFor: "the new token's last_used_at to pass the switch-over",
    timeoutMs: spec.timeoutMs,
  };
}
