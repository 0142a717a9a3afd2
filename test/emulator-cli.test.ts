/**
 * `ftr emulator` as a real process: its first line names the URL, the official Fastly CLI works
 * against it, and it shuts down cleanly on SIGTERM. A bad seed file is a usage error.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { demoCredentials } from "../src/emulator/index.ts";
import { runCli, runCliProcess, spawnCli } from "./helpers/cli.ts";
import { FASTLY_CLI, fastlyCliSkip } from "./helpers/fastly-cli.ts";

const FASTLY = FASTLY_CLI;

for (const apiVersion of ["2026", "2025"] as const)
  test(
    `ftr emulator --api-version ${apiVersion} serves the Fastly CLI and stops on SIGTERM`,
    { skip: fastlyCliSkip },
    async () => {
      const home = await mkdtemp(join(tmpdir(), "ftr-emulator-cli-"));
      const server = spawnCli(["emulator", "--port", "0", "--api-version", apiVersion]);
      try {
        let url: string | undefined;
        // Waiting for the first line, not for a time: a generous deadline only for a hung start.
        const deadline = Date.now() + 120_000;
        while (url === undefined && Date.now() < deadline) {
          url = /^Fastly API emulator listening on (http:\/\/127\.0\.0\.1:\d+)\n/.exec(
            server.output().stdout,
          )?.[1];
          if (url === undefined) await new Promise((r) => setTimeout(r, 50));
        }
        assert.ok(url, `first line: ${server.output().stdout}${server.output().stderr}`);
        const out = await new Promise<string>((resolve, reject) =>
          execFile(
            FASTLY,
            ["service", "list"],
            {
              timeout: 30_000,
              env: {
                PATH: process.env.PATH ?? "/usr/bin:/bin",
                HOME: home,
                XDG_CONFIG_HOME: join(home, ".config"),
                FASTLY_API_ENDPOINT: url,
                FASTLY_ACCOUNT_ENDPOINT: url,
                FASTLY_API_TOKEN: demoCredentials.superuser.token,
              },
            },
            (error, stdout, stderr) =>
              error ? reject(new Error(`fastly service list failed: ${stderr}`)) : resolve(stdout),
          ),
        );
        assert.match(out, /www Integration/);
        assert.match(out, /www Production/);
        const state = (await (await fetch(`${url}/__emulator/state`)).json()) as { apiVersion: string };
        assert.equal(state.apiVersion, apiVersion);
      } finally {
        server.child.kill("SIGTERM");
        const done = await server.done;
        assert.equal(done.code, 0, done.stderr);
        await rm(home, { recursive: true, force: true });
      }
    },
  );

test("ftr emulator with a bad seed file exits 2 naming the problem", async () => {
  const dir = await mkdtemp(join(tmpdir(), "ftr-emulator-seed-"));
  try {
    const seed = join(dir, "seed.json");
    await writeFile(seed, JSON.stringify({ customer: { name: "x" }, users: "nope" }));
    const result = await runCliProcess(["emulator", "--seed", seed]);
    assert.equal(result.code, 2, result.stdout + result.stderr);
    assert.match(result.stderr, /users/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("ftr emulator --api-version takes 2026 or 2025 only, exit 2 otherwise", async () => {
  const result = await runCli(["emulator", "--api-version", "2024"]);
  assert.equal(result.code, 2, result.stdout + result.stderr);
  assert.match(result.stderr, /--api-version must be 2026 \(today's API\) or 2025/);
  assert.equal(result.stdout, "");
});
