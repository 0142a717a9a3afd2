/** The body of `ftr completion`. */
import type { Command } from "commander";
import { loadConfig } from "../../config/index.ts";
import { commandsOf, completionScript, SHELLS, type Shell } from "../completion.ts";
import type { CompletionOpts } from "../commands/completion.ts";
import { println, UsageError, type CliIO } from "../io.ts";

/** `ftr completion <shell>`, or `ftr completion --environments`. */
export async function completion(
  io: CliIO,
  program: Command,
  shell: string | undefined,
  opts: CompletionOpts,
): Promise<number> {
  if (opts.environments === true) {
    // Quiet whatever happens: a shell is completing, and a broken config must not print into it.
    if (opts.config === undefined) return 0;
    try {
      const { config } = await loadConfig(
        opts.config.startsWith("/") ? opts.config : `${io.cwd}/${opts.config}`,
      );
      for (const env of config.environments) println(io.stdout, env.name);
    } catch {
      // nothing to offer
    }
    return 0;
  }
  if (shell === undefined || !(SHELLS as readonly string[]).includes(shell)) {
    throw new UsageError(
      `${shell === undefined ? "name the shell" : `unknown shell "${shell}"`}: ftr completion ${SHELLS.join("|")}`,
    );
  }
  io.stdout.write(completionScript(shell as Shell, commandsOf(program)));
  return 0;
}
