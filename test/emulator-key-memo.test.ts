/**
 * The emulator remembers, per connection, the last `Fastly-Key` it digested and the token it
 * belongs to. These requests all travel over one keep-alive connection (each test checks so) and
 * change what the remembered key must mean: another key, no key, an unknown key, the token revoked,
 * the account reset under a token made since.
 */
import assert from "node:assert/strict";
import { Agent, request } from "node:http";
import { after, before, describe, test } from "node:test";
import {
  createEmulator,
  createEmulatorAdmin,
  demoCredentials,
  demoSeed,
  type EmulatorAdmin,
  type RunningEmulator,
} from "../src/emulator/index.ts";

const { superuser, engineer } = demoCredentials;

interface Answer {
  readonly status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly body: any;
  /** The client's port: the same for every request over one connection. */
  readonly port: number;
}

/** One connection, kept open, that every request of a test goes over. */
interface Connection {
  call(method: string, path: string, key?: string, form?: Record<string, string>): Promise<Answer>;
  readonly ports: Set<number>;
  close(): void;
}

function connection(base: string): Connection {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const ports = new Set<number>();
  return {
    ports,
    close: () => agent.destroy(),
    call: (method, path, key, form) =>
      new Promise((resolve, reject) => {
        const payload = form === undefined ? undefined : new URLSearchParams(form).toString();
        const headers: Record<string, string> = {};
        if (key !== undefined) headers["Fastly-Key"] = key;
        if (payload !== undefined) headers["Content-Type"] = "application/x-www-form-urlencoded";
        const req = request(new URL(path, base), { method, agent, headers }, (res) => {
          const port = res.socket.localPort ?? 0;
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            ports.add(port);
            resolve({ status: res.statusCode ?? 0, body: text === "" ? null : JSON.parse(text), port });
          });
        });
        req.on("error", reject);
        req.end(payload);
      }),
  };
}

describe("the key remembered for a connection", () => {
  let emu: RunningEmulator;
  let admin: EmulatorAdmin;

  before(async () => {
    emu = await createEmulator({ seed: demoSeed });
    admin = createEmulatorAdmin(emu.url);
  });
  after(() => emu.close());

  /** Runs `body` over one new connection, checks no request took another, then resets the account. */
  async function overOneConnection(body: (conn: Connection) => Promise<void>): Promise<void> {
    const conn = connection(emu.url);
    try {
      await body(conn);
      assert.equal(conn.ports.size, 1, "every request went over one connection");
    } finally {
      conn.close();
      await admin.reset();
    }
  }

  test("keys taken in turn over one connection are each their own token", () =>
    overOneConnection(async (conn) => {
      const keys = [
        superuser.token,
        engineer.token,
        "not-a-token",
        undefined,
        superuser.token,
        "not-a-token",
      ];
      const seen: [number, string | null][] = [];
      for (const key of keys) {
        const answer = await conn.call("GET", "/tokens/self", key);
        seen.push([answer.status, answer.body?.id ?? null]);
      }
      assert.deepEqual(seen, [
        [200, superuser.tokenId],
        [200, engineer.tokenId],
        [401, null],
        [401, null],
        [200, superuser.tokenId],
        [401, null],
      ]);
      const logged = (await admin.requests()).slice(-6).map((entry) => entry.tokenId);
      assert.deepEqual(logged, [superuser.tokenId, engineer.tokenId, null, null, superuser.tokenId, null]);
    }));

  test("a token revoked is refused on the connection that has just used it", () =>
    overOneConnection(async (conn) => {
      assert.equal((await conn.call("GET", "/tokens/self", engineer.token)).status, 200);
      assert.equal((await conn.call("DELETE", "/tokens/self", engineer.token)).status, 204);
      assert.equal((await conn.call("GET", "/tokens/self", engineer.token)).status, 401);
    }));

  test("after a reset, the connection's key is looked up in the new account", () =>
    overOneConnection(async (conn) => {
      const created = await conn.call("POST", "/tokens", undefined, {
        name: "made before the reset",
        password: superuser.password,
        scope: "global",
        username: superuser.login,
      });
      assert.equal(created.status, 200);
      const value: string = created.body.access_token;
      const before = await conn.call("GET", "/tokens/self", value);
      assert.deepEqual([before.status, before.body.id], [200, created.body.id]);

      // The reset goes over another connection; this one stays open with the key remembered.
      await admin.reset();
      assert.equal((await conn.call("GET", "/tokens/self", value)).status, 401);
      const seeded = await conn.call("GET", "/tokens/self", superuser.token);
      assert.deepEqual([seeded.status, seeded.body.id], [200, superuser.tokenId]);
    }));
});
