import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { compileNamePattern, namePatternProblem } from "./pattern.ts";

describe("name patterns (RE2)", () => {
  it("searches anywhere in the name, like RegExp.test", () => {
    const p = compileNamePattern("[Ii]ntegration");
    assert.equal(p.test("www Integration"), true);
    assert.equal(p.test("assets integration eu"), true);
    assert.equal(p.test("www Staging"), false);
    assert.equal(compileNamePattern("^www ").test("assets www "), false);
  });

  it("matches a backtracking pattern in linear time", () => {
    // A backtracking engine would not finish this in any lifetime: answering at all is the proof.
    const p = compileNamePattern("^(\\w+\\s?)*$");
    assert.equal(p.test(`www integration ${"a".repeat(5_000)}!`), false);
  });

  it("names what RE2 cannot run", () => {
    assert.equal(namePatternProblem("[Ii]ntegration"), undefined);
    assert.match(namePatternProblem("(a)\\1") ?? "", /invalid escape sequence/);
    assert.match(namePatternProblem("a(?=b)") ?? "", /unsupported Perl syntax/);
  });
});
