import assert from "node:assert/strict";
import { beforeTimer } from "../../../test/helpers/wait.ts";
import { describe, it } from "node:test";
import type { FastlyClient } from "../../fastly/types.ts";
import { memoryLogger } from "../../util/log.ts";
import { instantClock } from "../support/poll.ts";
import type { VerifyContext } from "../types.ts";
import { createExecVerifier } from "./index.ts";

const ctx = (extra: Partial<VerifyContext> = {}): VerifyContext => ({
  environment: "production",
  runId: "run-1",
  log: memoryLogger(),
  tokenId: "5rDFOeTSnbVYpexjsdEkL5",
  otherTokenIds: [],
  since: new Date(),
  // The exec verifier never calls the API.
  client: {} as FastlyClient,
  ownUserAgent: "ftr/test",
  ...extra,
});

describe("exec verifier", () => {
  it("passes on exit 0 and sees FTR_TOKEN_ID and FTR_ENVIRONMENT", async () => {
    const verifier = createExecVerifier({
      command: ["sh", "-c", 'test "$FTR_TOKEN_ID" = 5rDFOeTSnbVYpexjsdEkL5 && echo "ok $FTR_ENVIRONMENT"'],
      timeoutMs: 60_000,
    });
    assert.deepEqual(await verifier.verify(ctx()), {
      ok: true,
      detail: `${verifier.description.slice(5)} exited 0: ok production`,
    });
  });

  it("fails with the exit code and last output line", async () => {
    const verifier = createExecVerifier({
      command: ["sh", "-c", "echo nope >&2; exit 2"],
      timeoutMs: 60_000,
    });
    const result = await verifier.verify(ctx());
    assert.equal(result.ok, false);
    assert.match(result.detail, /exited with code 2: nope$/);
  });

  it("fails when the command outlives the timeout", async () => {
    const verifier = createExecVerifier({ command: ["sleep", "600"], timeoutMs: 200 });
    // Before the command's own 600 s sleep ends: it was killed, not waited for.
    const result = await beforeTimer(600_000, "the command's sleep", () => verifier.verify(ctx()));
    assert.equal(result.ok, false);
    assert.match(result.detail, /timed out/);
  });

  it("retries until it passes when an interval is set", async () => {
    const marker = `/tmp/ftr-exec-verify-${process.pid}-${Date.now()}`;
    const verifier = createExecVerifier({
      command: [
        "sh",
        "-c",
        `if [ -e ${marker} ]; then rm ${marker}; exit 0; else touch ${marker}; exit 1; fi`,
      ],
      timeoutMs: 60_000,
      intervalMs: 50,
    });
    const result = await verifier.verify(ctx());
    assert.equal(result.ok, true, result.detail);
  });

  it("reports a command that cannot start", async () => {
    const verifier = createExecVerifier({
      command: ["/nonexistent/check"],
      timeoutMs: 60_000,
      intervalMs: 10,
    });
    const result = await verifier.verify(ctx());
    assert.equal(result.ok, false);
    assert.match(result.detail, /ENOENT/);
  });

  it("runs its retries on the injected clock", async () => {
    const clock = instantClock();
    const verifier = createExecVerifier(
      { command: ["sh", "-c", "echo not yet >&2; exit 1"], timeoutMs: 3000, intervalMs: 1000 },
      { clock },
    );
    const result = await verifier.verify(ctx());
    assert.equal(result.ok, false);
    assert.match(result.detail, /exited with code 1: not yet \(3 attempts\)$/);
    assert.deepEqual(clock.sleeps, [1000, 1000, 1000]);
  });

  it("an interrupted run stops waiting for the next attempt at once", async () => {
    const verifier = createExecVerifier({
      command: ["sh", "-c", "echo not yet >&2; exit 1"],
      timeoutMs: 600_000,
      intervalMs: 60_000,
    });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const result = await beforeTimer(60_000, "the one-minute pause", () =>
      verifier.verify(ctx({ signal: controller.signal })),
    );
    assert.equal(result.ok, false);
    assert.match(result.detail, /exited with code 1: not yet$/);
  });
});
