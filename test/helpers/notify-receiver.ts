/**
 * A webhook receiver for notification tests: a real HTTP server on port 0 that records every
 * request (raw body bytes included) and checks the signature the way docs/configuration.md tells
 * a receiver to. Its answer can be changed per test: a status, a redirect, or no answer at all.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** One request as received. */
export interface ReceivedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** The body exactly as sent. */
  readonly body: string;
  /** The body parsed as JSON (undefined when it is not JSON). */
  readonly json: unknown;
  /** With a signing secret: whether the signature verified (timestamp within five minutes). */
  readonly verified?: boolean;
}

/** How the receiver answers. */
export type ReceiverMode =
  | { readonly kind: "ok" }
  | { readonly kind: "status"; readonly status: number; readonly body?: string }
  | { readonly kind: "redirect"; readonly location: string }
  /** Never answers (until the receiver closes). */
  | { readonly kind: "hang" };

/** A running receiver. */
export interface NotifyReceiver {
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  readonly requests: ReceivedRequest[];
  /** The JSON bodies of the requests so far. */
  bodies(): unknown[];
  setMode(mode: ReceiverMode): void;
  /** Resolves once at least `count` requests have arrived. */
  waitFor(count: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Verifies a delivery as a receiver should: HMAC-SHA256 of `<timestamp>.<delivery>.<event>.<body>`
 * with the shared secret, compared in constant time, and a timestamp no more than five minutes from
 * now.
 */
export function verifySignature(
  secret: string,
  headers: IncomingHttpHeaders,
  body: string,
  nowSeconds = Math.floor(Date.now() / 1000),
): boolean {
  const timestamp = headers["x-ftr-timestamp"];
  const signature = headers["x-ftr-signature"];
  const delivery = headers["x-ftr-delivery"];
  const event = headers["x-ftr-event"];
  if (typeof timestamp !== "string" || typeof signature !== "string") return false;
  if (typeof delivery !== "string" || typeof event !== "string") return false;
  if (!/^\d+$/.test(timestamp) || Math.abs(nowSeconds - Number(timestamp)) > 300) return false;
  const signed = `${timestamp}.${delivery}.${event}.${body}`;
  const expected = `sha256=${createHmac("sha256", secret).update(signed).digest("hex")}`;
  const a = Buffer.from(signature);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Start a receiver; `secret` makes it verify signatures. */
export async function startNotifyReceiver(options: { secret?: string } = {}): Promise<NotifyReceiver> {
  const requests: ReceivedRequest[] = [];
  let mode: ReceiverMode = { kind: "ok" };
  const hanging = new Set<ServerResponse>();
  const waiters = new Set<() => void>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      requests.push({
        method: req.method ?? "",
        path: req.url ?? "",
        headers: req.headers,
        body,
        json,
        ...(options.secret === undefined
          ? {}
          : { verified: verifySignature(options.secret, req.headers, body) }),
      });
      for (const wake of waiters) wake();
      if (mode.kind === "hang") {
        hanging.add(res);
        return;
      }
      if (mode.kind === "redirect") {
        res.writeHead(307, { Location: mode.location }).end();
        return;
      }
      if (mode.kind === "status") {
        res.writeHead(mode.status, { "Content-Type": "text/plain" }).end(mode.body ?? "");
        return;
      }
      res.writeHead(200, { "Content-Type": "text/plain" }).end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests,
    bodies: () => requests.map((r) => r.json),
    setMode: (next) => {
      mode = next;
    },
    async waitFor(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (requests.length < count) {
        if (Date.now() > deadline)
          throw new Error(`the receiver got ${requests.length} of ${count} requests`);
        await new Promise<void>((resolve) => {
          const wake = () => {
            waiters.delete(wake);
            resolve();
          };
          waiters.add(wake);
          setTimeout(wake, 50);
        });
      }
    },
    async close() {
      for (const res of hanging) res.destroy();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/** A loopback URL nothing listens on: connections are refused. */
export async function refusingUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/hook`;
}
