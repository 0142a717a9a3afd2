/** `secret: { type: exec }`: the config as written, and the store's Options it normalises to. */
import { resolve } from "node:path";
import * as z from "zod";
import { commandLine, type AdapterTarget } from "../support/describe.ts";
import { argv, cwdField, defined, duration, envField, type ConfigContext } from "../support/config.ts";

/** The `exec` secret entry: commands that write (stdin) and read (stdout) the token value. */
export function execSecretSchema(ctx: ConfigContext) {
  return z
    .strictObject({
      type: z.literal("exec"),
      write: argv("Command that stores the value it receives on stdin.", [
        "sh",
        "-c",
        "aws secretsmanager put-secret-value --secret-id my/secret --secret-string file:///dev/stdin",
      ]),
      read: argv(
        "Command that prints the current value on stdout. Without it the deployed token is unknown.",
        [
          "sh",
          "-c",
          "aws secretsmanager get-secret-value --secret-id my/secret --query SecretString --output text",
        ],
      ).optional(),
      timeout: duration("Time limit for each command.", "30s"),
      cwd: cwdField,
      env: envField,
    })
    .meta({ description: "Store the token value with commands (the value travels on stdin/stdout only)." })
    .transform(({ type, write, read, timeout, cwd, env }) => {
      if (read === undefined) {
        ctx.warn(
          ["read"],
          "without a read command the deployed token cannot be identified, so plans cannot say which token is in use; add read: [...] printing the current value",
        );
      }
      return {
        type,
        write,
        ...defined({ read }),
        timeoutMs: timeout,
        cwd: resolve(ctx.baseDir, cwd ?? "."),
        env,
      };
    });
}

/** Commands that write (value on stdin) and optionally read (value on stdout) the token value. */
export type ExecSecretConfig = z.output<ReturnType<typeof execSecretSchema>>;

/** The commands that write (and read) the token. */
export function describeExecSecret(spec: ExecSecretConfig): AdapterTarget {
  return {
    type: "exec",
    summary: `command ${commandLine(spec.write)} (value on stdin)`,
    target: {
      write: commandLine(spec.write),
      ...(spec.read ? { read: commandLine(spec.read) } : {}),
      cwd: spec.cwd,
    },
    timeoutMs: spec.timeoutMs,
  };
}
