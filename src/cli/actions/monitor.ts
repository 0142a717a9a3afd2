/**
 * The bodies of `status`, `check` and `serve`, loaded when one of them runs. `serve` alone needs the
 * HTTP server, the metrics (prom-client, @opentelemetry/api) and the notifiers: they are imported
 * when it runs, so `status` and `check` start without them; `status` alone draws a table.
 */
import { DurationError, parseDuration } from "../../util/time.ts";
import type { FastlyClient } from "../../fastly/types.ts";
import { checkReport, shellQuote } from "../../monitor/check.ts";
import { withUnfinished } from "../../monitor/unfinished.ts";
import { environmentVerdicts } from "../../monitor/verdict.ts";
import { collectStatus, type StatusReport } from "../../monitor/status.ts";
import type { LoadedConfig } from "../../config/index.ts";
import type { CheckOpts, ServeOpts, StatusOpts } from "../commands/monitor.ts";
import { escapeControl as x } from "../../util/escape.ts";
import {
  colours,
  joinLines,
  OsError,
  printJson,
  printPieces,
  println,
  stderrLogger,
  UsageError,
  type CliIO,
} from "../io.ts";
import { jsonPieces } from "../../util/json-pieces.ts";
import { withSmallYoungGeneration } from "../../util/young-generation.ts";
import { endpointFor, insecureAllowed, loadConfigOption, optionalClient, printWarnings } from "../setup.ts";

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
  if (limitation) println(io.stderr, `${colours(io.stderr, io.env).yellow("note")} ${x(limitation)}`);
}

/**
 * Run `body` while showing on a terminal's stderr how many pages the client has fetched, so a long
 * listing visibly moves; nothing is written when stderr is not a terminal.
 */
async function withProgress<T>(
  io: CliIO,
  client: FastlyClient | undefined,
  body: () => Promise<T>,
): Promise<T> {
  if (client === undefined || io.stderr.isTTY !== true) return body();
  const start = client.requestCount;
  let shown = false;
  const timer = setInterval(() => {
    shown = true;
    io.stderr.write(`\r\x1b[2Klisting the account: ${client.requestCount - start} page(s) fetched…`);
  }, 200);
  try {
    return await body();
  } finally {
    clearInterval(timer);
    if (shown) io.stderr.write("\r\x1b[2K");
  }
}

/**
 * The account's status now, with the user's credential if there is one, and the runs the journal
 * holds unfinished; progress on a terminal.
 */
async function statusNow(io: CliIO, loaded: LoadedConfig, configArg: string): Promise<StatusReport> {
  const client = optionalClient(io, loaded);
  // The journal's reader and the state backend, not the rotation protocol (rotate.ts, resume.ts).
  const [{ stateBackend }, { unfinishedIn }] = await Promise.all([
    import("../../rotation/state/index.ts"),
    import("../../rotation/unfinished.ts"),
  ]);
  const unfinished = await unfinishedIn(await stateBackend(loaded.config));
  const report = await withProgress(io, client, () =>
    collectStatus({
      client,
      config: loaded.config,
      // Judged by the Fastly API's clock, read once the listing has answered.
      now: () => client?.apiNow() ?? new Date(),
      endpoint: endpointFor(io, loaded),
      allowInsecure: insecureAllowed(io, loaded),
      signal: io.signal,
    }),
  );
  return withUnfinished(report, unfinished, `ftr resume --config ${shellQuote(configArg)}`);
}

/**
 * `ftr status`. Reading and printing a large account run with V8's young generation kept at its
 * starting size: less peak memory and less CPU time (util/young-generation.ts).
 */
export function status(io: CliIO, opts: StatusOpts): Promise<number> {
  return withSmallYoungGeneration(() => statusCommand(io, opts));
}

async function statusCommand(io: CliIO, opts: StatusOpts): Promise<number> {
  const loaded = await loadConfigOption(io, opts.config);
  printWarnings(io, loaded);
  const report = await statusNow(io, loaded, opts.config);
  // Thousands of tokens are written a chunk at a time, not made into one text first.
  if (opts.json) {
    noteLimitation(io, report.limitation);
    // With each environment's verdict, the one `check` and `serve` give.
    await printPieces(io.stdout, jsonPieces({ ...report, verdicts: environmentVerdicts(report) }));
    return 0;
  }
  const tty = io.stdout.isTTY === true;
  const columns = (io.stdout as { columns?: number }).columns;
  // The table's renderer (and string-width, wrap-ansi) is loaded here: `check` has no use for it.
  const { statusLines } = await import("../../monitor/render.ts");
  const lines = statusLines(report, colours(io.stdout, io.env), {
    wide: opts.wide === true,
    // Only a terminal has a width; a file or a pipe gets every character.
    ...(tty && columns !== undefined && columns > 0 ? { width: columns } : {}),
  });
  await printPieces(io.stdout, joinLines(lines));
  return 0;
}

/** `ftr check`: the same reading as `status`, so the same young generation. */
export function check(io: CliIO, opts: CheckOpts): Promise<number> {
  return withSmallYoungGeneration(() => checkCommand(io, opts));
}

async function checkCommand(io: CliIO, opts: CheckOpts): Promise<number> {
  const withinMs = opts.within === undefined ? undefined : durationOption("--within", opts.within);
  const loaded = await loadConfigOption(io, opts.config);
  // Config warnings are no news to a cron job; `ftr validate` shows them.
  if (opts.quiet !== true) printWarnings(io, loaded);
  const report = await statusNow(io, loaded, opts.config);
  const result = checkReport(report, {
    configPath: opts.config,
    all: opts.all === true,
    ...(withinMs === undefined ? {} : { withinMs }),
  });
  if (opts.json) {
    noteLimitation(io, report.limitation);
    printJson(io, { ...result, ...(withinMs === undefined ? {} : { withinMs }) });
    return result.ok ? 0 : 1;
  }
  // --quiet: silent when all is well, so cron mails only when something is due.
  if (result.ok && opts.quiet === true) return 0;
  noteLimitation(io, report.limitation);
  const c = colours(io.stdout, io.env);
  for (const f of result.findings) {
    const label =
      f.reason === "expiring"
        ? c.yellow("DUE")
        : f.reason === "unfinished"
          ? c.red("UNFINISHED")
          : c.red("FAIL");
    println(io.stdout, `${label} ${x(f.message)}`);
  }
  if (result.ok) {
    const next = result.next
      ? `; next: ${x(result.next.environment ?? result.next.tokenId)} expires ${result.next.expiresAt.slice(0, 10)}`
      : "";
    println(
      io.stdout,
      `${c.green("OK")} ${report.environments.length} environment(s), ${result.checkedTokens} token(s) checked: nothing due${opts.within ? ` within ${opts.within}` : ""}${next}`,
    );
    return 0;
  }
  println(io.stderr, `${result.findings.length} problem(s) found`);
  return 1;
}

/** `ftr serve`. */
export async function serve(io: CliIO, opts: ServeOpts): Promise<number> {
  const intervalMs = durationOption("--interval", opts.interval);
  const [{ ListenAddressError, parseListen, startServe }, { notificationsFor }] = await Promise.all([
    import("../../monitor/serve.ts"),
    import("../../notify/dispatch.ts"),
  ]);
  try {
    parseListen(opts.listen);
  } catch (error) {
    if (error instanceof ListenAddressError) throw new UsageError(error.message);
    throw error;
  }
  const loaded = await loadConfigOption(io, opts.config);
  printWarnings(io, loaded);
  const log = stderrLogger(io);
  const client = optionalClient(io, loaded);
  const notify = await notificationsFor(loaded.config.notify, log, { env: io.env });
  let handle;
  try {
    handle = await startServe({
      config: loaded.config,
      client,
      listen: opts.listen,
      intervalMs,
      endpoint: endpointFor(io, loaded),
      allowInsecure: insecureAllowed(io, loaded),
      log,
      notify,
    });
  } catch (error) {
    throw OsError.from(error, `cannot listen on ${opts.listen}`, "--listen") ?? error;
  }
  println(io.stdout, `ftr serve listening on ${handle.url}`);
  if (!client) log.warn("FASTLY_API_TOKEN is not set: exporting the deployed tokens only");
  await io.interrupted;
  log.info("shutting down");
  await handle.close();
  return 0;
}
