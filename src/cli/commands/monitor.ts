import type { Command } from "commander";
import type { CommandContext } from "../context.ts";

/** `ftr status` options. */
export interface StatusOpts {
  config: string;
  json?: boolean;
  wide?: boolean;
}

/** `ftr check` options. */
export interface CheckOpts {
  config: string;
  within?: string;
  all?: boolean;
  json?: boolean;
  quiet?: boolean;
}

/** `ftr serve` options. */
export interface ServeOpts {
  config: string;
  listen: string;
  interval: string;
}

/** Registers `status`, `check` and `serve`. */
export function register(program: Command, { io, run }: CommandContext): void {
  program
    .command("status")
    .description(
      "every automation token in the account: expiry, last use, scope, services, managing environment, findings",
    )
    .requiredOption("-c, --config <file>", "the YAML config")
    .option("--json", "print the report as JSON (dates ISO 8601)")
    .option("--wide", "every column, however wide (default on a terminal: fit its width)")
    .addHelpText(
      "after",
      `
Works with a read-only credential: a superuser's user token lists the account without sudo. Without
FASTLY_API_TOKEN, or when the listing is refused, only each environment's deployed token is shown,
identified with itself (GET /tokens/self).

Examples:
  $ FASTLY_API_TOKEN=... ftr status --config ftr.yaml
  $ ftr status --config ftr.yaml --json | jq '.tokens[] | select(.findings | length > 0)'
  $ ftr status --config ftr.yaml                 deployed tokens only, no account credential`,
    )
    .action((opts: StatusOpts) => run(async () => (await import("../actions/monitor.ts")).status(io, opts)));

  program
    .command("check")
    .description(
      "exit 1 when a managed token expires within the window or the deployed token is dead (cron, CI)",
    )
    .requiredOption("-c, --config <file>", "the YAML config")
    .option(
      "--within <duration>",
      "one window for every token, e.g. 30d (default: each environment's rotateBefore)",
    )
    .option("--all", "check every automation token in the account, not only the deployed ones")
    .option("--json", "print { ok, findings, ... } as JSON")
    .option("-q, --quiet", "print nothing when nothing is due (for cron: mail only when there is news)")
    .addHelpText(
      "after",
      `
Exit codes: 0 nothing due, 1 a token is due or dead (one line each, with the command that fixes it)
or Fastly failed, 2 bad usage or config. Needs no sudo; without FASTLY_API_TOKEN it checks the deployed tokens only.

Examples:
  $ ftr check --config ftr.yaml
  $ ftr check --config ftr.yaml --within 14d
  $ FASTLY_API_TOKEN=... ftr check --config ftr.yaml --all --json
  # crontab: every morning; cron mails only when something is due or the check fails
  0 7 * * *  cd /srv/ftr && ftr check --config ftr.yaml --quiet`,
    )
    .action((opts: CheckOpts) => run(async () => (await import("../actions/monitor.ts")).check(io, opts)));

  program
    .command("serve")
    .description(
      "Prometheus metrics on token expiry, deployed tokens and rotation results (/metrics, /healthz)",
    )
    .requiredOption("-c, --config <file>", "the YAML config")
    .requiredOption(
      "-l, --listen <addr>",
      "HOST:PORT, or :PORT for every IPv4 interface (0.0.0.0:PORT); 127.0.0.1:PORT for this machine only",
    )
    .option("-i, --interval <duration>", "time between refreshes of the Fastly data", "5m")
    .addHelpText(
      "after",
      `
Each refresh makes one token listing, one service listing and at most one GET /tokens/self per
environment; scrapes never call Fastly. When a refresh fails the last good values stay and
fastly_token_rotator_refresh_success drops to 0. /healthz answers 200 while the last refresh
succeeded or the last success is younger than three intervals. Stops on SIGINT/SIGTERM.
--listen :9300 binds 0.0.0.0:9300, every IPv4 interface (reachable from the network); give
127.0.0.1:9300 for this machine only, or [::]:9300 for IPv6. A client may hold 32 connections at
once (256 in all), and must send its headers within 10 s.

Examples:
  $ FASTLY_API_TOKEN=... ftr serve --config ftr.yaml --listen :9300
  $ ftr serve --config ftr.yaml --listen 127.0.0.1:9300 --interval 10m`,
    )
    .action((opts: ServeOpts) => run(async () => (await import("../actions/monitor.ts")).serve(io, opts)));
}
