import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The official Fastly CLI binary, from the dev dependency `@fastly/cli-linux-x64` (never installed with the package). */
export const FASTLY_CLI = fileURLToPath(
  new URL("../../node_modules/@fastly/cli-linux-x64/fastly", import.meta.url),
);

/**
 * The `skip` option for a test that runs the Fastly CLI: `false` when the binary is installed, else
 * a one-line reason. The package is published for linux/x64 only and npm may leave an optional
 * dependency out elsewhere; on linux/x64 under CI=true a missing binary is a broken install, so
 * this throws instead of skipping.
 */
export const fastlyCliSkip: string | false = whyNoFastlyCli();

function whyNoFastlyCli(): string | false {
  if (existsSync(FASTLY_CLI)) return false;
  if (process.platform !== "linux" || process.arch !== "x64") {
    return `no Fastly CLI binary for ${process.platform}/${process.arch} (@fastly/cli-linux-x64 is linux/x64 only)`;
  }
  const reason = `no Fastly CLI at ${FASTLY_CLI} (dev dependency @fastly/cli-linux-x64 not installed: npm ci)`;
  if (process.env["CI"] === "true") throw new Error(`${reason}; CI=true on linux/x64 requires it`);
  return reason;
}
