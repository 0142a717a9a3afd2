import assert from "node:assert/strict";
import { test } from "node:test";
import type { SecretStore } from "../adapters/types.ts";
import type { Config } from "../config/types.ts";
import type { FastlyClient } from "../fastly/types.ts";
import { gatherState } from "./gather.ts";

const storeHolding = (value: string) => ({ read: () => Promise.resolve(value) }) as unknown as SecretStore;

test("a failed listing is thrown only once the deployed tokens' requests have settled", async () => {
  // The deployed tokens' GET /tokens/self hang until the gate opens.
  let sent = 0;
  let inFlight = 0;
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const fetch = (async () => {
    sent++;
    inFlight++;
    await gate;
    inFlight--;
    return new Response(JSON.stringify({ msg: "Provided credentials are missing or invalid" }), {
      status: 401,
      headers: { "content-type": "application/json" },
    });
  }) as typeof globalThis.fetch;
  const refused = new Error("the listing was refused");
  const client = {
    endpoint: "http://127.0.0.1:9",
    allowInsecure: false,
    listAutomationTokens: () => Promise.reject(refused),
    listServices: () => Promise.resolve([]),
  } as unknown as FastlyClient;
  const stores = new Map([
    ["integration", storeHolding("deployed-value-integration")],
    ["staging", storeHolding("deployed-value-staging")],
  ]);

  let settled = false;
  const gathering = gatherState({ client, config: {} as Config, stores, fetch }).finally(() => {
    settled = true;
  });
  while (sent < 2) await new Promise(setImmediate);
  // The listing has failed by now; with Promise.all the error was already out.
  for (let i = 0; i < 5; i++) await new Promise(setImmediate);
  assert.equal(settled, false, "thrown while the deployed tokens' requests were still in flight");
  open();
  await assert.rejects(gathering, refused);
  assert.equal(inFlight, 0);
});
