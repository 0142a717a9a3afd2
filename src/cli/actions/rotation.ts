/** The bodies of `plan`, `rotate`, `resume` and `rollback`, loaded when one of them runs. */
import Table from "cli-table3";
import { createSecretStore } from "../../adapters/registry.ts";
import type { SecretStore } from "../../adapters/types.ts";
import type { LoadedConfig } from "../../config/index.ts";
import { FastlyForbiddenError, type FastlyClient } from "../../fastly/index.ts";
import { gatherState, makePlan, type Plan } from "../../plan/index.ts";
import {
  AlreadyRolledBack,
  assertUnlocked,
  resume as resumeRuns,
  rollbackLast,
  rotate as rotateEnvironments,
  unfinishedRuns,
  type RollbackResult,
  type RotationEvent,
  type RotationResult,
} from "../../rotation/index.ts";
import { notificationsFor } from "../../notify/dispatch.ts";
import type { PlanOpts, ResumeOpts, RollbackOpts, RotateOpts } from "../commands/rotation.ts";
import {
  colours,
  confirm,
  passwordSource,
  printJson,
  println,
  RefusedError,
  stderrLogger,
  UsageError,
  type CliIO,
} from "../io.ts";
import { escapeControl as x } from "../../util/escape.ts";
import { loadConfigOption, printKubeconfigWarnings, printWarnings, requireClient } from "../setup.ts";

/** `ftr plan`. */
export async function plan(io: CliIO, opts: PlanOpts): Promise<number> {
  const loaded = await loadConfigOption(io, opts.config);
  printWarnings(io, loaded);
  await printKubeconfigWarnings(io, loaded);
  const client = requireClient(io, loaded);
  const plan = await computePlan(loaded, client, opts, io.signal);
  if (opts.json) printJson(io, plan);
  else renderPlan(io, plan, io.stdout);
  return plan.environments.some((e) => e.decision === "error") ? 1 : 0;
}

/** `ftr rotate`. */
export async function rotate(io: CliIO, opts: RotateOpts): Promise<number> {
  const loaded = await loadConfigOption(io, opts.config);
  printWarnings(io, loaded);
  const client = requireClient(io, loaded);
  // A live run's journal looks unfinished: name the run rather than advise a resume.
  assertUnlocked(loaded.config.stateDir);
  const unfinished = unfinishedRuns(loaded.config.stateDir);
  if (unfinished.length > 0) {
    throw new UsageError(
      `run ${unfinished[0]?.runId ?? ""} (${unfinished.map((r) => r.environment).join(", ")}) did not finish; run \`ftr resume --config ${opts.config}\` first`,
    );
  }
  await requireSuperuser(client);
  const plan = await computePlan(loaded, client, opts, io.signal);
  if (!opts.json) renderPlan(io, plan, io.stderr);
  const broken = plan.environments.filter((e) => e.decision === "error");
  if (broken.length > 0) {
    // Refuse the whole run before any write: rotating the environments before a broken one
    // would leave the run half done.
    throw new UsageError(
      `cannot rotate: ${broken.map((e) => `${e.environment}: ${e.errors.join("; ")}`).join(" | ")}. Fix the config (or leave the environment out with --env) and run again`,
    );
  }
  const due = plan.environments.filter((e) => e.rotate);
  if (due.length === 0) {
    if (opts.json) printJson(io, { plan, result: null });
    else println(io.stderr, "Nothing to rotate.");
    return plan.environments.some((e) => e.decision === "error") ? 1 : 0;
  }
  const needApproval = due.filter(
    (e) => loaded.config.environments.find((c) => c.name === e.environment)?.approval === "required",
  );
  const interactive = io.stdin.isTTY === true && io.stderr.isTTY === true;
  if (needApproval.length > 0 && !opts.yes && !interactive) {
    throw new UsageError(
      `${needApproval.map((e) => e.environment).join(", ")} need(s) approval: run with --yes, or on a terminal to be asked`,
    );
  }
  const log = stderrLogger(io);
  const result = await rotateEnvironments({
    config: loaded.config,
    client,
    plan,
    getPassword: passwordSource(io, opts.passwordStdin === true),
    log,
    ...(io.signal ? { signal: io.signal } : {}),
    notify: await notificationsFor(loaded.config.notify, log, { env: io.env }),
    onEvent: progressPrinter(io, opts.json === true),
    keepOld: opts.keepOld === true,
    ...(opts.yes ? {} : { approve: (env: string) => confirm(io, `Rotate the token of ${x(env)} now?`) }),
  });
  report(io, result, opts.json === true, plan);
  return result.ok ? 0 : 1;
}

/** `ftr resume`. */
export async function resume(io: CliIO, opts: ResumeOpts): Promise<number> {
  const loaded = await loadConfigOption(io, opts.config);
  const client = requireClient(io, loaded);
  assertUnlocked(loaded.config.stateDir);
  const runs = unfinishedRuns(loaded.config.stateDir);
  if (runs.length === 0) {
    if (opts.json) printJson(io, { runId: null, ok: true, environments: [] });
    else println(io.stderr, "Nothing to resume: every run in the journal finished.");
    return 0;
  }
  if (!opts.json) {
    for (const run of runs) {
      const { step, status } = run.last;
      println(
        io.stderr,
        x(
          `resuming run ${run.runId}: ${run.environment} from ${step}${status === "done" ? "" : ` (${status})`}`,
        ),
      );
    }
  }
  const log = stderrLogger(io);
  const result = await resumeRuns({
    config: loaded.config,
    client,
    getPassword: passwordSource(io, opts.passwordStdin === true),
    log,
    ...(io.signal ? { signal: io.signal } : {}),
    notify: await notificationsFor(loaded.config.notify, log, { env: io.env }),
    onEvent: progressPrinter(io, opts.json === true),
  });
  report(io, result, opts.json === true);
  return result.ok ? 0 : 1;
}

/** `ftr rollback`. */
export async function rollback(io: CliIO, opts: RollbackOpts): Promise<number> {
  const loaded = await loadConfigOption(io, opts.config);
  const client = requireClient(io, loaded);
  if (!loaded.config.environments.some((e) => e.name === opts.env)) {
    throw new UsageError(`no environment named "${opts.env}" in ${opts.config}`);
  }
  let result: RollbackResult;
  const log = stderrLogger(io);
  try {
    result = await rollbackLast({
      config: loaded.config,
      client,
      environment: opts.env,
      getPassword: () => Promise.reject(new UsageError("rollback needs no password")),
      log,
      ...(io.signal ? { signal: io.signal } : {}),
      notify: await notificationsFor(loaded.config.notify, log, { env: io.env }),
      onEvent: progressPrinter(io, opts.json === true),
    });
  } catch (error) {
    if (!(error instanceof AlreadyRolledBack)) throw error;
    // Asking twice is not a failure: the state asked for is the state there is.
    if (opts.json === true) printJson(io, { ok: true, nothingToDo: error.message });
    else println(io.stderr, x(error.message));
    return 0;
  }
  if (opts.json === true) {
    printJson(io, result);
    return result.ok ? 0 : 1;
  }
  report(io, result, false, undefined, false);
  const c = colours(io.stdout, io.env);
  const head = `rollback of ${x(opts.env)} (run ${x(result.rollbackOf)})`;
  println(io.stdout, result.ok ? c.green(`${head}: done`) : c.red(`${head}: failed`));
  return result.ok ? 0 : 1;
}

/** The plan for the selected environments, from live state. */
async function computePlan(
  loaded: LoadedConfig,
  client: FastlyClient,
  opts: { env?: string[]; force?: boolean },
  signal?: AbortSignal,
): Promise<Plan> {
  const only = opts.env ?? [];
  const unknown = only.filter((n) => !loaded.config.environments.some((e) => e.name === n));
  if (unknown.length > 0) {
    throw new UsageError(
      `no environment named ${unknown.map((n) => `"${n}"`).join(", ")}; the config has ${loaded.config.environments.map((e) => e.name).join(", ")}`,
    );
  }
  const stores = new Map<string, SecretStore>();
  for (const env of loaded.config.environments) {
    if (only.length === 0 || only.includes(env.name))
      stores.set(env.name, await createSecretStore(env.secret, signal ? { signal } : {}));
  }
  const state = await gatherState({ client, config: loaded.config, stores, signal });
  return makePlan(state, loaded.config, { now: new Date(), force: opts.force === true, only });
}

/** Refuse early, before any write, when the token cannot create automation tokens. */
async function requireSuperuser(client: FastlyClient): Promise<void> {
  try {
    const user = await client.getCurrentUser();
    if (user.role !== "superuser") {
      throw new RefusedError(
        `FASTLY_API_TOKEN belongs to ${user.login}, whose role is ${user.role}: only a superuser can create automation tokens. Use a superuser's user token`,
      );
    }
  } catch (error) {
    if (error instanceof FastlyForbiddenError) {
      throw new RefusedError(
        "FASTLY_API_TOKEN cannot read /current_user (is it an automation token?): automation tokens are created with a superuser's user token",
      );
    }
    throw error;
  }
}

/**
 * Human rendering of a plan (`rotate` shows it on stderr, where its progress goes). Every name from
 * the account, the stores or the config goes through `x` (escapeControl), so a service named with
 * ESC, CR or a newline cannot erase or forge a line of the plan being approved.
 */
function renderPlan(io: CliIO, plan: Plan, stream: CliIO["stdout"]): void {
  const c = colours(stream, io.env);
  const out = (s = "") => println(stream, s);
  for (const env of plan.environments) {
    const label =
      env.decision === "error"
        ? c.red("ERROR")
        : env.rotate
          ? c.yellow(`ROTATE (${env.decision})`)
          : c.green("ok, nothing to do");
    out(`${c.bold(x(env.environment))}  ${label}`);
    for (const reason of env.reasons) out(`  why:      ${x(reason)}`);
    for (const error of env.errors) out(`  ${c.red("error:")}    ${x(error)}`);
    const d = env.deployed;
    out(
      `  deployed: ${x(d.status === "valid" ? `${d.tokenId}${d.managed ? "" : " (not a managed token)"}${d.expiresAt ? `, expires ${d.expiresAt.replace(/\.\d{3}Z$/, "Z")}` : ", never expires"}` : `${d.status}${d.reason ? ` (${d.reason})` : ""}`)}`,
    );
    out(
      `  services: ${env.services.length > 0 ? env.services.map((s) => `${x(s.name)} (${x(s.id)})`).join(", ") : env.errors.length > 0 ? "none matched" : "all services"}`,
    );
    if (env.rotate) {
      out(
        `  create:   "${x(env.create.name)}" ${x(env.create.scope)}, role ${x(env.create.role)}, expires ${env.create.expiresAt}`,
      );
      out(
        `  revoke:   ${env.revoke.length ? env.revoke.map(x).join(", ") : "nothing"} (after the new token is verified in use)`,
      );
    }
    out();
  }
}

/** Live progress: one line per step as it finishes, on stderr. */
function progressPrinter(io: CliIO, quiet: boolean): (event: RotationEvent) => void {
  const c = colours(io.stderr, io.env);
  const begun = new Map<string, number>();
  return (event) => {
    const key = `${event.environment}/${event.step}`;
    // Named by the `stopping: …` line if a signal comes now.
    if (event.status === "begin" && io.activity)
      io.activity.current = x(`${event.environment} ${event.step}`);
    if (quiet) return;
    if (event.status === "begin") {
      begun.set(key, Date.parse(event.at));
      if (io.stderr.isTTY) io.stderr.write(c.dim(`  ${x(event.environment)}: ${x(event.step)}…\r`));
      return;
    }
    const started = begun.get(key);
    const took =
      started === undefined ? "" : c.dim(` (${((Date.parse(event.at) - started) / 1000).toFixed(1)}s)`);
    const mark = event.status === "done" ? c.green("✓") : c.red("✗");
    const clear = io.stderr.isTTY ? "\x1b[2K" : "";
    println(
      io.stderr,
      `${clear}${mark} ${x(event.environment).padEnd(12)} ${x(event.step).padEnd(16)} ${x(event.detail ?? "")}${took}`,
    );
  };
}

/** The end-of-run summary: a table on a terminal, or the whole result as JSON. */
function report(io: CliIO, result: RotationResult, json: boolean, plan?: Plan, verdict = true): void {
  if (json) {
    printJson(io, plan ? { plan, result } : result);
    return;
  }
  const c = colours(io.stdout, io.env);
  const table = new Table({
    head: ["environment", "outcome", "new token", "previous token", "revoked"],
    style: { head: io.stdout.isTTY ? ["cyan"] : [], border: io.stdout.isTTY ? ["grey"] : [] },
  });
  for (const env of result.environments) {
    const outcome =
      env.outcome === "rotated" || env.outcome === "kept-old"
        ? c.green(env.outcome)
        : env.outcome === "nothing-to-do" || env.outcome === "skipped"
          ? env.outcome
          : c.red(env.outcome);
    table.push([
      x(env.environment),
      outcome,
      x(env.newTokenId ?? "-"),
      x(env.deployedTokenId ?? "-"),
      x(env.revoked.join(", ")) || "-",
    ]);
  }
  println(io.stdout, table.toString());
  for (const env of result.environments) {
    if (env.error && env.outcome !== "nothing-to-do") {
      println(
        io.stdout,
        `${c.bold(x(env.environment))}: ${x(env.error)}${env.advice ? `\n  → ${x(env.advice)}` : ""}`,
      );
    }
  }
  if (verdict) {
    println(
      io.stdout,
      result.ok ? c.green(`run ${result.runId}: done`) : c.red(`run ${result.runId}: failed`),
    );
  }
}
