/** The process entry point (bin `ftr` / `fastly-token-rotator`). */
import { main } from "./main.ts";

/** Resolves once everything written to `stream` so far has been handed to the OS. */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed || !stream.writable) return resolve();
    stream.write("", () => resolve());
  });
}

// A reader that goes away (`ftr status --json | head`) is not a failure of ours.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw error;
});

const code = await main(process.argv.slice(2));
process.exitCode = code;
// Exit only once stdout and stderr have drained: a pipe takes 64 KiB at a time, and exiting
// earlier cut `ftr status --json | cat` there. The explicit exit then stops servers and timers a
// command may have left behind.
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit(code);
