/** The process entry point (bin `ftr` / `fastly-token-rotator`). */
import { main } from "./main.ts";

const code = await main(process.argv.slice(2));
process.exit(code);
