/**
 * The human rendering of a plan: per environment, in order, the verdict and why, the deployed
 * token, the services, where the token goes, and each step `rotate` would take with its target and
 * time limit. Fits `width` (a terminal's columns) by wrapping at word boundaries with a hanging
 * indent; without a width (a file, a pipe) every line is whole. Every name from the account, the
 * stores or the config goes through `escapeControl`, so a service named with ESC, CR or a newline
 * cannot erase or forge a line of the plan being approved.
 */
import type { Plan, EnvironmentPlan } from "../../plan/index.ts";
import { unfinishedLine } from "../../plan/index.ts";
import type { Paint } from "../../monitor/render.ts";
import { escapeControl as x } from "../../util/escape.ts";
import { formatDuration } from "../../util/time.ts";
import { shortTime, shortTimes, wrap } from "../../util/fit.ts";

/** How wide a label column is: `  deployed: `. */
const LABEL = 12;

/** Options of {@link renderPlanText}. */
export interface PlanTextOptions {
  /** The terminal's width; absent: lines are whole (a file, a pipe). */
  readonly width?: number | undefined;
  /** End with a line counting the environments to rotate (`ftr plan`). */
  readonly summary?: boolean;
}

/** The plan as lines of text, fitted to `width` when given. */
export function renderPlanText(plan: Plan, paint: Paint, options: PlanTextOptions = {}): string {
  const { width } = options;
  const lines: string[] = [];
  const out = (text = "", indent = 0) => lines.push(wrap(shortTimes(text, width), width, indent));
  for (const run of plan.unfinished) {
    out(`${paint.red("UNFINISHED")}  ${x(unfinishedLine(run, plan.resumeHint))}`, 2);
  }
  if (plan.unfinished.length > 0) out();
  for (const env of plan.environments) renderEnvironment(env, paint, width, out);
  const due = plan.environments.filter((e) => e.rotate).length;
  if (options.summary !== true) {
    // The blank line after the last environment is left to the caller.
    if (lines[lines.length - 1] === "") lines.pop();
    return lines.join("\n");
  }
  out(
    due === 0
      ? paint.green("Nothing to rotate.")
      : paint.yellow(
          `${due} of ${plan.environments.length} ${plan.environments.length === 1 ? "environment" : "environments"} to rotate.`,
        ),
  );
  return lines.join("\n");
}

function label(name: string): string {
  return `  ${`${name}:`.padEnd(LABEL - 2)}`;
}

function renderEnvironment(
  env: EnvironmentPlan,
  paint: Paint,
  width: number | undefined,
  out: (text?: string, indent?: number) => void,
): void {
  const verdict =
    env.decision === "error"
      ? paint.red("ERROR")
      : env.decision === "unfinished"
        ? paint.red("UNFINISHED: resume first")
        : env.rotate
          ? paint.yellow(`ROTATE (${env.decision})`)
          : paint.green("ok, nothing to do");
  out(`${paint.bold(x(env.environment))}  ${verdict}`);
  for (const reason of env.reasons) out(`${label("why")}${x(reason)}`, LABEL);
  if (!env.rotate && env.dueAt !== undefined && env.decision === "ok") {
    out(`${label("due")}from ${shortTime(env.dueAt, width)} (its expiry less rotateBefore)`, LABEL);
  }
  for (const error of env.errors) out(`  ${paint.red("error:")}${" ".repeat(LABEL - 8)}${x(error)}`, LABEL);
  // What a store that cannot be read back means for this run, said before anything runs.
  for (const note of env.notes ?? [])
    out(`  ${paint.yellow("note:")}${" ".repeat(LABEL - 7)}${x(note)}`, LABEL);
  const d = env.deployed;
  out(
    `${label("deployed")}${x(
      d.status === "valid"
        ? `${d.tokenId}${d.managed ? "" : " (not a managed token)"}${d.expiresAt ? `, expires ${shortTime(d.expiresAt, width)}` : ", never expires"}`
        : `${d.status}${d.reason ? ` (${d.reason})` : ""}`,
    )}`,
    LABEL,
  );
  out(
    `${label("services")}${
      env.services.length > 0
        ? env.services.map((s) => `${x(s.name)} (${x(s.id)})`).join(", ")
        : env.errors.length > 0
          ? "none matched"
          : "all services"
    }`,
    LABEL,
  );
  out(`${label("secret")}${x(env.secret.summary)}`, LABEL);
  out(
    `${label("approval")}${env.approval === "required" ? paint.yellow("required (asked on a terminal, or --yes)") : "not required"}`,
    LABEL,
  );
  if (env.rotate) {
    out(
      `${label("revoke")}${env.revoke.length > 0 ? x(env.revoke.join(", ")) : "nothing"} (after the new token is verified in use)`,
      LABEL,
    );
    out("  steps:");
    env.steps.forEach((step, i) => {
      const head = `    ${String(i + 1).padStart(2)}. ${step.step.padEnd(8)}`;
      const limit =
        step.timeoutMs !== undefined ? paint.dim(` (timeout ${formatDuration(step.timeoutMs)})`) : "";
      out(`${head}${x(step.summary)}${limit}`, head.length);
      if (step.adapter?.waitsFor !== undefined) {
        out(`${" ".repeat(head.length)}${paint.dim(`waits for ${x(step.adapter.waitsFor)}`)}`, head.length);
      }
    });
  }
  out();
}
