import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseConfig } from "./parse.ts";

describe("parseConfig: YAML errors where the mistake is", () => {
  it("reports an unclosed { where it opens, with where the parser stopped", () => {
    const text = 'version: 1\nfastly: { endpoint: "https://api.fastly.com"\nenvironments:\n  - name: a\n';
    const [issue, ...rest] = parseConfig(text, { baseDir: "/tmp" }).errors;
    assert.deepEqual(rest, []);
    assert.equal(issue?.line, 2);
    assert.equal(issue?.column, 9);
    assert.match(issue?.message ?? "", /this `\{` is never closed; add the `\}`/);
    assert.match(issue?.message ?? "", /the parser stopped at line 3, column 1/);
  });

  it("reports an unclosed [ where it opens", () => {
    const text = "version: 1\nenvironments: [\n  { name: a },\n  { name: b }\nstate: { dir: x }\n";
    const [issue] = parseConfig(text, { baseDir: "/tmp" }).errors;
    assert.equal(issue?.line, 2);
    assert.equal(issue?.column, 15);
    assert.match(issue?.message ?? "", /this `\[` is never closed/);
  });
});
