import type { Command } from "commander";
import Table from "cli-table3";
import { createSecretStore } from "../../adapters/registry.ts";
import type { SecretStore } from "../../adapters/types.ts";
import type { LoadedConfig } from "../../config/index.ts";
import { FastlyForbiddenError, type FastlyClient } from "../../fastly/index.ts";
import { gatherState, makePlan, type Plan } from "../../plan/index.ts";
import {
  AlreadyRolledBack,
  resume,
  rollbackLast,
  rotate,
  unfinishedRuns,
  type RotationEvent,
  type RotationResult,
} from "../../rotation/index.ts";
import type { CommandContext } from "../main.ts";
import {
  clientFromEnv,
  colours,
  confirm,
  loadConfigOption,
  passwordSource,
  printJson,
  println,
  printWarnings,
  stderrLogger,
  UsageError,
  type CliIO,
} from "../io.ts";

interface PlanOpts {
  config: string;
  env?: string[];
  json?: boolean;
  force?: boolean;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Registers `plan`, `rotate`, `resume` and `rollback`. */
export function register(program: Command, { io, run }: CommandContext): void {
  program
    .command("plan")
    .description("show what would be rotated, created and revoked, and why (makes no change)")
    .requiredOption("-c, --config <file>", "the YAML config")
    .option("-e, --env <name>", "only this environment (repeatable)", collect)
    .option("--force", "plan a rotation even where nothing is due")
    .option("--json", "print the plan as JSON")
    .addHelpText(
      "after",
      `
Examples:
  $ FASTLY_API_TOKEN=... ftr plan --config ftr.yaml
  $ ftr plan --config ftr.yaml --env production --json`,
    )
    .action((opts: PlanOpts) =>
      run(async () => {
        const loaded = await loadConfigOption(io, opts.config);
        printWarnings(io, loaded);
        const client = clientFromEnv(io, loaded) as FastlyClient;
        const plan = await computePlan(loaded, client, opts, io.signal);
        if (opts.json) printJson(io, plan);
        else renderPlan(io, plan, io.stdout);
        return plan.environments.some((e) => e.decision === "error") ? 1 : 0;
      }),
    );

  program
    .command("rotate")
    .description("run the rotation protocol for every due environment, in config order")
    .requiredOption("-c, --config <file>", "the YAML config")
    .option("-e, --env <name>", "only this environment (repeatable)", collect)
    .option("-y, --yes", "do not ask before environments with `approval: required`")
    .option("--force", "rotate even where nothing is due")
    .option("--keep-old", "do not revoke the old token (so `ftr rollback` can undo the run)")
    .option("--password-stdin", "read the sudo password from standard input")
    .option("--json", "print the full result as JSON")
    .addHelpText(
      "after",
      `
The protocol, per environment: mint a new token, test it, stage and promote it in the secret
store, run the reloaders, verify the consumer uses it, then revoke the old token and prove it
is refused. A failure before the revoke restores the previous secret and revokes the new token.

Examples:
  $ export FASTLY_API_TOKEN=...                  # a superuser's user token
  $ ftr rotate --config ftr.yaml                  # asks for the sudo password
  $ printf '%s' "$PW" | ftr rotate --config ftr.yaml --password-stdin --yes
  $ ftr rotate --config ftr.yaml --env staging --force --json`,
    )
    .action((opts: PlanOpts & { yes?: boolean; keepOld?: boolean; passwordStdin?: boolean }) =>
      run(async () => {
        const loaded = await loadConfigOption(io, opts.config);
        printWarnings(io, loaded);
        const client = clientFromEnv(io, loaded) as FastlyClient;
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
        const result = await rotate({
          config: loaded.config,
          client,
          plan,
          getPassword: passwordSource(io, opts.passwordStdin === true),
          log: stderrLogger(io),
          ...(io.signal ? { signal: io.signal } : {}),
          onEvent: progressPrinter(io, opts.json === true),
          keepOld: opts.keepOld === true,
          ...(opts.yes ? {} : { approve: (env: string) => confirm(io, `Rotate the token of ${env} now?`) }),
        });
        report(io, result, opts.json === true, plan);
        return result.ok ? 0 : 1;
      }),
    );

  program
    .command("resume")
    .description("finish or roll back environments whose run was interrupted (crash, kill, lost network)")
    .requiredOption("-c, --config <file>", "the YAML config")
    .option("--password-stdin", "read the sudo password from standard input")
    .option("--json", "print the full result as JSON")
    .addHelpText(
      "after",
      `
Reads the journal in the state directory and, for every unfinished environment, continues
from its last durable step, or rolls it back when the new token's value was never stored.

Examples:
  $ ftr resume --config ftr.yaml`,
    )
    .action((opts: { config: string; json?: boolean; passwordStdin?: boolean }) =>
      run(async () => {
        const loaded = await loadConfigOption(io, opts.config);
        const client = clientFromEnv(io, loaded) as FastlyClient;
        if (unfinishedRuns(loaded.config.stateDir).length === 0) {
          if (opts.json) printJson(io, { runId: null, ok: true, environments: [] });
          else println(io.stderr, "Nothing to resume: every run in the journal finished.");
          return 0;
        }
        const result = await resume({
          config: loaded.config,
          client,
          getPassword: passwordSource(io, opts.passwordStdin === true),
          log: stderrLogger(io),
          ...(io.signal ? { signal: io.signal } : {}),
          onEvent: progressPrinter(io, opts.json === true),
        });
        report(io, result, opts.json === true);
        return result.ok ? 0 : 1;
      }),
    );

  program
    .command("rollback")
    .description("undo the last completed rotation of one environment while its old token lives")
    .requiredOption("-c, --config <file>", "the YAML config")
    .requiredOption("-e, --env <name>", "the environment")
    .option("--json", "print the full result as JSON")
    .addHelpText(
      "after",
      `
Restores the previous secret, runs the reloaders, verifies the old token is in use again and
revokes the new one. Possible after \`ftr rotate --keep-old\`, or when the revoke failed.

Examples:
  $ ftr rollback --config ftr.yaml --env staging`,
    )
    .action((opts: { config: string; env: string; json?: boolean }) =>
      run(async () => {
        const loaded = await loadConfigOption(io, opts.config);
        const client = clientFromEnv(io, loaded) as FastlyClient;
        if (!loaded.config.environments.some((e) => e.name === opts.env)) {
          throw new UsageError(`no environment named "${opts.env}" in ${opts.config}`);
        }
        let result: RotationResult;
        try {
          result = await rollbackLast({
            config: loaded.config,
            client,
            environment: opts.env,
            getPassword: () => Promise.reject(new UsageError("rollback needs no password")),
            log: stderrLogger(io),
            ...(io.signal ? { signal: io.signal } : {}),
            onEvent: progressPrinter(io, opts.json === true),
          });
        } catch (error) {
          if (!(error instanceof AlreadyRolledBack)) throw error;
          // Asking twice is not a failure: the state asked for is the state there is.
          if (opts.json === true) printJson(io, { ok: true, nothingToDo: error.message });
          else println(io.stderr, error.message);
          return 0;
        }
        report(io, result, opts.json === true);
        return result.ok ? 0 : 1;
      }),
    );
}

/** The plan for the selected environments, from live state. */
export async function computePlan(
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
      throw new UsageError(
        `FASTLY_API_TOKEN belongs to ${user.login}, whose role is ${user.role}: only a superuser can create automation tokens. Use a superuser's user token`,
      );
    }
  } catch (error) {
    if (error instanceof FastlyForbiddenError) {
      throw new UsageError(
        "FASTLY_API_TOKEN cannot read /current_user (is it an automation token?): automation tokens are created with a superuser's user token",
      );
    }
    throw error;
  }
}

/** Human rendering of a plan (`rotate` shows it on stderr, where its progress goes). */
export function renderPlan(io: CliIO, plan: Plan, stream: CliIO["stdout"]): void {
  const c = colours(stream, io.env);
  const out = (s = "") => println(stream, s);
  for (const env of plan.environments) {
    const label =
      env.decision === "error"
        ? c.red("ERROR")
        : env.rotate
          ? c.yellow(`ROTATE (${env.decision})`)
          : c.green("ok, nothing to do");
    out(`${c.bold(env.environment)}  ${label}`);
    for (const reason of env.reasons) out(`  why:      ${reason}`);
    for (const error of env.errors) out(`  ${c.red("error:")}    ${error}`);
    const d = env.deployed;
    out(
      `  deployed: ${d.status === "valid" ? `${d.tokenId}${d.managed ? "" : " (not a managed token)"}${d.expiresAt ? `, expires ${d.expiresAt.replace(/\.\d{3}Z$/, "Z")}` : ", never expires"}` : `${d.status}${d.reason ? ` (${d.reason})` : ""}`}`,
    );
    out(
      `  services: ${env.services.length > 0 ? env.services.map((s) => `${s.name} (${s.id})`).join(", ") : env.errors.length > 0 ? "none matched" : "all services"}`,
    );
    if (env.rotate) {
      out(
        `  create:   "${env.create.name}" ${env.create.scope}, role ${env.create.role}, expires ${env.create.expiresAt}`,
      );
      out(
        `  revoke:   ${env.revoke.length ? env.revoke.join(", ") : "nothing"} (after the new token is verified in use)`,
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
    if (event.status === "begin" && io.activity) io.activity.current = `${event.environment} ${event.step}`;
    if (quiet) return;
    if (event.status === "begin") {
      begun.set(key, Date.parse(event.at));
      if (io.stderr.isTTY) io.stderr.write(c.dim(`  ${event.environment}: ${event.step}…\r`));
      return;
    }
    const started = begun.get(key);
    const took =
      started === undefined ? "" : c.dim(` (${((Date.parse(event.at) - started) / 1000).toFixed(1)}s)`);
    const mark = event.status === "done" ? c.green("✓") : c.red("✗");
    const clear = io.stderr.isTTY ? "\x1b[2K" : "";
    println(
      io.stderr,
      `${clear}${mark} ${event.environment.padEnd(12)} ${event.step.padEnd(16)} ${event.detail ?? ""}${took}`,
    );
  };
}

/** The end-of-run summary: a table on a terminal, or the whole result as JSON. */
function report(io: CliIO, result: RotationResult, json: boolean, plan?: Plan): void {
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
      env.environment,
      outcome,
      env.newTokenId ?? "-",
      env.deployedTokenId ?? "-",
      env.revoked.join(", ") || "-",
    ]);
  }
  println(io.stdout, table.toString());
  for (const env of result.environments) {
    if (env.error && env.outcome !== "nothing-to-do") {
      println(
        io.stdout,
        `${c.bold(env.environment)}: ${env.error}${env.advice ? `\n  → ${env.advice}` : ""}`,
      );
    }
  }
  println(io.stdout, result.ok ? c.green(`run ${result.runId}: done`) : c.red(`run ${result.runId}: failed`));
}
