import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { getHeapSpaceStatistics } from "node:v8";
import {
  keepYoungGenerationSmall,
  withSmallYoungGeneration,
  youngGenerationChosen,
} from "./young-generation.ts";

const MiB = 1024 * 1024;

/** The young generation's size now (V8's `new_space`). */
function youngSize(): number {
  const space = getHeapSpaceStatistics().find((s) => s.space_name === "new_space");
  assert.ok(space, "V8 reports a new_space");
  return space.space_size;
}

/**
 * Objects that live across many young collections, as a listing's pages do: V8 grows the young
 * generation when much of it survives each collection.
 */
function churn(): number {
  let keep: { i: number; s: string; a: number[] }[] = [];
  let total = 0;
  for (let i = 0; i < 400_000; i++) {
    keep.push({ i, s: `item ${i}`, a: [i, i + 1] });
    if (keep.length > 20_000) {
      total += keep.length;
      keep = keep.slice(10_000);
    }
  }
  return total + keep.length;
}

describe("keepYoungGenerationSmall", () => {
  // One test: the process's young generation is the thing measured, and it only grows.
  it("keeps the young generation from growing while held, and lets it grow once released", () => {
    const before = youngSize();
    // A test file's process starts with a small young generation (1-2 MiB); the check means nothing
    // once it has grown to its maximum.
    assert.ok(before <= 8 * MiB, `the young generation is already ${before / MiB} MiB`);
    const release = keepYoungGenerationSmall();
    churn();
    const held = youngSize();
    release();
    assert.ok(held <= Math.max(2 * before, 2 * MiB), `held: ${before / MiB} → ${held / MiB} MiB`);
    churn();
    churn();
    const released = youngSize();
    assert.ok(released >= 4 * held, `released: ${held / MiB} → ${released / MiB} MiB`);
  });
});

describe("youngGenerationChosen", () => {
  it("sees the user's own young-generation options on the command line or in NODE_OPTIONS", () => {
    assert.equal(youngGenerationChosen([], undefined), false);
    assert.equal(youngGenerationChosen(["--enable-source-maps"], "--max-old-space-size=512"), false);
    assert.equal(youngGenerationChosen(["--max-semi-space-size=8"], undefined), true);
    assert.equal(youngGenerationChosen(["--min_semi_space_size=2"], undefined), true);
    assert.equal(youngGenerationChosen([], "--enable-source-maps --semi-space-growth-factor=4"), true);
  });
});

describe("withSmallYoungGeneration", () => {
  it("gives the job's value and its failure through", async () => {
    assert.equal(await withSmallYoungGeneration(async () => 42), 42);
    await assert.rejects(
      withSmallYoungGeneration(async () => {
        throw new Error("boom");
      }),
      /boom/,
    );
  });
});
