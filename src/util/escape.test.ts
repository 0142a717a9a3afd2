import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { escapeControl, escapeControlLines } from "./escape.ts";

describe("escapeControl", () => {
  it("writes C0, DEL, C1 and bidi controls as visible escapes", () => {
    assert.equal(escapeControl("a\x1b[2K\rb\nc\td"), "a\\x1b[2K\\rb\\nc\\td");
    assert.equal(escapeControl("\x00\x07\x7f\x9b"), "\\x00\\x07\\x7f\\x9b");
    assert.equal(escapeControl("x\u202ey\u2066z\u2069"), "x\\u202ey\\u2066z\\u2069");
  });

  it("leaves printable text alone, non-ASCII letters and symbols included", () => {
    for (const text of ["www Integration", "Zürich – 東京 ✓ █░", "", "a\\x1b stays as typed"]) {
      assert.equal(escapeControl(text), text);
    }
  });

  it("escapeControlLines keeps line breaks but escapes within lines", () => {
    assert.equal(escapeControlLines("one\x1b\ntwo\r"), "one\\x1b\ntwo\\r");
  });
});
