/**
 * Runs every benchmark in bench/, one process each, in sequence, prints their figures, and at the end
 * every goal a bench reported (bench/lib/goals.ts) beside its measured figure.
 * Run: npm run bench   (or: npm run bench -- rotation   to run those whose name contains "rotation")
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Table from "cli-table3";
import { formatFigure, type GoalResult } from "./lib/goals.ts";

const dir = fileURLToPath(new URL(".", import.meta.url));
const filter = process.argv.slice(2);
const benches = readdirSync(dir)
  .filter((f) => f.endsWith(".ts") && f !== "run.ts")
  .filter((f) => filter.length === 0 || filter.some((x) => f.includes(x)))
  .sort();
const scratch = mkdtempSync(join(tmpdir(), "ftr-bench-goals-"));
const goalsFile = join(scratch, "goals.jsonl");
let failed = 0;
for (const file of benches) {
  console.log(`\n=== ${file} ===`);
  const result = spawnSync(process.execPath, ["--import", "tsx", `${dir}${file}`], {
    stdio: "inherit",
    env: { ...process.env, FTR_BENCH_GOALS: goalsFile },
  });
  if (result.status !== 0) failed++;
}
const goals: GoalResult[] = existsSync(goalsFile)
  ? readFileSync(goalsFile, "utf8")
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as GoalResult)
  : [];
rmSync(scratch, { recursive: true, force: true });
if (goals.length > 0) {
  const table = new Table({
    head: ["bench", "figure", "measured", "goal", "against", ""],
    style: { head: [], border: [] },
  });
  for (const g of goals) {
    table.push([
      g.bench,
      g.name,
      `${formatFigure(g.value)}${g.unit}`,
      `${g.op === "<=" ? "≤" : "≥"} ${g.goal}${g.unit}`,
      g.peer,
      g.met ? "met" : "NOT met",
    ]);
  }
  console.log(`\n=== goals ===\n${table.toString()}`);
  const missed = goals.filter((g) => !g.met).length;
  console.log(`${goals.length - missed} of ${goals.length} goals met`);
}
process.exit(failed === 0 ? 0 : 1);
