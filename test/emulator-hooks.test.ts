/**
 * The emulator's hooks: a test learns that a request reached the server, and can hold it there,
 * before or after its effect, until it releases it or the client dies. The crash suite kills
 * `ftr` on these; here each phase is checked on a revocation, whose effect is easy to see.
 */
import assert from "node:assert/strict";
import { request } from "node:http";
import { after, before, beforeEach, describe, test } from "node:test";
import {
  createEmulator,
  createEmulatorAdmin,
  demoCredentials,
  type EmulatorAdmin,
  type RunningEmulator,
} from "../src/emulator/index.ts";

const { superuser, exporterTokens } = demoCredentials;
const target = exporterTokens.integration;

/** A DELETE /tokens/{id} on a connection of its own, which the test can destroy like a killed client. */
function revoke(base: string, id: string, userAgent = "hooks-test") {
  const url = new URL(`/tokens/${id}`, base);
  let destroy = (): void => undefined;
  const answered = new Promise<number | "destroyed">((resolve) => {
    const req = request(
      url,
      { method: "DELETE", headers: { "Fastly-Key": superuser.token, "User-Agent": userAgent }, agent: false },
      (res) => {
        res.resume();
        res.once("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.once("error", () => resolve("destroyed"));
    req.end();
    destroy = () => req.destroy();
  });
  return { answered, destroy: () => destroy() };
}

const revokedAt = async (admin: EmulatorAdmin, id: string): Promise<string | null> => {
  const token = (await admin.state()).automationTokens.find((t) => t.id === id);
  assert.ok(token, `token ${id} is known`);
  return token.revokedAt;
};

/** Until the emulator holds no API request (a destroyed connection is noticed asynchronously). */
async function drained(admin: EmulatorAdmin): Promise<void> {
  const deadline = Date.now() + 30_000;
  while ((await admin.state()).inFlight > 0) {
    if (Date.now() > deadline) throw new Error("the emulator still holds a request");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("emulator hooks", () => {
  let emu: RunningEmulator;
  let admin: EmulatorAdmin;
  before(async () => {
    emu = await createEmulator();
    admin = createEmulatorAdmin(emu.url);
  });
  beforeEach(() => admin.reset());
  after(() => emu?.close());

  test("hold after: the effect is applied, the answer waits for release", async () => {
    const hook = await admin.hook({ method: "DELETE", path: "re:^/tokens/[^/]+$", action: "hold" });
    assert.equal(hook.phase, "after");
    assert.equal(hook.once, true);
    const call = revoke(emu.url, target.id);
    const fired = await admin.waitForHook(hook.id);
    assert.equal(fired.fired, 1);
    assert.equal(fired.held, 1);
    assert.notEqual(await revokedAt(admin, target.id), null, "revoked while the answer is held");
    assert.equal((await admin.state()).inFlight, 1);
    assert.equal(await admin.releaseHook(hook.id), 1);
    assert.equal(await call.answered, 204);
    assert.equal((await admin.hooks())[0]?.held, 0);
  });

  test("hold after, client killed: the effect stays, the request is logged, nothing is held", async () => {
    const hook = await admin.hook({ method: "DELETE", path: "/tokens/*", action: "hold" });
    const call = revoke(emu.url, target.id);
    await admin.waitForHook(hook.id);
    call.destroy();
    assert.equal(await call.answered, "destroyed");
    await drained(admin);
    assert.notEqual(await revokedAt(admin, target.id), null);
    assert.deepEqual(
      (await admin.requests()).map((r) => [r.method, r.status]),
      [["DELETE", 204]],
    );
  });

  test("hold before, client killed: the request is dropped unprocessed", async () => {
    const hook = await admin.hook({ method: "DELETE", path: "/tokens/*", action: "hold", phase: "before" });
    const call = revoke(emu.url, target.id);
    await admin.waitForHook(hook.id);
    assert.equal(await revokedAt(admin, target.id), null, "nothing happened yet");
    call.destroy();
    assert.equal(await call.answered, "destroyed");
    await drained(admin);
    assert.equal(await revokedAt(admin, target.id), null, "the dropped request had no effect");
    assert.deepEqual(
      (await admin.requests()).map((r) => [r.method, r.status]),
      [["DELETE", 0]],
    );
  });

  test("hold before, released: the request is processed then", async () => {
    const hook = await admin.hook({ method: "DELETE", path: "/tokens/*", action: "hold", phase: "before" });
    const call = revoke(emu.url, target.id);
    await admin.waitForHook(hook.id);
    assert.equal(await revokedAt(admin, target.id), null);
    await admin.releaseHook(hook.id);
    assert.equal(await call.answered, 204);
    assert.notEqual(await revokedAt(admin, target.id), null);
  });

  test("notify matches on user agent, fires once, and does not hold", async () => {
    const hook = await admin.hook({ path: "/tokens/*", userAgent: "wanted*", action: "notify" });
    assert.equal(await revoke(emu.url, exporterTokens.staging.id, "other").answered, 204);
    assert.equal((await admin.hooks())[0]?.fired, 0, "another user agent does not fire it");
    assert.equal(await revoke(emu.url, target.id, "wanted/1.0").answered, 204);
    assert.equal((await admin.waitForHook(hook.id)).fired, 1);
    assert.equal(await revoke(emu.url, exporterTokens.production.id, "wanted/1.0").answered, 204);
    assert.equal((await admin.hooks())[0]?.fired, 1, "a once hook fires once");
  });

  test("clearing hooks lets held requests go on", async () => {
    await admin.hook({ method: "DELETE", path: "/tokens/*", action: "hold", phase: "before" });
    const call = revoke(emu.url, target.id);
    await admin.waitForHook((await admin.hooks())[0]!.id);
    await admin.clearHooks();
    assert.equal(await call.answered, 204);
    assert.deepEqual(await admin.hooks(), []);
  });

  test("reset removes hooks and lets what they hold go on", async () => {
    const hook = await admin.hook({ method: "DELETE", path: "/tokens/*", action: "hold" });
    const call = revoke(emu.url, target.id);
    await admin.waitForHook(hook.id);
    assert.equal((await admin.state()).hooks.length, 1);
    await admin.reset();
    assert.equal(await call.answered, 204);
    assert.deepEqual((await admin.state()).hooks, []);
  });

  test("an invalid hook is refused with a reason", async () => {
    await assert.rejects(admin.hook({ action: "hold", path: "re:(" }), /invalid regular expression/);
    await assert.rejects(
      admin.hook(JSON.parse('{"action":"pause"}') as Parameters<EmulatorAdmin["hook"]>[0]),
      /action/,
    );
    await assert.rejects(admin.waitForHook("hook-999", { timeoutMs: 10 }), /no hook hook-999/);
  });
});
