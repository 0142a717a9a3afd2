/**
 * Stopping on a signal. The first SIGINT/SIGTERM aborts the command's `AbortSignal` with an
 * `Interrupted` reason: every request, wait and child process group ends, no new step begins, and
 * the command exits 130/143 once what was running has stopped. A second signal exits at once; the
 * synchronous cleanups registered here (unlink the lock, kill child process groups) run first, since
 * nothing asynchronous can be trusted to finish then.
 */

/** The signals that stop a command. */
export type StopSignal = "SIGINT" | "SIGTERM";

/** The abort reason of a run stopped by a signal. */
export class Interrupted extends Error {
  override readonly name = "Interrupted";
  constructor(readonly signalName: StopSignal) {
    super(`interrupted by ${signalName}`);
  }

  /** 128 + the signal's number, as a shell reports a process ended by it. */
  get exitCode(): number {
    return exitCodeFor(this.signalName);
  }
}

/** 130 for SIGINT, 143 for SIGTERM. */
export function exitCodeFor(signal: StopSignal): number {
  return signal === "SIGINT" ? 130 : 143;
}

const cleanups = new Set<() => void>();

/**
 * Register a synchronous cleanup to run if the process must exit at once (a second signal).
 * Returns the function that unregisters it, for when the resource is released normally.
 */
export function onHardExit(cleanup: () => void): () => void {
  cleanups.add(cleanup);
  return () => {
    cleanups.delete(cleanup);
  };
}

/** Run every registered cleanup (each at most once); a failing one does not stop the others. */
export function runHardExitCleanups(): void {
  for (const cleanup of [...cleanups]) {
    cleanups.delete(cleanup);
    try {
      cleanup();
    } catch {
      // Exiting anyway: the rest still run.
    }
  }
}

/** The `Interrupted` reason of `signal`, when it was aborted by a signal. */
export function interruptionOf(signal: AbortSignal | undefined): Interrupted | undefined {
  const reason: unknown = signal?.aborted ? signal.reason : undefined;
  return reason instanceof Interrupted ? reason : undefined;
}
