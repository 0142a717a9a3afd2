/**
 * The list pages' fast path against the schema it stands in for: the same tokens from the same
 * pages, the API's own time form read by hand as `new Date` reads it, and a malformed item on a
 * later page still one clear error from the client, over a real socket.
 */
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { createFastlyClient } from "./client.ts";
import { FastlyResponseError } from "./errors.ts";
import { apiTimeMs, automationTokenPageSchema, fastAutomationTokenPage } from "./schemas.ts";

/** A small deterministic generator (no Math.random in tests). */
function random(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
}

const pad = (n: number, width: number) => String(n).padStart(width, "0");

describe("the list pages' fast path", () => {
  it("reads the API's time form as new Date does, and declines every other form", () => {
    const next = random(3);
    const texts: string[] = [
      "2026-12-24T11:06:15Z",
      "2026-02-29T00:00:00Z",
      "2026-02-30T23:59:59Z",
      "2026-04-31T12:00:00Z",
      "2024-02-29T00:00:00Z",
      "0100-01-01T00:00:00Z",
      "9999-12-31T23:59:59Z",
    ];
    for (let i = 0; i < 2000; i++) {
      texts.push(
        `${pad(Math.floor(next() * 3000), 4)}-${pad(Math.floor(next() * 14), 2)}-${pad(Math.floor(next() * 33), 2)}T${pad(Math.floor(next() * 26), 2)}:${pad(Math.floor(next() * 61), 2)}:${pad(Math.floor(next() * 61), 2)}Z`,
      );
    }
    for (const text of texts) {
      const ms = apiTimeMs(text);
      // Where it answers, it answers as new Date(text); where it declines, new Date decides.
      if (!Number.isNaN(ms)) assert.equal(ms, new Date(text).getTime(), text);
    }
    const declined = [
      "2026-12-24T11:06:15.123Z",
      "2026-12-24T11:06:15+00:00",
      "2026-12-24 11:06:15Z",
      "2026-12-24T11:06:15z",
      "0050-01-01T00:00:00Z",
      "2026-13-01T00:00:00Z",
      "2026-00-01T00:00:00Z",
      "2026-01-00T00:00:00Z",
      "2026-01-32T00:00:00Z",
      "2026-01-01T24:00:00Z",
      "2026-01-01T23:60:00Z",
      "2026-01-01T23:59:60Z",
      "2026-0a-01T00:00:00Z",
      "+02026-01-01T00:00:0",
      "",
    ];
    for (const text of declined) assert.ok(Number.isNaN(apiTimeMs(text)), text);
  });

  it("gives the schema's tokens for random pages in the API's shapes", () => {
    const next = random(11);
    const pick = <T>(values: readonly T[]): T => values[Math.floor(next() * values.length)] as T;
    const time = () =>
      pick([
        null,
        "",
        "0001-01-01T00:00:00Z",
        "2026-01-31T10:00:00Z",
        "2026-02-31T10:00:00Z",
        "2026-12-24T11:06:15.5Z",
        undefined,
      ]);
    for (let p = 0; p < 200; p++) {
      const data = Array.from({ length: Math.floor(next() * 6) }, (_, i) => {
        const item: Record<string, unknown> = {
          id: `T${p}-${i}`,
          name: pick(["a", "", "exporter"]),
          role: pick(["engineer", "", null, undefined]),
          scopes: pick([
            "global:read",
            "global purge_select",
            "",
            " a  b ",
            null,
            ["global", "x y"],
            undefined,
          ]),
          scope: pick(["global", null, undefined]),
          services: pick([[], ["S1", "S2"], null, undefined]),
          expires_at: time(),
          last_used_at: time(),
          created_at: time(),
          ip: pick(["127.0.0.1", "", null]),
          user_agent: pick(["ua", null, undefined]),
          customer_id: pick(["C1", ""]),
          creator_id: pick(["U1", null, ""]),
          user_id: pick(["U2", undefined]),
          tls_access: pick([true, false, null, undefined]),
          roles: pick([
            [{ id: "r1", name: "engineer" }],
            [{ id: "r2", name: null }, { id: "r3" }],
            null,
            undefined,
          ]),
          limit_services: pick([true, false, null, undefined]),
          workspaces: pick([[], ["w1"], null, undefined]),
        };
        return item;
      });
      const page = { data, meta: { total_pages: 3, current_page: 1, per_page: 100, record_count: 7 } };
      const fast = fastAutomationTokenPage(page);
      assert.ok(fast !== undefined, JSON.stringify(page));
      assert.deepStrictEqual(fast, automationTokenPageSchema.parse(page));
    }
  });

  describe("a malformed item on a later page, over a socket", () => {
    let url = "";
    const server = createServer((req, res) => {
      const page = Number(new URL(req.url ?? "/", "http://x").searchParams.get("page") ?? "1");
      const data = Array.from({ length: 3 }, (_, i) => ({
        id: `T${page}-${i}`,
        name: `token ${page}-${i}`,
        scopes: "global:read",
        services: [],
        created_at: "2026-01-01T00:00:00Z",
        // Page 3's second token has a time that is not a time.
        expires_at: page === 3 && i === 1 ? "next tuesday" : "2027-01-01T00:00:00Z",
      }));
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ data, meta: { total_pages: 4 } }));
    });
    before(async () => {
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(() => server.close());

    it("fails the listing with one error naming the field, as the schema words it", async () => {
      const client = createFastlyClient({ token: "fast-path-test-token", endpoint: url });
      await assert.rejects(client.listAutomationTokens(), (error: unknown) => {
        assert.ok(error instanceof FastlyResponseError, String(error));
        assert.match(error.message, /GET \/automation-tokens: unexpected response from the Fastly API: /);
        assert.match(error.message, /data\.1\.expires_at is not a valid timestamp/);
        assert.doesNotMatch(error.message, /fast-path-test-token/);
        return true;
      });
    });
  });
});
