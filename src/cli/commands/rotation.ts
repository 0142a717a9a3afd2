import type { Command } from "commander";
import type { CommandContext } from "../context.ts";

/** `ftr plan` options. */
export interface PlanOpts {
  config: string;
  env?: string[];
  json?: boolean;
  force?: boolean;
  detailedExitcode?: boolean;
}

/** `ftr rotate` options. */
export interface RotateOpts extends PlanOpts {
  yes?: boolean;
  keepOld?: boolean;
  passwordStdin?: boolean;
  due?: boolean;
  window?: string[];
}

/** `ftr resume` options. */
export interface ResumeOpts {
  abandon?: string;
  yes?: boolean;
  config: string;
  json?: boolean;
  passwordStdin?: boolean;
}

/** `ftr rollback` options. */
export interface RollbackOpts {
  config: string;
  env: string;
  json?: boolean;
  yes?: boolean;
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
    .option("--json", "print the plan as JSON (schema: docs/plan.md)")
    .option(
      "--detailed-exitcode",
      "exit 0 when nothing is to be rotated, 2 when something is, 1 on any error (as terraform plan)",
    )
    .addHelpText(
      "after",
      `
Per environment, in order: why it is (not) due, the deployed token, the services, where the
token goes (the secret store's exact target), whether approval is needed, and each step rotate
would take (mint, test, stage, promote, every reload and verify with its timeout, revoke, prove).

Exit codes: 0, or 1 when an environment has an error or an unfinished run. With
--detailed-exitcode: 0 nothing to rotate, 2 something to rotate, 1 any error (a usage or config
error too), so a script can tell them apart.

Examples:
  $ FASTLY_API_TOKEN=... ftr plan --config ftr.yaml
  $ ftr plan --config ftr.yaml --env production --json
  $ ftr plan --config ftr.yaml --detailed-exitcode; [ $? -eq 2 ] && echo "rotation due"`,
    )
    .action((opts: PlanOpts) => run(async () => (await import("../actions/rotation.ts")).plan(io, opts)));

  program
    .command("rotate")
    .description("run the rotation protocol for every due environment, in config order")
    .requiredOption("-c, --config <file>", "the YAML config")
    .option("-e, --env <name>", "only this environment (repeatable)", collect)
    .option("-y, --yes", "do not ask before environments with `approval: required`")
    .option("--force", "rotate even where nothing is due")
    .option("--keep-old", "do not revoke the old token (so `ftr rollback` can undo the run)")
    .option(
      "--due",
      "unattended: resume an unfinished run first, then rotate only what is due, inside the window",
    )
    .option(
      "--window <spec>",
      'with --due: when an environment may start, e.g. "Mon-Thu 09:30-16:00" (repeatable; overrides schedule.window)',
      collect,
    )
    .option("--password-stdin", "read the sudo password from standard input")
    .option("--json", "print the full result as JSON")
    .addHelpText(
      "after",
      `
The protocol, per environment: mint a new token, test it, stage and promote it in the secret
store, run the reloaders, verify the consumer uses it, then revoke the old token and prove it
is refused. A failure before the revoke restores the previous secret and revokes the new token.

The lock is taken first: the journal is read and the plan made while no other run can change
them. An unfinished run must be resumed first (--due resumes it by itself).

--due is for a scheduled job: it resumes an unfinished run, then rotates only environments whose
deployed token is within rotateBefore or refused by Fastly, starting none outside the window
(schedule.window in the config, or --window; exit 0 naming the next opening). Environments with
\`approval: required\` are rotated only when a person answers the prompt on a terminal; otherwise
they are skipped aloud (output, journal, notification, and serve's metric), even with --yes.

Examples:
  $ export FASTLY_API_TOKEN=...                  # a superuser's user token
  $ ftr rotate --config ftr.yaml                  # asks for the sudo password
  $ printf '%s' "$PW" | ftr rotate --config ftr.yaml --password-stdin --yes
  $ ftr rotate --config ftr.yaml --env staging --force --json
  $ ftr rotate --config ftr.yaml --due --yes      # a daily CronJob
  $ ftr rotate --config ftr.yaml --due --window "Mon-Thu 09:30-16:00"`,
    )
    .action((opts: RotateOpts) => run(async () => (await import("../actions/rotation.ts")).rotate(io, opts)));

  program
    .command("resume")
    .description("finish or roll back environments whose run was interrupted (crash, kill, lost network)")
    .requiredOption("-c, --config <file>", "the YAML config")
    .option("--password-stdin", "read the sudo password from standard input")
    .option(
      "--abandon <run-id>",
      "mark an unfinished run finished without acting (after a person has settled it by hand)",
    )
    .option("-y, --yes", "with --abandon: do not ask")
    .option("--json", "print the full result as JSON")
    .addHelpText(
      "after",
      `
Reads the journal and, for every unfinished environment, continues from its last durable step,
or rolls it back when the new token's value was never stored.

--abandon is for a run ftr cannot settle by itself: a write to a store that cannot be read back
(GitHub Actions, HCP Terraform) cut off by a crash, so nobody knows whether it landed. Check the
store and the consumer, revoke what must go in the Fastly web interface, then abandon the run: it
is journaled as finished (failed, abandoned), nothing is revoked or restored, and the tokens it
named are listed so that \`ftr status\` can be checked against them.

Examples:
  $ ftr resume --config ftr.yaml
  $ ftr resume --config ftr.yaml --abandon 20261206T101500Z-1a2b3c4d --yes`,
    )
    .action((opts: ResumeOpts) => run(async () => (await import("../actions/rotation.ts")).resume(io, opts)));

  program
    .command("rollback")
    .description("undo the last completed rotation of one environment while its old token lives")
    .requiredOption("-c, --config <file>", "the YAML config")
    .requiredOption("-e, --env <name>", "the environment")
    .option("-y, --yes", "do not ask when the environment has `approval: required`")
    .option("--json", "print the full result as JSON")
    .addHelpText(
      "after",
      `
Restores the previous secret, runs the reloaders, verifies the old token is in use again and
revokes the new one. Possible after \`ftr rotate --keep-old\`, or when the revoke failed.

An environment with \`approval: required\` is asked about on a terminal, as \`rotate\` does; without
one, --yes is needed.

Examples:
  $ ftr rollback --config ftr.yaml --env staging
  $ ftr rollback --config ftr.yaml --env production --yes`,
    )
    .action((opts: RollbackOpts) =>
      run(async () => (await import("../actions/rotation.ts")).rollback(io, opts)),
    );
}
