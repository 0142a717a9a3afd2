/**
 * `ExpiryNotices`: one notice per token per expiry, kept across restarts in a real state directory.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { memoryLogger } from "../util/log.ts";
import type { ExpiringToken } from "./events.ts";
import { ExpiryNotices } from "./expiring.ts";

const token = (expiresAt: string): ExpiringToken => ({
  environment: "production",
  tokenId: "tok1",
  expiresAt,
  msLeft: 86_400_000,
});

test("a token is notified once per expiry; a changed expiry is notified again, also after a restart", () => {
  const dir = join(mkdtempSync(join(tmpdir(), "ftr-notices-")), "state");
  const at = new Date("2026-12-01T00:00:00Z");
  const first = token("2026-12-05T00:00:00.000Z");
  const notices = new ExpiryNotices(dir, memoryLogger());
  assert.deepEqual(notices.pending([first]), [first]);
  notices.remember(first, at);
  assert.deepEqual(notices.pending([first]), [], "the same token and expiry: not again");

  // Fastly's expiry of the same token changed: a new warning window.
  const moved = token("2026-12-04T00:00:00.000Z");
  assert.deepEqual(notices.pending([moved]), [moved], "same token id, another expiry: notified again");

  const restarted = new ExpiryNotices(dir, memoryLogger());
  assert.deepEqual(restarted.pending([first]), [], "remembered across a restart");
  assert.deepEqual(restarted.pending([moved]), [moved], "another expiry after a restart: notified again");
  restarted.remember(moved, at);
  assert.deepEqual(new ExpiryNotices(dir, memoryLogger()).pending([moved, first]), [first]);
});
