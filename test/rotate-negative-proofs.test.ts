/**
 * Negative proofs: Fastly answering as if all were well when it is not. A revoke answered 204 that
 * revoked nothing must fail `prove` (the old value still works); a new token that is not what was
 * asked (another scope, other services, another expiry) must be rolled back by the test step.
 * Each case runs `ftr rotate` against its own emulator, whose faults and hooks shape the answers.
 */
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { USER_AGENT } from "../src/version.ts";
import {
  assertNoSecrets,
  assertSettled,
  PROBE_USER_AGENT,
  serviceIds,
  startRotationEnv,
  tokenName,
  type RotationEnv,
} from "./helpers/rotation-env.ts";

/** Fastly's wire format for times: whole seconds, `Z`. */
const wireTime = (iso: string): string => iso.replace(/\.\d{3}Z$/, "Z");

describe("Fastly's answers that claim what did not happen", () => {
  let h: RotationEnv;

  beforeEach(async () => {
    h = await startRotationEnv({ environments: ["integration"], verifyTimeout: "60s" });
  });
  afterEach(async () => {
    await h?.close();
  });

  const rotate = () =>
    h.runCli(["rotate", "--config", h.configPath, "--yes", "--force", "--env", "integration"]);

  it("a revoke answered 204 that revoked nothing fails prove: the run is not called rotated", async () => {
    const previousValue = h.readSecret("integration");
    const previous = (await h.tokenSelf(previousValue)).id!;
    await h.admin.fault({ method: "DELETE", path: "re:^/tokens/[^/]+$", status: 204 });
    const from = h.journal().length;
    const { code, stdout, stderr } = await rotate();
    assert.equal(code, 1, stdout + stderr);
    assert.match(stdout, /^integration\s+failed\s/m);
    assert.match(stdout, new RegExp(`token ${previous} still works after it was revoked`));
    const records = h.journal().slice(from);
    assert.ok(
      records.some((r) => r.step === "prove" && r.status === "failed"),
      records.map((r) => `${r.step} ${r.status}`).join(", "),
    );
    assert.ok(!records.some((r) => r.step === "finish"), "left unfinished, for `ftr resume` to revoke again");
    // Fastly did not revoke it: the old value is still accepted.
    assert.equal((await h.tokenSelf(previousValue)).status, 200);
    assert.deepEqual((await h.admin.state()).faults, [], "the revoke met the fault");
    // The new token is deployed and in use all the same.
    assert.notEqual(await h.exporterTokenId("integration"), previous);
    assertNoSecrets(h.collectOutput(), h.knownSecrets());

    // Once Fastly revokes for real, `ftr resume` finishes the run.
    const resumed = await h.runCli(["resume", "--config", h.configPath]);
    assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
    assert.equal((await h.tokenSelf(previousValue)).status, 401);
    const finish = h
      .journal()
      .slice(from)
      .find((r) => r.step === "finish");
    assert.equal(finish?.outcome, "rotated");
  });

  /** What the new token's self-check is answered with, differing from what was asked in one way. */
  const MISMATCHES: readonly {
    name: string;
    change: (self: Record<string, unknown>) => void;
    message: RegExp;
  }[] = [
    {
      name: "another scope",
      change: (self) => {
        self.scope = "global";
        if ("scopes" in self) self.scopes = "global";
      },
      message: /scope is "global", asked "/,
    },
    {
      name: "other services (one more than asked)",
      change: (self) => {
        self.services = [...(self.services as string[]), serviceIds("production")[0]!];
      },
      message: /services are \[[^\]]*\], asked \[/,
    },
    {
      name: "another expiry (a year later)",
      change: (self) => {
        self.expires_at = wireTime(new Date(Date.now() + 400 * 86_400_000).toISOString());
      },
      message: /expires .*, asked about /,
    },
    {
      name: "no expiry",
      change: (self) => {
        self.expires_at = null;
      },
      message: /expires never, asked about /,
    },
  ];

  for (const mismatch of MISMATCHES) {
    it(`a new token with ${mismatch.name} is rolled back by the test step`, async () => {
      const previousValue = h.readSecret("integration");
      const previous = (await h.tokenSelf(previousValue)).id!;
      // The shape of Fastly's answer, from the old token's own self-check.
      const template = (await (
        await fetch(`${h.emulator.url}/tokens/self`, {
          headers: { "Fastly-Key": previousValue, "User-Agent": PROBE_USER_AGENT },
        })
      ).json()) as Record<string, unknown>;
      // The create is carried out and its answer held, while the self-check's answer is prepared
      // from the token it made.
      const hook = await h.admin.hook({
        method: "POST",
        path: "/automation-tokens",
        phase: "after",
        userAgent: `${USER_AGENT}*`,
        action: "hold",
      });
      const from = h.journal().length;
      const run = rotate();
      await h.admin.waitForHook(hook.id);
      const created = (await h.managedLive("integration")).find((t) => t.id !== previous);
      assert.ok(created, "the create made a token");
      const self: Record<string, unknown> = {
        ...template,
        id: created.id,
        name: created.name,
        user_id: created.userId,
        scope: created.scope,
        ...("scopes" in template ? { scopes: created.scope } : {}),
        services: [...created.services],
        created_at: wireTime(created.createdAt),
        expires_at: created.expiresAt === null ? null : wireTime(created.expiresAt),
      };
      mismatch.change(self);
      await h.admin.fault({ method: "GET", path: "/tokens/self", status: 200, body: self });
      await h.admin.releaseHook(hook.id);

      const { code, stdout, stderr } = await run;
      assert.equal(code, 1, stdout + stderr);
      assert.match(stdout, /^integration\s+rolled-back\s/m);
      assert.match(stdout, /test failed: the new token is not as asked: /);
      assert.match(stdout, mismatch.message);
      assert.deepEqual((await h.admin.state()).faults, [], "the test step's self-check met the fault");
      const records = h.journal().slice(from);
      assert.ok(!records.some((r) => r.step === "stage"), "nothing was staged");
      const token = (await h.admin.state()).automationTokens.find((t) => t.id === created.id);
      assert.notEqual(token?.revokedAt ?? null, null, "the new token is revoked");
      assert.equal(h.readSecret("integration"), previousValue, "the secret is untouched");
      assert.equal(await assertSettled(h, "integration"), previous);
      assert.equal(
        (await h.managedLive("integration")).filter((t) => t.name === tokenName("integration")).length,
        1,
      );
      assertNoSecrets(h.collectOutput(), h.knownSecrets());
    });
  }
});
