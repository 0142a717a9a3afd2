/** The body of `validate`, loaded when it runs. */
import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { formatIssues, parseConfig } from "../../config/parse.ts";
import type { ValidateOpts } from "../commands/validate.ts";
import { colours, OsError, printJson, println, UsageError, type CliIO } from "../io.ts";

/** `ftr validate`. */
export async function validate(io: CliIO, opts: ValidateOpts): Promise<number> {
  const path = resolve(io.cwd, opts.config);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const os = OsError.from(error, `cannot read the config ${opts.config}`);
    // Exit 2 like every other config problem, in the same words as the OS errors.
    throw new UsageError(os?.message ?? `cannot read the config ${opts.config}: ${String(error)}`);
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
}
