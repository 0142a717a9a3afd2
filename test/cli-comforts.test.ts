/**
 * The comforts of the command line: shell completion (driven through a real bash), bare `ftr`,
 * `--no-color`, FTR_CONFIG and ./ftr.yaml as the default config, and wording.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CLI_NODE_ARGS, runCli } from "./helpers/cli.ts";

const CONFIG = [
  "version: 1",
  "environments:",
  "  - name: integration",
  "    token: { name: exporter integration, services: { all: true } }",
  "    secret: { type: file, path: ./integration.txt }",
  "    verify: [{ type: token-in-use }]",
  "  - name: staging",
  "    token: { name: exporter staging, services: { all: true } }",
  "    secret: { type: file, path: ./staging.txt }",
  "    verify: [{ type: token-in-use }]",
].join("\n");

const bashMissing = spawnSync("bash", ["--version"]).status === 0 ? false : "bash is not installed";
if (bashMissing && process.env.CI === "true") throw new Error(`CI=true: ${bashMissing}`);

describe("command-line comforts", () => {
  let dir: string;
  let bin: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ftr-comforts-"));
    await writeFile(join(dir, "ftr.yaml"), CONFIG);
    bin = join(dir, "bin");
    await (await import("node:fs/promises")).mkdir(bin);
    // `ftr` on PATH, as an installed one would be: the completion script calls it back.
    const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    await writeFile(
      join(bin, "ftr"),
      `#!/bin/sh\nexec ${[process.execPath, ...CLI_NODE_ARGS].map(quote).join(" ")} "$@"\n`,
    );
    await chmod(join(bin, "ftr"), 0o755);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  /** What bash's completion offers for `line` (words; the last one is being completed). */
  const complete = (line: string[]): string[] => {
    const words = line.map((w) => `'${w}'`).join(" ");
    const script = `source <(ftr completion bash) && COMP_WORDS=(${words}) && COMP_CWORD=${line.length - 1} && _ftr && printf '%s\\n' "\${COMPREPLY[@]}"`;
    const result = spawnSync("bash", ["-c", script], {
      cwd: dir,
      env: { PATH: `${bin}:${process.env.PATH ?? ""}`, HOME: dir },
      encoding: "utf8",
    });
    assert.equal(result.status, 0, result.stderr);
    return result.stdout.split("\n").filter((l) => l !== "");
  };

  it("bash completes commands, flags, and environment names from the config", { skip: bashMissing }, () => {
    assert.deepEqual(complete(["ftr", "pl"]), ["plan"]);
    assert.deepEqual(complete(["ftr", "ro"]).sort(), ["rollback", "rotate"]);
    assert.deepEqual(complete(["ftr", "plan", "--detailed"]), ["--detailed-exitcode"]);
    // From ./ftr.yaml, and from the --config on the line.
    assert.deepEqual(complete(["ftr", "rotate", "--env", ""]), ["integration", "staging"]);
    assert.deepEqual(complete(["ftr", "plan", "--config", "ftr.yaml", "-e", "st"]), ["staging"]);
  });

  it("completion: zsh and fish scripts, and a usage error for another shell", async () => {
    const zsh = await runCli(["completion", "zsh"]);
    assert.equal(zsh.code, 0);
    assert.match(zsh.stdout, /^#compdef ftr/);
    const fish = await runCli(["completion", "fish"]);
    assert.match(fish.stdout, /complete -c ftr -n __fish_use_subcommand -a rotate/);
    assert.match(fish.stdout, /-l env -x -a '\(ftr completion --environments/);
    const bad = await runCli(["completion", "tcsh"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown shell "tcsh": ftr completion bash\|zsh\|fish/);
  });

  it("bare ftr prints the help on stdout and exits 2", async () => {
    const { code, stdout, stderr } = await runCli([]);
    assert.equal(code, 2);
    assert.match(stdout, /^Usage: ftr /);
    assert.equal(stderr, "");
  });

  it("--config defaults to FTR_CONFIG, then ./ftr.yaml", async () => {
    const fromCwd = await runCli(["validate"], { cwd: dir });
    assert.equal(fromCwd.code, 0, fromCwd.stderr);
    assert.match(fromCwd.stdout, /ftr\.yaml is valid \(2 environments,/);
    const other = await mkdtemp(join(tmpdir(), "ftr-comforts-other-"));
    try {
      const none = await runCli(["validate"], { cwd: other });
      assert.equal(none.code, 2);
      assert.match(none.stderr, /--config/);
      const fromEnv = await runCli(["validate"], { cwd: other, env: { FTR_CONFIG: join(dir, "ftr.yaml") } });
      assert.equal(fromEnv.code, 0, fromEnv.stderr);
      // An explicit --config wins over both.
      await writeFile(join(other, "one.yaml"), CONFIG.split("\n").slice(0, 6).join("\n"));
      const explicit = await runCli(["validate", "--config", "one.yaml"], {
        cwd: other,
        env: { FTR_CONFIG: join(dir, "ftr.yaml") },
      });
      assert.match(
        explicit.stdout,
        /one\.yaml is valid \(1 environment,/,
        "and one environment, not 1 environments",
      );
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });

  it("--no-color turns colours off on a terminal, as NO_COLOR does", async () => {
    const coloured = await runCli(["validate"], { cwd: dir, tty: true });
    assert.ok(coloured.stdout.includes("\x1b["), coloured.stdout);
    const plain = await runCli(["validate", "--no-color"], { cwd: dir, tty: true });
    assert.equal(plain.code, 0);
    assert.ok(!plain.stdout.includes("\x1b["), plain.stdout);
    assert.match(plain.stdout, /is valid/);
  });
});
