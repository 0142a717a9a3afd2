// Finds every *.test.ts under src/ and test/ and hands them to Node's test runner.
// Node 20's --test does not expand globs itself.
import { readdirSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";

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
const result = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", "--test-concurrency=2", "--test-timeout=600000", ...files],
  { stdio: "inherit" },
);
process.exit(result.status ?? 1);
