/** The bodies of `plan`, `rotate`, `resume` and `rollback`, loaded when one of them runs. */
import { createSecretStore } from "../../adapters/registry.ts";
import type { SecretStore } from "../../adapters/types.ts";
import type { LoadedConfig } from "../../config/index.ts";
import { FastlyForbiddenError, type FastlyClient } from "../../fastly/index.ts";
import { gatherState, makePlan, unfinishedLine, type Plan, type UnfinishedRun } from "../../plan/index.ts";
import { parseWindow, windowState, WindowError, type Window } from "../../plan/window.ts";
import {
  abandonRun,
  AlreadyRolledBack,
  describeUnfinished,
  isInterrupted,
  newRunId,
  resume as resumeRuns,
  rollbackLast,
  rotate as rotateEnvironments,
  stateBackend,
  unfinishedIn,
  unfinishedRunsOf,
  type RollbackResult,
  type RotationEvent,
  type RotationResult,
} from "../../rotation/index.ts";
import { notificationsFor } from "../../notify/dispatch.ts";
import type { PlanOpts, ResumeOpts, RollbackOpts, RotateOpts } from "../commands/rotation.ts";
import {
  colours,
  confirm,
  passwordRetry,
  passwordSource,
  printJson,
  println,
  RefusedError,
  stderrLogger,
  UsageError,
  type CliIO,
} from "../io.ts";
import { escapeControl as x } from "../../util/escape.ts";
import { formatTime } from "../../util/time.ts";
import { describeReloader, describeVerifier } from "../../adapters/registry.ts";
import { renderPlanText } from "../render/plan.ts";
import { progressReporter, type Progress } from "../render/progress.ts";
import { fitTable } from "../render/table.ts";
import { widthOf } from "../../util/fit.ts";
import { loadConfigOption, printKubeconfigWarnings, printWarnings, requireClient } from "../setup.ts";

/** `ftr plan`. */
export async function plan(io: CliIO, opts: PlanOpts): Promise<number> {
  const loaded = await loadConfigOption(io, opts.config);
  printWarnings(io, loaded);
  await printKubeconfigWarnings(io, loaded);
  const client = requireClient(io, loaded);
  const backend = await stateBackend(loaded.config);
  const unfinished = await unfinishedIn(backend);
  const plan = await computePlan(loaded, client, opts, io.signal, { unfinished });
  if (opts.json) printJson(io, plan);
  else renderPlan(io, plan, io.stdout, true);
  // An unfinished run needs a person (or `rotate --due`) as much as an error does.
  if (plan.environments.some((e) => e.decision === "error" || e.decision === "unfinished")) return 1;
  // --detailed-exitcode, as terraform's: 2 when something would be rotated.
  return opts.detailedExitcode === true && plan.environments.some((e) => e.rotate) ? 2 : 0;
}

/** `ftr rotate`. */
export async function rotate(io: CliIO, opts: RotateOpts): Promise<number> {
  const loaded = await loadConfigOption(io, opts.config);
  printWarnings(io, loaded);
  const client = requireClient(io, loaded);
  checkEnvNames(loaded, opts.env ?? []);
  const windows = opts.due ? dueWindows(loaded, opts.window) : undefined;
  if (!opts.due && opts.window !== undefined) throw new UsageError("--window applies only with --due");
  const runId = newRunId();
  const log = stderrLogger(io);
  const notify = await notificationsFor(loaded.config.notify, log, { env: io.env });
  const progress = progressFor(io, loaded, opts.json === true);
  const base = {
    config: loaded.config,
    client,
    getPassword: passwordSource(io, opts.passwordStdin === true),
    passwordAgain: passwordRetry(io, opts.passwordStdin === true),
    log,
    ...(io.signal ? { signal: io.signal } : {}),
    notify,
    onEvent: (event: RotationEvent) => progress.onEvent(event),
    onWaiting: (env: string, reason: string) => progress.onWaiting(env, reason),
  };
  // The lock first: the journal and the plan are read while no other run can change them.
  const session = await (
    await stateBackend(loaded.config)
  ).acquire({
    runId,
    ...(io.signal ? { signal: io.signal } : {}),
  });
  try {
    const unfinished = unfinishedRunsOf(await session.readJournal());
    let resumed: RotationResult | undefined;
    if (unfinished.length > 0) {
      if (!opts.due) {
        throw new UsageError(
          `${unfinished.map((r) => unfinishedLine(describeUnfinished([r])[0]!, `ftr resume --config ${opts.config}`)).join("; ")}; run \`ftr resume --config ${opts.config}\` first`,
        );
      }
      for (const run of unfinished) {
        if (!opts.json)
          println(io.stderr, x(`resuming run ${run.runId}: ${run.environment} from ${run.last.step} first`));
      }
      resumed = await resumeRuns({ ...base, state: session });
      if (!resumed.ok) {
        report(io, resumed, opts.json === true);
        return 1;
      }
      if (!opts.json) report(io, resumed, false);
    }
    if (windows) {
      const state = windowState(windows.windows, windows.timeZone, new Date());
      if (!state.open) {
        const next = state.nextOpen
          ? `; it next opens ${formatTime(state.nextOpen)} (${windows.timeZone})`
          : "; it never opens";
        const line = `outside the rotation window (${windows.windows.map((w) => w.text).join(", ")}, ${windows.timeZone})${next}: nothing started`;
        if (opts.json)
          printJson(io, {
            resumed: resumed ?? null,
            plan: null,
            result: null,
            window: { open: false, nextOpen: state.nextOpen?.toISOString() ?? null },
          });
        else println(io.stderr, line);
        return 0;
      }
    }
    await requireSuperuser(client);
    const plan = await computePlan(loaded, client, opts, io.signal, { dueOnly: opts.due === true });
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
      if (opts.json) printJson(io, { ...(resumed ? { resumed } : {}), plan, result: null });
      else println(io.stderr, opts.due ? "Nothing due." : "Nothing to rotate.");
      return 0;
    }
    const needApproval = due.filter(
      (e) => loaded.config.environments.find((c) => c.name === e.environment)?.approval === "required",
    );
    const interactive = io.stdin.isTTY === true && io.stderr.isTTY === true;
    // Unattended (--due with nobody at a terminal): approval-required environments are left alone, aloud.
    const unattended = opts.due === true && !interactive;
    if (needApproval.length > 0 && !opts.yes && !interactive && !unattended) {
      throw new UsageError(
        `${needApproval.map((e) => e.environment).join(", ")} need(s) approval: run with --yes, or on a terminal to be asked`,
      );
    }
    const result = await rotateEnvironments({
      ...base,
      state: session,
      runId,
      plan,
      keepOld: opts.keepOld === true,
      unattended,
      ...(windows ? { mayStart: windowGate(windows) } : {}),
      ...(opts.yes && !opts.due
        ? {}
        : { approve: (env: string) => confirm(io, `Rotate the token of ${x(env)} now?`) }),
    });
    progress.stop();
    report(io, result, opts.json === true, plan);
    return result.ok ? 0 : 1;
  } finally {
    progress.stop();
    await session.release();
  }
}

/** `ftr resume`. */
export async function resume(io: CliIO, opts: ResumeOpts): Promise<number> {
  const loaded = await loadConfigOption(io, opts.config);
  const client = requireClient(io, loaded);
  let progress: Progress | undefined;
  // The lock first: a live run's journal looks unfinished, and the holder is named instead.
  if (opts.abandon !== undefined && opts.yes !== true) {
    const interactive = io.stdin.isTTY === true && io.stderr.isTTY === true;
    if (!interactive) {
      throw new UsageError(
        `--abandon marks run ${opts.abandon} finished without acting: add --yes, or run it on a terminal to be asked`,
      );
    }
  }
  const session = await (await stateBackend(loaded.config)).acquire(io.signal ? { signal: io.signal } : {});
  try {
    const runs = unfinishedRunsOf(await session.readJournal());
    if (opts.abandon !== undefined) {
      const mine = runs.filter((r) => r.runId === opts.abandon);
      if (mine.length === 0) {
        throw new UsageError(
          `no unfinished run ${opts.abandon} in the journal${runs.length ? `; unfinished: ${[...new Set(runs.map((r) => r.runId))].join(", ")}` : ""}`,
        );
      }
      if (opts.yes !== true && !(await confirm(io, `Mark run ${x(opts.abandon)} finished without acting?`))) {
        println(io.stderr, "Nothing done: declined.");
        return 1;
      }
      const abandoned = abandonRun(session.journal, mine);
      await session.journal.flush();
      if (opts.json) printJson(io, { abandoned });
      else {
        for (const a of abandoned) {
          println(
            io.stdout,
            x(
              `${a.environment}: run ${a.runId} abandoned; nothing was revoked or restored. Tokens it named: new ${a.newTokenId ?? "(none)"}, old ${a.oldTokenIds.join(", ") || "(none)"}: check them with \`ftr status --config ${opts.config}\``,
            ),
          );
        }
      }
      return 0;
    }
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
            `resuming run ${run.runId}: ${run.environment} from ${step}${status === "done" ? "" : status === "begin" ? " (begun, not finished)" : isInterrupted(run.last) ? " (interrupted)" : " (failed)"}`,
          ),
        );
      }
    }
    const log = stderrLogger(io);
    progress = progressFor(io, loaded, opts.json === true);
    const result = await resumeRuns({
      config: loaded.config,
      client,
      getPassword: passwordSource(io, opts.passwordStdin === true),
      passwordAgain: passwordRetry(io, opts.passwordStdin === true),
      log,
      ...(io.signal ? { signal: io.signal } : {}),
      notify: await notificationsFor(loaded.config.notify, log, { env: io.env }),
      onEvent: (event) => progress?.onEvent(event),
      onWaiting: (env, reason) => progress?.onWaiting(env, reason),
      state: session,
    });
    progress.stop();
    report(io, result, opts.json === true);
    return result.ok ? 0 : 1;
  } finally {
    progress?.stop();
    await session.release();
  }
}

/** `ftr rollback`. */
export async function rollback(io: CliIO, opts: RollbackOpts): Promise<number> {
  const loaded = await loadConfigOption(io, opts.config);
  const client = requireClient(io, loaded);
  const env = loaded.config.environments.find((e) => e.name === opts.env);
  if (!env) {
    throw new UsageError(`no environment named "${opts.env}" in ${opts.config}`);
  }
  // Asked like `rotate`: undoing production is as much a change as rotating it.
  if (env.approval === "required" && !opts.yes) {
    const interactive = io.stdin.isTTY === true && io.stderr.isTTY === true;
    if (!interactive) {
      throw new UsageError(`${env.name} needs approval: run with --yes, or on a terminal to be asked`);
    }
  }
  let result: RollbackResult;
  const log = stderrLogger(io);
  const progress = progressFor(io, loaded, opts.json === true);
  // The lock first: a live run is named, and the journal is read only while nobody can write it.
  const session = await (await stateBackend(loaded.config)).acquire(io.signal ? { signal: io.signal } : {});
  try {
    if (env.approval === "required" && !opts.yes) {
      if (!(await confirm(io, `Roll back the last rotation of ${x(env.name)} now?`))) {
        println(io.stderr, "Nothing done: declined at the approval prompt.");
        return 1;
      }
    }
    result = await rollbackLast({
      config: loaded.config,
      client,
      environment: opts.env,
      getPassword: () => Promise.reject(new UsageError("rollback needs no password")),
      log,
      ...(io.signal ? { signal: io.signal } : {}),
      notify: await notificationsFor(loaded.config.notify, log, { env: io.env }),
      onEvent: (event) => progress.onEvent(event),
      onWaiting: (env, reason) => progress.onWaiting(env, reason),
      state: session,
    });
  } catch (error) {
    if (!(error instanceof AlreadyRolledBack)) throw error;
    // Asking twice is not a failure: the state asked for is the state there is.
    if (opts.json === true) printJson(io, { ok: true, nothingToDo: error.message });
    else println(io.stderr, x(error.message));
    return 0;
  } finally {
    progress.stop();
    await session.release();
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

/** The windows `rotate --due` starts environments in: `--window`, else `schedule.window`. */
function dueWindows(
  loaded: LoadedConfig,
  fromFlag: string[] | undefined,
): { windows: Window[]; timeZone: string } {
  const timeZone = loaded.config.schedule?.timeZone ?? "UTC";
  const specs = fromFlag ?? loaded.config.schedule?.windows ?? [];
  try {
    return { windows: specs.map(parseWindow), timeZone };
  } catch (error) {
    if (error instanceof WindowError) throw new UsageError(`--window: ${error.message}`);
    throw error;
  }
}

/** Before each environment: a reason not to start it when the window has closed meanwhile. */
function windowGate(w: { windows: Window[]; timeZone: string }): (env: string) => string | undefined {
  return () => {
    const state = windowState(w.windows, w.timeZone, new Date());
    if (state.open) return undefined;
    return `the rotation window closed${state.nextOpen ? `; it next opens ${formatTime(state.nextOpen)} (${w.timeZone})` : ""}`;
  };
}

function checkEnvNames(loaded: LoadedConfig, only: readonly string[]): void {
  const unknown = only.filter((n) => !loaded.config.environments.some((e) => e.name === n));
  if (unknown.length > 0) {
    throw new UsageError(
      `no environment named ${unknown.map((n) => `"${n}"`).join(", ")}; the config has ${loaded.config.environments.map((e) => e.name).join(", ")}`,
    );
  }
}

/** The plan for the selected environments, from live state. */
async function computePlan(
  loaded: LoadedConfig,
  client: FastlyClient,
  opts: { env?: string[]; force?: boolean; config: string },
  signal: AbortSignal | undefined,
  extra: { unfinished?: UnfinishedRun[]; dueOnly?: boolean } = {},
): Promise<Plan> {
  const only = opts.env ?? [];
  checkEnvNames(loaded, only);
  const stores = new Map<string, SecretStore>();
  for (const env of loaded.config.environments) {
    if (only.length === 0 || only.includes(env.name))
      stores.set(env.name, await createSecretStore(env.secret, signal ? { signal } : {}));
  }
  const state = await gatherState({ client, config: loaded.config, stores, signal });
  return makePlan(state, loaded.config, {
    // Due, dead and the new expiry follow the Fastly API's clock (its Date header), not this machine's.
    now: client.apiNow(),
    force: opts.force === true,
    only,
    resumeHint: `ftr resume --config ${opts.config}`,
    ...(extra.unfinished ? { unfinished: extra.unfinished } : {}),
    ...(extra.dueOnly ? { dueOnly: true } : {}),
  });
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

/** Human rendering of a plan (`rotate` shows it on stderr, where its progress goes), fitted to a terminal. */
function renderPlan(io: CliIO, plan: Plan, stream: CliIO["stdout"], summary = false): void {
  println(stream, renderPlanText(plan, colours(stream, io.env), { width: widthOf(stream), summary }));
}

/**
 * Live progress on stderr (see render/progress.ts), with each step's time limit from the config:
 * the sum of its reloaders' or verifiers' timeouts.
 */
function progressFor(io: CliIO, loaded: LoadedConfig, json: boolean): Progress {
  const timeouts = new Map<string, number>();
  for (const env of loaded.config.environments) {
    const sum = (targets: { timeoutMs?: number }[]) =>
      targets.reduce((total, t) => total + (t.timeoutMs ?? 0), 0) || undefined;
    const reload = sum(env.reload.map(describeReloader));
    const verify = sum(env.verify.map(describeVerifier));
    for (const [step, ms] of [
      ["reload", reload],
      ["rollback-reload", reload],
      ["verify", verify],
      ["rollback-verify", verify],
    ] as const) {
      if (ms !== undefined) timeouts.set(`${env.name}/${step}`, ms);
    }
  }
  return progressReporter({
    stream: io.stderr,
    paint: colours(io.stderr, io.env),
    width: widthOf(io.stderr),
    json,
    timeoutOf: (env, step) => timeouts.get(`${env}/${step}`),
    ...(io.activity ? { activity: io.activity } : {}),
  });
}

/** The end-of-run summary: a table on a terminal, or the whole result as JSON. */
function report(io: CliIO, result: RotationResult, json: boolean, plan?: Plan, verdict = true): void {
  if (json) {
    printJson(io, plan ? { plan, result } : result);
    return;
  }
  const c = colours(io.stdout, io.env);
  const rows = result.environments.map((env) => {
    const paint =
      env.outcome === "rotated" || env.outcome === "kept-old"
        ? c.green
        : env.outcome === "nothing-to-do" || env.outcome === "skipped"
          ? undefined
          : c.red;
    // "previous" when what was revoked is exactly the previous token: the common case, in 8 columns.
    const revoked =
      env.revoked.length === 1 && env.revoked[0] === env.deployedTokenId
        ? "previous"
        : env.revoked.join(", ");
    return [
      env.environment,
      { text: env.outcome, paint },
      env.newTokenId ?? "-",
      env.deployedTokenId ?? "-",
      revoked || "-",
    ];
  });
  const lines = fitTable(
    [
      { head: "environment" },
      { head: "outcome" },
      { head: "new token" },
      { head: "previous token", drop: 2 },
      { head: "revoked", drop: 1, elide: true, min: 8 },
    ],
    rows,
    { width: widthOf(io.stdout), head: c.bold },
  );
  println(io.stdout, lines.join("\n"));
  for (const env of result.environments) {
    for (const warning of env.warnings ?? []) {
      println(io.stdout, `${c.bold(x(env.environment))}: ${c.yellow("warning:")} ${x(warning)}`);
    }
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
