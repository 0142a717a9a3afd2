/**
 * Start-up of `ftr` as a user meets it: `ftr --help`, every `ftr <command> --help`, `ftr validate`
 * of examples/govuk.yaml, and `ftr check` without a credential (FASTLY_API_TOKEN unset: the deployed
 * token, read from a file store, is asked of the API, an emulator this bench starts), each run as a
 * whole process (bin/ftr.js, which imports dist/: run `npm run build` first) in turn with
 * `node -e 0`, so the ratio of each pair holds however busy the machine is. Prints median wall and
 * CPU time, peak RSS, and the median ratios against `node -e 0` beside the goals (--help ≤ 2.5×,
 * validate ≤ 2.5×, check ≤ 3×), each reported with `reportGoal`.
 *
 *   npm run build && node --import tsx bench/startup.ts [--runs 5]
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import Table from "cli-table3";
import { createEmulator, demoCredentials } from "../src/emulator/index.ts";
import { reportGoal } from "./lib/goals.ts";
import { median, timeProcess } from "./lib/process.ts";

const { values } = parseArgs({ options: { runs: { type: "string", default: "5" } } });
const runs = Number(values.runs);
const root = fileURLToPath(new URL("..", import.meta.url));
const bin = `${root}bin/ftr.js`;
if (!existsSync(`${root}dist/ftr/cli/bin.js`)) {
  console.error("dist/ is missing: run `npm run build` first (bin/ftr.js imports dist/)");
  process.exit(2);
}

// `ftr check` without a credential: one environment whose file store holds the demo exporter
// token, asked of the emulator (`GET /tokens/self`), in the bench's process.
const emulator = await createEmulator();
const checkDir = await mkdtemp(join(tmpdir(), "ftr-bench-startup-"));
const integration = demoCredentials.exporterTokens.integration;
await writeFile(join(checkDir, "integration.txt"), `${integration.token}\n`, { mode: 0o600 });
await writeFile(
  join(checkDir, "ftr.yaml"),
  [
    "version: 1",
    `fastly: { endpoint: "${emulator.url}" }`,
    "environments:",
    "  - name: integration",
    `    token: { name: "${integration.name}", services: { nameMatches: "ntegration" } }`,
    "    secret: { type: file, path: ./integration.txt }",
    "    reload: [{ type: exec, command: [./restart.sh] }]",
    "    verify: [{ type: token-in-use }]",
    "",
  ].join("\n"),
);
const { FASTLY_API_TOKEN: _unset, ...withoutCredential } = process.env;

const HELP_GOAL = 2.5;
const cases: {
  argv: string[];
  goal: number;
  /** A name for the goal line, when it is reported with `reportGoal`. */
  goalName?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Exit codes that are a normal answer (`check` exits 1 when a token is due). */
  codes?: readonly number[];
}[] = [
  { argv: ["--help"], goal: HELP_GOAL },
  ...[
    "validate",
    "plan",
    "rotate",
    "resume",
    "rollback",
    "status",
    "check",
    "serve",
    "emulator",
    "emulator exporter",
    "demo",
  ].map((c) => ({ argv: [...c.split(" "), "--help"], goal: HELP_GOAL })),
  {
    argv: ["validate", "--config", "examples/govuk.yaml"],
    goal: 2.5,
    goalName: "ftr validate --config examples/govuk.yaml, CPU × node -e 0",
  },
  {
    argv: ["check", "--config", "ftr.yaml"],
    goal: 3,
    goalName: "ftr check without a credential (the deployed token asked of the API), CPU × node -e 0",
    cwd: checkDir,
    env: withoutCredential,
    codes: [0, 1],
  },
];

const table = new Table({
  head: ["command", "wall ms", "cpu ms", "peak MiB", "× node -e 0 (cpu)", "× (wall)", "goal"],
  style: { head: [], border: [] },
});
const baseline = { wall: [] as number[], cpu: [] as number[] };
// Warm the file cache once, so the first pair is not the odd one out.
await timeProcess(process.execPath, [bin, "--help"], { cwd: root });
const goals: { name: string; value: number; goal: number }[] = [];
const helpRatios: number[] = [];
for (const { argv, goal, goalName, cwd = root, env, codes = [0] } of cases) {
  const wall: number[] = [];
  const cpu: number[] = [];
  const peak: number[] = [];
  const cpuRatio: number[] = [];
  const wallRatio: number[] = [];
  for (let i = 0; i < runs; i++) {
    const a = await timeProcess(process.execPath, [bin, ...argv], { cwd, ...(env ? { env } : {}) });
    if (!codes.includes(a.code ?? -1)) throw new Error(`ftr ${argv.join(" ")} exited ${a.code}: ${a.stderr}`);
    const b = await timeProcess(process.execPath, ["-e", "0"], { cwd: root });
    wall.push(a.wallMs);
    cpu.push(a.cpuMs);
    peak.push(a.peakMiB);
    baseline.wall.push(b.wallMs);
    baseline.cpu.push(b.cpuMs);
    cpuRatio.push(a.cpuMs / Math.max(b.cpuMs, 1));
    wallRatio.push(a.wallMs / Math.max(b.wallMs, 1));
  }
  const r = median(cpuRatio);
  if (goalName !== undefined) goals.push({ name: goalName, value: r, goal });
  if (argv.at(-1) === "--help") helpRatios.push(r);
  table.push([
    `ftr ${argv.join(" ")}`,
    Math.round(median(wall)),
    Math.round(median(cpu)),
    median(peak).toFixed(1),
    r.toFixed(2),
    median(wallRatio).toFixed(2),
    `≤ ${goal}× ${r <= goal ? "met" : "NOT met"}`,
  ]);
}
console.log(
  `start-up, ${runs} runs each, paired with node -e 0 (median ${Math.round(median(baseline.wall))} ms wall, ${Math.round(median(baseline.cpu))} ms cpu)`,
);
console.log(table.toString());
for (const { name, value, goal } of goals) {
  reportGoal({ name, value, op: "<=", goal, unit: "×", peer: "node -e 0 (CPU, pair by pair)" });
}
reportGoal({
  name: "ftr --help and every ftr <command> --help, the highest, CPU × node -e 0",
  value: Math.max(...helpRatios),
  op: "<=",
  goal: HELP_GOAL,
  unit: "×",
  peer: "node -e 0 (CPU, pair by pair)",
});
await emulator.close();
await rm(checkDir, { recursive: true, force: true });
