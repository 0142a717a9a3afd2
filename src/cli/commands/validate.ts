import type { Command } from "commander";
import { formatIssues, parseConfig } from "../../config/index.ts";
import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import type { CommandContext } from "../main.ts";
import { colours, printJson, println, UsageError } from "../io.ts";

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
    .action((opts: { config: string; json?: boolean }) =>
      run(async () => {
        const path = resolve(io.cwd, opts.config);
        let text: string;
        try {
          text = await readFile(path, "utf8");
        } catch (error) {
          throw new UsageError(
            `cannot read the config ${opts.config}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
          );
        }
        const result = parseConfig(text, { baseDir: dirname(path), sourceName: opts.config });
        if (opts.json) {
          printJson(io, {
            valid: result.errors.length === 0,
            errors: result.errors,
            warnings: result.warnings,
          });
        } else {
          const c = colours(io.stdout, io.env);
          for (const line of formatIssues(result, opts.config)) {
            println(io.stdout, line.startsWith("error") ? c.red(line) : c.yellow(line));
          }
          if (result.errors.length === 0) {
            println(
              io.stdout,
              c.green(`${opts.config} is valid`) +
                ` (${result.config?.environments.length ?? 0} environments${result.warnings.length ? `, ${result.warnings.length} warning(s)` : ""})`,
            );
          }
        }
        if (result.errors.length > 0) {
          if (!opts.json)
            println(
              io.stderr,
              `error: ${result.errors.length} problem(s) in ${opts.config}; fix them and run again`,
            );
          return 2;
        }
        return 0;
      }),
    );
}
