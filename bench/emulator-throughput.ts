/**
 * `GET /tokens/self` throughput of the emulator on loopback: a fixed number of requests at a fixed
 * concurrency over keep-alive connections, then requests/s and latency percentiles; measured fresh,
 * then again once the request log holds `--logged` requests (it keeps the newest 50,000, and adding
 * to a full log must cost no more than adding to an empty one).
 *
 *   node --import tsx bench/emulator-throughput.ts [--requests 20000] [--concurrency 32] [--logged 200000] [--large]
 *
 * `--large` serves a generated account (10,000 services, 2,000 automation tokens) instead of the demo.
 */
import { spawn } from "node:child_process";
import { Agent, request } from "node:http";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createEmulator, demoCredentials, demoSeed, generateSeed } from "../src/emulator/index.ts";

const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "20000" },
    concurrency: { type: "string", default: "32" },
    logged: { type: "string", default: "200000" },
    large: { type: "boolean", default: false },
    // Internal: run as the child process that only serves.
    serve: { type: "boolean", default: false },
  },
});

/** Serve until stdin closes; the first stdout line is the URL. */
async function serve(): Promise<void> {
  const emulator = await createEmulator({
    seed: values.large ? generateSeed({ services: 10_000, automationTokens: 2_000 }) : demoSeed,
  });
  process.stdout.write(`${emulator.url}\n`);
  process.stdin.resume();
  process.stdin.on("end", () => void emulator.close());
}

/** Start the emulator in a child process, so the load generator does not share its event loop. */
async function startServer(): Promise<{ url: string; stop: () => Promise<void> }> {
  const args = ["--import", "tsx", fileURLToPath(import.meta.url), "--serve"];
  if (values.large) args.push("--large");
  const child = spawn(process.execPath, args, { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout });
  const url = await new Promise<string>((resolve, reject) => {
    lines.once("line", resolve);
    child.once("exit", (code) => reject(new Error(`the emulator exited with ${code ?? "a signal"}`)));
  });
  return {
    url,
    stop: () =>
      new Promise((resolve) => {
        child.once("exit", () => resolve());
        child.stdin.end();
      }),
  };
}

async function benchmark(): Promise<void> {
  const total = Number(values.requests);
  const concurrency = Number(values.concurrency);
  const logged = Number(values.logged);
  // A hard stop so a regression cannot make the benchmark run for long.
  const deadline = Date.now() + 300_000;
  const server = await startServer();
  const target = new URL("/tokens/self", server.url);
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const headers = { "Fastly-Key": demoCredentials.superuser.token, "User-Agent": "emulator-bench" };

  const once = (): Promise<number> =>
    new Promise((resolve, reject) => {
      const started = performance.now();
      const req = request(target, { agent, headers }, (res) => {
        res.resume();
        res.on("end", () => {
          if (res.statusCode === 200) resolve(performance.now() - started);
          else reject(new Error(`unexpected status ${res.statusCode ?? "none"}`));
        });
      });
      req.on("error", reject);
      req.end();
    });

  /** `count` requests at the concurrency; their latencies, sorted, and the wall time. */
  const run = async (count: number): Promise<{ latencies: number[]; seconds: number }> => {
    const latencies: number[] = [];
    let issued = 0;
    const worker = async (): Promise<void> => {
      while (issued < count && Date.now() < deadline) {
        issued += 1;
        latencies.push(await once());
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: concurrency }, () => worker()));
    const seconds = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    return { latencies, seconds };
  };
  const print = (label: string, { latencies, seconds }: { latencies: number[]; seconds: number }): number => {
    const percentile = (p: number): string =>
      (latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? 0).toFixed(2);
    const rate = latencies.length / seconds;
    console.log(
      `  ${label}: ${rate.toFixed(0)} requests/s over ${seconds.toFixed(2)} s; ` +
        `latency p50 ${percentile(50)} ms, p99 ${percentile(99)} ms, max ${percentile(100)} ms`,
    );
    return rate;
  };

  try {
    // Warm up connections and the JIT before measuring.
    for (let i = 0; i < 5; i += 1) await Promise.all(Array.from({ length: concurrency }, () => once()));
    console.log(
      `emulator GET /tokens/self: ${total} requests a measure, concurrency ${concurrency}, ` +
        `${values.large ? "large" : "demo"} seed`,
    );
    const fresh = print("fresh", await run(total));
    const fill = Math.max(0, logged - total - 5 * concurrency);
    await run(fill);
    const after = print(`after ${logged.toLocaleString("en")} logged requests`, await run(total));
    console.log(`  after/fresh: ${(after / fresh).toFixed(2)}`);
  } finally {
    agent.destroy();
    await server.stop();
  }
}

if (values.serve) await serve();
else await benchmark();
