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

// A command stopped by a signal before it finished exits 128 + the signal's number (130 for SIGINT,
// 143 for SIGTERM). Commands that run until stopped (serve, emulator) end cleanly and keep their 0.
let signalled: number | undefined;
process.once("SIGINT", () => (signalled ??= 130));
process.once("SIGTERM", () => (signalled ??= 143));

const result = await main(process.argv.slice(2));
const code = result !== 0 && signalled !== undefined ? signalled : result;
process.exitCode = code;
// Exit only once stdout and stderr have drained: a pipe takes 64 KiB at a time, and exiting
// earlier cut `ftr status --json | cat` there. The explicit exit then stops servers and timers a
// command may have left behind.
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit(code);
