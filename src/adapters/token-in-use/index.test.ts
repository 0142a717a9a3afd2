import assert from "node:assert/strict";
import { beforeTimer } from "../../../test/helpers/wait.ts";
import { describe, it } from "node:test";
import type { AutomationToken, FastlyClient } from "../../fastly/types.ts";
import { memoryLogger } from "../../util/log.ts";
import type { VerifyContext } from "../types.ts";
import { instantClock } from "../support/poll.ts";
import { createTokenInUseVerifier, isConsumerUse } from "./index.ts";

const OWN = "fastly-token-rotator/0.1.0";
const since = new Date("2025-03-01T12:00:03.700Z");

describe("isConsumerUse", () => {
  const at = (iso: string, userAgent?: string) => ({
    lastUsedAt: new Date(iso),
    ...(userAgent === undefined ? {} : { userAgent }),
  });
  it("counts a use in a later second from the consumer, never this tool's own", () => {
    assert.equal(isConsumerUse(at("2025-03-01T12:00:04Z", "Fastly-Exporter (v10)"), since, OWN), true);
    assert.equal(isConsumerUse(at("2025-03-01T12:09:04Z", OWN), since, OWN), false);
    assert.equal(isConsumerUse(at("2025-03-01T12:09:04Z", `${OWN} status`), since, OWN), false);
  });
  it("counts a use in the same second only from another user agent", () => {
    assert.equal(isConsumerUse(at("2025-03-01T12:00:03Z", "Fastly-Exporter (v10)"), since, OWN), true);
    assert.equal(isConsumerUse(at("2025-03-01T12:00:03Z", OWN), since, OWN), false);
    assert.equal(isConsumerUse(at("2025-03-01T12:00:03Z"), since, OWN), true);
  });
  it("ignores earlier uses and tokens never used", () => {
    assert.equal(isConsumerUse(at("2025-03-01T12:00:02Z", "x"), since, OWN), false);
    assert.equal(isConsumerUse({}, since, OWN), false);
  });
});

/** A client whose getAutomationToken answers from a script; other methods are never called. */
function scriptedClient(answers: (AutomationToken | Error)[]): FastlyClient & { calls: string[] } {
  const calls: string[] = [];
  const client = {
    calls,
    getAutomationToken(id: string) {
      calls.push(id);
      const next = answers.length > 1 ? answers.shift()! : answers[0]!;
      return next instanceof Error ? Promise.reject(next) : Promise.resolve(next);
    },
  };
  return client as unknown as FastlyClient & { calls: string[] };
}

const token = (extra: Partial<AutomationToken> = {}): AutomationToken => ({
  id: "tok1",
  name: "exporter",
  role: "engineer",
  scopes: ["global:read"],
  services: [],
  ...extra,
});

const ctx = (client: FastlyClient, extra: Partial<VerifyContext> = {}): VerifyContext => ({
  environment: "staging",
  runId: "r1",
  log: memoryLogger(),
  tokenId: "tok1",
  otherTokenIds: ["tok0"],
  since,
  client,
  ownUserAgent: OWN,
  ...extra,
});

describe("token-in-use verifier", () => {
  it("polls until the consumer uses the token, then reports who and from where", async () => {
    const time = instantClock(since.getTime());
    const client = scriptedClient([
      token({ lastUsedAt: new Date("2025-03-01T12:00:03Z"), userAgent: OWN, ip: "10.0.0.1" }),
      new Error("Fastly API: 503 Service Unavailable"),
      token({
        lastUsedAt: new Date("2025-03-01T12:00:09Z"),
        userAgent: "Fastly-Exporter (v10)",
        ip: "10.0.0.9",
      }),
    ]);
    const verifier = createTokenInUseVerifier({ timeoutMs: 60_000, intervalMs: 2000 }, { clock: time });
    const result = await verifier.verify(ctx(client));
    assert.deepEqual(result, {
      ok: true,
      detail: "token tok1 used at 2025-03-01T12:00:09Z by Fastly-Exporter (v10) from 10.0.0.9",
    });
    assert.deepEqual(client.calls, ["tok1", "tok1", "tok1"]);
    assert.deepEqual(time.sleeps, [2000, 2000]);
  });

  it("tells the run what it waits for while the token is not yet used", async () => {
    const time = instantClock(since.getTime());
    const client = scriptedClient([
      token({ lastUsedAt: new Date("2025-03-01T11:58:01Z"), userAgent: "Fastly-Exporter (v10)" }),
      token({ lastUsedAt: new Date("2025-03-01T12:00:09Z"), userAgent: "Fastly-Exporter (v10)" }),
    ]);
    const reasons: string[] = [];
    const verifier = createTokenInUseVerifier({ timeoutMs: 60_000, intervalMs: 2000 }, { clock: time });
    const result = await verifier.verify(ctx(client, { onWaiting: (r) => reasons.push(r) }));
    assert.equal(result.ok, true);
    assert.equal(reasons.length, 1);
    assert.match(reasons[0] ?? "", /2025-03-01T11:58:01Z/);
  });

  it("times out with what it last saw and a hint", async () => {
    const time = instantClock(since.getTime());
    const client = scriptedClient([
      token({
        lastUsedAt: new Date("2025-03-01T11:58:01Z"),
        userAgent: "Fastly-Exporter (v10)",
        ip: "10.0.0.9",
      }),
    ]);
    const verifier = createTokenInUseVerifier({ timeoutMs: 10_000, intervalMs: 3000 }, { clock: time });
    const result = await verifier.verify(ctx(client));
    assert.equal(result.ok, false);
    assert.equal(
      result.detail,
      "token tok1 not used since 2025-03-01T12:00:03Z (last used at 2025-03-01T11:58:01Z by Fastly-Exporter (v10) from 10.0.0.9); " +
        "is the consumer restarted and reading the new secret?",
    );
    assert.deepEqual(time.sleeps, [3000, 3000, 3000, 1000]);
  });

  it("reports the last API error when every read failed", async () => {
    const time = instantClock(since.getTime());
    const client = scriptedClient([new Error("Fastly API: 404 Not Found")]);
    const result = await createTokenInUseVerifier(
      { timeoutMs: 5000, intervalMs: 1000 },
      { clock: time },
    ).verify(ctx(client));
    assert.deepEqual(result, { ok: false, detail: "could not read token tok1: Fastly API: 404 Not Found" });
  });

  it("stops when interrupted", async () => {
    const controller = new AbortController();
    const client = scriptedClient([token()]);
    const verifier = createTokenInUseVerifier({ timeoutMs: 3_600_000, intervalMs: 600_000 });
    setTimeout(() => controller.abort(), 50);
    // Before one interval ends: the interruption cut the wait short.
    const result = await beforeTimer(600_000, "the interval", () =>
      verifier.verify(ctx(client, { signal: controller.signal })),
    );
    assert.equal(result.ok, false);
    assert.match(result.detail, /never used\) \(interrupted\)/);
  });
});
