import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RE2JS } from "re2js";
import { compileNamePattern, namePatternProblem } from "./pattern.ts";

/** What RE2 itself says of `pattern` against `name`. */
const re2Finds = (pattern: string, name: string): boolean => RE2JS.compile(pattern).matcher(name).find();

/** A small deterministic generator (mulberry32), so a failure names a pattern that fails again. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(next: () => number, items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;

/** A random simple pattern: the syntax the fast path accepts. */
function simplePattern(next: () => number): string {
  const item = (): string => {
    const kind = next();
    if (kind < 0.5) return pick(next, ["a", "b", "S", "s", "1", " ", "_", "-", "t", "g"]);
    if (kind < 0.65)
      return `\\${pick(next, [".", "*", "+", "?", "(", ")", "[", "]", "{", "}", "|", "^", "$", "\\", "/"])}`;
    const members = Array.from({ length: 1 + Math.floor(next() * 3) }, () =>
      next() < 0.3
        ? pick(next, ["a-c", "0-9", "A-Z", "a-z", "S-s", " -_"])
        : pick(next, ["a", "b", "S", "s", "1", " ", "_"]),
    );
    return `[${next() < 0.25 ? "^" : ""}${members.join("")}]`;
  };
  const alternative = (): string =>
    `${next() < 0.3 ? "^" : ""}${Array.from({ length: Math.floor(next() * 4) }, item).join("")}${next() < 0.3 ? "$" : ""}`;
  return Array.from({ length: 1 + (next() < 0.3 ? 1 : 0) + (next() < 0.1 ? 1 : 0) }, alternative).join("|");
}

const NAMES = [
  "",
  "a",
  "Staging",
  "staging",
  "www-staging_1",
  "ab1 S",
  "a.b",
  "a*b+c?",
  "(a)[b]{c}|d^e$f\\g/h",
  "sss ttt ggg",
  "-_-",
  "päge s",
  "a\nb",
  "😀 a 😀",
  "ZZZ",
  "Bs1_",
];

describe("simple name patterns (a RegExp, without re2js)", () => {
  it("match exactly the names RE2 matches, over 3,000 generated patterns", () => {
    const next = random(20261206);
    for (let i = 0; i < 3000; i++) {
      const pattern = simplePattern(next);
      let re2Compiles = true;
      try {
        RE2JS.compile(pattern);
      } catch {
        re2Compiles = false;
      }
      // Both refuse the same patterns (a range out of order), and RE2 words why.
      assert.equal(namePatternProblem(pattern) === undefined, re2Compiles, JSON.stringify(pattern));
      if (!re2Compiles) continue;
      const compiled = compileNamePattern(pattern);
      for (const name of NAMES) {
        assert.equal(
          compiled.test(name),
          re2Finds(pattern, name),
          `${JSON.stringify(pattern)} on ${JSON.stringify(name)}`,
        );
      }
    }
  });

  it("match as RE2 does at the anchors, in classes and across alternatives", () => {
    const cases: [string, string, boolean][] = [
      ["[Ss]taging", "www-staging", true],
      ["[Ss]taging", "STAGING", false],
      ["^www-", "a www-b", false],
      ["^www-", "www-b", true],
      ["prod$", "prod eu", false],
      ["prod$", "eu prod", true],
      ["prod$", "eu prod\n", false],
      ["^a|b$", "xb", true],
      ["^a|b$", "xa", false],
      ["[^a]", "\n", true],
      ["[^a]", "a", false],
      ["a\\.b", "axb", false],
      ["a\\.b", "a.b", true],
      ["[0-9][0-9]", "v12", true],
      ["[ -_]", "!", true],
    ];
    for (const [pattern, name, expected] of cases) {
      assert.equal(re2Finds(pattern, name), expected, `RE2: ${pattern} on ${JSON.stringify(name)}`);
      assert.equal(compileNamePattern(pattern).test(name), expected, `${pattern} on ${JSON.stringify(name)}`);
    }
  });

  it("leave a range out of order to RE2, which says why", () => {
    assert.match(namePatternProblem("[z-a]") ?? "", /invalid character class range/);
    assert.throws(() => compileNamePattern("[z-a]"));
  });

  it("leave repetition, dots, groups and flags to RE2", () => {
    assert.equal(compileNamePattern("a.b").test("a\nb"), false);
    assert.equal(compileNamePattern("(?i)staging").test("STAGING"), true);
    assert.equal(compileNamePattern("^(a|b)+$").test("abba"), true);
    assert.equal(compileNamePattern("\\d").test("v2"), true);
    assert.match(namePatternProblem("(a)\\1") ?? "", /invalid escape sequence/);
  });
});
