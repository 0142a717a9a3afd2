import type { Command } from "commander";
import type { CommandContext } from "../context.ts";

/** `ftr emulator` options. */
export interface EmulatorOpts {
  port: string;
  host: string;
  seed: string;
  apiVersion?: string;
}

/** `ftr emulator exporter` options. */
export interface ExporterOpts {
  endpoint: string;
  listen: string;
  tokenFile?: string;
  serviceAllowlist?: string[];
  pollInterval: string;
  authBackoff: string;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Registers `emulator` and `emulator exporter`. */
export function register(program: Command, { io, run }: CommandContext): void {
  const emulator = program
    .command("emulator")
    .description("run the Fastly API emulator as a server (try a config safely; test clients)")
    .option("-p, --port <port>", "port to listen on (0 picks a free one)", "0")
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--seed <demo|file>", "the account to start with: `demo` or a JSON seed file", "demo")
    .option(
      "--api-version <2026|2025>",
      "2026: today's API (roles, limit_services, problem+json); 2025: the recorded 2024-2025 shapes (default: the seed's, else 2026)",
    )
    .addHelpText(
      "after",
      `
The first line of output is "Fastly API emulator listening on <url>". Admin API under
<url>/__emulator/ (requests, state, faults, clock, reset): see docs/emulator.md.

Examples:
  $ ftr emulator --port 8787
  $ FASTLY_API_ENDPOINT=http://127.0.0.1:8787 ftr plan --config ftr.yaml
  $ ftr emulator --seed ./my-account.json
  $ ftr emulator --api-version 2025`,
    )
    .action((opts: EmulatorOpts) =>
      run(async () => (await import("../actions/emulator.ts")).emulator(io, opts)),
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
    .action((opts: ExporterOpts) =>
      run(async () => (await import("../actions/emulator.ts")).exporter(io, opts)),
    );
}
