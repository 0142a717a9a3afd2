/** The process entry point (bin `ftr` / `fastly-token-rotator`). */
// First: the credentials leave the environment before anything else runs (see credentials.ts).
import { startCredentials } from "./capture.ts";
import { main, processIO } from "./main.ts";

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

// `main` decides the exit code, 130/143 included: a command stopped by a signal before it finished
// exits 128 + the signal's number; commands that run until stopped (serve, emulator) end cleanly
// and keep their 0. A second signal exits at once from `processIO`.
const code = await main(process.argv.slice(2), processIO(startCredentials));
process.exitCode = code;
// Exit only once stdout and stderr have drained: a pipe takes 64 KiB at a time, and exiting
// earlier cut `ftr status --json | cat` there. The explicit exit then stops servers and timers a
// command may have left behind.
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit(code);
