import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { syncBlocker } from "./index.ts";

describe("syncBlocker", () => {
  it("lets Periodic with an interval and OnChange through", () => {
    assert.equal(syncBlocker({ spec: { refreshInterval: "1h" } }), undefined);
    assert.equal(syncBlocker({ spec: {} }), undefined);
    assert.equal(syncBlocker({ spec: { refreshPolicy: "OnChange", refreshInterval: "0" } }), undefined);
  });

  it("refuses CreatedOnce, and a zero interval with the Periodic policy", () => {
    assert.match(syncBlocker({ spec: { refreshPolicy: "CreatedOnce" } }) ?? "", /CreatedOnce/);
    for (const interval of ["0", "0s", "0m", "00h"]) {
      assert.match(syncBlocker({ spec: { refreshInterval: interval } }) ?? "", /refreshInterval is 0/);
    }
  });
});
