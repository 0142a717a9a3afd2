/**
 * A revoke trusts no id alone, and prove trusts no answer about another token:
 * - a journal edited to name someone's user token and another environment's token makes `ftr resume`
 *   stop with one line, revoking nothing (the ids must be automation tokens named as the
 *   environment's token, or the token the store's previous value authenticates as);
 * - a previous value that authenticates as a different token is reported as an inconsistency, never
 *   taken as proof that the old token is dead.
 */
import assert from "node:assert/strict";
import { appendFileSync, writeFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { afterEach, beforeEach, describe, it } from "node:test";
import { demoCredentials } from "../../src/emulator/index.ts";
import { USER_AGENT } from "../../src/version.ts";
import { assertNoSecrets, sleep, startRotationEnv, type RotationEnv } from "../helpers/rotation-env.ts";

describe("revoke and prove trust only what is provable", () => {
  let h: RotationEnv;

  beforeEach(async () => {
    h = await startRotationEnv({
      environments: ["integration"],
      verifyTimeout: "60s",
      verifyInterval: "1s",
      stateDir: "state",
    });
    await mkdir(h.stateDir, { recursive: true, mode: 0o700 });
  });
  afterEach(async () => {
    await h?.close();
  });

  it("a journal naming a user token and another environment's token revokes nothing", async () => {
    const productionId = (await h.tokenSelf(demoCredentials.exporterTokens.production.token)).id!;
    const userTokenId = demoCredentials.engineer.tokenId;
    // A rotation killed as its revoke reaches Fastly: verified, unfinished.
    const hook = await h.admin.hook({
      method: "DELETE",
      path: "re:^/tokens/[^/]+$",
      phase: "before",
      userAgent: `${USER_AGENT}*`,
      action: "hold",
    });
    const child = h.spawnCli(["rotate", "--config", h.configPath, "--yes", "--force"]);
    await h.admin.waitForHook(hook.id);
    child.child.kill("SIGKILL");
    await child.done;
    await h.admin.clearHooks();
    while ((await h.admin.state()).inFlight > 0) await sleep(20);

    const records = h.journal();
    const last = records[records.length - 1]!;
    assert.equal(`${last.step} ${last.status}`, "revoke begin");
    // Someone with write access to the state directory adds ids to the run's revoke list.
    appendFileSync(
      h.journalFile,
      JSON.stringify({
        ...last,
        step: "verify",
        status: "done",
        oldTokenIds: [...(last.oldTokenIds ?? []), productionId, userTokenId],
        at: new Date().toISOString(),
      }) + "\n",
    );
    await h.admin.clearRequests();

    const resumed = await h.runCli(["resume", "--config", h.configPath]);
    assert.equal(resumed.code, 1, resumed.stdout + resumed.stderr);
    assert.match(
      resumed.stdout,
      new RegExp(
        `refusing to revoke ${productionId} \\("GOV.UK prometheus-fastly-exporter token for Production"\\)[^\\n]*nothing was revoked`,
      ),
    );
    const deletes = (await h.admin.requests()).filter((r) => r.method === "DELETE");
    assert.deepEqual(deletes, [], "no revoke was sent");
    assert.equal((await h.tokenSelf(demoCredentials.exporterTokens.production.token)).status, 200);
    assert.equal((await h.tokenSelf(demoCredentials.engineer.token)).status, 200);
    assertNoSecrets(h.collectOutput(), h.knownSecrets());
  });

  it("a previous value that authenticates as another token is an inconsistency, not proof", async () => {
    const stagingValue = demoCredentials.exporterTokens.staging.token;
    const stagingId = (await h.tokenSelf(stagingValue)).id!;
    const oldId = (await h.tokenSelf(h.readSecret("integration"))).id!;
    // Held at the verifier's first look at the new token: the store's previous value is changed
    // behind the run's back to another live token's.
    const hook = await h.admin.hook({
      method: "GET",
      path: "re:^/automation-tokens/[^/]+$",
      phase: "before",
      userAgent: `${USER_AGENT}*`,
      action: "hold",
    });
    const child = h.spawnCli(["rotate", "--config", h.configPath, "--yes", "--force"]);
    await h.admin.waitForHook(hook.id);
    writeFileSync(`${h.secretPath("integration")}.previous`, `${stagingValue}\n`, { mode: 0o600 });
    await h.admin.releaseHook(hook.id);
    await h.admin.clearHooks();
    const ended = await child.done;
    assert.equal(ended.code, 0, ended.stdout + ended.stderr);

    const prove = h.journal().find((r) => r.step === "prove" && r.status === "done");
    assert.match(prove?.detail ?? "", new RegExp(`${oldId}: gone \\(looked up by id\\); INCONSISTENT`));
    assert.doesNotMatch(prove?.detail ?? "", /its value is refused/);
    assert.match(
      ended.stdout,
      new RegExp(`warning: the store's previous value authenticates as token ${stagingId}, not as ${oldId}`),
    );
    // The other token was left alone, and the old one is gone.
    assert.equal((await h.tokenSelf(stagingValue)).status, 200);
    const old = (await h.admin.state()).automationTokens.find((t) => t.id === oldId);
    assert.notEqual(old?.revokedAt, null);
  });
});
