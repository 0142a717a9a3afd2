/**
 * The raw-socket helpers of test/helpers/sockets.ts, against node:net servers: `closed` sees a
 * connection closed whether or not the server answered before closing it.
 */
import { createServer, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { after, describe, it } from "node:test";
import { closed, open } from "./helpers/sockets.ts";
import { beforeTimer } from "./helpers/wait.ts";

describe("closed", () => {
  const servers: Server[] = [];
  const sockets: Socket[] = [];
  after(async () => {
    for (const socket of sockets) socket.destroy();
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  });

  /** A server that does `onHalfHeaders` with each connection once it has sent half a header section. */
  const serverThat = async (onHalfHeaders: (socket: Socket) => void): Promise<string> => {
    const server = createServer((socket) => {
      sockets.push(socket);
      socket.once("data", () => onHalfHeaders(socket));
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };

  it("resolves once the server closes without answering", async () => {
    const socket = await open(await serverThat((s) => s.destroy()));
    sockets.push(socket);
    socket.write("GET /healthz HTTP/1.1\r\nHost: exporter\r\n");
    await beforeTimer(30_000, "closed without an answer", () => closed(socket));
  });

  it("resolves once the server closes after answering, as node:http's header deadline does (a 408)", async () => {
    const socket = await open(
      await serverThat((s) => s.end("HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n")),
    );
    sockets.push(socket);
    socket.write("GET /healthz HTTP/1.1\r\nHost: exporter\r\n");
    await beforeTimer(30_000, "closed after a 408", () => closed(socket));
  });
});
