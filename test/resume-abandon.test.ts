/**
 * `ftr resume --abandon RUN`: a run ftr cannot settle by itself is marked finished, without acting,
 * once a person asks for it (`--yes`, or a prompt on a terminal); then nothing reports it any more.
 */
import assert from "node:assert/strict";
import { appendFileSync, mkdirSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { demoSeed } from "../src/emulator/index.ts";
import { readJournal } from "../src/rotation/journal.ts";
import { runCli } from "./helpers/cli.ts";
import { demoFileEnvironment, world, type World } from "./helpers/world.ts";
import { demoCredentials } from "../src/emulator/index.ts";
import { join } from "node:path";

describe("ftr resume --abandon", () => {
  let w: World<"fastly">;
  let config: string;
  const env = () => ({
    FASTLY_API_TOKEN: demoCredentials.superuser.token,
    FASTLY_API_ENDPOINT: w.emulator.url,
  });

  before(async () => {
    w = await world({ dir: "ftr-abandon-", fastly: demoSeed });
    config = await w.writeFileConfig([demoFileEnvironment("integration")], "state: { dir: ./state }");
    const state = join(w.dir, "state");
    mkdirSync(state, { recursive: true, mode: 0o700 });
    const at = new Date().toISOString();
    const line = (step: string, status: string, extra: object = {}) =>
      JSON.stringify({
        v: 1,
        runId: "run-lost-write",
        environment: "integration",
        step,
        status,
        at,
        ...extra,
      });
    appendFileSync(
      join(state, "journal.jsonl"),
      [
        line("start", "done"),
        line("mint", "begin", { oldTokenIds: ["oldOne"] }),
        line("mint", "done", { newTokenId: "newOne" }),
        line("stage", "done"),
        line("promote", "begin"),
      ].join("\n") + "\n",
      { mode: 0o600 },
    );
  });
  after(() => w?.close());

  it("refuses without --yes off a terminal, and names the unfinished runs for a wrong id", async () => {
    const refused = await runCli(["resume", "--config", config, "--abandon", "run-lost-write"], {
      env: env(),
    });
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /add --yes, or run it on a terminal to be asked/);
    const wrong = await runCli(["resume", "--config", config, "--abandon", "nope", "--yes"], { env: env() });
    assert.equal(wrong.code, 2, wrong.stderr);
    assert.match(wrong.stderr, /no unfinished run nope in the journal; unfinished: run-lost-write/);
    const check = await runCli(["check", "--config", config], { env: env() });
    assert.match(check.stdout, /UNFINISHED integration: run run-lost-write stopped at promote/);
  });

  it("marks the run finished without acting, lists its tokens, and nothing reports it after", async () => {
    const before = (await w.admin.requests()).length;
    const done = await runCli(["resume", "--config", config, "--abandon", "run-lost-write", "--yes"], {
      env: env(),
    });
    assert.equal(done.code, 0, done.stdout + done.stderr);
    assert.match(
      done.stdout,
      /integration: run run-lost-write abandoned; nothing was revoked or restored\. Tokens it named: new newOne, old oldOne/,
    );
    assert.equal(
      (await w.admin.requests()).slice(before).filter((r) => r.method !== "GET").length,
      0,
      "nothing written to Fastly",
    );
    const finish = readJournal(join(w.dir, "state")).find((r) => r.step === "finish");
    assert.equal(finish?.outcome, "failed");
    assert.match(finish?.detail ?? "", /abandoned with ftr resume --abandon at promote \(begin\)/);
    const again = await runCli(["resume", "--config", config], { env: env() });
    assert.match(again.stderr, /Nothing to resume/);
    const check = await runCli(["check", "--config", config], { env: env() });
    assert.doesNotMatch(check.stdout, /UNFINISHED/);
  });
});
