import type { Command } from "commander";
import { DurationError, parseDuration } from "../../config/index.ts";
import {
  checkReport,
  collectStatus,
  renderStatus,
  startServe,
  ListenAddressError,
  parseListen,
} from "../../monitor/index.ts";
import type { CommandContext } from "../main.ts";
import {
  clientFromEnv,
  colours,
  endpointFor,
  loadConfigOption,
  printJson,
  println,
  printWarnings,
  stderrLogger,
  UsageError,
  type CliIO,
} from "../io.ts";

interface StatusOpts {
  config: string;
  json?: boolean;
}

interface CheckOpts {
  config: string;
  within?: string;
  all?: boolean;
  json?: boolean;
}

interface ServeOpts {
  config: string;
  listen: string;
  interval: string;
}

function durationOption(flag: string, text: string): number {
  try {
    const ms = parseDuration(text);
    if (ms <= 0) throw new DurationError(text, "it must be longer than zero");
    return ms;
  } catch (error) {
    if (error instanceof DurationError) throw new UsageError(`${flag}: ${error.message}`);
    throw error;
  }
}

/** Say on stderr that only deployed tokens are shown, and why (stdout stays clean for --json). */
function noteLimitation(io: CliIO, limitation: string | undefined): void {
  if (limitation) println(io.stderr, `${colours(io.stderr, io.env).yellow("note")} ${limitation}`);
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
    .action((opts: StatusOpts) =>
      run(async () => {
        const loaded = await loadConfigOption(io, opts.config);
        printWarnings(io, loaded);
        const client = clientFromEnv(io, loaded, false);
        const report = await collectStatus({
          client,
          config: loaded.config,
          now: new Date(),
          endpoint: endpointFor(io, loaded),
          signal: io.signal,
        });
        if (opts.json) {
          noteLimitation(io, report.limitation);
          printJson(io, report);
        } else {
          println(io.stdout, renderStatus(report, colours(io.stdout, io.env)));
        }
        return 0;
      }),
    );

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
    .addHelpText(
      "after",
      `
Exit codes: 0 nothing due, 1 a token is due or dead (one line each, with the command that fixes it),
2 bad usage or config. Needs no sudo; without FASTLY_API_TOKEN it checks the deployed tokens only.

Examples:
  $ ftr check --config ftr.yaml
  $ ftr check --config ftr.yaml --within 14d
  $ FASTLY_API_TOKEN=... ftr check --config ftr.yaml --all --json
  # crontab: every morning, mail the output when something is due
  0 7 * * *  cd /srv/ftr && ftr check --config ftr.yaml || true`,
    )
    .action((opts: CheckOpts) =>
      run(async () => {
        const withinMs = opts.within === undefined ? undefined : durationOption("--within", opts.within);
        const loaded = await loadConfigOption(io, opts.config);
        printWarnings(io, loaded);
        const client = clientFromEnv(io, loaded, false);
        const report = await collectStatus({
          client,
          config: loaded.config,
          now: new Date(),
          endpoint: endpointFor(io, loaded),
          signal: io.signal,
        });
        const result = checkReport(report, {
          configPath: opts.config,
          all: opts.all === true,
          ...(withinMs === undefined ? {} : { withinMs }),
        });
        noteLimitation(io, report.limitation);
        if (opts.json) {
          printJson(io, { ...result, ...(withinMs === undefined ? {} : { withinMs }) });
          return result.ok ? 0 : 1;
        }
        const c = colours(io.stdout, io.env);
        for (const f of result.findings) {
          println(io.stdout, `${f.reason === "expiring" ? c.yellow("DUE") : c.red("FAIL")} ${f.message}`);
        }
        if (result.ok) {
          const next = result.next
            ? `; next: ${result.next.environment ?? result.next.tokenId} expires ${result.next.expiresAt.slice(0, 10)}`
            : "";
          println(
            io.stdout,
            `${c.green("OK")} ${report.environments.length} environment(s), ${result.checkedTokens} token(s) checked: nothing due${opts.within ? ` within ${opts.within}` : ""}${next}`,
          );
          return 0;
        }
        println(io.stderr, `${result.findings.length} problem(s) found`);
        return 1;
      }),
    );

  program
    .command("serve")
    .description(
      "Prometheus metrics on token expiry, deployed tokens and rotation results (/metrics, /healthz)",
    )
    .requiredOption("-c, --config <file>", "the YAML config")
    .requiredOption("-l, --listen <addr>", "HOST:PORT, or :PORT for every interface")
    .option("-i, --interval <duration>", "time between refreshes of the Fastly data", "5m")
    .addHelpText(
      "after",
      `
Each refresh makes one token listing, one service listing and at most one GET /tokens/self per
environment; scrapes never call Fastly. When a refresh fails the last good values stay and
fastly_token_rotator_refresh_success drops to 0. /healthz answers 200 while the last refresh
succeeded or the last success is younger than three intervals. Stops on SIGINT/SIGTERM.

Examples:
  $ FASTLY_API_TOKEN=... ftr serve --config ftr.yaml --listen :9300
  $ ftr serve --config ftr.yaml --listen 127.0.0.1:9300 --interval 10m`,
    )
    .action((opts: ServeOpts) =>
      run(async () => {
        const intervalMs = durationOption("--interval", opts.interval);
        try {
          parseListen(opts.listen);
        } catch (error) {
          if (error instanceof ListenAddressError) throw new UsageError(error.message);
          throw error;
        }
        const loaded = await loadConfigOption(io, opts.config);
        printWarnings(io, loaded);
        const log = stderrLogger(io);
        const client = clientFromEnv(io, loaded, false);
        const handle = await startServe({
          config: loaded.config,
          client,
          listen: opts.listen,
          intervalMs,
          endpoint: endpointFor(io, loaded),
          log,
        });
        println(io.stdout, `ftr serve listening on ${handle.url}`);
        if (!client) log.warn("FASTLY_API_TOKEN is not set: exporting the deployed tokens only");
        await io.interrupted;
        log.info("shutting down");
        await handle.close();
        return 0;
      }),
    );
}
