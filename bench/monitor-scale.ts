/**
 * Monitoring at scale, as a user runs it: `ftr status` (table, and --json) over an emulated account
 * with 2,000 automation tokens / 10,000 services and with 10,000 / 50,000, three configured
 * environments. The emulator runs as its own process (`ftr emulator --seed <file>`), so the figures
 * are the ftr process's alone: wall and CPU time and peak RSS from wait4 (bench/lib/process.ts),
 * the bytes printed (stdout is a pipe, as in `ftr status | less`), and the cost per token. Then `serve` refreshes and a
 * /metrics scrape in this process at the first size. Uses bin/ftr.js, which imports dist/: run
 * `npm run build` first. Loopback only.
 *
 *   npm run build && node --import tsx bench/monitor-scale.ts [--sizes 2000x10000,10000x50000] [--runs 3]
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import Table from "cli-table3";
import { loadConfig } from "../src/config/index.ts";
import { createEmulatorAdmin, demoCredentials, generateSeed } from "../src/emulator/index.ts";
import { createFastlyClient } from "../src/fastly/index.ts";
import { startServe } from "../src/monitor/index.ts";
import { median, timeProcess } from "./lib/process.ts";

const { values } = parseArgs({
  options: {
    sizes: { type: "string", default: "2000x10000,10000x50000" },
    runs: { type: "string", default: "3" },
  },
});
const runs = Number(values.runs);
const sizes = values.sizes.split(",").map((s) => {
  const [tokens = 0, services = 0] = s.split("x").map(Number);
  return { tokens, services };
});
const root = fileURLToPath(new URL("..", import.meta.url));
const bin = `${root}bin/ftr.js`;
if (!existsSync(`${root}dist/ftr/cli/bin.js`)) {
  console.error("dist/ is missing: run `npm run build` first (bin/ftr.js imports dist/)");
  process.exit(2);
}

/** `ftr emulator --seed file` as a child process; resolves with its URL once it listens. */
async function startEmulator(seedFile: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [bin, "emulator", "--seed", seedFile, "--port", "0"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once("line", resolve);
    child.once("exit", (code) => reject(new Error(`the emulator exited with ${code ?? "a signal"}`)));
  });
  const url = /listening on (\S+)/.exec(line)?.[1];
  if (url === undefined) throw new Error(`unexpected first line from the emulator: ${line}`);
  return {
    url,
    stop: () =>
      new Promise((resolve) => {
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;
const statusTable = new Table({
  head: [
    "tokens / services",
    "command",
    "wall ms",
    "cpu ms",
    "peak MiB",
    "µs a token (wall)",
    "µs a token (cpu)",
    "output KiB",
  ],
  style: { head: [], border: [] },
});
const perToken = new Map<string, number[]>();
const serveRows: (string | number)[][] = [];

for (const [n, size] of sizes.entries()) {
  const dir = await mkdtemp(join(tmpdir(), "ftr-bench-monitor-"));
  try {
    const seedFile = join(dir, "seed.json");
    await writeFile(
      seedFile,
      JSON.stringify(generateSeed({ services: size.services, automationTokens: size.tokens })),
    );
    const emulator = await startEmulator(seedFile);
    try {
      // Three environments deployed with bench tokens 0, 1 and 2 (values as generateSeed documents).
      let yaml = `version: 1\nfastly: { endpoint: "${emulator.url}" }\nstate: { dir: ./state }\nenvironments:`;
      for (const [i, name] of ["integration", "staging", "production"].entries()) {
        await writeFile(join(dir, `${name}.txt`), `bench-token-${i}`.padEnd(32, "x"), { mode: 0o600 });
        yaml += `\n  - name: ${name}\n    token: { name: "bench token ${i}", services: { all: true } }\n    secret: { type: file, path: ./${name}.txt }\n    verify: [{ type: token-in-use }]`;
      }
      await writeFile(join(dir, "ftr.yaml"), yaml + "\n");
      const env = { PATH: process.env.PATH ?? "", FASTLY_API_TOKEN: demoCredentials.superuser.token };

      for (const extra of [[], ["--json"]]) {
        const label = `ftr status${extra.length ? " " + extra.join(" ") : ""}`;
        const wall: number[] = [];
        const cpu: number[] = [];
        const peak: number[] = [];
        let bytes = 0;
        for (let i = 0; i < runs; i++) {
          const r = await timeProcess(process.execPath, [bin, "status", "--config", "ftr.yaml", ...extra], {
            cwd: dir,
            env,
          });
          if (r.code !== 0) throw new Error(`${label} exited ${r.code}: ${r.stderr}`);
          wall.push(r.wallMs);
          cpu.push(r.cpuMs);
          peak.push(r.peakMiB);
          bytes = r.stdoutBytes;
        }
        const us = (median(wall) * 1000) / size.tokens;
        const usCpu = (median(cpu) * 1000) / size.tokens;
        perToken.set(label, [...(perToken.get(label) ?? []), usCpu]);
        statusTable.push([
          `${size.tokens} / ${size.services}`,
          label,
          Math.round(median(wall)),
          Math.round(median(cpu)),
          median(peak).toFixed(1),
          Math.round(us),
          Math.round(usCpu),
          Math.round(bytes / 1024),
        ]);
      }

      if (n === 0) {
        const admin = createEmulatorAdmin(emulator.url);
        const { config } = await loadConfig(join(dir, "ftr.yaml"));
        const client = createFastlyClient({ token: demoCredentials.superuser.token, endpoint: emulator.url });
        const handle = await startServe({ config, client, listen: "127.0.0.1:0", intervalMs: 3_600_000 });
        try {
          for (const what of ["serve refresh (first)", "serve refresh (next)"]) {
            await admin.clearRequests();
            const before = client.requestCount;
            const started = performance.now();
            const result = await handle.refresh();
            const ms = performance.now() - started;
            if (!result.ok) throw new Error(`serve refresh failed: ${result.errors.join("; ")}`);
            serveRows.push([
              what,
              client.requestCount - before,
              (await admin.requests()).length,
              Math.round(ms),
              mb(process.memoryUsage().rss),
            ]);
          }
          const started = performance.now();
          const text = await (await fetch(`${handle.url}/metrics`)).text();
          serveRows.push([
            `scrape /metrics (${Math.round(text.length / 1024)} KiB)`,
            0,
            0,
            Math.round(performance.now() - started),
            mb(process.memoryUsage().rss),
          ]);
        } finally {
          await handle.close();
        }
      }
    } finally {
      await emulator.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

console.log(
  `ftr status as a process (emulator in another), 3 environments, median of ${runs} runs; stdout a pipe`,
);
console.log(statusTable.toString());
if (sizes.length > 1) {
  for (const [label, costs] of perToken) {
    const first = costs[0] ?? 0;
    const last = costs.at(-1) ?? 0;
    console.log(
      `${label}: CPU a token, largest size / smallest: ${(last / first).toFixed(2)} (goal ≤ 1.25: no worse than linear)`,
    );
  }
}
if (serveRows.length > 0) {
  const table = new Table({
    head: ["serve, in this process", "client requests", "emulator requests", "wall ms", "RSS MiB after"],
    style: { head: [], border: [] },
  });
  for (const row of serveRows) table.push(row);
  console.log(`at ${sizes[0]?.tokens ?? 0} tokens / ${sizes[0]?.services ?? 0} services:`);
  console.log(table.toString());
}
