import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isLoopbackUrl } from "./http.ts";

describe("isLoopbackUrl", () => {
  it("knows this machine's names", () => {
    for (const url of [
      "http://127.0.0.1:8787",
      "http://127.1.2.3",
      "http://localhost:9",
      "http://[::1]:80/x",
    ]) {
      assert.equal(isLoopbackUrl(url), true, url);
    }
  });
  it("knows other hosts and bad URLs", () => {
    for (const url of [
      "http://10.0.0.1",
      "http://api.fastly.com",
      "http://127.0.0.1.example.com",
      "nonsense",
    ]) {
      assert.equal(isLoopbackUrl(url), false, url);
    }
  });
});
