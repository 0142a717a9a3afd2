/** `verify: - { type: exec }`: the config as written, and the verifier's Options. */
import { resolve } from "node:path";
import * as z from "zod";
import { commandLine, type AdapterTarget } from "../support/describe.ts";
import {
  argv,
  checkInterval,
  cwdField,
  duration,
  envField,
  intervalField,
  type ConfigContext,
} from "../support/config.ts";

/** The `exec` verify step: a command retried until it exits 0. */
export function execVerifySchema(ctx: ConfigContext) {
  return z
    .strictObject({
      type: z.literal("exec"),
      command: argv("Command that exits 0 when the consumer is healthy; retried until the timeout.", [
        "./check-exporter.sh",
      ]),
      timeout: duration("Give up after this long.", "30s"),
      interval: intervalField(),
      cwd: cwdField,
      env: envField,
    })
    .meta({ description: "Retry a command until it exits 0." })
    .transform(({ type, command, timeout, interval, cwd, env }, issues) => {
      const step = { timeoutMs: timeout, intervalMs: interval };
      checkInterval(issues, step, " so the check can be retried");
      return { type, command, ...step, cwd: resolve(ctx.baseDir, cwd ?? "."), env };
    });
}

/** Passes once a command exits 0 (retried every `intervalMs` until `timeoutMs`). */
export type ExecVerifyConfig = z.output<ReturnType<typeof execVerifySchema>>;

/** The command retried, and for how long. */
export function describeExecVerify(spec: ExecVerifyConfig): AdapterTarget {
  return {
    type: "exec",
    summary: `run ${commandLine(spec.command)} until it exits 0`,
    target: { command: commandLine(spec.command), cwd: spec.cwd },
    waitsFor: "the command to exit 0",
    timeoutMs: spec.timeoutMs,
  };
}
