/** The bodies of `sandbox`, `sandbox break` and `sandbox repair`, loaded when one of them runs. */
import { resolve } from "node:path";
import {
  controlSandbox,
  renderSandbox,
  SANDBOX_ENVIRONMENTS,
  SANDBOX_FAULTS,
  SandboxDirError,
  startSandbox,
  type SandboxEnvironment,
  type SandboxFault,
} from "../../sandbox/sandbox.ts";
import type { SandboxControlOpts, SandboxOpts } from "../commands/sandbox.ts";
import { OsError, printJson, println, UsageError, type CliIO } from "../io.ts";

const environmentOption = (value: string | undefined): SandboxEnvironment | undefined => {
  if (value === undefined) return undefined;
  const env = SANDBOX_ENVIRONMENTS.find((e) => e === value);
  if (!env) {
    throw new UsageError(`--env must be one of ${SANDBOX_ENVIRONMENTS.join(", ")}, got "${value}"`);
  }
  return env;
};

/** `ftr sandbox`: start, print, run until SIGINT/SIGTERM, stop. */
export async function sandbox(io: CliIO, opts: SandboxOpts): Promise<number> {
  let portBase: number | undefined;
  if (opts.portBase !== undefined) {
    portBase = Number(opts.portBase);
    if (!Number.isInteger(portBase) || portBase < 1 || portBase > 65535 - 10) {
      throw new UsageError(`--port-base must be a port number up to 65525, got "${opts.portBase}"`);
    }
  }
  const dir = resolve(io.cwd, opts.dir);
  let running;
  try {
    running = await startSandbox({
      dir,
      prometheus: opts.prometheus,
      ...(portBase === undefined ? {} : { portBase }),
      say: (line) => println(io.stderr, line),
    });
  } catch (error) {
    if (error instanceof SandboxDirError) throw new UsageError(error.message);
    const os = OsError.from(
      error,
      portBase === undefined
        ? `cannot start the sandbox in ${dir}`
        : `cannot listen on 127.0.0.1:${portBase}-${portBase + 10}`,
      portBase === undefined ? "--dir" : "--port-base",
    );
    if (os !== undefined) throw os;
    throw error;
  }
  if (opts.json) printJson(io, running.info);
  else println(io.stdout, renderSandbox(running.info));
  await io.interrupted;
  println(io.stderr, "Stopping the sandbox");
  await running.close();
  return 0;
}

/** `ftr sandbox break <fault>`. */
export async function sandboxBreak(io: CliIO, fault: string, opts: SandboxControlOpts): Promise<number> {
  const kind: SandboxFault | undefined = SANDBOX_FAULTS.find((f) => f === fault);
  if (!kind) throw new UsageError(`the fault must be one of ${SANDBOX_FAULTS.join(", ")}, got "${fault}"`);
  const env = environmentOption(opts.env);
  if (!env) throw new UsageError("give the environment to break with --env");
  const times = Number(opts.times ?? "1");
  if (!Number.isInteger(times) || times < 1) {
    throw new UsageError(`--times must be a whole number from 1, got "${opts.times}"`);
  }
  return control(io, opts.dir, { action: "break", env, fault: kind, times });
}

/** `ftr sandbox repair`. */
export async function sandboxRepair(io: CliIO, opts: SandboxControlOpts): Promise<number> {
  const env = environmentOption(opts.env);
  return control(io, opts.dir, { action: "repair", ...(env ? { env } : {}) });
}

async function control(
  io: CliIO,
  dirOption: string,
  request: Parameters<typeof controlSandbox>[1],
): Promise<number> {
  try {
    println(io.stdout, await controlSandbox(resolve(io.cwd, dirOption), request));
  } catch (error) {
    if (error instanceof SandboxDirError) throw new UsageError(error.message);
    throw error;
  }
  return 0;
}
