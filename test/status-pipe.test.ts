/**
 * `ftr status --json` through a real pipe at 10,000 tokens: a pipe takes 64 KiB at a time, so the
 * process must wait for stdout to drain before it exits, or the JSON is cut short.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { demoCredentials, generateSeed } from "../src/emulator/index.ts";
import { CLI_NODE_ARGS } from "./helpers/cli.ts";
import { BENCH_ENVIRONMENT, world, type World } from "./helpers/world.ts";

describe("ftr status --json through a pipe", () => {
  let w: World<"fastly">;

  before(async () => {
    w = await world({
      dir: "ftr-status-pipe-",
      fastly: {
        seed: generateSeed({ services: 200, automationTokens: 10_000 }),
        rateLimitPerHour: 1_000_000,
      },
    });
    await w.writeFileConfig([BENCH_ENVIRONMENT], "state: { dir: ./state }");
  });

  after(() => w.close());

  it("writes every byte before exiting, to a reader that is slow to start", async () => {
    const child = spawn(process.execPath, [...CLI_NODE_ARGS, "status", "--config", "ftr.yaml", "--json"], {
      cwd: w.dir,
      env: { PATH: process.env.PATH ?? "", FASTLY_API_TOKEN: demoCredentials.superuser.token },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    // Read nothing until our side's buffer is full and Node stops reading the pipe: from then on the
    // pipe fills and the writer has to wait for us.
    child.stdout.pause();
    while (child.stdout.readableLength < child.stdout.readableHighWaterMark && child.exitCode === null) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const chunks: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => chunks.push(chunk));
    child.stdout.resume();
    const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
    const text = Buffer.concat(chunks).toString("utf8");
    assert.equal(code, 0, stderr);
    assert.ok(text.length > 65_536, `only ${text.length} bytes`);
    const report = JSON.parse(text) as { tokens: unknown[] };
    assert.equal(report.tokens.length, 10_000);
  });
});
