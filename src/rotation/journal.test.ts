import assert from "node:assert/strict";
import {
  appendFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
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
  UnsafeStateDirError,
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

test("runStates keeps the last value of each field, the first mint begin and promote done, and nothing absent", () => {
  const d = dir();
  let second = 0;
  const j = openJournal(d, () => new Date(Date.UTC(2026, 0, 1, 0, 0, second++)));
  const base = { runId: "r1", environment: "a" } as const;
  j.append({ ...base, step: "start", status: "begin" });
  j.append({ ...base, step: "start", status: "done", oldTokenIds: ["o1"], rollbackOf: "r0" });
  j.append({ ...base, step: "mint", status: "begin", tokenName: "n1" }); // 00:00:02
  j.append({ ...base, step: "mint", status: "done", newTokenId: "new1" });
  j.append({ ...base, step: "promote", status: "begin" });
  j.append({ ...base, step: "promote", status: "done", newTokenId: "new2" }); // 00:00:05
  j.append({ ...base, step: "verify", status: "failed" });
  j.append({ runId: "r2", environment: "a", step: "start", status: "done" });
  j.append({ runId: "r1", environment: "b", step: "start", status: "done" });
  j.close();
  const states = runStates(readJournal(d));
  assert.deepEqual(
    states.map((s) => [s.runId, s.environment, s.records.length]),
    [
      ["r1", "a", 7],
      ["r2", "a", 1],
      ["r1", "b", 1],
    ],
  );
  const [a, r2] = states;
  assert.ok(a && r2);
  assert.equal(a.newTokenId, "new2", "the last one written wins");
  assert.equal(a.tokenName, "n1");
  assert.equal(a.rollbackOf, "r0");
  assert.deepEqual(a.oldTokenIds, ["o1"]);
  assert.equal(a.mintBeganAt, "2026-01-01T00:00:02.000Z");
  assert.equal(a.promotedAt, "2026-01-01T00:00:05.000Z");
  assert.equal(a.last.step, "verify");
  assert.deepEqual([...a.done].sort(), ["mint", "promote", "start"]);
  assert.equal(a.finished, false);
  assert.deepEqual(r2.oldTokenIds, []);
  assert.deepEqual(Object.keys(r2).sort(), [
    "done",
    "environment",
    "finished",
    "last",
    "oldTokenIds",
    "records",
    "runId",
  ]);
});

test("lastRotations: the latest finished run per environment, with its new token and end time", () => {
  const d = dir();
  const j = openJournal(d);
  j.append({
    runId: "r1",
    environment: "a",
    step: "finish",
    status: "done",
    outcome: "rotated",
    newTokenId: "t1",
    at: "2026-01-01T00:00:00.000Z",
  });
  j.append({
    runId: "r2",
    environment: "a",
    step: "finish",
    status: "done",
    outcome: "rolled-back",
    at: "2026-01-02T00:00:00.000Z",
  });
  j.append({ runId: "r3", environment: "a", step: "start", status: "done" });
  j.append({
    runId: "r4",
    environment: "b",
    step: "finish",
    status: "done",
    newTokenId: "t4",
    at: "2026-01-03T00:00:00.000Z",
  });
  j.append({
    runId: "r5",
    environment: "c",
    step: "finish",
    status: "done",
    outcome: "rotated",
    newTokenId: "t5",
    at: "2026-01-04T00:00:00.000Z",
  });
  j.close();
  assert.deepEqual(lastRotations(d), [
    { environment: "a", runId: "r2", outcome: "rolled-back", at: "2026-01-02T00:00:00.000Z" },
    { environment: "c", runId: "r5", outcome: "rotated", at: "2026-01-04T00:00:00.000Z", newTokenId: "t5" },
  ]);
});

test("readJournal: no journal is no records; foreign and blank lines are skipped; other errors pass", () => {
  const d = dir();
  assert.deepEqual(readJournal(d), []);
  writeFileSync(
    journalPath(d),
    [
      '{"v":1,"runId":"r1","environment":"e","step":"start","status":"done","at":"x"}',
      "",
      "   ",
      '{"v":2,"runId":"r2","environment":"e","step":"start","status":"done","at":"x"}',
      '{"v":1,"runId":3,"environment":"e","step":"start","status":"done","at":"x"}',
      '{"v":1,"runId":"r4","environment":"e","step":"start","status":"done","at":"x"}',
    ].join("\n"),
  );
  assert.deepEqual(
    readJournal(d).map((r) => r.runId),
    ["r1", "r4"],
  );
  const file = join(d, "plain");
  writeFileSync(file, "");
  assert.throws(() => readJournal(file), { code: "ENOTDIR" });
});

test("append keeps a given time, adds none of the absent fields, and a link at the journal is refused", () => {
  const d = dir();
  const j = openJournal(d, () => new Date("2026-01-01T00:00:00Z"));
  const rec = j.append({
    runId: "r",
    environment: "e",
    step: "start",
    status: "done",
    at: "2025-05-05T00:00:00.000Z",
  });
  assert.deepEqual(rec, {
    v: 1,
    runId: "r",
    environment: "e",
    step: "start",
    status: "done",
    at: "2025-05-05T00:00:00.000Z",
  });
  assert.equal(j.path, journalPath(d));
  j.close();
  const e = dir();
  symlinkSync(join(d, "journal.jsonl"), journalPath(e));
  assert.throws(
    () => openJournal(e),
    (err: unknown) => {
      assert.ok(err instanceof UnsafeStateDirError);
      assert.match(err.message, /holds a symbolic link at journal\.jsonl/);
      return true;
    },
  );
});

test(
  "close() closes the journal's file",
  { skip: process.platform === "linux" ? false : "counts /proc/self/fd" },
  () => {
    const count = () => readdirSync("/proc/self/fd").length;
    const before = count();
    const j = openJournal(dir());
    j.append({ runId: "r", environment: "e", step: "start", status: "done" });
    j.close();
    assert.equal(count(), before);
  },
);
