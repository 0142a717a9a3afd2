import type { Command } from "commander";
import type { CommandContext } from "../context.ts";

/** `ftr validate` options. */
export interface ValidateOpts {
  config: string;
  json?: boolean;
}

/** Registers `validate`. */
export function register(program: Command, { io, run }: CommandContext): void {
  program
    .command("validate")
    .description("check a config: every error and warning at once, by the same code path as every command")
    .requiredOption("-c, --config <file>", "the YAML config")
    .option("--json", "print { valid, errors, warnings } as JSON")
    .addHelpText(
      "after",
      `
Examples:
  $ ftr validate --config ftr.yaml
  $ ftr validate --config ftr.yaml --json | jq '.errors'`,
    )
    .action((opts: ValidateOpts) =>
      run(async () => (await import("../actions/validate.ts")).validate(io, opts)),
    );
}
