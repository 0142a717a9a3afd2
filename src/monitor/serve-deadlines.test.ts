/**
 * `ftr serve`'s header deadlines and header size limit, over raw sockets: a connection holding half
 * a header section is closed, on a new connection and after a request on a kept-alive one, and a
 * busy connection is kept. A file of its own, so that its connections are the only ones its
 * process has made.
 */
import assert from "node:assert/strict";
import { performance } from "node:perf_hooks";
import { after, before, describe, it } from "node:test";
import { loadConfig, type Config } from "../config/index.ts";
import { demoCredentials, demoSeed } from "../emulator/index.ts";
import { createFastlyClient } from "../fastly/index.ts";
import { fileConfig, world, type World } from "../../test/helpers/world.ts";
import { ask, closed, open } from "../../test/helpers/sockets.ts";
import { beforeTimer } from "../../test/helpers/wait.ts";
import { startServe, type ServeHandle, type ServeOptions } from "./serve.ts";

const { superuser, exporterTokens } = demoCredentials;

describe("startServe's header deadlines", () => {
  let w: World<"fastly">;
  let config: Config;
  const handles: ServeHandle[] = [];
  const serve = async (options: Partial<ServeOptions> = {}): Promise<ServeHandle> => {
    const handle = await startServe({
      config,
      client: createFastlyClient({ token: superuser.token, endpoint: w.emulator.url }),
      listen: "127.0.0.1:0",
      intervalMs: 3_600_000,
      ...options,
    });
    handles.push(handle);
    return handle;
  };

  before(async () => {
    w = await world({ dir: "ftr-serve-deadlines-", fastly: demoSeed });
    for (const env of ["integration", "staging"] as const) {
      await w.writeSecret(`${env}.txt`, `${exporterTokens[env].token}\n`);
    }
    const environments = (["integration", "staging"] as const).map((env) => ({
      name: env,
      token: exporterTokens[env].name,
      services: "{ all: true }",
    }));
    const loaded = await loadConfig(await w.writeConfig(fileConfig(w.emulator.url, environments), "c.yaml"));
    assert.ok(loaded.config);
    config = loaded.config;
  });
  after(async () => {
    while (handles.length > 0) await handles.pop()?.close();
    await w.close();
  });

  it("closes a connection whose headers do not come in time, after a request too, and keeps one that is busy", async () => {
    const headersTimeoutMs = 1_000;
    const handle = await serve({ limits: { headersTimeoutMs } });
    // Half a header section on a new connection.
    const fresh = await open(handle.url);
    fresh.write("GET /healthz HTTP/1.1\r\nHost: exporter\r\n");
    await beforeTimer(30_000, "a new connection holding half its headers is closed", () => closed(fresh));
    // Half a header section after a whole request on a kept-alive connection.
    const kept = await open(handle.url);
    assert.ok((await ask(kept)) !== undefined);
    kept.write("GET /healthz HTTP/1.1\r\nHost: exporter\r\n");
    await beforeTimer(30_000, "a kept-alive connection holding half its next headers is closed", () =>
      closed(kept),
    );
    // Whole requests, one after another, for longer than the deadline: each one's headers came in time.
    const busy = await open(handle.url);
    const start = performance.now();
    let served = 0;
    while (performance.now() - start < 2.5 * headersTimeoutMs) {
      assert.ok((await ask(busy)) !== undefined, `request ${served + 1} on a busy connection is served`);
      served += 1;
    }
    busy.destroy();
  });

  it("refuses a header section larger than its limit", async () => {
    const handle = await serve({ limits: { maxHeaderBytes: 4 * 1024 } });
    const response = await fetch(`${handle.url}/healthz`, { headers: { "X-Padding": "x".repeat(6 * 1024) } });
    assert.equal(response.status, 431);
    await response.text();
  });
});
