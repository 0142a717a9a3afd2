// Mutation testing of the core, one Stryker run per group: each group mutates a few source files and
// runs only the in-process test files that exercise them (the end-to-end suites spawn bin/ftr.js over
// dist/, which Stryker's instrumented sandbox does not reach, and would take hours per group).
// Base options: stryker.config.json. Reports and the incremental cache: reports/mutation/<group>/.
// Usage: npm run mutate [-- <group>...]   (no group: all of them, in the order below)
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { join, resolve } from "node:path";
import { Stryker } from "@stryker-mutator/core";

/** Fastest test files first: Stryker stops at the first file that kills a mutant. */
const groups = {
  "file-secret": {
    mutate: ["src/adapters/file-secret/index.ts"],
    testFiles: ["src/adapters/file-secret/index.test.ts", "test/security/symlinks.test.ts"],
  },
  "rotation-core": {
    // rotate.ts itself is exercised by the end-to-end suites (through bin/ftr.js); its pure
    // functions (the run's verdict, the run id) are mutated here.
    mutate: [
      "src/rotation/journal.ts",
      "src/rotation/state-dir.ts",
      "src/rotation/steps.ts",
      "src/rotation/rotate.ts:161-200",
    ],
    testFiles: [
      "src/rotation/steps.test.ts",
      "src/rotation/state-dir.test.ts",
      "src/rotation/rotate.test.ts",
      "src/rotation/journal.test.ts",
      "test/security/symlinks.test.ts",
      "test/security/state-dir.test.ts",
    ],
  },
  "kubernetes-rollout": {
    mutate: ["src/adapters/kubernetes-rollout/index.ts", "src/adapters/support/rollout.ts"],
    testFiles: ["src/adapters/support/rollout.test.ts", "test/adapters-kubernetes.test.ts"],
  },
  "fastly-client": {
    mutate: ["src/fastly/client.ts"],
    testFiles: ["src/fastly/client.test.ts"],
  },
  "aws-secrets-manager": {
    mutate: ["src/adapters/aws-secrets-manager/index.ts"],
    testFiles: ["test/adapters-aws-secrets-manager.test.ts"],
  },
  "kubernetes-secret": {
    mutate: ["src/adapters/kubernetes-secret/index.ts"],
    testFiles: ["test/adapters-kubernetes.test.ts"],
  },
  "rotation-lock": {
    mutate: ["src/rotation/lock.ts"],
    testFiles: ["test/security/lock.test.ts"],
  },
};

const base = JSON.parse(readFileSync(new URL("../stryker.config.json", import.meta.url), "utf8"));
const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !(name in groups));
if (unknown.length > 0) {
  console.error(`unknown group(s): ${unknown.join(", ")}; known: ${Object.keys(groups).join(", ")}`);
  process.exit(2);
}
// Tests find the go-fastly recordings in ../shared beside the repository; the sandbox Stryker copies
// the repository into is <tempDirName>/sandbox-*, so ../shared is looked for in <tempDirName>.
function linkSharedBesideSandbox() {
  const shared = resolve("../shared");
  const link = join(base.tempDirName, "shared");
  if (!existsSync(shared)) return;
  mkdirSync(base.tempDirName, { recursive: true });
  rmSync(link, { force: true });
  symlinkSync(shared, link);
}

const summary = [];
for (const name of wanted.length > 0 ? wanted : Object.keys(groups)) {
  const { mutate, testFiles } = groups[name];
  const dir = `reports/mutation/${name}`;
  const started = Date.now();
  linkSharedBesideSandbox();
  const results = await new Stryker({
    ...base,
    mutate,
    // MUTATE_CONCURRENCY: test processes per group (stryker.config.json's concurrency otherwise).
    ...(process.env.MUTATE_CONCURRENCY ? { concurrency: Number(process.env.MUTATE_CONCURRENCY) } : {}),
    tap: { ...base.tap, testFiles },
    incrementalFile: `${dir}/stryker-incremental.json`,
    htmlReporter: { fileName: `${dir}/index.html` },
    jsonReporter: { fileName: `${dir}/mutation.json` },
  }).runMutationTest();
  const count = (status) => results.filter((r) => r.status === status).length;
  const killed = count("Killed") + count("Timeout");
  const valid = results.filter((r) => r.status !== "Ignored" && r.status !== "CompileError").length;
  summary.push({
    group: name,
    mutants: valid,
    killed,
    survived: count("Survived"),
    noCoverage: count("NoCoverage"),
    score: valid === 0 ? "n/a" : `${((100 * killed) / valid).toFixed(1)}%`,
    minutes: ((Date.now() - started) / 60000).toFixed(1),
  });
}
console.table(summary);
