/** The process entry point (bin `ftr` / `fastly-token-rotator`). */
// First: the credentials leave the environment before anything else runs (see credentials.ts).
import { startCredentials } from "./capture.ts";
import { main, processIO } from "./main.ts";

const code = await main(process.argv.slice(2), processIO(startCredentials));
process.exit(code);
