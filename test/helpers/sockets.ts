/** Raw TCP connections to an HTTP server, for tests of connection limits and header deadlines. */
import { connect, type Socket } from "node:net";

/** A connection to `url`'s host and port, from `localAddress` when given (closed at once when refused). */
export function open(url: string, localAddress?: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(
      { host: hostname, port: Number(port), ...(localAddress ? { localAddress } : {}) },
      () => resolve(socket),
    );
    socket.on("error", () => resolve(socket));
  });
}

/** `HEAD /healthz` on `socket`: the response's status, or undefined when the connection closed instead. */
export function ask(socket: Socket): Promise<number | undefined> {
  return new Promise((resolve) => {
    let data = "";
    const done = (status: number | undefined) => {
      socket.off("data", onData);
      socket.off("close", onClose);
      resolve(status);
    };
    const onData = (chunk: Buffer) => {
      data += chunk.toString("latin1");
      if (data.includes("\r\n\r\n")) done(Number(/^HTTP\/1\.1 (\d{3}) /.exec(data)?.[1]));
    };
    const onClose = () => done(undefined);
    if (socket.destroyed) return done(undefined);
    socket.on("data", onData);
    socket.once("close", onClose);
    socket.write("HEAD /healthz HTTP/1.1\r\nHost: exporter\r\n\r\n");
  });
}

/**
 * Resolves once `socket` is closed. What the server sends before it closes is read and dropped: a
 * server may answer before closing (node:http's own header deadline sends a 408), and a socket
 * nobody reads from keeps those bytes waiting and never sees the close behind them.
 */
export function closed(socket: Socket): Promise<void> {
  if (socket.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    socket.once("close", () => resolve());
    socket.resume();
  });
}
