/**
 * A corporate network in miniature: a forward proxy that records what it forwards (CONNECT tunnels
 * and absolute-form http requests) and routes names that resolve nowhere else (`api.fastly.test`)
 * to local servers, and a TLS front that serves such a name over https with a test certificate
 * (signed by {@link TEST_CA_PEM}, valid until 2126) in front of a local http server. A client
 * reaches `https://api.fastly.test` only through the proxy, and only when it trusts the CA.
 */
import { createServer as createHttpServer, request as httpRequest, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { connect, type AddressInfo, type Socket } from "node:net";

/** The test CA (what NODE_EXTRA_CA_CERTS names to trust the fronts). */
export const TEST_CA_PEM =
  [
    "-----BEGIN CERTIFICATE-----",
    "MIIBlDCCATmgAwIBAgIUIe75s9gMPRsAIbqowKMirIldyZQwCgYIKoZIzj0EAwIw",
    "FjEUMBIGA1UEAwwLZnRyIHRlc3QgQ0EwIBcNMjYxMjA2MTIzMzE0WhgPMjEyNjEx",
    "MTIxMjMzMTRaMBYxFDASBgNVBAMMC2Z0ciB0ZXN0IENBMFkwEwYHKoZIzj0CAQYI",
    "KoZIzj0DAQcDQgAEbSDqOw8txFA/+Oum5JStVGIOs5+pLKOz1JlcncGLceIqRfpl",
    "XbvN4lsAz8jV8xh96h0eyOFgsuPOlJJIzJpRN6NjMGEwHQYDVR0OBBYEFB2XuP9h",
    "PvTUF5PsQlNR7Z+m6xKHMB8GA1UdIwQYMBaAFB2XuP9hPvTUF5PsQlNR7Z+m6xKH",
    "MA8GA1UdEwEB/wQFMAMBAf8wDgYDVR0PAQH/BAQDAgEGMAoGCCqGSM49BAMCA0kA",
    "MEYCIQCRxOcCyFLkfD7+ArPdPmaBAj1s0NUlqiPhSdLFzh4RBgIhAIDUtNK1wN/V",
    "iN8yUyEpx1nmuEYp+VVl90XYYpvKbj3/",
    "-----END CERTIFICATE-----",
  ].join("\n") + "\n";

/** A certificate for `api.fastly.test`, the other `*.test` names used here and 127.0.0.1, signed by the test CA. */
export const TEST_SERVER_CERT =
  [
    "-----BEGIN CERTIFICATE-----",
    "MIICDzCCAbagAwIBAgIUeFuZACcRrw0fsVjP3mQRJX8e31gwCgYIKoZIzj0EAwIw",
    "FjEUMBIGA1UEAwwLZnRyIHRlc3QgQ0EwIBcNMjYxMjA2MTIzODI4WhgPMjEyNjEx",
    "MTIxMjM4MjhaMBoxGDAWBgNVBAMMD2FwaS5mYXN0bHkudGVzdDBZMBMGByqGSM49",
    "AgEGCCqGSM49AwEHA0IABOI064ZbB0lKiRKj+9gha3N8aRNsRYYKijRpKgE4KZiY",
    "ekvLr6tIeAIVriIAq74UvuD0R5sBJbB6c6YM1Zjq6cmjgdswgdgwdgYDVR0RBG8w",
    "bYIPYXBpLmZhc3RseS50ZXN0ghNzZWNyZXRzbWFuYWdlci50ZXN0gglrdWJlLnRl",
    "c3SCCmhvb2tzLnRlc3SCCnNsYWNrLnRlc3SCD3Byb21ldGhldXMudGVzdIILYXJn",
    "b2NkLnRlc3SHBH8AAAEwCQYDVR0TBAIwADATBgNVHSUEDDAKBggrBgEFBQcDATAd",
    "BgNVHQ4EFgQU5/eealVZhor+CV9PZdmyB9ggyZowHwYDVR0jBBgwFoAUHZe4/2E+",
    "9NQXk+xCU1Htn6brEocwCgYIKoZIzj0EAwIDRwAwRAIgUWPMJLyL+sUeAaLF7MIX",
    "vAtW4LsTlx6PJTUeJRyPQsUCIAoYtNldisLvzIB+kL+N9jlK2QRSNb2tXIp/nwtX",
    "2TTB",
    "-----END CERTIFICATE-----",
  ].join("\n") + "\n";

/** Its key (a test key, protecting nothing). */
export const TEST_SERVER_KEY =
  [
    "-----BEGIN PRIVATE KEY-----",
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgDug3357/tP2/JBL+",
    "pvu6V6CIYMsTOfeIKy9jNGxMtwmhRANCAATiNOuGWwdJSokSo/vYIWtzfGkTbEWG",
    "Coo0aSoBOCmYmHpLy6+rSHgCFa4iAKu+FL7g9EebASWwenOmDNWY6unJ",
    "-----END PRIVATE KEY-----",
  ].join("\n") + "\n";

/** A listening server's `host:port`. */
export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port));
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

/** A running TLS front. */
export interface TlsFront extends Endpoint {
  /** `https://127.0.0.1:PORT`. */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * An https server with the test certificate passing every request on to `target` (an
 * `http://host:port` base URL): method, path, headers and body as received.
 */
export async function startTlsFront(target: string): Promise<TlsFront> {
  const base = new URL(target);
  const server = createHttpsServer({ cert: TEST_SERVER_CERT, key: TEST_SERVER_KEY }, (req, res) => {
    const upstream = httpRequest(
      {
        host: base.hostname,
        port: base.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: base.host },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on("error", () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  const port = await listen(server);
  return { host: "127.0.0.1", port, url: `https://127.0.0.1:${port}`, close: () => closeServer(server) };
}

/** A running recording proxy. */
export interface RecordingProxy extends Endpoint {
  /** `http://127.0.0.1:PORT`, for HTTPS_PROXY / HTTP_PROXY / a kubeconfig's proxy-url. */
  readonly url: string;
  /** What it was asked to forward, in order: `CONNECT host:port` or `GET http://host/path`. */
  readonly forwarded: string[];
  close(): Promise<void>;
}

/**
 * A forward proxy: a CONNECT to `host:port` is tunnelled to `routes["host:port"]`, an
 * absolute-form request to `http://host:port/...` is sent to `routes["host:port"]`; anything not
 * routed is answered 502. Every request is recorded first.
 */
export async function startRecordingProxy(
  routes: Readonly<Record<string, Endpoint>>,
): Promise<RecordingProxy> {
  const forwarded: string[] = [];
  const sockets = new Set<Socket>();
  const server = createHttpServer((req, res) => {
    forwarded.push(`${req.method ?? "GET"} ${req.url ?? ""}`);
    let url: URL;
    try {
      url = new URL(req.url ?? "");
    } catch {
      res.writeHead(400).end();
      return;
    }
    const route = routes[`${url.hostname}:${url.port || "80"}`];
    if (route === undefined) {
      res.writeHead(502).end("not routed\n");
      return;
    }
    const upstream = httpRequest(
      {
        host: route.host,
        port: route.port,
        method: req.method,
        path: url.pathname + url.search,
        headers: req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on("error", () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  server.on("connect", (req, client: Socket, head: Buffer) => {
    forwarded.push(`CONNECT ${req.url ?? ""}`);
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.on("error", () => {});
    const route = routes[req.url ?? ""];
    if (route === undefined) {
      client.end("HTTP/1.1 502 Bad Gateway\r\n\r\n");
      return;
    }
    const upstream = connect(route.port, route.host, () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on("close", () => sockets.delete(upstream));
    upstream.on("error", () => client.destroy());
  });
  const port = await listen(server);
  return {
    host: "127.0.0.1",
    port,
    url: `http://127.0.0.1:${port}`,
    forwarded,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await closeServer(server);
    },
  };
}
