// Mutation testing, one Stryker run per group: each group mutates source files, whole or only some of
// their functions, and runs the in-process test files that exercise them. Functions are named, never
// given as line ranges, so a group follows the code as it moves: each name is looked up in the file
// (with the TypeScript parser) when the script runs, and a name that is no longer there stops it.
// Test files run as `node --import tsx <file>` in Stryker's sandbox; code a test runs in a child
// process (`spawnCli`) is not seen, so groups name the tests that run the code in their own process
// (`runCli` and the adapters' own tests do).
// Base options: stryker.config.json. Reports and the incremental cache: reports/mutation/<group>/.
// Usage: npm run mutate [-- <group>...]   (no group: all of them, in the order below)
//        npm run mutate -- --list [<group>...]   (what each group mutates, resolved; runs nothing)
//        npm run mutate -- --dry-run [<group>...]   (instrument and run the tests once; no mutants)
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { join, resolve } from "node:path";
import { Stryker } from "@stryker-mutator/core";
import ts from "typescript";

/**
 * A group: `mutate` lists files, each whole (a string) or only the named functions (`Class.method`
 * for a method, `Class` for a whole class); `testFiles` the in-process tests, fastest first
 * (Stryker stops at the first file that kills a mutant).
 */
const groups = {
  "rotation-core": {
    mutate: [
      "src/rotation/journal.ts",
      "src/rotation/state-dir.ts",
      "src/rotation/steps.ts",
      { file: "src/rotation/rotate.ts", functions: ["finishResult", "newRunId", "resumeHint", "runClock"] },
      {
        file: "src/rotation/unfinished.ts",
        functions: ["unfinishedRunsOf", "describeUnfinished", "storeHolds"],
      },
    ],
    testFiles: [
      "src/rotation/steps.test.ts",
      "src/rotation/state-dir.test.ts",
      "src/rotation/rotate.test.ts",
      "src/rotation/resume.test.ts",
      "src/rotation/journal.test.ts",
      "test/security/symlinks.test.ts",
      "test/security/state-dir.test.ts",
      "test/monitor-status.test.ts",
    ],
  },
  // The protocol itself, driven through the library against the emulator on a manual clock, in
  // several files so that a mutant runs only those that reach it (resume's code is not run by the
  // first); the `mutants` files check what the others leave unchecked, and are fast.
  // The end-to-end suites (rotate-negative-proofs, -resume-reload, -faults, -crash) cover it too,
  // but take minutes per mutant: they are left out, so a survivor costs seconds, not hours.
  "rotation-protocol": {
    mutate: [
      {
        file: "src/rotation/rotate.ts",
        functions: [
          "rotateHeld",
          "withState",
          "sudoKeeper",
          "findMintedSince",
          "revokeQuietly",
          "EnvironmentRun",
        ],
      },
    ],
    testFiles: [
      "test/rotate-protocol-mutants.test.ts",
      "test/rotate-protocol-mutants2.test.ts",
      "test/rotate-protocol-mutants3.test.ts",
      "test/rotate-protocol-mutants4.test.ts",
      "test/rotate-protocol-mutants5.test.ts",
      "test/rotate-protocol-fast.test.ts",
      "test/rotate-protocol-resume.test.ts",
      "test/rotate-protocol-rollback.test.ts",
      "test/rotate-protocol-edges.test.ts",
    ],
  },
  // Resume and rollback, their own group so that each run is short enough to finish (and be kept
  // by the incremental cache) on a busy machine.
  "rotation-resume": {
    mutate: [{ file: "src/rotation/resume.ts", functions: ["resumeHeld", "continueRun", "rollbackHeld"] }],
    testFiles: [
      "test/rotate-protocol-resume.test.ts",
      "test/rotate-protocol-rollback.test.ts",
      "test/rotate-protocol-edges.test.ts",
      "test/rotate-protocol-fast.test.ts",
    ],
  },
  // test/security/lock.test.ts (processes racing over 40 trials, half a minute a run) is left out:
  // run for every mutant the in-process tests let live, it took hours; docs/testing.md names the
  // mutants only racing processes reach.
  "rotation-lock": {
    mutate: ["src/rotation/lock.ts"],
    testFiles: [
      "src/rotation/lock-attempts.test.ts",
      "src/rotation/lock.test.ts",
      "src/rotation/lock-holder.test.ts",
    ],
  },
  "file-secret": {
    mutate: ["src/adapters/file-secret/index.ts"],
    testFiles: ["src/adapters/file-secret/index.test.ts", "test/security/symlinks.test.ts"],
  },
  "aws-secrets-manager": {
    mutate: ["src/adapters/aws-secrets-manager/index.ts"],
    testFiles: ["test/adapters-aws-secrets-manager.test.ts"],
  },
  "kubernetes-secret": {
    mutate: ["src/adapters/kubernetes-secret/index.ts"],
    testFiles: ["test/adapters-kubernetes-secret.test.ts", "test/adapters-kubernetes.test.ts"],
  },
  "fastly-client": {
    mutate: ["src/fastly/client.ts"],
    testFiles: ["src/fastly/client.test.ts"],
  },
  "kubernetes-rollout": {
    mutate: ["src/adapters/kubernetes-rollout/index.ts", "src/adapters/support/rollout.ts"],
    testFiles: [
      "src/adapters/support/rollout.test.ts",
      "src/adapters/kubernetes-rollout/index.test.ts",
      "test/adapters-kubernetes-waits.test.ts",
      "test/adapters-kubernetes.test.ts",
      "test/adapters-kubernetes-reloader-logs.test.ts",
    ],
  },
  "external-secret": {
    mutate: ["src/adapters/external-secret/index.ts"],
    testFiles: [
      "src/adapters/external-secret/reloader-status.test.ts",
      "src/adapters/external-secret/reloader.test.ts",
      "src/adapters/external-secret/index.test.ts",
      "test/adapters-kubernetes-waits.test.ts",
      "test/adapters-kubernetes.test.ts",
    ],
  },
  "kubernetes-logs": {
    mutate: ["src/adapters/kubernetes-logs/index.ts"],
    testFiles: [
      "src/adapters/kubernetes-logs/index.test.ts",
      "test/adapters-kubernetes-reloader-logs.test.ts",
      "test/adapters-kubernetes.test.ts",
    ],
  },
  // The monitor, one group per file: each measured and reported on its own, its fast in-process
  // tests (pure functions, library calls against the emulator) first, the CLI's end-to-end after.
  "monitor-render": {
    mutate: ["src/monitor/render.ts"],
    testFiles: ["src/monitor/render-lines.test.ts", "src/monitor/render.test.ts"],
  },
  "monitor-check": {
    mutate: ["src/monitor/check.ts", "src/monitor/unfinished.ts"],
    testFiles: ["src/monitor/check.test.ts", "src/monitor/unfinished.test.ts", "test/monitor-check.test.ts"],
  },
  "monitor-status": {
    mutate: ["src/monitor/status.ts"],
    testFiles: [
      "src/monitor/status.test.ts",
      "src/monitor/collect-status.test.ts",
      "test/monitor-status.test.ts",
    ],
  },
  "monitor-serve": {
    mutate: ["src/monitor/serve.ts", "src/monitor/metrics.ts"],
    testFiles: [
      "src/monitor/serve-mutants.test.ts",
      "src/monitor/serve-deadlines.test.ts",
      "src/monitor/serve-edges.test.ts",
      "src/monitor/metrics.test.ts",
      "src/monitor/serve-series.test.ts",
      "src/monitor/serve.test.ts",
      "test/monitor-serve-notify.test.ts",
      "test/monitor-serve.test.ts",
    ],
  },
  notify: {
    mutate: [
      "src/notify/dispatch.ts",
      "src/notify/events.ts",
      "src/notify/expiring.ts",
      "src/adapters/slack-notify/index.ts",
      "src/adapters/webhook-notify/index.ts",
    ],
    testFiles: [
      "src/notify/events.test.ts",
      "src/notify/expiring.test.ts",
      "src/notify/dispatch.test.ts",
      "src/adapters/webhook-notify/index.test.ts",
      "src/adapters/slack-notify/index.test.ts",
      "test/monitor-serve-notify.test.ts",
      "test/rotate-notify.test.ts",
    ],
  },
};

/** The first and last line (1-based) of every top-level function, class and class method of `file`. */
function declarations(file) {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
  const found = new Map();
  const lines = (node) => [
    source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1,
    source.getLineAndCharacterOfPosition(node.getEnd()).line + 1,
  ];
  for (const statement of source.statements) {
    if (ts.isFunctionDeclaration(statement) && statement.name) {
      found.set(statement.name.text, lines(statement));
    } else if (ts.isClassDeclaration(statement) && statement.name) {
      found.set(statement.name.text, lines(statement));
      for (const member of statement.members) {
        if (member.name && ts.isIdentifier(member.name) && (member.body || member.initializer)) {
          found.set(`${statement.name.text}.${member.name.text}`, lines(member));
        }
      }
    } else if (ts.isVariableStatement(statement)) {
      for (const d of statement.declarationList.declarations) {
        if (ts.isIdentifier(d.name) && d.initializer && ts.isArrowFunction(d.initializer)) {
          found.set(d.name.text, lines(statement));
        }
      }
    }
  }
  return found;
}

/** Stryker's `mutate` patterns for a group: whole files, or `file:first-last` per named function. */
function resolveMutate(name, entries) {
  return entries.flatMap((entry) => {
    if (typeof entry === "string") {
      if (!existsSync(entry)) throw new Error(`group ${name}: ${entry} does not exist`);
      return [entry];
    }
    if (!existsSync(entry.file)) throw new Error(`group ${name}: ${entry.file} does not exist`);
    const found = declarations(entry.file);
    return entry.functions.map((fn) => {
      const range = found.get(fn);
      if (!range)
        throw new Error(`group ${name}: no function ${fn} in ${entry.file}; update scripts/mutate.mjs`);
      return `${entry.file}:${range[0]}-${range[1]}`;
    });
  });
}

const base = JSON.parse(readFileSync(new URL("../stryker.config.json", import.meta.url), "utf8"));
const listOnly = process.argv.includes("--list");
const dryRun = process.argv.includes("--dry-run");
const wanted = process.argv.slice(2).filter((a) => a !== "--list" && a !== "--dry-run");
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

// Every group is resolved first: a stale name fails before any run starts.
const resolved = Object.fromEntries(
  Object.entries(groups).map(([name, group]) => [name, resolveMutate(name, group.mutate)]),
);
for (const [name, group] of Object.entries(groups)) {
  for (const file of group.testFiles) {
    if (!existsSync(file)) throw new Error(`group ${name}: test file ${file} does not exist`);
  }
}
if (listOnly) {
  for (const name of wanted.length > 0 ? wanted : Object.keys(groups)) {
    console.log(
      `${name}\n  mutate: ${resolved[name].join(" ")}\n  tests: ${groups[name].testFiles.join(" ")}`,
    );
  }
  process.exit(0);
}

const summary = [];
for (const name of wanted.length > 0 ? wanted : Object.keys(groups)) {
  const { testFiles } = groups[name];
  const mutate = resolved[name];
  const dir = `reports/mutation/${name}`;
  const started = Date.now();
  linkSharedBesideSandbox();
  const results = await new Stryker({
    ...base,
    mutate,
    // MUTATE_CONCURRENCY: test processes per group (stryker.config.json's concurrency otherwise).
    ...(process.env.MUTATE_CONCURRENCY ? { concurrency: Number(process.env.MUTATE_CONCURRENCY) } : {}),
    tap: { ...base.tap, testFiles },
    ...(dryRun ? { dryRunOnly: true } : {}),
    incrementalFile: `${dir}/stryker-incremental.json`,
    htmlReporter: { fileName: `${dir}/index.html` },
    jsonReporter: { fileName: `${dir}/mutation.json` },
  }).runMutationTest();
  if (dryRun) {
    summary.push({
      group: name,
      "dry run": "instrumented, tests passed",
      minutes: ((Date.now() - started) / 60000).toFixed(1),
    });
    continue;
  }
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
