/** `secret: { type: file }`: the config as written, and the store's Options it normalises to. */
import { resolve } from "node:path";
import * as z from "zod";
import type { AdapterTarget } from "../support/describe.ts";
import { defined, warnTilde, type ConfigContext } from "../support/config.ts";

/** The `file` secret entry; paths resolve against the config file's directory. */
export function fileSecretSchema(ctx: ConfigContext) {
  return z
    .strictObject({
      type: z.literal("file"),
      path: z
        .string()
        .min(1, { error: "the path is empty; give the file that holds the token value" })
        .meta({
          description:
            "File holding the token value, relative to the config file's directory. Written atomically with mode 0600; the previous value is kept in `<path>.previous`.",
          examples: ["./secrets/integration.json"],
        }),
      jsonKey: z
        .string()
        .min(1, {
          error: "jsonKey is empty; give the key to update, or remove jsonKey to use the whole file",
        })
        .meta({
          description: "The file is a JSON object: read and write only this key, keeping the others.",
          examples: ["fastly-api-token"],
        })
        .optional(),
    })
    .superRefine((entry, issues) => {
      if (ctx.configPath !== undefined && resolve(ctx.baseDir, entry.path) === ctx.configPath) {
        issues.addIssue({
          code: "custom",
          path: ["path"],
          message: `${JSON.stringify(entry.path)} is the config file itself; store the token in a separate file, e.g. ./secrets/<environment>.json`,
        });
      }
    })
    .meta({
      description: "Store the token value in a local file.",
      examples: [{ type: "file", path: "./secrets/integration.json", jsonKey: "fastly-api-token" }],
    })
    .transform(({ type, path, jsonKey }) => {
      warnTilde(ctx, ["path"], path);
      return { type, path: resolve(ctx.baseDir, path), ...defined({ jsonKey }) };
    });
}

/** A file holding the token value: the whole file, or one key of a JSON object in it. */
export type FileSecretConfig = z.output<ReturnType<typeof fileSecretSchema>>;

/** The file (and key) the token is written to. */
export function describeFileSecret(spec: FileSecretConfig): AdapterTarget {
  return {
    type: "file",
    summary: `file ${spec.path}${spec.jsonKey !== undefined ? `, key ${spec.jsonKey}` : ""}`,
    target: { path: spec.path, ...defined({ jsonKey: spec.jsonKey }) },
  };
}
