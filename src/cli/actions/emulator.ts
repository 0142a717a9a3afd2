/** The bodies of `emulator` and `emulator exporter`, loaded when one of them runs. */
import { runExporterFromCli } from "../../emulator/exporter.ts";
import { startEmulatorFromCli } from "../../emulator/index.ts";
import type { EmulatorOpts, ExporterOpts } from "../commands/emulator.ts";
import { OsError, println, UsageError, type CliIO } from "../io.ts";

/** `ftr emulator`. */
export async function emulator(io: CliIO, opts: EmulatorOpts): Promise<number> {
  const port = Number(opts.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(`--port must be a port number, got "${opts.port}"`);
  }
  const apiVersion = opts.apiVersion;
  if (apiVersion !== undefined && apiVersion !== "2025" && apiVersion !== "2026") {
    throw new UsageError(
      `--api-version must be 2026 (today's API) or 2025 (the recorded 2024-2025 shapes), got "${apiVersion}"`,
    );
  }
  let running;
  try {
    running = await startEmulatorFromCli({
      port,
      host: opts.host,
      seed: opts.seed,
      ...(apiVersion === undefined ? {} : { apiVersion }),
    });
  } catch (error) {
    const os = OsError.from(error, `cannot listen on ${opts.host}:${port}`, "--host and --port");
    if (os !== undefined) throw os;
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  println(io.stdout, `Fastly API emulator listening on ${running.url}`);
  await io.interrupted;
  await running.close();
  return 0;
}

/** `ftr emulator exporter`. */
export async function exporter(io: CliIO, opts: ExporterOpts): Promise<number> {
  const controller = new AbortController();
  void io.interrupted.then(() => controller.abort());
  try {
    await runExporterFromCli({
      endpoint: opts.endpoint,
      listen: opts.listen,
      ...(opts.tokenFile ? { tokenFile: opts.tokenFile } : {}),
      serviceAllowlist: opts.serviceAllowlist ?? [],
      pollInterval: opts.pollInterval,
      authBackoff: opts.authBackoff,
      env: io.env,
      stdout: io.stdout,
      stderr: io.stderr,
      signal: controller.signal,
    });
  } catch (error) {
    const os = OsError.from(error, `cannot listen on ${opts.listen}`, "--listen");
    if (os !== undefined) throw os;
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  return 0;
}
