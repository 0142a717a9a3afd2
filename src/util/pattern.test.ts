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
    const p = compileNamePattern("^(\\w+\\s?)*$");
    const started = performance.now();
    assert.equal(p.test(`www integration ${"a".repeat(5_000)}!`), false);
    assert.ok(performance.now() - started < 1_000);
  });

  it("names what RE2 cannot run", () => {
    assert.equal(namePatternProblem("[Ii]ntegration"), undefined);
    assert.match(namePatternProblem("(a)\\1") ?? "", /invalid escape sequence/);
    assert.match(namePatternProblem("a(?=b)") ?? "", /unsupported Perl syntax/);
  });
});
