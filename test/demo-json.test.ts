/**
 * `ftr demo --json | jq .` parses: stdout holds the result alone (the commands the demo runs print
 * to stderr), and the result names no directory unless it was kept.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { describe, it } from "node:test";
import { runCliProcess } from "./helpers/cli.ts";

describe("ftr demo --json", () => {
  it("prints only JSON on stdout, the demo's text on stderr, and no deleted dir", async () => {
    const { code, stdout, stderr } = await runCliProcess(["demo", "--json"]);
    assert.equal(code, 0, stderr);
    const result = JSON.parse(stdout) as { ok: boolean; dir?: string; rotateExitCode: number };
    assert.equal(result.ok, true);
    assert.equal(result.dir, undefined);
    assert.match(stderr, /\$ ftr rotate/);
    assert.match(stderr, /ROTATE/);
  });

  it("with --keep, names the directory, which exists", async () => {
    const { code, stdout, stderr } = await runCliProcess(["demo", "--json", "--keep"]);
    assert.equal(code, 0, stderr);
    const result = JSON.parse(stdout) as { dir?: string };
    assert.ok(result.dir && existsSync(result.dir), stdout);
    const { rm } = await import("node:fs/promises");
    await rm(result.dir, { recursive: true, force: true });
  });
});
