/**
 * `ExpiryNotices`: one notice per token per expiry, kept across restarts in a real state directory.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { memoryLogger } from "../util/log.ts";
import type { ExpiringToken } from "./events.ts";
import { ExpiryNotices, NOTICES_FILE } from "./expiring.ts";

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

test("a file with entries of the wrong shape keeps only the well-formed ones", () => {
  const dir = mkdtempSync(join(tmpdir(), "ftr-notices-"));
  const good = { environment: "production", expiresAt: "2026-12-05T00:00:00.000Z", notifiedAt: "x" };
  writeFileSync(
    join(dir, NOTICES_FILE),
    JSON.stringify({
      version: 1,
      tokenExpiring: {
        tok1: good,
        tok2: null,
        tok3: "text",
        tok4: { ...good, environment: 4 },
        tok5: { ...good, expiresAt: undefined },
        tok6: { ...good, notifiedAt: false },
      },
    }),
  );
  const log = memoryLogger();
  const notices = new ExpiryNotices(dir, log);
  const at = (tokenId: string): ExpiringToken => ({ ...token(good.expiresAt), tokenId });
  const all = ["tok1", "tok2", "tok3", "tok4", "tok5", "tok6"].map(at);
  assert.deepEqual(notices.pending(all), all.slice(1));
  // Written again, the file keeps only the well-formed notices.
  notices.remember(at("tok1"), new Date("2026-12-01T00:00:00Z"));
  const file = JSON.parse(readFileSync(join(dir, NOTICES_FILE), "utf8")) as { tokenExpiring: object };
  assert.deepEqual(Object.keys(file.tokenExpiring), ["tok1"]);
  assert.deepEqual(log.lines, []);
});

test("a file that is not an object of notices starts empty without a warning", () => {
  for (const text of ["null", "3", '"text"', "{}", '{"tokenExpiring":null}', '{"tokenExpiring":7}']) {
    const dir = mkdtempSync(join(tmpdir(), "ftr-notices-"));
    writeFileSync(join(dir, NOTICES_FILE), text);
    const log = memoryLogger();
    const first = token("2026-12-05T00:00:00.000Z");
    assert.deepEqual(new ExpiryNotices(dir, log).pending([first]), [first], text);
    assert.deepEqual(log.lines, [], text);
  }
});

test("a missing file starts empty quietly; an unreadable one with a warning", () => {
  const missing = join(mkdtempSync(join(tmpdir(), "ftr-notices-")), "state");
  const quiet = memoryLogger();
  new ExpiryNotices(missing, quiet);
  assert.deepEqual(quiet.lines, []);

  const dir = mkdtempSync(join(tmpdir(), "ftr-notices-"));
  writeFileSync(join(dir, NOTICES_FILE), "{ not json");
  const log = memoryLogger();
  const first = token("2026-12-05T00:00:00.000Z");
  assert.deepEqual(new ExpiryNotices(dir, log).pending([first]), [first]);
  assert.equal(log.lines.length, 1);
  assert.equal(log.lines[0]!.level, "warn");
  assert.match(
    log.lines[0]!.message,
    /notifications\.json cannot be read \(.*JSON.*\); expiring tokens may be notified again$/,
  );

  const isDir = mkdtempSync(join(tmpdir(), "ftr-notices-"));
  mkdirSync(join(isDir, NOTICES_FILE));
  const dirLog = memoryLogger();
  new ExpiryNotices(isDir, dirLog);
  assert.match(dirLog.lines[0]?.message ?? "", /EISDIR/);
});

test("a write that fails is a warning; the notice is still remembered in memory", () => {
  const parent = mkdtempSync(join(tmpdir(), "ftr-notices-"));
  const stateDir = join(parent, "state");
  writeFileSync(stateDir, "a file where the directory should be");
  const log = memoryLogger();
  const notices = new ExpiryNotices(stateDir, log);
  assert.match(log.lines[0]?.message ?? "", /cannot be read \(ENOTDIR/, "reading it failed too");
  const first = token("2026-12-05T00:00:00.000Z");
  notices.remember(first, new Date("2026-12-01T00:00:00Z"));
  assert.deepEqual(notices.pending([first]), []);
  assert.equal(log.lines.length, 2);
  assert.match(
    log.lines[1]!.message,
    /^cannot write .*notifications\.json \(.*\); after a restart expiring tokens may be notified again$/,
  );
});

test("the file is written private, whole, and forgets tokens expired over 30 days ago", () => {
  const dir = join(mkdtempSync(join(tmpdir(), "ftr-notices-")), "state");
  const notices = new ExpiryNotices(dir, memoryLogger());
  const old = { ...token("2026-10-01T00:00:00.000Z"), tokenId: "old" };
  const edge = { ...token("2026-10-31T00:00:00.000Z"), tokenId: "edge" };
  const recent = { ...token("2026-11-15T00:00:00.000Z"), tokenId: "recent" };
  notices.remember(old, new Date("2026-10-01T00:00:00Z"));
  notices.remember(edge, new Date("2026-10-01T00:00:00Z"));
  notices.remember(recent, new Date("2026-11-30T00:00:00Z"));
  const path = join(dir, NOTICES_FILE);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.deepEqual(readdirSync(dir), [NOTICES_FILE], "no temporary file is left");
  const file = JSON.parse(readFileSync(path, "utf8")) as { version: number; tokenExpiring: object };
  assert.equal(file.version, 1);
  // 2026-11-30 less 30 days is 2026-10-31: `edge` expired exactly then and is kept, `old` forgotten.
  assert.deepEqual(Object.keys(file.tokenExpiring).sort(), ["edge", "recent"]);
  assert.deepEqual(new ExpiryNotices(dir, memoryLogger()).pending([old, edge, recent]), [old]);
});
