/**
 * Time a whole process from outside: wall and CPU seconds and peak RSS as the kernel accounts them
 * (`wait4`'s rusage, to the microsecond), and the bytes it printed. Shared by the benchmarks that run
 * `ftr` itself. Node cannot read a child's rusage, and /usr/bin/time prints CPU seconds to two
 * decimals only, which truncates `node -e 0` (about 50 ms) by up to a fifth and skews every ratio
 * against it; so a few lines of python3 (present wherever Debian is) fork, exec and `wait4`.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** One finished run. */
export interface ProcessFigures {
  readonly code: number | null;
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly peakMiB: number;
  readonly stdoutBytes: number;
  readonly stderr: string;
}

/** Fork, exec, `wait4`; writes "wall user sys maxrss_kib exit_code" to argv[1]. */
const WAIT4 = `
import os, sys, time
out, argv = sys.argv[1], sys.argv[2:]
start = time.monotonic()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(argv[0], argv)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
wall = time.monotonic() - start
with open(out, "w") as f:
    f.write(f"{wall} {usage.ru_utime} {usage.ru_stime} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}\\n")
`;

/** Run `command args` and time it; stdout is read (and counted) through a pipe. */
export async function timeProcess(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<ProcessFigures> {
  const dir = await mkdtemp(join(tmpdir(), "ftr-bench-time-"));
  const out = join(dir, "time");
  try {
    const child = spawn("python3", ["-c", WAIT4, out, command, ...args], {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdoutBytes = 0;
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdoutBytes += chunk.length));
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    const timer = await new Promise<number | null>((resolve, reject) => {
      child.once("error", reject);
      child.once("close", resolve);
    });
    if (timer !== 0) throw new Error(`the timer (python3) exited ${timer}: ${stderr}`);
    const [wall = 0, user = 0, sys = 0, rssKiB = 0, code = 0] = (await readFile(out, "utf8"))
      .trim()
      .split(" ")
      .map(Number);
    return {
      code,
      wallMs: wall * 1000,
      cpuMs: (user + sys) * 1000,
      peakMiB: rssKiB / 1024,
      stdoutBytes,
      stderr,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The median of `values` (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}
