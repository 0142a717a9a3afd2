/**
 * The manual page is built from the help (scripts/write-man.mjs, run by `npm run build`), declared
 * in package.json's "man" and shipped in the package: it has a section for every command, and
 * `man -l` renders it.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

// man-db is a Debian package .ci/run installs: under CI=true its absence fails rather than skips.
const manMissing =
  spawnSync("man", ["--version"]).status === 0 ? false : "man is not installed (apt-get install man-db)";
if (manMissing && process.env.CI === "true") throw new Error(`CI=true: ${manMissing}`);

describe("the man page", () => {
  let dir: string;
  let page: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ftr-man-"));
    execFileSync(process.execPath, [join(root, "scripts/write-man.mjs"), join(dir, "ftr.1")]);
    page = await readFile(join(dir, "ftr.1"), "utf8");
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("has every command's help, and package.json declares and ships it", async () => {
    assert.match(page, /^\.TH FTR 1 /);
    for (const name of [
      "validate",
      "plan",
      "rotate",
      "resume",
      "rollback",
      "status",
      "check",
      "serve",
      "sandbox",
      "init",
      "completion",
    ]) {
      assert.match(page, new RegExp(`^\\.SS ftr ${name}$`, "m"), name);
    }
    assert.match(page, /--detailed-exitcode/);
    const pkg = JSON.parse(await readFile(join(root, "package.json"), "utf8")) as {
      man: string;
      files: string[];
    };
    assert.equal(pkg.man, "./man/ftr.1");
    assert.ok(pkg.files.includes("man") && pkg.files.includes("examples"));
  });

  it("renders with man -l", { skip: manMissing }, () => {
    const shown = execFileSync("man", ["-l", join(dir, "ftr.1")], {
      encoding: "utf8",
      env: { ...process.env, MANPAGER: "cat", PAGER: "cat" },
    });
    assert.match(shown, /ftr plan/);
  });
});
