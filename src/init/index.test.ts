import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createEmulator, demoCredentials, demoSeed, type RunningEmulator } from "../emulator/index.ts";
import { createFastlyClient } from "../fastly/index.ts";
import { initConfig } from "./index.ts";

describe("initConfig against the emulator", () => {
  let emulator: RunningEmulator;
  before(async () => {
    emulator = await createEmulator({ seed: demoSeed });
  });
  after(() => emulator.close());
  const client = () => createFastlyClient({ token: demoCredentials.superuser.token, endpoint: emulator.url });

  it("reads the tokens and services (every page) and writes the config only when all environments resolve", async () => {
    const c = client();
    const done = await initConfig({ client: c, requests: [{ name: "integration" }], store: "file" });
    assert.deepEqual(done.counts, { tokens: 3, services: 8 });
    assert.deepEqual(done.problems, []);
    assert.match(done.text ?? "", /name: "GOV\.UK prometheus-fastly-exporter token for Integration"/);
    // Read only: nothing but GETs.
    assert.equal(c.writeRequestCount, 0);

    const partly = await initConfig({
      client: client(),
      requests: [{ name: "integration" }, { name: "qa" }],
      store: "file",
    });
    assert.equal(partly.text, undefined);
    assert.deepEqual(
      partly.problems.map((p) => [p.environment, p.kind]),
      [["qa", "no-match"]],
    );
  });
});
