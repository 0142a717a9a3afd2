/** `reload: - { type: exec }`: the config as written, and the reloader's Options. */
import { resolve } from "node:path";
import * as z from "zod";
import { commandLine, type AdapterTarget } from "../support/describe.ts";
import { argv, cwdField, duration, envField, type ConfigContext } from "../support/config.ts";

/** The `exec` reload step: run a command and wait for it to exit 0. */
export function execReloadSchema(ctx: ConfigContext) {
  return z
    .strictObject({
      type: z.literal("exec"),
      command: argv('Command to run, without a shell; use ["sh", "-c", "..."] when a shell is needed.', [
        "./restart-exporter.sh",
        "integration",
      ]),
      timeout: duration("Time limit.", "60s"),
      cwd: cwdField,
      env: envField,
    })
    .meta({ description: "Run a command and wait for it to exit 0." })
    .transform(({ type, command, timeout, cwd, env }) => ({
      type,
      command,
      timeoutMs: timeout,
      cwd: resolve(ctx.baseDir, cwd ?? "."),
      env,
    }));
}

/** Runs a command and waits for it to exit 0. */
export type ExecReloadConfig = z.output<ReturnType<typeof execReloadSchema>>;

/** The command run, and its time limit. */
export function describeExecReload(spec: ExecReloadConfig): AdapterTarget {
  return {
    type: "exec",
    summary: `run ${commandLine(spec.command)}`,
    target: { command: commandLine(spec.command), cwd: spec.cwd },
    waitsFor: "the command to exit 0",
    timeoutMs: spec.timeoutMs,
  };
}
