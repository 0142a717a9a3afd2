/**
 * Unattended and never silent: an unfinished run is reported by every surface until it is resumed;
 * two runs never rotate one environment at once (the lock is taken before the plan is made); `rotate
 * --due` rotates only what is due, inside its window, resumes first, and leaves `approval: required`
 * environments to a person, aloud; `rollback` asks like `rotate` and names a live holder.
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { loadConfig } from "../src/config/index.ts";
import { startServe } from "../src/monitor/index.ts";
import { USER_AGENT } from "../src/version.ts";
import {
  assertNoSecrets,
  assertSettled,
  settled,
  startRotationEnv,
  type RotationEnv,
} from "./helpers/rotation-env.ts";
import { whenInDir } from "./helpers/wait.ts";

/** The samples of `metric` in a /metrics text, as label text → value. */
function samples(text: string, metric: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${metric}{`)) continue;
    const close = line.lastIndexOf("}");
    found.set(line.slice(metric.length + 1, close), Number(line.slice(close + 2)));
  }
  return found;
}

/** One refresh of an in-process `ftr serve` over the world's config; its /metrics text. */
async function scrape(h: RotationEnv): Promise<string> {
  const { config } = await loadConfig(h.configPath);
  const handle = await startServe({
    config,
    client: undefined,
    listen: "127.0.0.1:0",
    intervalMs: 3_600_000,
    endpoint: h.env.FASTLY_API_ENDPOINT,
  });
  try {
    await handle.refresh();
    return await (await fetch(`${handle.url}/metrics`)).text();
  } finally {
    await handle.close();
  }
}

describe("unattended rotation", () => {
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

  /** `ftr rotate` killed with SIGKILL while its restart command runs; returns the run's id and new token. */
  async function killDuringReload(
    argv: readonly string[] = [],
  ): Promise<{ runId: string; newTokenId: string }> {
    await h.setReload("integration", { hold: true });
    const child = h.spawnCli(["rotate", "--config", h.configPath, "--yes", "--force", ...argv]);
    const runDir = join(h.dir, "run");
    await whenInDir(runDir, () => readdirSync(runDir).some((n) => n.startsWith("reloading-")));
    child.child.kill("SIGKILL");
    assert.equal((await child.done).signal, "SIGKILL");
    const records = h.journal();
    const minted = records.find((r) => r.step === "mint" && r.status === "done");
    assert.ok(minted?.newTokenId, "the run minted before it was killed");
    await h.setReload("integration", {});
    await settled(h);
    return { runId: minted.runId, newTokenId: minted.newTokenId };
  }

  it("after kill -9 mid-rotation, check, plan, status and serve report the run until resume finishes it", async () => {
    const { runId, newTokenId } = await killDuringReload();

    const check = await h.runCli(["check", "--config", h.configPath]);
    assert.equal(check.code, 1, check.stdout + check.stderr);
    assert.match(
      check.stdout,
      new RegExp(
        `UNFINISHED integration: run ${runId} stopped at reload \\(begun\\).*fix: ftr resume --config ${h.configPath.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`,
      ),
    );

    const plan = await h.runCli(["plan", "--config", h.configPath]);
    assert.equal(plan.code, 1, plan.stdout + plan.stderr);
    const firstLine = plan.stdout.split("\n")[0] ?? "";
    assert.match(firstLine, new RegExp(`UNFINISHED.*run ${runId} of integration stopped at reload`));
    assert.match(plan.stdout, /integration {2}UNFINISHED: resume first/);
    const planJson = JSON.parse((await h.runCli(["plan", "--config", h.configPath, "--json"])).stdout) as {
      unfinished: { runId: string; step: string }[];
      environments: { decision: string; rotate: boolean; revoke: string[] }[];
    };
    assert.deepEqual(
      planJson.unfinished.map((r) => [r.runId, r.step]),
      [[runId, "reload"]],
    );
    assert.deepEqual(
      planJson.environments.map((e) => [e.decision, e.rotate, e.revoke]),
      [["unfinished", false, []]],
    );

    const status = await h.runCli(["status", "--config", h.configPath, "--json"]);
    const report = JSON.parse(status.stdout) as {
      unfinished: { runId: string }[];
      environments: { findings: { code: string }[] }[];
      tokens: { id: string; findings: { code: string }[] }[];
    };
    assert.equal(report.unfinished[0]?.runId, runId);
    assert.equal(report.environments[0]?.findings[0]?.code, "unfinished-run");
    assert.equal(report.tokens.find((t) => t.id === newTokenId)?.findings[0]?.code, "unfinished-run");
    const table = await h.runCli(["status", "--config", h.configPath]);
    // Both tables: the rows of the tokens it names (the old and the new), and the environment's row.
    const [tokensTable = "", envTable = ""] = table.stdout.split(/\n\s*\nenvironment/);
    const line = new RegExp(`run ${runId} of integration stopped at reload`, "g");
    assert.equal(tokensTable.match(line)?.length, 2, table.stdout);
    assert.equal(envTable.match(line)?.length, 1, table.stdout);

    const metrics = await scrape(h);
    const unfinished = samples(metrics, "fastly_token_rotator_unfinished_run_timestamp_seconds");
    const series = `environment="integration",run_id="${runId}",step="reload",running="false"`;
    assert.ok((unfinished.get(series) ?? 0) > 0, metrics);
    // The store holds the new token now (promote was done): the deployed metric says so.
    assert.equal(
      samples(metrics, "fastly_automation_token_deployed").get(
        `environment="integration",token_id="${newTokenId}"`,
      ),
      1,
    );

    const resumed = await h.runCli(["resume", "--config", h.configPath]);
    assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
    await assertSettled(h, "integration");

    const clear = await h.runCli(["check", "--config", h.configPath]);
    assert.equal(clear.code, 0, clear.stdout + clear.stderr);
    assert.doesNotMatch(clear.stdout, /UNFINISHED/);
    const replanned = await h.runCli(["plan", "--config", h.configPath]);
    assert.equal(replanned.code, 0, replanned.stdout);
    assert.doesNotMatch(replanned.stdout, /UNFINISHED/);
    const after = await scrape(h);
    assert.equal(samples(after, "fastly_token_rotator_unfinished_run_timestamp_seconds").size, 0, after);
    assertNoSecrets(h.collectOutput(), h.knownSecrets());
  });

  it("rotate --due resumes an unfinished run first, then finds nothing due", async () => {
    const { runId, newTokenId } = await killDuringReload();
    const due = await h.runCli(["rotate", "--config", h.configPath, "--due", "--yes"]);
    assert.equal(due.code, 0, due.stdout + due.stderr);
    assert.match(due.stderr, new RegExp(`resuming run ${runId}: integration from reload`));
    const finish = h.journal().find((r) => r.runId === runId && r.step === "finish");
    assert.equal(finish?.outcome, "rotated", due.stdout + due.stderr);
    assert.equal(await assertSettled(h, "integration"), newTokenId);
    // The new token expires in a year: nothing else is due.
    assert.match(due.stderr, /Nothing due\./);
    assert.deepEqual(await h.consumerRefusals(), []);
  });

  it("a second rotate while the first holds the lock at its service listing is refused; one live token remains", async () => {
    const before = (await h.tokenSelf(h.readSecret("integration"))).id;
    // The first run takes the lock, then lists services: held there.
    const listing = await h.admin.hook({
      method: "GET",
      path: "re:^/service",
      phase: "before",
      userAgent: `${USER_AGENT}*`,
      action: "hold",
    });
    const first = h.spawnCli(["rotate", "--config", h.configPath, "--yes", "--force"]);
    await h.admin.waitForHook(listing.id);

    const second = await h.runCliProcess(["rotate", "--config", h.configPath, "--yes", "--force"]);
    assert.notEqual(second.code, 0, second.stdout + second.stderr);
    assert.match(second.stderr, /another run \(pid \d+, started [^)]+\) is rotating; wait for it/);
    assert.equal(second.stderr.trim().split("\n").length, 1, second.stderr);
    // It minted nothing.
    assert.equal(h.journal().filter((r) => r.step === "mint").length, 0);

    await h.admin.releaseHook(listing.id);
    await h.admin.clearHooks();
    const ended = await first.done;
    assert.equal(ended.code, 0, ended.stdout + ended.stderr);

    const live = await h.managedLive("integration");
    const deployed = await assertSettled(h, "integration");
    assert.deepEqual(
      live.map((t) => t.id),
      [deployed],
      "exactly one live token named for the environment, the one the store holds",
    );
    assert.notEqual(deployed, before);
    assert.deepEqual(await h.consumerRefusals(), []);
  });

  it("rotate --due rotates only what is due, not what is merely drifted", async () => {
    // The demo's integration token expires in 6 days: not due with rotateBefore 1d.
    const doc = h.config();
    const env = doc.environments[0]!;
    env.token = { ...env.token, rotateBefore: "1d" };
    await h.writeConfig(doc);
    const idle = await h.runCli(["rotate", "--config", h.configPath, "--due", "--yes"]);
    assert.equal(idle.code, 0, idle.stdout + idle.stderr);
    assert.match(idle.stderr, /Nothing due\./);
    assert.equal(h.journal().length, 0, "nothing was journaled");

    // Drifted (another scope asked) but not due: --due leaves it, saying why.
    env.token = { ...env.token, scope: "global" };
    await h.writeConfig(doc);
    const drifted = await h.runCli(["rotate", "--config", h.configPath, "--due", "--yes"]);
    assert.equal(drifted.code, 0, drifted.stdout + drifted.stderr);
    assert.match(
      drifted.stderr,
      /not rotated by --due: only a deployed token within rotateBefore or refused by Fastly is/,
    );
    assert.equal(h.journal().length, 0, "nothing was journaled");

    env.token = { ...env.token, scope: "global:read", rotateBefore: "30d" };
    await h.writeConfig(doc);
    const rotated = await h.runCli(["rotate", "--config", h.configPath, "--due", "--yes"]);
    assert.equal(rotated.code, 0, rotated.stdout + rotated.stderr);
    assert.equal(h.journal().find((r) => r.step === "finish")?.outcome, "rotated");
  });

  it("rotate --due starts nothing outside its window and names the next opening", async () => {
    // A window on the day after tomorrow only: closed now, whatever the time.
    const day = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][(new Date().getUTCDay() + 2) % 7]!;
    const out = await h.runCli([
      "rotate",
      "--config",
      h.configPath,
      "--due",
      "--yes",
      "--window",
      `${day} 00:00-24:00`,
    ]);
    assert.equal(out.code, 0, out.stdout + out.stderr);
    assert.match(
      out.stderr,
      new RegExp(
        `outside the rotation window \\(${day} 00:00-24:00, UTC\\); it next opens \\d{4}-\\d\\d-\\d\\dT00:00:00Z \\(UTC\\): nothing started`,
      ),
    );
    assert.equal(h.journal().length, 0);
    assert.equal((await h.toolRequests()).filter((r) => r.method !== "GET").length, 0, "nothing written");

    const bad = await h.runCli(["rotate", "--config", h.configPath, "--due", "--window", "Mon 25:00-26:00"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--window: window "Mon 25:00-26:00": 25:00 is not a time of day/);
  });

  it("an unattended rotate --due leaves approval: required environments alone, aloud", async () => {
    const doc = h.config();
    doc.environments[0]!.approval = "required";
    await h.writeConfig(doc);
    const before = (await h.tokenSelf(h.readSecret("integration"))).id;
    // --yes does not approve them: nobody is at a terminal.
    const out = await h.runCli(["rotate", "--config", h.configPath, "--due", "--yes"]);
    assert.equal(out.code, 0, out.stdout + out.stderr);
    assert.match(
      out.stdout + out.stderr,
      /needs approval \(approval: required\): an unattended run does not rotate it/,
    );
    assert.equal((await h.tokenSelf(h.readSecret("integration"))).id, before, "not rotated");
    assert.equal(h.journal().find((r) => r.step === "finish")?.outcome, "awaiting-approval");
    assert.equal(h.journal().filter((r) => r.step === "mint").length, 0);
    const metrics = await scrape(h);
    assert.ok(
      (samples(metrics, "fastly_token_rotator_awaiting_approval_timestamp_seconds").get(
        'environment="integration"',
      ) ?? 0) > 0,
      metrics,
    );
    // It is no rotation: the last-rotation metric has nothing for it.
    assert.equal(samples(metrics, "fastly_token_rotator_last_rotation_timestamp_seconds").size, 0);
  });

  it("rollback of an approval: required environment asks, or refuses without a terminal; it names a live holder", async () => {
    const keep = await h.runCli(["rotate", "--config", h.configPath, "--yes", "--force", "--keep-old"]);
    assert.equal(keep.code, 0, keep.stdout + keep.stderr);
    const doc = h.config();
    doc.environments[0]!.approval = "required";
    await h.writeConfig(doc);

    const refused = await h.runCli(["rollback", "--config", h.configPath, "--env", "integration"]);
    assert.equal(refused.code, 2, refused.stdout + refused.stderr);
    assert.match(refused.stderr, /integration needs approval: run with --yes, or on a terminal to be asked/);

    // A live run holds the lock: rollback names it.
    await h.setReload("integration", { hold: true });
    const live = h.spawnCli(["rotate", "--config", h.configPath, "--yes", "--force"]);
    const runDir = join(h.dir, "run");
    await whenInDir(runDir, () => readdirSync(runDir).some((n) => n.startsWith("reloading-")));
    const blocked = await h.runCli(["rollback", "--config", h.configPath, "--env", "integration", "--yes"]);
    assert.notEqual(blocked.code, 0);
    assert.match(blocked.stderr, /another run \(pid \d+, started [^)]+\) is rotating; wait for it/);
    await h.setReload("integration", {});
    const ended = await live.done;
    assert.equal(ended.code, 0, ended.stdout + ended.stderr);
  });
});
