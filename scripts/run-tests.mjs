// Finds every *.test.ts under src/ and test/ and hands them to Node's test runner.
// Node 20's --test does not expand globs itself.
//
// The runner's --test-timeout bounds each file as a whole (10 minutes: a bound on a hang, not a
// budget). A file that declares a longer timeout of its own (`timeout: 30 * 60_000` on a describe or
// test, as test/container.test.ts does) gets that instead: such files run after the others, in a
// runner of their own whose --test-timeout is the longest timeout they declare.
import { readdirSync, readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";

const DEFAULT_TIMEOUT_MS = 600_000;
const roots = ["src", "test"];
const filter = process.argv.slice(2);
const files = [];
for (const root of roots) {
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith(".test.ts")) continue;
    const path = join(entry.parentPath ?? entry.path, entry.name);
    if (filter.length === 0 || filter.some((f) => path.includes(f))) files.push(path);
  }
}
files.sort();
if (files.length === 0) {
  console.error("no test files found");
  process.exit(1);
}

/**
 * The longest `timeout:` a file declares for a test or suite, in ms: a number literal, or a product
 * of number literals (`30 * 60_000`). 0 when it declares none.
 */
function declaredTimeout(text) {
  let longest = 0;
  for (const match of text.matchAll(/\btimeout:\s*([\d_]+(?:\s*\*\s*[\d_]+)*)\s*[,}]/g)) {
    const ms = match[1].split("*").reduce((product, n) => product * Number(n.trim().replaceAll("_", "")), 1);
    if (Number.isFinite(ms)) longest = Math.max(longest, ms);
  }
  return longest;
}

const long = files.filter((f) => declaredTimeout(readFileSync(f, "utf8")) > DEFAULT_TIMEOUT_MS);
const batches = [
  { files: files.filter((f) => !long.includes(f)), timeout: DEFAULT_TIMEOUT_MS },
  {
    files: long,
    // A minute over the longest declared: the file's own timeout fires first and says which test.
    timeout: Math.max(...long.map((f) => declaredTimeout(readFileSync(f, "utf8"))), 0) + 60_000,
  },
].filter((b) => b.files.length > 0);

let status = 0;
for (const batch of batches) {
  const result = spawnSync(
    process.execPath,
    ["--import", "tsx", "--test", "--test-concurrency=2", `--test-timeout=${batch.timeout}`, ...batch.files],
    { stdio: "inherit" },
  );
  if (result.status !== 0) status = result.status ?? 1;
}
process.exit(status);
