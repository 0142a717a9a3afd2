/**
 * `GET /tokens/self` throughput of the emulator on loopback: a fixed number of requests at a fixed
 * concurrency over keep-alive connections, then requests/s, latency percentiles and the server
 * process's CPU time a request; measured fresh, then again once `--logged` requests have been
 * logged (the log keeps the newest 50,000, and adding to a full log must cost no more than adding
 * to an empty one).
 *
 * Beside each measure, the same load against a trivial Node server (one `createServer` handler
 * that answers every request with the emulator's `/tokens/self` body) in a process of its own: the
 * ratio emulator / trivial, taken pair by pair, holds when other work on the machine slows both,
 * and so does the CPU time a request. Each measure is taken `--rounds` times; medians are printed.
 *
 *   node --import tsx bench/emulator-throughput.ts [--requests 20000] [--concurrency 32] [--logged 200000]
 *     [--rounds 3] [--large]
 *
 * `--large` serves a generated account (10,000 services, 2,000 automation tokens) instead of the demo.
 */
import { spawn } from "node:child_process";
import { Agent, createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { createInterface, type Interface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  createEmulator,
  createEmulatorAdmin,
  demoCredentials,
  demoSeed,
  generateSeed,
} from "../src/emulator/index.ts";
import { median } from "./lib/process.ts";

const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "20000" },
    concurrency: { type: "string", default: "32" },
    logged: { type: "string", default: "200000" },
    rounds: { type: "string", default: "3" },
    large: { type: "boolean", default: false },
    // Internal: run as the child process that only serves ("emulator", or "trivial" with --body).
    serve: { type: "string" },
    body: { type: "string", default: "{}" },
  },
});

/**
 * Serve until stdin closes. The first stdout line is the URL; each `cpu` line read from stdin is
 * answered with the process's CPU time so far, in microseconds.
 */
async function serve(kind: string): Promise<void> {
  let url: string;
  let close: () => Promise<void>;
  if (kind === "trivial") {
    const body = values.body;
    const length = Buffer.byteLength(body);
    const server = createServer((_req, res) => {
      res.writeHead(200, { "Content-Type": "application/json", "Content-Length": length });
      res.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
  } else {
    const emulator = await createEmulator({
      seed: values.large ? generateSeed({ services: 10_000, automationTokens: 2_000 }) : demoSeed,
    });
    url = emulator.url;
    close = () => emulator.close();
  }
  process.stdout.write(`${url}\n`);
  const input = createInterface({ input: process.stdin });
  input.on("line", (line) => {
    if (line !== "cpu") return;
    const { user, system } = process.cpuUsage();
    process.stdout.write(`${user + system}\n`);
  });
  input.on("close", () => void close());
}

/** A server in a child process, so the load generator does not share its event loop. */
interface Server {
  readonly url: string;
  /** The child's CPU time so far, in microseconds. */
  cpu(): Promise<number>;
  stop(): Promise<void>;
}

async function startServer(kind: "emulator" | "trivial", body?: string): Promise<Server> {
  const args = ["--import", "tsx", fileURLToPath(import.meta.url), "--serve", kind];
  if (values.large) args.push("--large");
  if (body !== undefined) args.push("--body", body);
  const child = spawn(process.execPath, args, { stdio: ["pipe", "pipe", "inherit"] });
  const lines: Interface = createInterface({ input: child.stdout });
  const nextLine = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const onExit = (code: number | null): void =>
        reject(new Error(`the ${kind} server exited with ${code ?? "a signal"}`));
      child.once("exit", onExit);
      lines.once("line", (line) => {
        child.off("exit", onExit);
        resolve(line);
      });
    });
  const url = await nextLine();
  return {
    url,
    cpu: async () => {
      const answer = nextLine();
      child.stdin.write("cpu\n");
      return Number(await answer);
    },
    stop: () =>
      new Promise((resolve) => {
        child.once("exit", () => resolve());
        child.stdin.end();
      }),
  };
}

/** One measure: requests/s, latencies and the server's CPU time a request. */
interface Measure {
  readonly rate: number;
  readonly p50: number;
  readonly p99: number;
  readonly cpuUs: number;
}

async function benchmark(): Promise<void> {
  const total = Number(values.requests);
  const concurrency = Number(values.concurrency);
  const logged = Number(values.logged);
  const rounds = Number(values.rounds);
  // A hard stop so a regression cannot make the benchmark run for long.
  const deadline = Date.now() + 900_000;
  const headers = { "Fastly-Key": demoCredentials.superuser.token, "User-Agent": "emulator-bench" };
  const emulator = await startServer("emulator");
  const self = await fetch(new URL("/tokens/self", emulator.url), { headers });
  if (self.status !== 200) throw new Error(`GET /tokens/self answered ${self.status}`);
  const trivial = await startServer("trivial", await self.text());
  const admin = createEmulatorAdmin(emulator.url);
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });

  const once = (target: URL): Promise<number> =>
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

  /** `count` requests to `server` at the concurrency. */
  const run = async (server: Server, count: number): Promise<Measure> => {
    const target = new URL("/tokens/self", server.url);
    const latencies: number[] = [];
    let issued = 0;
    const worker = async (): Promise<void> => {
      while (issued < count && Date.now() < deadline) {
        issued += 1;
        latencies.push(await once(target));
      }
    };
    const cpuBefore = await server.cpu();
    const started = performance.now();
    await Promise.all(Array.from({ length: concurrency }, () => worker()));
    const seconds = (performance.now() - started) / 1000;
    const cpuUs = ((await server.cpu()) - cpuBefore) / Math.max(1, latencies.length);
    latencies.sort((a, b) => a - b);
    const percentile = (p: number): number =>
      latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? 0;
    return { rate: latencies.length / seconds, p50: percentile(50), p99: percentile(99), cpuUs };
  };

  /** `rounds` pairs (trivial, then emulator); prints each and returns them. */
  const pairs = async (label: string, before?: () => Promise<void>): Promise<[Measure, Measure][]> => {
    const out: [Measure, Measure][] = [];
    for (let r = 0; r < rounds; r++) {
      await before?.();
      const t = await run(trivial, total);
      const e = await run(emulator, total);
      out.push([t, e]);
      const show = (m: Measure): string =>
        `${m.rate.toFixed(0)}/s, p50 ${m.p50.toFixed(2)} ms, p99 ${m.p99.toFixed(2)} ms, ${m.cpuUs.toFixed(0)} µs CPU a request`;
      console.log(
        `  ${label} ${r + 1}: emulator ${show(e)}; trivial ${show(t)}; ratio ${(e.rate / t.rate).toFixed(2)}`,
      );
    }
    return out;
  };
  const summary = (label: string, measured: [Measure, Measure][]): { rate: number; cpuUs: number } => {
    const rate = median(measured.map(([, e]) => e.rate));
    const cpuUs = median(measured.map(([, e]) => e.cpuUs));
    console.log(
      `${label}: emulator ${rate.toFixed(0)} requests/s (${cpuUs.toFixed(0)} µs CPU a request), ` +
        `trivial server ${median(measured.map(([t]) => t.rate)).toFixed(0)} requests/s ` +
        `(${median(measured.map(([t]) => t.cpuUs)).toFixed(0)} µs CPU a request); ` +
        `emulator / trivial ${median(measured.map(([t, e]) => e.rate / t.rate)).toFixed(2)} (median of the pairs)`,
    );
    return { rate, cpuUs };
  };

  try {
    // Warm up connections and the JIT of all three processes before measuring.
    for (const server of [trivial, emulator]) {
      const target = new URL("/tokens/self", server.url);
      for (let i = 0; i < 100; i += 1)
        await Promise.all(Array.from({ length: concurrency }, () => once(target)));
    }
    console.log(
      `emulator GET /tokens/self: ${total} requests a measure, concurrency ${concurrency}, ` +
        `${values.large ? "large" : "demo"} seed, ${rounds} rounds`,
    );
    // Fresh: the log emptied before each round.
    const fresh = summary("fresh", await pairs("fresh", () => admin.clearRequests()));
    await admin.clearRequests();
    await run(emulator, Math.max(0, logged - total));
    const after = summary(
      `after ${logged.toLocaleString("en")} logged requests`,
      await pairs(`after ${logged.toLocaleString("en")} logged`),
    );
    console.log(
      `after/fresh: ${(after.rate / fresh.rate).toFixed(2)} in requests/s, ` +
        `${(after.cpuUs / fresh.cpuUs).toFixed(2)} in CPU a request`,
    );
  } finally {
    agent.destroy();
    await Promise.all([emulator.stop(), trivial.stop()]);
  }
}

if (values.serve !== undefined) await serve(values.serve);
else await benchmark();
