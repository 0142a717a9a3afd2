import type { Command } from "commander";
import { runDemo } from "../../demo/run-demo.ts";
import type { CommandContext } from "../main.ts";
import { colours, printJson, println } from "../io.ts";

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
    .action((opts: { keep?: boolean; prometheus: boolean; json?: boolean }) =>
      run(async () => {
        const c = colours(io.stderr, io.env);
        // Imported here: main imports this module, so a static import would be circular.
        const { main } = await import("../main.ts");
        const result = await runDemo({
          ftr: (argv, env) => main(argv, { ...io, env: { ...io.env, ...env } }),
          say: (line) => println(io.stderr, c.bold(line)),
          keep: opts.keep === true,
          prometheus: opts.prometheus,
        });
        if (opts.json) printJson(io, result);
        if (!result.ok) {
          println(
            io.stderr,
            c.red(
              `demo failed: rotate exited ${result.rotateExitCode}, ${result.refused} refused request(s)`,
            ),
          );
          return 1;
        }
        return 0;
      }),
    );
}
