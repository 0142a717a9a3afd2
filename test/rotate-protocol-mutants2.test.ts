/**
 * The rotation protocol when the state's lock is lost mid-run (a Kubernetes Lease taken over): the
 * session's `lost` signal stops the run as the user's own signal would, whether or not the run was
 * also given one. Driven through the library in this process against the emulator on a clock shared
 * with it (test/helpers/protocol.ts); part of the `rotation-protocol` mutation group.
 */
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { demoCredentials } from "../src/emulator/index.ts";
import { rotate, stateBackend, type RotationEvent } from "../src/rotation/index.ts";
import { admin, clock, setup, trail, useProtocolEmulator, works, type Case } from "./helpers/protocol.ts";

const OLD = demoCredentials.exporterTokens.integration;

useProtocolEmulator();

describe("a lock lost mid-run", () => {
  let c: Case;
  afterEach(async () => {
    await admin.clearHooks();
    await admin.clearFaults();
    await c?.close();
  });

  for (const own of [false, true]) {
    it(`stops the run before it revokes anything${own ? ", beside the run's own signal" : ""}`, async () => {
      c = await setup();
      const backend = await stateBackend(c.config, { clock });
      const held = await backend.acquire({});
      const lost = new AbortController();
      const mine = new AbortController();
      try {
        const plan = await c.plan();
        const onEvent = (e: RotationEvent) => {
          if (e.step === "verify" && e.status === "begin" && !lost.signal.aborted)
            lost.abort(new Error("the lock was taken over while this run held it"));
        };
        const result = await rotate({
          ...c.context(own ? { signal: mine.signal } : {}),
          plan,
          onEvent,
          state: { ...held, lost: lost.signal },
        });
        const r = result.environments[0]!;
        assert.notEqual(r.outcome, "rotated", JSON.stringify(r));
        assert.deepEqual(r.revoked.includes(OLD.id), false);
        assert.ok(!trail(c.journal()).includes("revoke begin"), trail(c.journal()).join(", "));
        assert.equal(await works(OLD.token), true, "the old token was never revoked");
        assert.equal(mine.signal.aborted, false);
      } finally {
        await held.release();
      }
    });
  }
});
