/**
 * Approval comes before the password and `POST /sudo`. `ftr rotate` runs on a terminal (in-process,
 * with streams that say they are TTYs) for two environments marked `approval: required`: every
 * question is asked first; declining them all sends no request that writes (no `/sudo` either) and
 * never asks for the password; approving one asks the password after every question, and a wrong
 * password still stops the run before anything is written.
 */
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { after, before, describe, it } from "node:test";
import type { CliIO } from "../../src/cli/io.ts";
import { main } from "../../src/cli/main.ts";
import { demoCredentials } from "../../src/emulator/index.ts";
import { sleep, startRotationEnv, type RotationEnv } from "../helpers/rotation-env.ts";

/** A stream that says it is a terminal. */
function tty(): PassThrough & { isTTY: boolean } {
  return Object.assign(new PassThrough(), { isTTY: true });
}

/**
 * Run `ftr argv` on a pretend terminal: each time stderr shows one of `answers`' prompts (in order),
 * the answer is typed. Resolves with the exit code and everything printed.
 */
async function onTerminal(
  argv: readonly string[],
  env: Readonly<Record<string, string>>,
  cwd: string,
  answers: readonly (readonly [prompt: string, answer: string])[],
): Promise<{ code: number; stdout: string; stderr: string; unanswered: string[] }> {
  const stdout = tty();
  const stderr = tty();
  const stdin = tty();
  let out = "";
  let err = "";
  const pending = [...answers];
  let seen = 0;
  stdout.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")));
  stderr.on("data", (chunk: Buffer) => {
    err += chunk.toString("utf8");
    const next = pending[0];
    if (!next) return;
    const at = err.indexOf(next[0], seen);
    if (at < 0) return;
    seen = at + next[0].length;
    pending.shift();
    // Typed a moment after the prompt, as a person would.
    setTimeout(() => stdin.write(`${next[1]}\n`), 10);
  });
  const io: CliIO = {
    stdout,
    stderr,
    stdin,
    env: { ...env, NO_COLOR: "1" },
    cwd,
    interrupted: new Promise<void>(() => {}),
  };
  const code = await main(argv, io);
  await sleep(20);
  stdin.end();
  return { code, stdout: out, stderr: err, unanswered: pending.map(([p]) => p) };
}

describe("approval before the password and sudo", () => {
  let h: RotationEnv;

  before(async () => {
    h = await startRotationEnv({
      environments: ["integration", "staging"],
      exporters: false,
      configure: (doc) => {
        for (const env of doc.environments) env.approval = "required";
      },
    });
  });
  after(async () => {
    await h?.close();
  });

  const writes = async () => (await h.toolRequests()).filter((r) => r.method !== "GET");

  it(
    "declining every environment sends nothing that writes, /sudo included, and asks no password",
    { timeout: 30_000 },
    async () => {
      await h.admin.clearRequests();
      const { FASTLY_SUDO_PASSWORD: _password, ...withoutPassword } = h.env;
      const result = await onTerminal(
        ["rotate", "--config", h.configPath, "--force"],
        withoutPassword,
        h.dir,
        [
          ["Rotate the token of integration now? [y/N]", "n"],
          ["Rotate the token of staging now? [y/N]", "n"],
        ],
      );
      assert.deepEqual(result.unanswered, [], result.stderr);
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.doesNotMatch(result.stderr, /Fastly password/);
      assert.deepEqual(
        (await writes()).map((r) => `${r.method} ${r.path}`),
        [],
        "no request that writes",
      );
      assert.match(result.stdout, /declined at the approval prompt/);
    },
  );

  it(
    "declining every environment with the password in the environment sends no /sudo either",
    { timeout: 30_000 },
    async () => {
      await h.admin.clearRequests();
      const result = await onTerminal(["rotate", "--config", h.configPath, "--force"], h.env, h.dir, [
        ["Rotate the token of integration now? [y/N]", "n"],
        ["Rotate the token of staging now? [y/N]", "no"],
      ]);
      assert.deepEqual(result.unanswered, [], result.stderr);
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.deepEqual(
        (await writes()).map((r) => `${r.method} ${r.path}`),
        [],
      );
    },
  );

  it(
    "asks every approval before the password; a wrong password still stops before any write",
    { timeout: 30_000 },
    async () => {
      await h.admin.clearRequests();
      const before = (await h.liveTokens()).map((t) => t.id).sort();
      const { FASTLY_SUDO_PASSWORD: _password, ...withoutPassword } = h.env;
      const result = await onTerminal(
        ["rotate", "--config", h.configPath, "--force"],
        withoutPassword,
        h.dir,
        [
          ["Rotate the token of integration now? [y/N]", "y"],
          ["Rotate the token of staging now? [y/N]", "n"],
          // Asked again after a refusal, three tries in all (test/password-retry.test.ts).
          ["Fastly password (for sudo mode): ", "not-the-password"],
          ["Fastly password (for sudo mode): ", "not-the-password-2"],
          ["Fastly password (for sudo mode): ", "not-the-password-3"],
        ],
      );
      assert.deepEqual(result.unanswered, [], result.stderr);
      const asked = [
        "Rotate the token of integration now?",
        "Rotate the token of staging now?",
        "Fastly password",
      ];
      const positions = asked.map((q) => result.stderr.indexOf(q));
      assert.ok(
        positions.every((p, i) => p >= 0 && (i === 0 || p > positions[i - 1]!)),
        `asked in this order: ${asked.join(", ")}\n${result.stderr}`,
      );
      assert.notEqual(result.code, 0, result.stdout + result.stderr);
      assert.deepEqual(
        (await writes()).map((r) => `${r.method} ${r.path} ${r.status}`),
        ["POST /sudo 403", "POST /sudo 403", "POST /sudo 403"],
        "only the refused sudo requests",
      );
      assert.deepEqual((await h.liveTokens()).map((t) => t.id).sort(), before, "no token created or revoked");
      assert.ok(!result.stderr.includes(demoCredentials.superuser.password));
    },
  );
});
