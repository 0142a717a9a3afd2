import type { Command } from "commander";
import type { CommandContext } from "../context.ts";

/** `ftr completion` options. */
export interface CompletionOpts {
  config?: string;
  environments?: boolean;
}

/** Registers `completion`. */
export function register(program: Command, { io, run }: CommandContext): void {
  program
    .command("completion")
    .description("print a shell completion script (bash, zsh or fish)")
    .argument("[shell]", "bash, zsh or fish")
    .option("-c, --config <file>", "the YAML config (for --environments)")
    .option("--environments", "print the config's environment names, one a line (used by the scripts)")
    .addHelpText(
      "after",
      `
Completes commands, flags, and environment names after --env (read from the config given with
--config on the line, else FTR_CONFIG, else ./ftr.yaml).

Examples:
  $ source <(ftr completion bash)                  # in ~/.bashrc
  $ ftr completion zsh > "\${fpath[1]}/_ftr"
  $ ftr completion fish > ~/.config/fish/completions/ftr.fish`,
    )
    .action((shell: string | undefined, opts: CompletionOpts) =>
      run(async () => (await import("../actions/completion.ts")).completion(io, program, shell, opts)),
    );
}
