import assert from "node:assert/strict";
import { beforeTimer } from "../../../test/helpers/wait.ts";
import { describe, it } from "node:test";
import type { FastlyClient } from "../../fastly/types.ts";
import { memoryLogger } from "../../util/log.ts";
import type { VerifyContext } from "../types.ts";
import { instantClock } from "../support/poll.ts";
import { createPrometheusVerifier, promqlString } from "./index.ts";

const ctx = (extra: Partial<VerifyContext> = {}): VerifyContext => ({
  environment: "production",
  runId: "r1",
  log: memoryLogger(),
  tokenId: "newTok",
  otherTokenIds: ["oldTok"],
  since: new Date(),
  client: {} as FastlyClient,
  ownUserAgent: "ftr",
  ...extra,
});

const vector = (ids: string[]) =>
  Response.json({
    status: "success",
    data: {
      resultType: "vector",
      result: ids.map((id) => ({
        metric: { __name__: "fastly_rt_token_expiration", token_id: id },
        value: [1, "2"],
      })),
    },
  });

/** A fetch answering each query from `answer`, recording the queries. */
function fakeFetch(answer: (query: string, call: number) => Response | Error) {
  const queries: string[] = [];
  const fetchImpl = (input: string | URL | Request) => {
    const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
    assert.equal(url.pathname, "/api/v1/query");
    const query = url.searchParams.get("query") ?? "";
    queries.push(query);
    const result = answer(query, queries.length);
    return result instanceof Error ? Promise.reject(result) : Promise.resolve(result);
  };
  return { queries, fetch: fetchImpl };
}

const noSleep = { clock: instantClock(Date.now()) };

describe("prometheus verifier", () => {
  it("passes once the expected series exists; notes the old ids", async () => {
    let round = 0;
    const fake = fakeFetch((query) => {
      if (query.startsWith("count by")) return vector(["oldTok"]);
      if (query.includes('token_id="newTok"')) return vector(++round >= 2 ? ["newTok"] : []);
      return vector(["oldTok"]);
    });
    const verifier = createPrometheusVerifier(
      { url: "http://prom:9090/", timeoutMs: 10_000, intervalMs: 10 },
      { fetch: fake.fetch, ...noSleep },
    );
    const result = await verifier.verify(ctx());
    assert.deepEqual(result, {
      ok: true,
      detail:
        'fastly_rt_token_expiration{token_id="newTok"} present (1 series); old token ids still exported: oldTok',
    });
    assert.deepEqual(fake.queries, [
      'fastly_rt_token_expiration{token_id="newTok"}',
      "count by (token_id) (fastly_rt_token_expiration)",
      'fastly_rt_token_expiration{token_id="newTok"}',
      'fastly_rt_token_expiration{token_id=~"oldTok"}',
    ]);
  });

  it("requires the old ids gone and the extra query non-empty when configured", async () => {
    let call = 0;
    const fake = fakeFetch((query) => {
      call += 1;
      if (query === "up == 1") return vector(call > 6 ? ["x"] : []);
      if (query.includes("=~")) return vector(call > 3 ? [] : ["oldTok"]);
      return vector(["newTok"]);
    });
    const verifier = createPrometheusVerifier(
      {
        url: "http://prom:9090",
        metric: "m",
        tokenIdLabel: "tid",
        query: "up == 1",
        requireOthersAbsent: true,
        timeoutMs: 10_000,
        intervalMs: 10,
      },
      { fetch: fake.fetch, ...noSleep },
    );
    const result = await verifier.verify(ctx({ otherTokenIds: ["old.Tok", 'we"ird'] }));
    assert.deepEqual(result, {
      ok: true,
      detail: 'm{tid="newTok"} present (1 series); old token ids absent',
    });
    assert.ok(fake.queries.includes('m{tid=~"old\\\\.Tok|we\\"ird"}'), fake.queries.join("\n"));
  });

  it("keeps polling through errors and reports the last one at the timeout", async () => {
    const fake = fakeFetch((_query, call) =>
      call === 1
        ? new TypeError("fetch failed", { cause: new Error("connect ECONNREFUSED 127.0.0.1:9090") })
        : call === 2
          ? Response.json({ status: "error", errorType: "bad_data", error: "parse error" }, { status: 400 })
          : new Response("<html>proxy error</html>", { status: 502 }),
    );
    const verifier = createPrometheusVerifier(
      { url: "http://prom:9090", timeoutMs: 3000, intervalMs: 1000 },
      {
        fetch: fake.fetch,
        clock: instantClock(),
      },
    );
    const result = await verifier.verify(ctx());
    assert.equal(result.ok, false);
    assert.equal(
      result.detail,
      "timed out after 3s: http://prom:9090 answered HTTP 502 with a body that is not JSON",
    );
    assert.equal(fake.queries.length, 4);
  });

  it("an interrupted run stops waiting at once and says what it saw last", async () => {
    const fake = fakeFetch(() => vector([]));
    const verifier = createPrometheusVerifier(
      { url: "http://prom:9090", timeoutMs: 600_000, intervalMs: 60_000 },
      { fetch: fake.fetch },
    );
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const result = await beforeTimer(60_000, "the one-minute pause", () =>
      verifier.verify(ctx({ signal: controller.signal })),
    );
    assert.equal(result.ok, false);
    assert.match(result.detail, /^interrupted: no series fastly_rt_token_expiration\{token_id="newTok"\}/);
  });

  it("says which token ids Prometheus does show", async () => {
    const fake = fakeFetch((query) => (query.startsWith("count by") ? vector(["oldTok"]) : vector([])));
    const verifier = createPrometheusVerifier(
      { url: "http://prom:9090", timeoutMs: 1000, intervalMs: 1000 },
      {
        fetch: fake.fetch,
        clock: instantClock(),
      },
    );
    const result = await verifier.verify(ctx());
    assert.deepEqual(result, {
      ok: false,
      detail:
        'timed out after 1s: no series fastly_rt_token_expiration{token_id="newTok"} (token_id seen: oldTok)',
    });
  });

  it("quotes label values", () => {
    assert.equal(promqlString('a"b\\c'), '"a\\"b\\\\c"');
  });
});
