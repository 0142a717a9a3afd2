/**
 * Monitoring at scale: an emulated account with 2,000 automation tokens and 10,000 services, three
 * configured environments. Measures `collectStatus` and `serve` refreshes (the first, which asks
 * `/tokens/self` per environment, and a second, which does not): requests made (the client's count
 * and the emulator's log), wall time, and peak RSS / heap sampled every 5 ms. The emulator runs in
 * the same process, so the memory figures include the emulated account. Loopback only.
 *
 *   node --import tsx bench/monitor-scale.ts [--tokens 2000] [--services 10000]
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import Table from "cli-table3";
import { loadConfig } from "../src/config/index.ts";
import { createEmulator, createEmulatorAdmin, demoCredentials, generateSeed } from "../src/emulator/index.ts";
import { createFastlyClient } from "../src/fastly/index.ts";
import { collectStatus, startServe } from "../src/monitor/index.ts";

const { values } = parseArgs({
  options: { tokens: { type: "string", default: "2000" }, services: { type: "string", default: "10000" } },
});
const tokenCount = Number(values.tokens);
const serviceCount = Number(values.services);

interface Row {
  readonly what: string;
  readonly clientRequests: number;
  readonly emulatorRequests: string;
  readonly ms: number;
  readonly peakRssMb: number;
  readonly peakHeapMb: number;
}

/** Run `body`, sampling memory; returns its wall time and the peaks seen. */
async function measure<T>(
  body: () => Promise<T>,
): Promise<{ value: T; ms: number; rss: number; heap: number }> {
  let rss = 0;
  let heap = 0;
  const sample = () => {
    const m = process.memoryUsage();
    rss = Math.max(rss, m.rss);
    heap = Math.max(heap, m.heapUsed);
  };
  sample();
  const timer = setInterval(sample, 5);
  const started = performance.now();
  try {
    const value = await body();
    return { value, ms: performance.now() - started, rss, heap };
  } finally {
    clearInterval(timer);
    sample();
  }
}

const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

const seedStarted = performance.now();
const emulator = await createEmulator({
  seed: generateSeed({ services: serviceCount, automationTokens: tokenCount }),
  rateLimitPerHour: 1_000_000,
});
const seedMs = performance.now() - seedStarted;
const admin = createEmulatorAdmin(emulator.url);
const dir = await mkdtemp(join(tmpdir(), "ftr-bench-monitor-"));
const rows: Row[] = [];

try {
  // Three environments deployed with bench tokens 0, 1 and 2 (values as generateSeed documents).
  let yaml = `version: 1\nfastly: { endpoint: "${emulator.url}" }\nstate: { dir: ./state }\nenvironments:`;
  for (const [i, name] of ["integration", "staging", "production"].entries()) {
    await writeFile(join(dir, `${name}.txt`), `bench-token-${i}`.padEnd(32, "x"), { mode: 0o600 });
    yaml += `\n  - name: ${name}\n    token: { name: "bench token ${i}", services: { all: true } }\n    secret: { type: file, path: ./${name}.txt }\n    verify: [{ type: token-in-use }]`;
  }
  await writeFile(join(dir, "ftr.yaml"), yaml + "\n");
  const { config } = await loadConfig(join(dir, "ftr.yaml"));

  const emulatorCount = async () => {
    const log = await admin.requests();
    await admin.clearRequests();
    const byPath = new Map<string, number>();
    for (const r of log) {
      const path = r.path.split("?")[0] ?? "";
      byPath.set(path, (byPath.get(path) ?? 0) + 1);
    }
    return `${log.length} (${[...byPath].map(([p, n]) => `${p} ${n}`).join(", ")})`;
  };

  await admin.clearRequests();
  const statusClient = createFastlyClient({ token: demoCredentials.superuser.token, endpoint: emulator.url });
  const status = await measure(() => collectStatus({ client: statusClient, config, now: new Date() }));
  rows.push({
    what: "collectStatus",
    clientRequests: statusClient.requestCount,
    emulatorRequests: await emulatorCount(),
    ms: status.ms,
    peakRssMb: mb(status.rss),
    peakHeapMb: mb(status.heap),
  });
  const tokensSeen = status.value.tokens.length;
  const findings = status.value.summary;

  const serveClient = createFastlyClient({ token: demoCredentials.superuser.token, endpoint: emulator.url });
  const handle = await startServe({
    config,
    client: serveClient,
    listen: "127.0.0.1:0",
    intervalMs: 3_600_000,
  });
  try {
    let before = serveClient.requestCount;
    const first = await measure(() => handle.refresh());
    if (!first.value.ok) throw new Error(`serve refresh failed: ${first.value.errors.join("; ")}`);
    rows.push({
      what: "serve refresh (first)",
      clientRequests: serveClient.requestCount - before,
      emulatorRequests: await emulatorCount(),
      ms: first.ms,
      peakRssMb: mb(first.rss),
      peakHeapMb: mb(first.heap),
    });
    before = serveClient.requestCount;
    const second = await measure(() => handle.refresh());
    rows.push({
      what: "serve refresh (next)",
      clientRequests: serveClient.requestCount - before,
      emulatorRequests: await emulatorCount(),
      ms: second.ms,
      peakRssMb: mb(second.rss),
      peakHeapMb: mb(second.heap),
    });
    before = serveClient.requestCount;
    const scrape = await measure(async () => (await fetch(`${handle.url}/metrics`)).text());
    rows.push({
      what: `scrape /metrics (${Math.round(scrape.value.length / 1024)} KiB)`,
      clientRequests: serveClient.requestCount - before,
      emulatorRequests: await emulatorCount(),
      ms: scrape.ms,
      peakRssMb: mb(scrape.rss),
      peakHeapMb: mb(scrape.heap),
    });
  } finally {
    await handle.close();
  }

  const table = new Table({
    head: ["step", "client requests", "emulator requests", "wall ms", "peak RSS MB", "peak heap MB"],
    style: { head: [], border: [] },
  });
  for (const r of rows) {
    table.push([r.what, r.clientRequests, r.emulatorRequests, Math.round(r.ms), r.peakRssMb, r.peakHeapMb]);
  }
  console.log(
    `monitor at scale: ${tokenCount} automation tokens, ${serviceCount} services, 3 environments (seeded in ${Math.round(seedMs)} ms); ` +
      `status saw ${tokensSeen} tokens, ${findings.critical} critical / ${findings.warning} warning / ${findings.info} info findings`,
  );
  console.log(table.toString());
} finally {
  await emulator.close();
  await rm(dir, { recursive: true, force: true });
}
