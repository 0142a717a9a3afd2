import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { jsonPieces } from "./json-pieces.ts";

const joined = (value: unknown) => [...jsonPieces(value)].join("");

/** A small deterministic generator (tests must not depend on Math.random). */
function random(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
}

describe("jsonPieces", () => {
  it("joins to JSON.stringify(value, null, 2) for the shapes JSON knows and the ones it drops", () => {
    class Custom {
      constructor(readonly kept: number) {}
    }
    const values: unknown[] = [
      {},
      [],
      { a: [] },
      { a: {} },
      { a: [{}] },
      [[]],
      [[[1, [2, { b: [3] }]]]],
      { a: undefined, b: () => 1, c: Symbol("s"), d: 1 },
      { only: undefined },
      [undefined, () => 1, Symbol("s"), null],
      // A hole in an array.
      // eslint-disable-next-line no-sparse-arrays
      [1, , 3],
      { text: 'line\nbreak\r\u2028\u2029 "quoted" \\ \u0000 \ud800 é 漢 😀' },
      { 'key\nwith "quotes"': { "": [""] }, __proto__key: 1 },
      { n: [0, -0, 1.5, NaN, Infinity, -Infinity, 1e21, Number.MAX_SAFE_INTEGER] },
      { at: new Date("2026-12-01T00:00:00Z"), list: [new Date(0)] },
      { boxed: [new String("s"), new Number(2), new Boolean(false)], top: new String("t") },
      { map: new Map([[1, 2]]), set: new Set([1]), custom: new Custom(3) },
      { nested: { deep: { deeper: [{ deepest: ["x", { y: [] }] }] } } },
      { 2: "two", 1: "one", b: "b", a: "a" },
      Object.assign(Object.create(null) as object, { noProto: [1, 2] }),
      "a plain string",
      42,
      null,
      true,
      [null],
    ];
    for (const value of values) assert.equal(joined(value), JSON.stringify(value, null, 2));
  });

  it("gives toJSON the key JSON.stringify gives it, and uses what it returns as JSON.stringify does", () => {
    const keyed = { toJSON: (key: string) => `under "${key}"` };
    const dropped = { toJSON: () => undefined };
    const nested = { toJSON: () => ({ toJSON: () => "not called", kept: [1] }) };
    const values: unknown[] = [
      { a: keyed, b: [keyed, keyed], c: { d: keyed } },
      [keyed],
      keyed,
      { gone: dropped, list: [dropped] },
      { nested, list: [nested] },
      { weird: { toJSON: (key: string) => ({ key, more: [key, { key }] }) } },
    ];
    for (const value of values) assert.equal(joined(value), JSON.stringify(value, null, 2));
  });

  it("joins to JSON.stringify for random nested documents", () => {
    const next = random(7);
    const strings = ["", "a", "line\nbreak", "\u001b[31m", "é", "漢字", "😀", '"', "\\", " "];
    const make = (depth: number): unknown => {
      const kind = Math.floor(next() * (depth > 3 ? 5 : 8));
      if (kind === 0) return null;
      if (kind === 1) return next() < 0.5;
      if (kind === 2) return Math.floor(next() * 2000) - 1000 + (next() < 0.3 ? 0.25 : 0);
      if (kind === 3) return strings[Math.floor(next() * strings.length)];
      if (kind === 4) return next() < 0.5 ? undefined : new Date(Math.floor(next() * 2e12));
      if (kind === 5) return Array.from({ length: Math.floor(next() * 4) }, () => make(depth + 1));
      const out: Record<string, unknown> = {};
      for (let i = Math.floor(next() * 4); i > 0; i--) {
        out[strings[Math.floor(next() * strings.length)] ?? "k"] = make(depth + 1);
      }
      return out;
    };
    for (let i = 0; i < 500; i++) {
      const value = { tokens: Array.from({ length: Math.floor(next() * 5) }, () => make(2)), other: make(1) };
      assert.equal(joined(value), JSON.stringify(value, null, 2));
    }
  });

  it("gives the items of a top-level list a few dozen to a piece", () => {
    const tokens = Array.from({ length: 1000 }, (_, i) => ({ id: `t${i}`, findings: [{ message: "m" }] }));
    const pieces = [...jsonPieces({ generatedAt: "now", tokens })];
    // No piece holds more than 32 tokens: the document is never one string before it is written.
    assert.ok(pieces.length > 1000 / 32, `${pieces.length} pieces`);
    for (const piece of pieces) assert.ok((piece.match(/"id"/g) ?? []).length <= 32, piece);
    assert.equal(pieces.join(""), JSON.stringify({ generatedAt: "now", tokens }, null, 2));
  });
});
