/**
 * Writes schema/config.schema.json from the runtime config schema. Run through `npm run schema` after
 * changing src/config/schema.ts; a unit test fails while the committed file is stale.
 */
import { writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { configJsonSchema } from "../src/config/index.ts";

const target = fileURLToPath(new URL("../schema/config.schema.json", import.meta.url));
await writeFile(target, `${JSON.stringify(configJsonSchema(), null, 2)}\n`);
console.log(`wrote ${target}`);
