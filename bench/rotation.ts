/**
 * Rotation benchmark, on loopback against the emulator, exporter stand-in processes and (when on
 * PATH) Prometheus:
 *   1. `ftr rotate` over three environments: Fastly requests per environment (total, non-GET), the
 *      tool's own time beside the configured waits (reload + verify), requests the consumers had refused;
 *   2. the same three environments rotated in the runbook's order (delete, then create, then deploy)
 *      by a small script: requests the consumers had refused.
 * Run: node --import tsx bench/rotation.ts
 */
import { writeFile } from "node:fs/promises";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { main } from "../src/cli/main.ts";
import { DEMO_ENVIRONMENTS, startDemoWorld } from "../src/demo/run-demo.ts";
import { createFastlyClient } from "../src/fastly/index.ts";
import { demoCredentials } from "../src/emulator/index.ts";
import type { RotationResult } from "../src/rotation/index.ts";

const WAIT_STEPS = new Set(["reload", "verify"]);

async function runFtr(
  argv: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  stdout.on("data", (c: Buffer) => (out += c.toString()));
  stderr.resume();
  const code = await main(argv, {
    stdout,
    stderr,
    stdin: new PassThrough(),
    env: { ...process.env, ...env },
    cwd: process.cwd(),
    interrupted: new Promise(() => {}),
  });
  return { code, stdout: out };
}

async function ftrRotate(): Promise<void> {
  const world = await startDemoWorld({});
  try {
    const started = Date.now();
    const { code, stdout } = await runFtr(
      ["rotate", "--config", world.configPath, "--yes", "--json"],
      world.env,
    );
    const wall = (Date.now() - started) / 1000;
    const { result } = JSON.parse(stdout) as { result: RotationResult };
    const log = await world.admin.requests();
    const ours = log.filter((r) => r.userAgent?.startsWith("fastly-token-rotator/"));
    console.log(
      `ftr rotate: exit ${code}, ${wall.toFixed(1)} s wall, Prometheus ${world.prometheusUrl ? "on" : "off"}`,
    );
    console.log("environment   requests  non-GET   own time  waits (reload+verify)");
    for (const env of result.environments) {
      const waits = env.steps
        .filter((s) => WAIT_STEPS.has(s.step))
        .reduce((t, s) => t + Date.parse(s.endedAt) - Date.parse(s.startedAt), 0);
      const total = env.steps.reduce((t, s) => t + Date.parse(s.endedAt) - Date.parse(s.startedAt), 0);
      console.log(
        `${env.environment.padEnd(13)} ${String(env.requests?.total ?? "?").padStart(8)}  ${String(env.requests?.nonGet ?? "?").padStart(7)}  ${((total - waits) / 1000).toFixed(2).padStart(7)} s  ${(waits / 1000).toFixed(2)} s`,
      );
    }
    console.log(
      `whole run: ${ours.length} Fastly requests from the tool (${ours.filter((r) => r.method !== "GET").length} non-GET, including plan and checks)`,
    );
    console.log(`requests the consumers had refused: ${await world.refused()}\n`);
  } finally {
    await world.close();
  }
}

/** The runbook's order: delete the expiring token, create a new one, deploy it, restart. */
async function runbookOrder(): Promise<void> {
  const world = await startDemoWorld({ prometheus: false });
  try {
    const started = Date.now();
    const client = createFastlyClient({
      token: demoCredentials.superuser.token,
      endpoint: world.emulatorUrl,
    });
    const services = await client.listServices();
    for (const env of DEMO_ENVIRONMENTS) {
      const old = demoCredentials.exporterTokens[env];
      await client.revokeToken(old.id);
      // A person now opens the UI, fills the form, copies the value: seconds pass with a dead token.
      await new Promise((r) => setTimeout(r, 3000));
      await client.sudo({ password: demoCredentials.superuser.password });
      const pattern = new RegExp(env, "i");
      const created = await client.createAutomationToken({
        name: old.name,
        role: "engineer",
        scope: "global:read",
        services: services.filter((s) => pattern.test(s.name)).map((s) => s.id),
        expiresAt: new Date(Date.now() + 365 * 86_400_000),
      });
      await writeFile(join(world.dir, "secrets", env), created.accessToken + "\n");
      // Asynchronously: the supervisor restarting the exporter lives in this process's event loop.
      const restart = spawn(process.execPath, [join(world.dir, "restart-exporter.mjs"), env], {
        stdio: "ignore",
      });
      const status = await new Promise((r) => restart.once("exit", r));
      if (status !== 0) throw new Error(`restart of ${env} failed`);
    }
    await new Promise((r) => setTimeout(r, 1000));
    const refused = await world.refused();
    console.log(
      `runbook order (delete, create, deploy): ${((Date.now() - started) / 1000).toFixed(1)} s wall`,
    );
    console.log(`requests the consumers had refused: ${refused}`);
  } finally {
    await world.close();
  }
}

await ftrRotate();
await runbookOrder();
