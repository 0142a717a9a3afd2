/**
 * The emulator reads `Fastly-Key` and `User-Agent` from the raw header list instead of building
 * `req.headers` for every request. These requests, written byte by byte over a socket, check it
 * reads them as `req.headers` would: any case, the first `User-Agent` of several, repeated
 * `Fastly-Key`s joined with ", " (so two keys are not taken for one), an empty key as none.
 */
import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, test } from "node:test";
import {
  createEmulator,
  createEmulatorAdmin,
  demoCredentials,
  demoSeed,
  type EmulatorAdmin,
  type RunningEmulator,
} from "../src/emulator/index.ts";

const { superuser } = demoCredentials;

/** One request with exactly these header lines; resolves to the answer's status code. */
function rawGet(url: string, path: string, headerLines: readonly string[]): Promise<number> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let text = "";
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => (text += chunk));
    socket.on("error", reject);
    socket.on("end", () => {
      const status = /^HTTP\/1\.1 (\d{3}) /.exec(text);
      if (status) resolve(Number(status[1]));
      else reject(new Error(`not an HTTP answer: ${JSON.stringify(text.slice(0, 40))}`));
    });
    socket.write(
      [`GET ${path} HTTP/1.1`, `Host: ${hostname}`, "Connection: close", ...headerLines, "", ""].join("\r\n"),
    );
  });
}

describe("the emulator reads Fastly-Key and User-Agent from the raw headers", () => {
  let emulator: RunningEmulator;
  let admin: EmulatorAdmin;
  before(async () => {
    emulator = await createEmulator({ seed: demoSeed });
    admin = createEmulatorAdmin(emulator.url);
  });
  after(() => emulator.close());

  test("in any case", async () => {
    await admin.clearRequests();
    assert.equal(await rawGet(emulator.url, "/tokens/self", [`FASTLY-KEY: ${superuser.token}`]), 200);
    assert.equal(
      await rawGet(emulator.url, "/tokens/self", [`fastly-key: ${superuser.token}`, "USER-AGENT: lower/1"]),
      200,
    );
    const log = await admin.requests();
    assert.deepEqual(
      log.map((e) => [e.status, e.tokenId, e.userAgent]),
      [
        [200, superuser.tokenId, null],
        [200, superuser.tokenId, "lower/1"],
      ],
    );
  });

  test("the first of several User-Agents, as node:http keeps it", async () => {
    await admin.clearRequests();
    const status = await rawGet(emulator.url, "/tokens/self", [
      "User-Agent: first/1",
      `Fastly-Key: ${superuser.token}`,
      "User-Agent: second/2",
    ]);
    assert.equal(status, 200);
    assert.deepEqual(
      (await admin.requests()).map((e) => e.userAgent),
      ["first/1"],
    );
  });

  test("two Fastly-Keys are one joined value, not the first key", async () => {
    await admin.clearRequests();
    const status = await rawGet(emulator.url, "/tokens/self", [
      `Fastly-Key: ${superuser.token}`,
      `Fastly-Key: ${superuser.token}`,
    ]);
    assert.equal(status, 401);
    assert.deepEqual(
      (await admin.requests()).map((e) => [e.status, e.tokenId]),
      [[401, null]],
    );
  });

  test("an empty Fastly-Key is no key", async () => {
    await admin.clearRequests();
    assert.equal(await rawGet(emulator.url, "/tokens/self", ["Fastly-Key:", "User-Agent: empty/1"]), 401);
    const [entry] = await admin.requests();
    assert.deepEqual([entry?.status, entry?.tokenId, entry?.userAgent], [401, null, "empty/1"]);
  });
});
