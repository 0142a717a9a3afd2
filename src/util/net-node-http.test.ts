/**
 * `requestOverNodeHttp` answers as `fetch` does: each case asks a real local server once with Node's
 * `fetch` (read through `answerOfResponse`, as the Fastly client reads an injected or proxied
 * fetch's answer) and once over Node's http module, and compares what a caller can see.
 */
import assert from "node:assert/strict";
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { BodyTooLargeError, DEFAULT_MAX_BODY_BYTES } from "./http.ts";
import {
  answerOfResponse,
  createNetExchange,
  type HttpAnswer,
  type HttpRequestInit,
  NotLoopbackError,
  requestOverNodeHttp,
} from "./net.ts";

const BODY = JSON.stringify({ data: [{ id: "a" }], meta: { total_pages: 1 } });

/** What a caller reads of an answer. */
async function seen(answer: HttpAnswer) {
  return {
    status: answer.status,
    type: answer.headers.get("content-type"),
    typeInCapitals: answer.headers.get("Content-Type"),
    link: answer.headers.get("link"),
    location: answer.headers.get("location"),
    custom: answer.headers.get("x-twice"),
    absent: answer.headers.get("x-absent"),
    text: await answer.text(DEFAULT_MAX_BODY_BYTES),
  };
}

/** The same request with Node's `fetch`, `redirect: "manual"`, read as an HttpAnswer. */
async function viaFetch(url: URL, init: HttpRequestInit = {}): Promise<HttpAnswer> {
  const { body, signal, ...rest } = init;
  return answerOfResponse(
    await fetch(url, {
      ...rest,
      ...(body === undefined ? {} : { body }),
      ...(signal === undefined ? {} : { signal }),
      redirect: "manual",
    }),
  );
}

describe("requestOverNodeHttp", () => {
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

  it("gives the status, headers and body fetch gives", async () => {
    const url = new URL(`${base}/json`);
    const ours = await seen(await requestOverNodeHttp(url));
    assert.deepEqual(ours, await seen(await viaFetch(url)));
    assert.equal(ours.text, BODY);
    assert.equal(ours.custom, "one, two");
    assert.equal(ours.typeInCapitals, "application/json");
    assert.equal(ours.absent, null);
  });

  it("gives a redirect as it is, not followed", async () => {
    const url = new URL(`${base}/redirect`);
    const ours = await seen(await requestOverNodeHttp(url));
    assert.deepEqual(ours, await seen(await viaFetch(url)));
    assert.equal(ours.status, 302);
    assert.equal(ours.location, "https://elsewhere.example/x");
  });

  it("gives a 204 without a body", async () => {
    const url = new URL(`${base}/empty`);
    const ours = await seen(await requestOverNodeHttp(url));
    assert.deepEqual(ours, await seen(await viaFetch(url)));
    assert.equal(ours.text, "");
  });

  it("sends the method, headers and a string body as fetch does", async () => {
    const url = new URL(`${base}/echo`);
    const init = {
      method: "POST",
      body: "name=x",
      headers: { "Fastly-Key": "k", Accept: "application/json" },
    };
    const read = async (answer: Promise<HttpAnswer>) =>
      JSON.parse(await (await answer).text(DEFAULT_MAX_BODY_BYTES)) as Record<string, unknown>;
    const ours = await read(requestOverNodeHttp(url, init));
    const theirs = await read(viaFetch(url, init));
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
    const failure = async (call: Promise<HttpAnswer>) => {
      const error = await call.then(
        () => assert.fail("answered"),
        (e: unknown) => e as TypeError & { cause: { code?: string } },
      );
      return { type: error.constructor.name, message: error.message, code: error.cause.code };
    };
    const ours = await failure(requestOverNodeHttp(url));
    assert.deepEqual(ours, await failure(viaFetch(url)));
    assert.deepEqual(ours, { type: "TypeError", message: "fetch failed", code: "ECONNREFUSED" });
  });

  it("rejects with the signal's reason, before the answer and while the body is read", async () => {
    const aborted = AbortSignal.abort(new DOMException("stop", "TimeoutError"));
    await assert.rejects(requestOverNodeHttp(new URL(`${base}/json`), { signal: aborted }), {
      name: "TimeoutError",
    });
    // The body stalls: the deadline ends the read with the reason, as fetch's does.
    const controller = new AbortController();
    const response = await requestOverNodeHttp(new URL(`${base}/stall`), { signal: controller.signal });
    assert.equal(response.status, 200);
    const reading = response.text(DEFAULT_MAX_BODY_BYTES);
    controller.abort(new DOMException("The operation was aborted due to timeout", "TimeoutError"));
    await assert.rejects(reading, { name: "TimeoutError" });
  });

  it("fails a body cut short, as fetch does", async () => {
    const url = new URL(`${base}/cut`);
    const response = await requestOverNodeHttp(url);
    await assert.rejects(response.text(DEFAULT_MAX_BODY_BYTES), { code: "ECONNRESET" });
    await assert.rejects((await viaFetch(url)).text(DEFAULT_MAX_BODY_BYTES));
  });

  it("reuses a kept-alive connection for reads, never for writes", async () => {
    const url = new URL(`${base}/port`);
    const port = async (method: string) =>
      (await requestOverNodeHttp(url, { method })).text(DEFAULT_MAX_BODY_BYTES);
    const [read1, read2] = [await port("GET"), await port("GET")];
    assert.equal(read1, read2, "the second read reused the first's connection");
    const [write1, write2] = [await port("POST"), await port("POST")];
    assert.notEqual(write1, write2, "each write had a connection of its own");
    assert.notEqual(write1, read1);
  });

  it("stops reading a body past the cap, as the fetch path does", async () => {
    const url = new URL(`${base}/json`);
    const limit = BODY.length - 1;
    await assert.rejects((await requestOverNodeHttp(url)).text(limit), BodyTooLargeError);
    await assert.rejects((await viaFetch(url)).text(limit), BodyTooLargeError);
    // A Content-Length above the cap fails before anything is read.
    const stalled = await requestOverNodeHttp(new URL(`${base}/stall`));
    await assert.rejects(stalled.text(99), BodyTooLargeError);
    assert.equal((await (await requestOverNodeHttp(url)).text(BODY.length)).length, BODY.length);
  });

  it("drops a redirect's body unread, and the next read still answers", async () => {
    const answer = await requestOverNodeHttp(new URL(`${base}/redirect`));
    assert.equal(answer.status, 302);
    await answer.discard();
    assert.equal(await (await requestOverNodeHttp(new URL(`${base}/json`))).text(1000), BODY);
  });

  it("leaves a name that claims loopback to fetch, which checks its addresses", async () => {
    // An injected resolver answering with a public address: the connection is refused before any
    // byte is sent, which only the fetch path (undici's connect with the checked lookup) does.
    const exchange = createNetExchange({ resolve: async () => [{ address: "192.0.2.1", family: 4 }] });
    const error = await exchange(new URL("http://api.localhost:45678/"), {}).then(
      () => assert.fail("answered"),
      (e: unknown) => e as TypeError,
    );
    assert.equal(error.message, "fetch failed");
    const causes: unknown[] = [];
    for (let at: unknown = error; at instanceof Error; at = at.cause) causes.push(at);
    assert.ok(causes.some((cause) => cause instanceof NotLoopbackError));
  });
});
