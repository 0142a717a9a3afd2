/**
 * Time a whole process from outside with /usr/bin/time: wall and CPU seconds and peak RSS as the
 * kernel accounts them, and the bytes it printed. Shared by the benchmarks that run `ftr` itself.
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

/** Run `command args` under /usr/bin/time; stdout is read (and counted) through a pipe. */
export async function timeProcess(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<ProcessFigures> {
  const dir = await mkdtemp(join(tmpdir(), "ftr-bench-time-"));
  const out = join(dir, "time");
  try {
    const child = spawn("/usr/bin/time", ["-o", out, "-f", "%e %U %S %M", command, ...args], {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdoutBytes = 0;
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdoutBytes += chunk.length));
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
    const [wall = 0, user = 0, sys = 0, rssKiB = 0] = (await readFile(out, "utf8"))
      .trim()
      .split("\n")
      .at(-1)!
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
