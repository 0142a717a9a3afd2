/**
 * `GET /tokens/self` is answered from a body kept per token and a header list kept per status and
 * second. These tests change each thing such an answer shows, over real requests, and check the
 * next answer shows it; and that the request log still records every request as it was.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  type Clock,
  createEmulator,
  createEmulatorAdmin,
  demoCredentials,
  demoSeed,
  type EmulatorAdmin,
  type RunningEmulator,
} from "../src/emulator/index.ts";

const { superuser, engineer, exporterTokens } = demoCredentials;

/** A clock the test moves by hand. */
function handClock(at: string): Clock & { set(at: string): void } {
  let ms = new Date(at).getTime();
  return {
    now: () => new Date(ms),
    set: (next) => {
      ms = new Date(next).getTime();
    },
  };
}

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly body: any;
}

async function call(base: string, path: string, key?: string, init: RequestInit = {}): Promise<Answer> {
  const headers = new Headers(init.headers);
  if (key !== undefined) headers.set("Fastly-Key", key);
  const response = await fetch(base + path, { ...init, headers });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    text,
    body: text === "" ? null : JSON.parse(text),
  };
}

describe("GET /tokens/self from kept bodies", () => {
  const clock = handClock("2026-03-10T12:00:00.100Z");
  let emu: RunningEmulator;
  let admin: EmulatorAdmin;
  const self = (key: string, agent = "agent-a"): Promise<Answer> =>
    call(emu.url, "/tokens/self", key, { headers: { "User-Agent": agent } });

  before(async () => {
    emu = await createEmulator({ seed: demoSeed, clock });
    admin = createEmulatorAdmin(emu.url);
  });
  after(() => emu.close());

  test("the same token in the same second gets the same answer, with its length and the clock's date", async () => {
    const first = await self(superuser.token);
    const second = await self(superuser.token);
    assert.equal(first.status, 200);
    assert.equal(second.text, first.text);
    assert.equal(first.body.last_used_at, "2026-03-10T12:00:00Z");
    assert.equal(first.body.user_agent, "agent-a");
    for (const answer of [first, second]) {
      assert.equal(answer.headers.get("content-length"), String(Buffer.byteLength(answer.text)));
      assert.equal(answer.headers.get("content-type"), "application/json");
      assert.equal(answer.headers.get("date"), "Tue, 10 Mar 2026 12:00:00 GMT");
      assert.equal(answer.headers.get("status"), "200 OK");
      assert.equal(answer.headers.get("x-cache"), "MISS, MISS");
    }
  });

  test("two tokens in the same second each get their own body and length", async () => {
    const ops = await self(superuser.token);
    const exporter = await self(exporterTokens.staging.token);
    const opsAgain = await self(superuser.token);
    assert.equal(ops.body.id, superuser.tokenId);
    assert.equal(exporter.body.id, exporterTokens.staging.id);
    assert.equal(exporter.body.name, exporterTokens.staging.name);
    assert.notEqual(exporter.text.length, ops.text.length);
    assert.equal(exporter.headers.get("content-length"), String(Buffer.byteLength(exporter.text)));
    assert.equal(opsAgain.text, ops.text);
    assert.equal(opsAgain.headers.get("content-length"), String(Buffer.byteLength(opsAgain.text)));
  });

  test("a new user agent, a new second and a moved clock are each shown at once", async () => {
    const before = await self(superuser.token, "agent-a");
    const otherAgent = await self(superuser.token, "agent-b");
    assert.equal(otherAgent.body.user_agent, "agent-b");
    assert.equal(otherAgent.body.last_used_at, before.body.last_used_at);

    clock.set("2026-03-10T12:00:01.500Z");
    const nextSecond = await self(superuser.token, "agent-b");
    assert.equal(nextSecond.body.last_used_at, "2026-03-10T12:00:01Z");
    assert.equal(nextSecond.headers.get("date"), "Tue, 10 Mar 2026 12:00:01 GMT");

    await admin.advanceClock("1h");
    const moved = await self(superuser.token, "agent-b");
    assert.equal(moved.body.last_used_at, "2026-03-10T13:00:01Z");
    assert.equal(moved.headers.get("date"), "Tue, 10 Mar 2026 13:00:01 GMT");
  });

  test("a sudo session opened with the token is shown", async () => {
    const before = await self(engineer.token);
    assert.equal(before.body.sudo_expires_at, null);
    const sudo = await call(emu.url, "/sudo", engineer.token, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ password: engineer.password }),
    });
    assert.equal(sudo.status, 200);
    const after = await self(engineer.token);
    assert.match(after.body.sudo_expires_at, /^2026-03-10T13:0[56]:0\dZ$/);
  });

  test("a revoked token is refused the next time, in the same second", async () => {
    const exporter = exporterTokens.production.token;
    assert.equal((await self(exporter)).status, 200);
    const revoked = await call(emu.url, "/tokens/self", exporter, { method: "DELETE" });
    assert.equal(revoked.status, 204);
    const refused = await self(exporter);
    assert.equal(refused.status, 401);
    assert.equal(refused.body.msg, "Provided credentials are missing or invalid");
    assert.equal(refused.headers.get("content-length"), String(Buffer.byteLength(refused.text)));
  });

  test("an expired token is refused once the clock passes its expiry", async () => {
    const exporter = exporterTokens.integration.token;
    assert.equal((await self(exporter)).status, 200);
    await admin.advanceClock("7d");
    const expired = await self(exporter);
    assert.equal(expired.status, 401);
    assert.match(expired.body.msg, new RegExp(`^Token ${exporterTokens.integration.id} expired at `));
  });

  test("after a reset the token's use starts again from the seed", async () => {
    await admin.reset();
    clock.set("2026-03-11T08:00:00Z");
    const fresh = await self(superuser.token, "agent-c");
    assert.equal(fresh.status, 200);
    assert.equal(fresh.body.last_used_at, "2026-03-11T08:00:00Z");
    assert.equal(fresh.body.user_agent, "agent-c");
    assert.equal(fresh.body.sudo_expires_at, null);
  });
});

describe("the request log behind the kept answers", () => {
  test("records every request with its method, path, status, token, agent and time", async () => {
    const clock = handClock("2026-03-10T12:00:00.100Z");
    const emu = await createEmulator({ seed: demoSeed, clock });
    try {
      const admin = createEmulatorAdmin(emu.url);
      for (let i = 0; i < 5; i++) {
        const agent = `agent ${i % 2}`;
        assert.equal(
          (await call(emu.url, "/tokens/self", superuser.token, { headers: { "User-Agent": agent } })).status,
          200,
        );
      }
      clock.set("2026-03-10T12:00:02Z");
      await call(emu.url, "/tokens/self", "not-a-token-value-at-all-xxxxxxx", {
        headers: { "User-Agent": "x" },
      });
      await call(emu.url, "/service?page=1&api_key=secret", superuser.token, {
        headers: { "User-Agent": "x" },
      });
      const log = await admin.requests();
      assert.deepEqual(
        log.map((e) => [e.method, e.path, e.status, e.tokenId, e.userAgent, e.at]),
        [
          ...[0, 1, 0, 1, 0].map((n) => [
            "GET",
            "/tokens/self",
            200,
            superuser.tokenId,
            `agent ${n}`,
            "2026-03-10T12:00:00Z",
          ]),
          ["GET", "/tokens/self", 401, null, "x", "2026-03-10T12:00:02Z"],
          ["GET", "/service?page=1&api_key=REDACTED", 200, superuser.tokenId, "x", "2026-03-10T12:00:02Z"],
        ],
      );
      await admin.clearRequests();
      await call(emu.url, "/tokens/self", superuser.token);
      assert.equal((await admin.requests()).length, 1);
    } finally {
      await emu.close();
    }
  });
});
