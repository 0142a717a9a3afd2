import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Ring } from "./ring.ts";

describe("Ring", () => {
  it("keeps entries oldest first until full", () => {
    const ring = new Ring<number>(3);
    ring.push(1);
    ring.push(2);
    assert.deepEqual(ring.toArray(), [1, 2]);
    assert.equal(ring.length, 2);
  });

  it("drops the oldest entries once full", () => {
    const ring = new Ring<number>(3);
    for (let i = 1; i <= 7; i++) ring.push(i);
    assert.deepEqual(ring.toArray(), [5, 6, 7]);
    assert.equal(ring.length, 3);
  });

  it("starts over after clear", () => {
    const ring = new Ring<number>(2);
    for (let i = 1; i <= 5; i++) ring.push(i);
    ring.clear();
    assert.deepEqual(ring.toArray(), []);
    ring.push(9);
    assert.deepEqual(ring.toArray(), [9]);
  });
});
