/** The body of `demo`, loaded when it runs. */
import { runDemo } from "../../demo/run-demo.ts";
import type { DemoOpts } from "../commands/demo.ts";
import { colours, printJson, println, type CliIO } from "../io.ts";
import { main } from "../main.ts";

/** `ftr demo`. */
export async function demo(io: CliIO, opts: DemoOpts): Promise<number> {
  const c = colours(io.stderr, io.env);
  // With --json, stdout carries only the result: the commands the demo runs print to stderr.
  const inner: CliIO = opts.json ? { ...io, stdout: io.stderr } : io;
  const result = await runDemo({
    ftr: (argv, env) => main(argv, { ...inner, env: { ...io.env, ...env } }),
    say: (line) => println(io.stderr, c.bold(line)),
    keep: opts.keep === true,
    prometheus: opts.prometheus,
  });
  if (opts.json) printJson(io, result);
  if (!result.ok) {
    println(
      io.stderr,
      c.red(`demo failed: rotate exited ${result.rotateExitCode}, ${result.refused} refused request(s)`),
    );
    return 1;
  }
  return 0;
}
