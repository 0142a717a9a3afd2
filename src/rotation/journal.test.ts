import assert from "node:assert/strict";
import { appendFileSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { registerSecret } from "../util/redact.ts";
import {
  acquireLock,
  journalPath,
  lastRotations,
  LockedError,
  openJournal,
  readJournal,
  runStates,
} from "./journal.ts";

const dir = () => mkdtempSync(join(tmpdir(), "ftr-journal-"));

test("records are appended as JSON lines, mode 0600, and read back", () => {
  const d = dir();
  const j = openJournal(d, () => new Date("2026-01-01T00:00:00Z"));
  j.append({ runId: "r1", environment: "staging", step: "mint", status: "begin", tokenName: "t" });
  j.append({ runId: "r1", environment: "staging", step: "mint", status: "done", newTokenId: "new1" });
  j.close();
  const records = readJournal(d);
  assert.equal(records.length, 2);
  assert.deepEqual(records[1], {
    v: 1,
    runId: "r1",
    environment: "staging",
    step: "mint",
    status: "done",
    newTokenId: "new1",
    at: "2026-01-01T00:00:00.000Z",
  });
  assert.equal(statSync(journalPath(d)).mode & 0o777, 0o600);
});

test("a line torn by a crash is ignored", () => {
  const d = dir();
  const j = openJournal(d);
  j.append({ runId: "r1", environment: "e", step: "start", status: "done" });
  j.close();
  appendFileSync(journalPath(d), '{"v":1,"runId":"r1","environment":"e","step":"mi');
  assert.equal(readJournal(d).length, 1);
});

test("details are redacted: a registered secret never reaches the file", () => {
  const d = dir();
  registerSecret("super-secret-token-value-123456");
  const j = openJournal(d);
  j.append({
    runId: "r",
    environment: "e",
    step: "stage",
    status: "failed",
    detail: "bad super-secret-token-value-123456",
  });
  j.close();
  assert.ok(!readFileSync(journalPath(d), "utf8").includes("super-secret-token-value-123456"));
});

test("runStates groups per run and environment, with what each knows", () => {
  const d = dir();
  const j = openJournal(d);
  j.append({
    runId: "r1",
    environment: "a",
    step: "start",
    status: "done",
    deployedTokenId: "old",
    oldTokenIds: ["old"],
  });
  j.append({ runId: "r1", environment: "a", step: "mint", status: "begin", tokenName: "n" });
  j.append({ runId: "r1", environment: "a", step: "mint", status: "done", newTokenId: "new" });
  j.append({ runId: "r1", environment: "a", step: "promote", status: "done" });
  j.append({ runId: "r1", environment: "b", step: "start", status: "done" });
  j.append({ runId: "r1", environment: "b", step: "finish", status: "done", outcome: "rotated" });
  j.close();
  const [a, b] = runStates(readJournal(d));
  assert.equal(a?.finished, false);
  assert.equal(a?.newTokenId, "new");
  assert.equal(a?.deployedTokenId, "old");
  assert.deepEqual(a?.oldTokenIds, ["old"]);
  assert.equal(a?.tokenName, "n");
  assert.ok(a?.done.has("promote"));
  assert.ok(a?.promotedAt);
  assert.equal(b?.finished, true);
  assert.equal(b?.outcome, "rotated");
  assert.deepEqual(
    lastRotations(d).map((r) => [r.environment, r.outcome]),
    [["b", "rotated"]],
  );
});

test("the lock is exclusive while its holder lives, and taken over from a dead one", () => {
  const d = dir();
  const release = acquireLock(d);
  assert.throws(() => acquireLock(d), LockedError);
  release();
  acquireLock(d)();
  writeFileSync(join(d, "lock"), "999999999");
  acquireLock(d)();
});
