import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { jsonPieces } from "./json-pieces.ts";

const joined = (value: unknown) => [...jsonPieces(value)].join("");

/** Rows like `ftr status --json`'s tokens, `n` of them. */
function rows(n: number): unknown[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `t${i}`,
    name: `token ${i} "quoted"\n`,
    scopes: i % 3 === 0 ? [] : ["global", "purge_all"],
    services: [{ id: `s${i}`, name: `service ${i}` }],
    lastUsed: i % 2 === 0 ? { at: new Date(i * 1000) } : undefined,
    findings: [{ code: "expiring", message: "due" }],
  }));
}

describe("jsonPieces over long arrays (items stringified in runs)", () => {
  it("joins to JSON.stringify(value, null, 2) for arrays longer than a run, at every depth walked", () => {
    for (const n of [1, 2, 31, 32, 33, 65, 1000]) {
      const list = rows(n);
      for (const value of [{ tokens: list, after: [] }, list, { a: { b: list } }, [list, list]]) {
        assert.equal(joined(value), JSON.stringify(value, null, 2), `${n} items`);
      }
    }
  });

  it("writes holes, undefined, functions and symbols in a long array as null", () => {
    // eslint-disable-next-line no-sparse-arrays
    const odd: unknown[] = [1, , undefined, () => 1, Symbol("s"), null, "x"];
    const list = Array.from({ length: 600 }, (_, i) => odd[i % odd.length]);
    list.length = 700; // a trailing run of holes
    assert.equal(joined({ list }), JSON.stringify({ list }, null, 2));
  });

  it("gives an item's toJSON its own index as key, wherever it falls in a run", () => {
    const keyed = { toJSON: (key: string) => `item ${key}` };
    const dropped = { toJSON: () => undefined };
    const list = Array.from({ length: 600 }, (_, i) =>
      i % 97 === 0 ? keyed : i % 131 === 0 ? dropped : { i, at: new Date(i) },
    );
    list[0] = keyed;
    list[599] = keyed;
    assert.equal(joined({ list }), JSON.stringify({ list }, null, 2));
    assert.ok(joined({ list }).includes('"item 582"'));
  });

  it("makes a few pieces for thousands of items, not one or more each", () => {
    const count = [...jsonPieces({ tokens: rows(10_000) })].length;
    assert.ok(count < 1000, `${count} pieces`);
  });
});
