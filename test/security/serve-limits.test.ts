/**
 * `serve` bounds what a client can hold: 300 half-sent requests from one address do not keep
 * `/healthz` from another (the kubelet), the excess is closed at once and the rest when their
 * headers are late; and label values in `/metrics` carry no raw ESC, CR, C1 or bidi character from
 * a token's name (`curl` on a terminal would act on them).
 */
import assert from "node:assert/strict";
import { request } from "node:http";
import { connect, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { loadConfig } from "../../src/config/index.ts";
import { demoCredentials } from "../../src/emulator/index.ts";
import { createFastlyClient } from "../../src/fastly/index.ts";
import { startServe, type ServeHandle } from "../../src/monitor/serve.ts";
import { demoFileEnvironment, demoSeedWith, seedToken, world, type World } from "../helpers/world.ts";

const HOSTILE_NAME = "ci\x1b]0;owned\x07 deploy\r\x9b2J\u202e";
const HALF_SENT = 300;
const PER_ADDRESS = 16;

/** GET `path` from the source address `localAddress` (another loopback address than the flood's). */
function get(url: string, path: string, localAddress: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { localAddress, agent: false }, (res) => {
      let body = "";
      res.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("security: serve's connection limits and label values", () => {
  let w: World<"fastly">;
  let handle: ServeHandle;

  before(async () => {
    w = await world({
      dir: "ftr-serve-limits-",
      fastly: demoSeedWith({
        automationTokens: [seedToken(HOSTILE_NAME, "serve-limits-hostile-token-0001")],
      }),
    });
    const path = await w.writeFileConfig([demoFileEnvironment("integration")]);
    const { config } = await loadConfig(path);
    const client = createFastlyClient({ token: demoCredentials.superuser.token, endpoint: w.emulator.url });
    handle = await startServe({
      config,
      client,
      listen: "127.0.0.1:0",
      intervalMs: 3_600_000,
      limits: { maxConnectionsPerAddress: PER_ADDRESS, headersTimeoutMs: 1_000, requestTimeoutMs: 2_000 },
    });
    await handle.refresh();
  });

  after(async () => {
    await handle.close();
    await w.close();
  });

  it(`${HALF_SENT} half-sent requests: the excess is closed at once, /healthz answers, the rest time out`, async () => {
    const { port } = new URL(handle.url);
    const sockets: Socket[] = [];
    let closed = 0;
    let resolveAll: () => void = () => {};
    const closedAll = new Promise<void>((resolve) => (resolveAll = resolve));
    /** One half-sent request; resolves once it is connected (or already closed). */
    const open = (): Promise<void> =>
      new Promise((settled) => {
        const socket = connect({ host: "127.0.0.1", port: Number(port) });
        socket.on("error", () => {});
        socket.on("connect", () => {
          socket.write("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ");
          settled();
        });
        socket.on("close", () => {
          settled();
          closed++;
          if (closed === HALF_SENT) resolveAll();
        });
        sockets.push(socket);
      });
    // Ten at a time: a burst of 300 connects overflows a small listen backlog, and a dropped SYN is
    // only retried after seconds, which would measure the kernel rather than the server.
    for (let i = 0; i < HALF_SENT; i += 10) await Promise.all(Array.from({ length: 10 }, open));
    try {
      // Event-driven: the server closes the connections over the limit as they arrive. The bound
      // is only there so that a server that closes nothing fails rather than hangs.
      const giveUp = Date.now() + 30_000;
      while (closed < HALF_SENT - PER_ADDRESS && Date.now() < giveUp) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.ok(closed >= HALF_SENT - PER_ADDRESS, `only ${closed} of ${HALF_SENT} connections were closed`);
      const health = await get(handle.url, "/healthz", "127.0.0.2");
      assert.equal(health.status, 200, health.body);
      // Those held are closed once their headers are late (1 s here, 10 s by default).
      await Promise.race([
        closedAll,
        new Promise((_, reject) =>
          setTimeout(() => reject(new Error(`${closed} closed after 30 s`)), 30_000).unref(),
        ),
      ]);
      assert.equal(closed, HALF_SENT);
    } finally {
      for (const socket of sockets) socket.destroy();
    }
  });

  it("label values in /metrics hold no raw control characters; the name is kept with them replaced", async () => {
    const { status, body } = await get(handle.url, "/metrics", "127.0.0.1");
    assert.equal(status, 200);
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(body, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
    assert.ok(body.includes('name="ci\ufffd]0;owned\ufffd deploy\ufffd\ufffd2J\ufffd"'), body);
  });
});
