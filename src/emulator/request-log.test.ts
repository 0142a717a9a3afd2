import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RequestLog } from "./request-log.ts";

const at = (iso: string): number => new Date(iso).getTime();

/** A string equal to `text` but not the same string (as each request's header values are). */
const fresh = (text: string): string => [...text].join("");

describe("RequestLog", () => {
  it("keeps every field of each request, oldest first, its time formatted when read", () => {
    const log = new RequestLog(3);
    log.push("GET", "/tokens/self", 200, "tok1", "go-fastly/9", at("2026-03-10T12:00:00.990Z"));
    log.push("DELETE", "/tokens/REDACTED", 0, null, null, at("2026-03-10T12:00:01Z"));
    assert.equal(log.length, 2);
    assert.deepEqual(log.entries(), [
      {
        method: "GET",
        path: "/tokens/self",
        status: 200,
        tokenId: "tok1",
        userAgent: "go-fastly/9",
        at: "2026-03-10T12:00:00Z",
      },
      {
        method: "DELETE",
        path: "/tokens/REDACTED",
        status: 0,
        tokenId: null,
        userAgent: null,
        at: "2026-03-10T12:00:01Z",
      },
    ]);
  });

  it("drops the oldest entries once full, however many are added", () => {
    const log = new RequestLog(3);
    for (let i = 1; i <= 7; i++) log.push("GET", `/service/${i}`, 200 + i, `t${i}`, `ua${i}`, i * 1000);
    assert.equal(log.length, 3);
    assert.deepEqual(
      log.entries().map((e) => [e.path, e.status, e.tokenId, e.userAgent, e.at]),
      [
        ["/service/5", 205, "t5", "ua5", "1970-01-01T00:00:05Z"],
        ["/service/6", 206, "t6", "ua6", "1970-01-01T00:00:06Z"],
        ["/service/7", 207, "t7", "ua7", "1970-01-01T00:00:07Z"],
      ],
    );
  });

  it("starts over after clear", () => {
    const log = new RequestLog(2);
    for (let i = 1; i <= 5; i++) log.push("GET", `/p${i}`, 200, null, null, 0);
    log.clear();
    assert.equal(log.length, 0);
    assert.deepEqual(log.entries(), []);
    log.push("POST", "/sudo", 200, "t", "ua", 0);
    assert.deepEqual(
      log.entries().map((e) => e.path),
      ["/sudo"],
    );
  });

  it("keeps equal paths and agents once, and still tells different ones apart", () => {
    const log = new RequestLog(2000);
    for (let i = 0; i < 1500; i++)
      log.push("GET", fresh("/tokens/self"), 200, null, fresh(`agent ${i % 3}`), 0);
    // More distinct paths than the shared table holds: it starts over, and no entry changes.
    for (let i = 0; i < 500; i++) log.push("GET", fresh(`/service/${i}`), 200, null, null, 0);
    const entries = log.entries();
    assert.equal(entries.length, 2000);
    assert.deepEqual(
      entries.slice(0, 4).map((e) => [e.path, e.userAgent]),
      [
        ["/tokens/self", "agent 0"],
        ["/tokens/self", "agent 1"],
        ["/tokens/self", "agent 2"],
        ["/tokens/self", "agent 0"],
      ],
    );
    assert.deepEqual(
      entries.slice(-2).map((e) => e.path),
      ["/service/498", "/service/499"],
    );
    assert.equal(new Set(entries.map((e) => e.path)).size, 501);
  });

  it("refuses a capacity that is not a positive whole number", () => {
    for (const capacity of [0, -1, 1.5, Number.NaN]) {
      assert.throws(() => new RequestLog(capacity), /capacity must be a positive integer/);
    }
  });
});
