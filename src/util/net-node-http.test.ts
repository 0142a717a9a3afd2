/**
 * `fetchOverNodeHttp` answers as `fetch` does: each case asks a real local server once with Node's
 * `fetch` and once over Node's http module, and compares what a caller can see.
 */
import assert from "node:assert/strict";
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { fetchOverNodeHttp, netFetchOverNodeHttp } from "./net.ts";

const BODY = JSON.stringify({ data: [{ id: "a" }], meta: { total_pages: 1 } });

/** What a caller reads of an answer. */
async function seen(response: Response) {
  return {
    status: response.status,
    statusText: response.statusText,
    type: response.headers.get("content-type"),
    link: response.headers.get("link"),
    location: response.headers.get("location"),
    custom: response.headers.get("x-twice"),
    hasBody: response.body !== null,
    text: await response.text(),
  };
}

describe("fetchOverNodeHttp", () => {
  let server: Server;
  let base: string;
  const held: ServerResponse[] = [];

  before(async () => {
    server = createServer((req, res) => {
      let received = "";
      req.on("data", (chunk: Buffer) => (received += chunk.toString("utf8")));
      req.on("end", () => {
        switch (req.url) {
          case "/json":
            res.writeHead(200, "OK", {
              "content-type": "application/json",
              link: '</service?page=2>; rel="next"',
              "x-twice": ["one", "two"],
            });
            res.end(BODY);
            return;
          case "/redirect":
            res.writeHead(302, { location: "https://elsewhere.example/x" });
            res.end("moved");
            return;
          case "/empty":
            res.writeHead(204);
            res.end();
            return;
          case "/port":
            res.writeHead(200, { "content-type": "text/plain" });
            res.end(String(req.socket.remotePort));
            return;
          case "/echo":
            res.writeHead(201, { "content-type": "application/json" });
            res.end(
              JSON.stringify({
                method: req.method,
                type: req.headers["content-type"],
                length: req.headers["content-length"],
                accept: req.headers.accept,
                key: req.headers["fastly-key"],
                body: received,
              }),
            );
            return;
          case "/stall":
            // Headers and part of the body, then nothing until the test ends.
            res.writeHead(200, { "content-type": "application/json", "content-length": "100" });
            res.write('{"data":');
            held.push(res);
            return;
          case "/cut":
            res.writeHead(200, { "content-type": "application/json", "content-length": "100" });
            res.write('{"data":', () => res.socket?.destroy());
            return;
          default:
            res.writeHead(404);
            res.end();
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    for (const res of held) res.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const manual = { redirect: "manual" } as const;

  it("gives the status, headers and body fetch gives", async () => {
    const url = new URL(`${base}/json`);
    const ours = await seen(await fetchOverNodeHttp(url, manual));
    assert.deepEqual(ours, await seen(await fetch(url, manual)));
    assert.equal(ours.text, BODY);
    assert.equal(ours.custom, "one, two");
  });

  it("gives a redirect as it is, not followed", async () => {
    const url = new URL(`${base}/redirect`);
    const ours = await seen(await fetchOverNodeHttp(url, manual));
    assert.deepEqual(ours, await seen(await fetch(url, manual)));
    assert.equal(ours.status, 302);
    assert.equal(ours.location, "https://elsewhere.example/x");
  });

  it("gives a 204 without a body", async () => {
    const url = new URL(`${base}/empty`);
    const ours = await seen(await fetchOverNodeHttp(url, manual));
    assert.deepEqual(ours, await seen(await fetch(url, manual)));
    assert.equal(ours.hasBody, false);
  });

  it("sends the method, headers and a string body as fetch does", async () => {
    const url = new URL(`${base}/echo`);
    const init = {
      ...manual,
      method: "POST",
      body: "name=x",
      headers: { "Fastly-Key": "k", Accept: "application/json" },
    };
    const ours = JSON.parse(await (await fetchOverNodeHttp(url, init)).text()) as Record<string, unknown>;
    const theirs = JSON.parse(await (await fetch(url, init)).text()) as Record<string, unknown>;
    assert.deepEqual(ours, theirs);
    assert.deepEqual(ours, {
      method: "POST",
      type: "text/plain;charset=UTF-8",
      length: "6",
      accept: "application/json",
      key: "k",
      body: "name=x",
    });
  });

  it("fails as fetch fails when nothing listens: a TypeError whose cause has the socket's code", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const url = new URL(`http://127.0.0.1:${(closed.address() as AddressInfo).port}/`);
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const failure = async (call: Promise<Response>) => {
      const error = await call.then(
        () => assert.fail("answered"),
        (e: unknown) => e as TypeError & { cause: { code?: string } },
      );
      return { type: error.constructor.name, message: error.message, code: error.cause.code };
    };
    const ours = await failure(fetchOverNodeHttp(url, manual));
    assert.deepEqual(ours, await failure(fetch(url, manual)));
    assert.deepEqual(ours, { type: "TypeError", message: "fetch failed", code: "ECONNREFUSED" });
  });

  it("rejects with the signal's reason, before the answer and while the body is read", async () => {
    const aborted = AbortSignal.abort(new DOMException("stop", "TimeoutError"));
    await assert.rejects(fetchOverNodeHttp(new URL(`${base}/json`), { ...manual, signal: aborted }), {
      name: "TimeoutError",
    });
    // The body stalls: the deadline ends the read with the reason, as fetch's does.
    const controller = new AbortController();
    const response = await fetchOverNodeHttp(new URL(`${base}/stall`), {
      ...manual,
      signal: controller.signal,
    });
    assert.equal(response.status, 200);
    const reading = response.text();
    controller.abort(new DOMException("The operation was aborted due to timeout", "TimeoutError"));
    await assert.rejects(reading, { name: "TimeoutError" });
  });

  it("fails a body cut short, as fetch does", async () => {
    const url = new URL(`${base}/cut`);
    const response = await fetchOverNodeHttp(url, manual);
    await assert.rejects(response.text());
    await assert.rejects((await fetch(url, manual)).text());
  });

  it("reuses a kept-alive connection for reads, never for writes", async () => {
    const url = new URL(`${base}/port`);
    const port = async (method: string) => (await fetchOverNodeHttp(url, { ...manual, method })).text();
    const [read1, read2] = [await port("GET"), await port("GET")];
    assert.equal(read1, read2, "the second read reused the first's connection");
    const [write1, write2] = [await port("POST"), await port("POST")];
    assert.notEqual(write1, write2, "each write had a connection of its own");
    assert.notEqual(write1, read1);
  });

  it("leaves a request it cannot send as fetch would (redirects followed) to fetch", async () => {
    // redirect: "follow" goes to Node's fetch, which follows the redirect (here, to a 404 of ours).
    const target = `${base}/nowhere`;
    const bounce = createServer((_req, res) => {
      res.writeHead(302, { location: target });
      res.end();
    });
    await new Promise<void>((resolve) => bounce.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(bounce.address() as AddressInfo).port}/`;
      const response = await netFetchOverNodeHttp(url, { redirect: "follow" });
      await response.body?.cancel();
      assert.equal(response.status, 404);
      assert.equal(response.redirected, true);
    } finally {
      bounce.closeAllConnections();
      await new Promise<void>((resolve) => bounce.close(() => resolve()));
    }
  });
});
