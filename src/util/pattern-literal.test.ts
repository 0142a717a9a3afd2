import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RE2JS } from "re2js";
import { compileNamePattern, namePatternProblem } from "./pattern.ts";

/** What RE2 itself says of `pattern` against `name`. */
const re2Finds = (pattern: string, name: string): boolean => RE2JS.compile(pattern).matcher(name).find();

describe("literal name patterns (answered without re2js)", () => {
  const names = [
    "",
    "www integration",
    "Integration eu",
    "assets-integration_2",
    "INTEGRATION",
    "integratio",
    "staging integration staging",
    "päge intégration",
    "a-b",
    "a_b",
    "a b",
  ];
  const patterns = ["", "integration", "Integration", "ntegration", "a-b", "a_b", "a b", "-", "_", " ", "2"];

  it("match exactly the names RE2 matches", () => {
    for (const pattern of patterns) {
      const compiled = compileNamePattern(pattern);
      assert.equal(compiled.source, pattern);
      for (const name of names) {
        assert.equal(
          compiled.test(name),
          re2Finds(pattern, name),
          `${JSON.stringify(pattern)} on ${JSON.stringify(name)}`,
        );
      }
    }
  });

  it("always compile, as in RE2", () => {
    for (const pattern of patterns) {
      assert.equal(namePatternProblem(pattern), undefined);
      assert.doesNotThrow(() => RE2JS.compile(pattern));
    }
  });

  it("leave anything with an operator to RE2", () => {
    // Each of these differs from a plain substring search, or does not compile.
    assert.equal(compileNamePattern("a.b").test("axb"), true);
    assert.equal(compileNamePattern("^www").test("assets www"), false);
    assert.equal(compileNamePattern("prod$").test("prod eu"), false);
    assert.equal(compileNamePattern("(?i)integration").test("INTEGRATION"), true);
    assert.equal(compileNamePattern("a+").test("caat"), true);
    assert.equal(compileNamePattern("\\d").test("v2"), true);
    assert.match(namePatternProblem("a(?=b)") ?? "", /unsupported Perl syntax/);
    assert.match(namePatternProblem("(a") ?? "", /missing closing \)/);
    assert.match(namePatternProblem("a{1001}") ?? "", /invalid repeat count/);
  });
});
