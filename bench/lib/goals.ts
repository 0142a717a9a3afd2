/**
 * A benchmark's figure set against its goal. Each bench prints its own tables; `reportGoal` adds
 * one line per goal ("GOAL <name>: <value> (goal ≤ 3) met") and, when `npm run bench` runs it,
 * appends the figure as a JSON line to the file named by FTR_BENCH_GOALS, so bench/run.ts can print
 * every ratio beside its goal at the end.
 */
import { appendFileSync } from "node:fs";

export interface Goal {
  /** What is measured, e.g. "ftr check (no credential) × node -e 0, CPU". */
  readonly name: string;
  /** The measured figure (a ratio, a count, MiB, seconds). */
  readonly value: number;
  /** "<=": the value must not exceed `goal`; ">=": it must reach it. */
  readonly op: "<=" | ">=";
  readonly goal: number;
  /** The unit printed after value and goal: "×", "MiB", "s", "calls". */
  readonly unit: string;
  /** What the figure is paired with, e.g. "node -e 0", "static server (autocannon -c 32)". */
  readonly peer: string;
}

export interface GoalResult extends Goal {
  readonly met: boolean;
  readonly bench: string;
}

/** Print one goal line and record it for bench/run.ts. Returns whether it is met. */
export function reportGoal(goal: Goal): boolean {
  const met = goal.op === "<=" ? goal.value <= goal.goal : goal.value >= goal.goal;
  const op = goal.op === "<=" ? "≤" : "≥";
  const value = formatFigure(goal.value);
  console.log(
    `GOAL ${goal.name}: ${value}${goal.unit} (goal ${op} ${goal.goal}${goal.unit}, against ${goal.peer}) ${met ? "met" : "NOT met"}`,
  );
  const file = process.env["FTR_BENCH_GOALS"];
  if (file !== undefined && file !== "") {
    const bench = process.argv[1]?.split("/").pop() ?? "";
    appendFileSync(file, `${JSON.stringify({ ...goal, met, bench } satisfies GoalResult)}\n`);
  }
  return met;
}

export function formatFigure(value: number): string {
  if (Number.isInteger(value)) return String(value);
  return Math.abs(value) >= 100 ? value.toFixed(0) : value.toFixed(2);
}
