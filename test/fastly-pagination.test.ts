/**
 * The client against the emulator's Link-paginated service list: once the first page's
 * rel="last" says how many pages there are, the rest are asked for together (the emulator holds
 * them with a delay fault until as many as expected are waiting), and the items come in the API's
 * order.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createEmulator, createEmulatorAdmin, demoCredentials, generateSeed } from "../src/emulator/index.ts";
import { createFastlyClient } from "../src/fastly/index.ts";

let emulator: Awaited<ReturnType<typeof createEmulator>>;
before(async () => {
  emulator = await createEmulator({ seed: generateSeed({ services: 11, automationTokens: 0 }) });
});
after(() => emulator.close());

test("services: page 1, then pages 2-5 at once, then page 6, in the API's order", async () => {
  const admin = createEmulatorAdmin(emulator.url);
  const client = createFastlyClient({ token: demoCredentials.superuser.token, endpoint: emulator.url });
  await admin.clearRequests();
  // Pages 1 to 5 wait (up to a minute) until the clock moves, which wakes them; page 6 does not.
  await admin.fault({ method: "GET", path: "/service", delayMs: 60_000, count: 5 });
  const listing = client.listServices({ perPage: 2 });
  let failed: unknown;
  listing.catch((error: unknown) => (failed = error));

  /** Wait until `count` requests are held, then let them go; false when they never all arrive. */
  const release = async (count: number): Promise<boolean> => {
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && failed === undefined) {
      if ((await admin.state()).inFlight >= count) {
        await admin.advanceClock(0);
        return true;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return false;
  };
  assert.ok(await release(1), "page 1 was asked for");
  const together = await release(4);
  if (!together) {
    // Release whatever is held, so the listing ends and the failure below is the one reported.
    await admin.clearFaults();
    await admin.advanceClock(0);
  }
  const services = await listing;
  assert.ok(together, "pages 2 to 5 were waiting at the same time");

  const pages = (await admin.requests()).map((r) => new URL(r.path, emulator.url).searchParams.get("page"));
  assert.equal(pages[0], "1");
  assert.deepEqual([...pages].sort(), ["1", "2", "3", "4", "5", "6"]);
  assert.deepEqual(
    services.map((s) => s.id),
    (await admin.state()).services.map((s) => s.id),
  );
});
