/**
 * Start-up of `ftr` as a user meets it: `ftr --help`, every `ftr <command> --help`, and
 * `ftr validate` of examples/govuk.yaml, each run as a whole process (bin/ftr.js, which imports
 * dist/: run `npm run build` first) in turn with `node -e 0`, so the ratio of each pair holds however
 * busy the machine is. Prints median wall and CPU time, peak RSS, and the median ratios against
 * `node -e 0` beside the goals (--help ≤ 2.5×, validate ≤ 4×).
 *
 *   npm run build && node --import tsx bench/startup.ts [--runs 5]
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import Table from "cli-table3";
import { median, timeProcess } from "./lib/process.ts";

const { values } = parseArgs({ options: { runs: { type: "string", default: "5" } } });
const runs = Number(values.runs);
const root = fileURLToPath(new URL("..", import.meta.url));
const bin = `${root}bin/ftr.js`;
if (!existsSync(`${root}dist/ftr/cli/bin.js`)) {
  console.error("dist/ is missing: run `npm run build` first (bin/ftr.js imports dist/)");
  process.exit(2);
}

const HELP_GOAL = 2.5;
const cases: { argv: string[]; goal: number }[] = [
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
  { argv: ["validate", "--config", "examples/govuk.yaml"], goal: 4 },
];

const table = new Table({
  head: ["command", "wall ms", "cpu ms", "peak MiB", "× node -e 0 (cpu)", "× (wall)", "goal"],
  style: { head: [], border: [] },
});
const baseline = { wall: [] as number[], cpu: [] as number[] };
// Warm the file cache once, so the first pair is not the odd one out.
await timeProcess(process.execPath, [bin, "--help"], { cwd: root });
for (const { argv, goal } of cases) {
  const wall: number[] = [];
  const cpu: number[] = [];
  const peak: number[] = [];
  const cpuRatio: number[] = [];
  const wallRatio: number[] = [];
  for (let i = 0; i < runs; i++) {
    const a = await timeProcess(process.execPath, [bin, ...argv], { cwd: root });
    if (a.code !== 0) throw new Error(`ftr ${argv.join(" ")} exited ${a.code}: ${a.stderr}`);
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
