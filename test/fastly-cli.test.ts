/**
 * The official Fastly CLI against the emulator: if the emulator's representations drift from what
 * real clients decode, these commands fail or print the wrong thing.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { demoCredentials, demoSeed } from "../src/emulator/index.ts";
import { FASTLY_CLI, fastlyCliSkip } from "./helpers/fastly-cli.ts";
import { world, type World } from "./helpers/world.ts";

const CLI = FASTLY_CLI;
const { superuser } = demoCredentials;

interface CliResult {
  stdout: string;
  stderr: string;
}

// Today's API and the recorded 2024-2025 shapes: the CLI must decode both.
for (const apiVersion of ["2026", "2025"] as const)
  describe(`the Fastly CLI against the emulator (API ${apiVersion})`, { skip: fastlyCliSkip }, () => {
    let w: World<"fastly">;

    /**
     * Run the CLI with only the variables it needs: no inherited credentials or endpoints. Failures
     * report the subcommand and output, never the arguments (one carries a password).
     */
    const fastly = (...args: string[]): Promise<CliResult> =>
      new Promise((resolve, reject) => {
        execFile(
          CLI,
          args,
          {
            timeout: 30_000,
            env: {
              PATH: process.env["PATH"] ?? "/usr/bin:/bin",
              HOME: w.dir,
              XDG_CONFIG_HOME: join(w.dir, ".config"),
              FASTLY_API_ENDPOINT: w.emulator.url,
              FASTLY_ACCOUNT_ENDPOINT: w.emulator.url,
              FASTLY_API_TOKEN: superuser.token,
            },
          },
          (error, stdout, stderr) => {
            const hide = (text: string): string => text.replaceAll(superuser.password, "[REDACTED]");
            if (error) {
              reject(
                new Error(
                  `fastly ${args[0] ?? ""} ${args[1] ?? ""} failed:\n${hide(stdout)}\n${hide(stderr)}`,
                ),
              );
            } else {
              resolve({ stdout, stderr });
            }
          },
        );
      });

    before(async () => {
      w = await world({ dir: "fastly-cli-home-", fastly: { seed: demoSeed, apiVersion } });
      assert.equal((await w.admin.state()).apiVersion, apiVersion);
    });
    after(() => w?.close());

    test("fastly service list", async () => {
      const { stdout } = await fastly("service", "list", "--non-interactive");
      for (const service of demoSeed.services ?? []) assert.ok(stdout.includes(service.name), service.name);
      assert.match(stdout, /www Production\s+Y1PL1f1tWiO1zKvbSLFVFn\s+vcl\s+31/);
      const log = await w.admin.requests();
      const list = log.find((e) => e.path.startsWith("/service?"));
      assert.equal(list?.path, "/service?direction=ascend&page=1&per_page=100&sort=created");
      assert.equal(list?.tokenId, superuser.tokenId);
      assert.match(list?.userAgent ?? "", /^FastlyCLI\//);
    });

    test("fastly user describe --current", async () => {
      const { stdout } = await fastly("user", "describe", "--current", "--non-interactive");
      assert.match(stdout, /Login: ops@example\.com/);
      assert.match(stdout, /Role: superuser/);
      assert.match(stdout, new RegExp(`Customer ID: ${demoCredentials.customerId}`));
    });

    test("fastly whoami", async () => {
      const { stdout } = await fastly("whoami", "--non-interactive");
      assert.match(stdout, /Ops <ops@example\.com>/);
      assert.ok((await w.admin.requests()).some((e) => e.path === "/verify" && e.status === 200));
    });

    test("fastly auth-token describe and list", async () => {
      const describeOut = (await fastly("auth-token", "describe", "--non-interactive")).stdout;
      assert.match(describeOut, new RegExp(`ID: ${superuser.tokenId}`));
      assert.match(describeOut, /Scope: global/);
      const listOut = (await fastly("auth-token", "list", "--non-interactive")).stdout;
      assert.match(listOut, new RegExp(`ops cli\\s+${superuser.tokenId}\\s+${superuser.id}\\s+global`));
    });

    test("fastly auth-token create then delete", async () => {
      await w.admin.clearRequests();
      const created = await fastly(
        "auth-token",
        "create",
        `--password=${superuser.password}`,
        "--name=cli-test-token",
        "--scope=global:read",
        "--non-interactive",
      );
      const match =
        /Created token '([A-Za-z0-9_-]{32})' \(name: cli-test-token, id: ([0-9A-Za-z]{22}), scope: global:read/.exec(
          created.stdout,
        );
      assert.ok(match, "the CLI reports the new token");
      const [, value, id] = match;
      let state = await w.admin.state();
      const token = state.tokens.find((t) => t.id === id);
      assert.equal(token?.scope, "global:read");
      assert.equal(token?.userId, superuser.id);

      let log = await w.admin.requests();
      assert.deepEqual(
        log.filter((e) => e.method === "POST").map((e) => [e.path, e.status]),
        [
          ["/sudo", 200],
          ["/tokens", 200],
        ],
      );
      const adminText = JSON.stringify(log) + JSON.stringify(state);
      assert.ok(!adminText.includes(superuser.password) && !adminText.includes(value!));

      const deleted = await fastly("auth-token", "delete", `--id=${id}`, "--non-interactive");
      assert.match(deleted.stdout + deleted.stderr, /SUCCESS/);
      state = await w.admin.state();
      const revoked = state.tokens.find((t) => t.id === id);
      assert.ok(revoked, `token ${id} is still listed after delete`);
      assert.notEqual(revoked.revokedAt, null);
      log = await w.admin.requests();
      assert.ok(log.some((e) => e.method === "DELETE" && e.path === `/tokens/${id}` && e.status === 204));
    });
  });
