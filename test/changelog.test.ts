/**
 * CHANGELOG.md follows Keep a Changelog: `## [Unreleased]` first, then one dated section per
 * version, newest first, and the version package.json declares has its own dated section, so
 * what a user installs is described.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

describe("CHANGELOG.md", () => {
  it("has Unreleased first, then a dated section for each version, newest first, the package's among them", async () => {
    const text = await readFile(join(root, "CHANGELOG.md"), "utf8");
    const { version } = JSON.parse(await readFile(join(root, "package.json"), "utf8")) as { version: string };
    const headings = text.split("\n").filter((line) => line.startsWith("## "));
    assert.equal(headings[0], "## [Unreleased]");
    const versions = headings.slice(1).map((heading) => {
      const match = /^## \[(\d+\.\d+\.\d+)\] - (\d{4}-\d{2}-\d{2})$/.exec(heading);
      assert.ok(match, `a version heading reads "## [x.y.z] - YYYY-MM-DD": ${heading}`);
      assert.ok(!Number.isNaN(Date.parse(match[2]!)), `a real date: ${heading}`);
      return { version: match[1]!, date: match[2]! };
    });
    assert.ok(
      versions.some((v) => v.version === version),
      `package.json's ${version} has a dated section`,
    );
    const dates = versions.map((v) => v.date);
    assert.deepEqual(dates, [...dates].sort().reverse(), "newest first");
    const numbers = versions.map((v) => v.version.split(".").map(Number));
    for (let i = 1; i < numbers.length; i++) {
      const [a, b] = [numbers[i - 1]!, numbers[i]!];
      const newer = a[0]! - b[0]! || a[1]! - b[1]! || a[2]! - b[2]!;
      assert.ok(newer > 0, `${versions[i - 1]!.version} above ${versions[i]!.version}`);
    }
  });
});
