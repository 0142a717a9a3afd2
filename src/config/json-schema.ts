/**
 * The JSON Schema of the config, generated from the runtime zod schema so editors and the validator
 * cannot disagree. `scripts/write-schema.ts` writes it to `schema/config.schema.json`, and a test
 * fails when the committed file is stale.
 */
import * as z from "zod";
import { configSchema } from "./schema.ts";

/** The schema's `$id`; a URN because the schema ships inside the package rather than at a URL. */
export const CONFIG_SCHEMA_ID = "urn:fastly-token-rotator:config:v1";

/** JSON Schema (draft 2020-12) of the config file as written, with descriptions and examples on fields. */
export function configJsonSchema(): Record<string, unknown> {
  // io "input": the schema describes what users write; optional fields stay optional.
  const generated = z.toJSONSchema(configSchema, {
    target: "draft-2020-12",
    io: "input",
    unrepresentable: "throw",
  });
  const { $schema, title, description, ...rest } = generated;
  // Identity first, so the file reads well from the top.
  return {
    $schema: $schema ?? "https://json-schema.org/draft/2020-12/schema",
    $id: CONFIG_SCHEMA_ID,
    title,
    description,
    ...rest,
  };
}
