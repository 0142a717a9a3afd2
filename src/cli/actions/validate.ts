/** The body of `validate`, loaded when it runs. */
import { dirname, resolve } from "node:path";
import { formatIssues, parseConfig, readConfigText } from "../../config/parse.ts";
import { escapeControl } from "../../util/escape.ts";
import { TooLargeError } from "../../util/limits.ts";
import type { ValidateOpts } from "../commands/validate.ts";
import { colours, OsError, printJson, println, UsageError, type CliIO } from "../io.ts";

/** `ftr validate`. */
export async function validate(io: CliIO, opts: ValidateOpts): Promise<number> {
  const path = resolve(io.cwd, opts.config);
  let text: string;
  try {
    text = await readConfigText(path);
  } catch (error) {
    if (error instanceof TooLargeError) throw new UsageError(`${opts.config}: ${error.message}`);
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
    for (const raw of formatIssues(result, opts.config)) {
      const line = escapeControl(raw);
      println(io.stdout, line.startsWith("error") ? c.red(line) : c.yellow(line));
    }
    if (result.errors.length === 0) {
      println(
        io.stdout,
        c.green(`${opts.config} is valid`) +
          ` (${plural(result.config?.environments.length ?? 0, "environment")}${result.warnings.length ? `, ${result.warnings.length} warning(s)` : ""})`,
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

/** "1 environment", "3 environments". */
function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
