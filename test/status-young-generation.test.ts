/**
 * `ftr status` over a large account keeps V8's young generation at its starting size (see
 * src/util/young-generation.ts), and leaves it to a user who sizes it: read from a preload that
 * reports the young generation's size when the process exits.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { demoCredentials, generateSeed } from "../src/emulator/index.ts";
import { CLI_NODE_ARGS } from "./helpers/cli.ts";
import { BENCH_ENVIRONMENT, world, type World } from "./helpers/world.ts";

const MiB = 1024 * 1024;

/** Preloaded (`node --import`): the young generation's size (V8's `new_space`) when the process exits. */
const REPORTER = `import { getHeapSpaceStatistics } from "node:v8";
process.on("exit", () => {
  const space = getHeapSpaceStatistics().find((s) => s.space_name === "new_space");
  process.stderr.write("young generation at exit: " + (space ? space.space_size : -1) + "\\n");
});
`;

describe("ftr status and V8's young generation", () => {
  let w: World<"fastly">;

  before(async () => {
    w = await world({
      dir: "ftr-status-young-",
      fastly: {
        seed: generateSeed({ services: 2_000, automationTokens: 5_000 }),
        rateLimitPerHour: 1_000_000,
      },
    });
    await w.writeFileConfig([BENCH_ENVIRONMENT], "state: { dir: ./state }");
    await writeFile(join(w.dir, "young-size-at-exit.mjs"), REPORTER);
  });

  after(() => w.close());

  /** `ftr status --json` as a child process: its young generation's size at exit, and its report. */
  async function status(nodeArgs: readonly string[]): Promise<{ young: number; tokens: number }> {
    const child = spawn(
      process.execPath,
      [
        ...nodeArgs,
        "--import",
        "./young-size-at-exit.mjs",
        ...CLI_NODE_ARGS,
        "status",
        "--config",
        "ftr.yaml",
        "--json",
      ],
      {
        cwd: w.dir,
        env: { PATH: process.env.PATH ?? "", FASTLY_API_TOKEN: demoCredentials.superuser.token },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
    assert.equal(code, 0, stderr);
    const young = /young generation at exit: (\d+)/.exec(stderr)?.[1];
    assert.ok(young !== undefined, stderr);
    return { young: Number(young), tokens: (JSON.parse(stdout) as { tokens: unknown[] }).tokens.length };
  }

  it("keeps it from growing while it reads 5,000 tokens, and leaves it to a user who sizes it", async () => {
    const kept = await status([]);
    assert.equal(kept.tokens, 5_000);
    // The user's own option, even at V8's default value, is theirs: then it grows as V8 grows it.
    const chosen = await status(["--semi-space-growth-factor=2"]);
    assert.equal(chosen.tokens, 5_000);
    // Loading src/ through tsx has already grown it by the time the command runs (the bundle has
    // not: bench/README.md); the command itself must not grow it further.
    assert.ok(
      kept.young * 2 <= chosen.young,
      `young generation ${kept.young / MiB} MiB, and ${chosen.young / MiB} MiB when the user chose`,
    );
  });
});
