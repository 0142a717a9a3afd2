import type { Command } from "commander";
import { startEmulatorFromCli } from "../../emulator/index.ts";
import { runExporterFromCli } from "../../emulator/exporter.ts";
import type { CommandContext } from "../main.ts";
import { println, UsageError } from "../io.ts";

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Registers `emulator` and `emulator exporter`. */
export function register(program: Command, { io, run }: CommandContext): void {
  const emulator = program
    .command("emulator")
    .description("run the Fastly API emulator as a server (try a config safely; test clients)")
    .option("-p, --port <port>", "port to listen on (0 picks a free one)", "0")
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--seed <demo|file>", "the account to start with: `demo` or a JSON seed file", "demo")
    .addHelpText(
      "after",
      `
The first line of output is "Fastly API emulator listening on <url>". Admin API under
<url>/__emulator/ (requests, state, faults, clock, reset): see docs/emulator.md.

Examples:
  $ ftr emulator --port 8787
  $ FASTLY_API_ENDPOINT=http://127.0.0.1:8787 ftr plan --config ftr.yaml
  $ ftr emulator --seed ./my-account.json`,
    )
    .action((opts: { port: string; host: string; seed: string }) =>
      run(async () => {
        const port = Number(opts.port);
        if (!Number.isInteger(port) || port < 0 || port > 65535) {
          throw new UsageError(`--port must be a port number, got "${opts.port}"`);
        }
        let running;
        try {
          running = await startEmulatorFromCli({ port, host: opts.host, seed: opts.seed });
        } catch (error) {
          throw new UsageError(error instanceof Error ? error.message : String(error));
        }
        println(io.stdout, `Fastly API emulator listening on ${running.url}`);
        await io.interrupted;
        await running.close();
        return 0;
      }),
    );

  emulator
    .command("exporter")
    .description("run the fastly-exporter stand-in against an API endpoint (reads its token once)")
    .requiredOption("--endpoint <url>", "the Fastly API base URL (e.g. the emulator's)")
    .option("--listen <addr>", "host:port for /metrics", "127.0.0.1:8080")
    .option("--token-file <file>", "read the token from this file (default: FASTLY_API_TOKEN)")
    .option("--service-allowlist <regex>", "only services whose name matches (repeatable)", collect)
    .option("--poll-interval <duration>", "pause between realtime polls", "1s")
    .option("--auth-backoff <duration>", "pause after a 401/403", "120s")
    .addHelpText(
      "after",
      `
Examples:
  $ ftr emulator exporter --endpoint http://127.0.0.1:8787 --listen 127.0.0.1:9101 --token-file ./secrets/integration`,
    )
    .action(
      (opts: {
        endpoint: string;
        listen: string;
        tokenFile?: string;
        serviceAllowlist?: string[];
        pollInterval: string;
        authBackoff: string;
      }) =>
        run(async () => {
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
            throw new UsageError(error instanceof Error ? error.message : String(error));
          }
          return 0;
        }),
    );
}
