import type { Command } from "commander";
import type { CommandContext } from "../context.ts";

/** `ftr demo` options. */
export interface DemoOpts {
  keep?: boolean;
  prometheus: boolean;
  json?: boolean;
}

/** Registers `demo`. */
export function register(program: Command, { io, run }: CommandContext): void {
  program
    .command("demo")
    .description("the whole job on the embedded emulator: plan, rotate three environments, status")
    .option("--keep", "keep the temporary directory (config, secrets, journal)")
    .option("--no-prometheus", "do not start Prometheus even when it is on PATH")
    .option("--json", "print the demo's figures as JSON at the end")
    .addHelpText(
      "after",
      `
Needs nothing beyond \`npm ci\`: starts the Fastly API emulator with a GOV.UK-shaped demo
account, one fastly-exporter stand-in per environment, and Prometheus when a binary is on PATH.

Examples:
  $ ftr demo
  $ ftr demo --keep          # then look at the journal and secrets it wrote`,
    )
    .action((opts: DemoOpts) => run(async () => (await import("../actions/demo.ts")).demo(io, opts)));
}
