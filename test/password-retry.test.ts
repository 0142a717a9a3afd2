/**
 * A wrong sudo password typed at a terminal is asked again, up to three tries: on a pseudo-terminal
 * (util-linux `script`), `ftr rotate` gets two wrong passwords and then the right one, and rotates;
 * three wrong ones end the run with one line, nothing minted. No password appears in the output.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { demoCredentials } from "../src/emulator/index.ts";
import { CLI_NODE_ARGS } from "./helpers/cli.ts";
import { skipWithoutPty } from "./helpers/pty.ts";
import type { RotationEnv } from "./helpers/rotation-env.ts";
import { world, type World } from "./helpers/world.ts";

const skip = skipWithoutPty();
const PROMPT = "Fastly password (for sudo mode): ";

/** Run `ftr argv` on a terminal, typing the next answer each time the password prompt appears. */
function rotateTyping(h: RotationEnv, answers: string[]): Promise<{ code: number | null; output: string }> {
  const quote = (w: string) => `'${w.replace(/'/g, `'\\''`)}'`;
  const argv = ["rotate", "--config", h.configPath, "--yes", "--force", "--env", "integration"];
  const command = `stty cols 120; exec ${[process.execPath, ...CLI_NODE_ARGS, ...argv].map(quote).join(" ")}`;
  const env: NodeJS.ProcessEnv = { ...process.env, ...h.env, TERM: "xterm" };
  delete env.FASTLY_SUDO_PASSWORD;
  const child = spawn("script", ["-qfec", command, "/dev/null"], { cwd: h.dir, env, stdio: "pipe" });
  let output = "";
  let asked = 0;
  const onData = (chunk: Buffer) => {
    output += chunk.toString("utf8");
    const prompts = output.split(PROMPT).length - 1;
    while (asked < prompts) {
      child.stdin.write(`${answers[asked] ?? ""}\r`);
      asked++;
    }
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, output }));
  });
}

describe("the sudo password, asked again on a terminal", { skip }, () => {
  let w: World;
  let h: RotationEnv;
  before(async () => {
    w = await world({ dir: "ftr-password-" });
    h = await w.startRotationEnv({ environments: ["integration"], verifyTimeout: "30s", stateDir: "state" });
  });
  after(() => w?.close());

  it("two wrong passwords, then the right one: asked three times, and the run rotates", async () => {
    const right = demoCredentials.superuser.password;
    const { code, output } = await rotateTyping(h, ["wrong-one", "wrong-two", right]);
    assert.equal(code, 0, output);
    assert.equal(output.split(PROMPT).length - 1, 3, output);
    assert.match(output, /try again \(2 of 3\)/);
    assert.match(output, /try again \(3 of 3\)/);
    assert.match(output, /run \S+: done/);
    for (const secret of ["wrong-one", "wrong-two", right]) assert.ok(!output.includes(secret), secret);
  });

  it("three wrong passwords end the run with one line; no fourth question", async () => {
    const before = (await h.admin.state()).automationTokens.length;
    const { code, output } = await rotateTyping(h, ["bad-1", "bad-2", "bad-3", "never-asked"]);
    assert.equal(code, 1, output);
    assert.equal(output.split(PROMPT).length - 1, 3, output);
    assert.match(output, /sudo password is not correct/);
    assert.doesNotMatch(output, /not correct\.\)/, "no full stop before the closing parenthesis");
    assert.equal((await h.admin.state()).automationTokens.length, before, "nothing minted");
  });
});
