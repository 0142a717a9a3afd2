/**
 * Output that fits the terminal: `plan`, `rotate` (progress, plan and summary) and `status` run on a
 * pseudo-terminal 80 and 120 columns wide print no line longer than the width, with the
 * environments and token ids whole, so rows stay distinguishable; piped, nothing is cut.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { RotationResult } from "../src/rotation/rotate.ts";
import { overlong, runOnPty, skipWithoutPty, terminalLines } from "./helpers/pty.ts";
import type { RotationEnv } from "./helpers/rotation-env.ts";
import { world, type World } from "./helpers/world.ts";

const skip = skipWithoutPty();

describe("output fits the terminal", { skip }, () => {
  let w: World;
  let h: RotationEnv;
  const onPty = (argv: string[], columns: number) =>
    runOnPty([...argv, "--config", h.configPath], { columns, cwd: h.dir, env: h.env });

  before(async () => {
    w = await world({ dir: "ftr-width-" });
    h = await w.startRotationEnv({
      environments: ["integration", "staging"],
      verifyTimeout: "30s",
      verifyInterval: "1s",
      stateDir: "state",
    });
  });
  after(() => w?.close());

  for (const columns of [80, 120]) {
    it(`plan at ${columns} columns`, async () => {
      const { code, output } = await onPty(["plan", "--force"], columns);
      assert.equal(code, 0, output);
      assert.deepEqual(overlong(output, columns), [], output);
      const lines = terminalLines(output);
      for (const env of h.environments)
        assert.ok(
          lines.some((l) => l.startsWith(`${env}  ROTATE`)),
          output,
        );
      assert.ok(
        lines.some((l) => /^\s+\d+\. reload/.test(l)),
        output,
      );
    });

    it(`status at ${columns} columns: ids and environments whole`, async () => {
      const { code, output } = await onPty(["status"], columns);
      if (process.env.SHOW_PTY) console.error(output);
      assert.equal(code, 0, output);
      assert.deepEqual(overlong(output, columns), [], output);
      const status = await h.runCli(["status", "--config", h.configPath, "--json"]);
      const report = JSON.parse(status.stdout) as { tokens: { id: string; name: string }[] };
      const lines = terminalLines(output);
      for (const token of report.tokens) {
        assert.ok(
          lines.some((l) => l.includes(token.id)),
          `token ${token.id} (${token.name}) has a row with its whole id:\n${output}`,
        );
      }
      for (const env of h.environments)
        assert.ok(
          lines.some((l) => l.startsWith(env)),
          output,
        );
    });
  }

  it("rotate at 80 columns: plan, progress and summary fit", async () => {
    const { code, output } = await onPty(["rotate", "--yes"], 80);
    if (process.env.SHOW_PTY) console.error(output);
    assert.equal(code, 0, output);
    assert.deepEqual(overlong(output, 80), [], output);
    const json = await h.runCli(["plan", "--config", h.configPath, "--json"]);
    assert.equal(json.code, 0);
    // The summary names each environment and its new token whole.
    const journal = terminalLines(output);
    for (const env of h.environments) {
      assert.ok(
        journal.some((l) => l.includes(env) && /rotated/.test(l)),
        `${env} rotated in the summary:\n${output}`,
      );
    }
    void (null as unknown as RotationResult);
  });

  it("piped, status keeps every character", async () => {
    const piped = await h.runCliProcess(["status", "--config", h.configPath]);
    assert.equal(piped.code, 0);
    assert.ok(piped.stdout.includes("GOV.UK prometheus-fastly-exporter token for Integration"), piped.stdout);
  });
});
