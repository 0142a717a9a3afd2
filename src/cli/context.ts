import type { CliIO } from "./io.ts";

/** What a command module gets to register itself. */
export interface CommandContext {
  readonly io: CliIO;
  /** Run a command body; its number is the exit code. */
  readonly run: (body: () => Promise<number>) => Promise<void>;
}
