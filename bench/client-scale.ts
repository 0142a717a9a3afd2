/**
 * The Fastly client listing a large account from the emulator: 10,000 services and 2,000
 * automation tokens. Prints requests made, wall time and peak memory for each listing.
 * Run: node --import tsx bench/client-scale.ts
 */
import { createEmulator, createEmulatorAdmin, demoCredentials, generateSeed } from "../src/emulator/index.ts";
import { createFastlyClient } from "../src/fastly/index.ts";

const emulator = await createEmulator({ seed: generateSeed({ services: 10_000, automationTokens: 2_000 }) });
const admin = createEmulatorAdmin(emulator.url);

async function measure(label: string, fn: () => Promise<number>): Promise<void> {
  await admin.clearRequests();
  global.gc?.();
  const before = process.memoryUsage();
  let peakRss = before.rss;
  let peakHeap = before.heapUsed;
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    peakRss = Math.max(peakRss, m.rss);
    peakHeap = Math.max(peakHeap, m.heapUsed);
  }, 5);
  const started = performance.now();
  const count = await fn();
  const wall = performance.now() - started;
  clearInterval(sampler);
  const m = process.memoryUsage();
  peakRss = Math.max(peakRss, m.rss);
  peakHeap = Math.max(peakHeap, m.heapUsed);
  const requests = (await admin.requests()).length;
  console.log(
    `${label.padEnd(34)} ${String(count).padStart(6)} items  ${String(requests).padStart(4)} requests  ${wall.toFixed(0).padStart(6)} ms  peak rss ${(peakRss / 2 ** 20).toFixed(0)} MiB (+${((peakRss - before.rss) / 2 ** 20).toFixed(0)})  peak heap +${((peakHeap - before.heapUsed) / 2 ** 20).toFixed(0)} MiB`,
  );
}

try {
  const client = createFastlyClient({ token: demoCredentials.superuser.token, endpoint: emulator.url });
  console.log("Fastly client against the emulator (10,000 services, 2,000 automation tokens), loopback;");
  console.log("memory figures are of this process, which also runs the emulator");
  await measure("listServices (per_page 1000)", async () => (await client.listServices()).length);
  await measure(
    "listServices (per_page 100)",
    async () => (await client.listServices({ perPage: 100 })).length,
  );
  await measure(
    "listAutomationTokens (per_page 100)",
    async () => (await client.listAutomationTokens()).length,
  );
  await measure("both, concurrently", async () => {
    const [s, t] = await Promise.all([client.listServices(), client.listAutomationTokens()]);
    return s.length + t.length;
  });
} finally {
  await emulator.close();
}
