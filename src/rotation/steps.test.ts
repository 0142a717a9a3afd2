/**
 * `StepLog`: every step is journaled before and after it runs (in a real journal on disk), announced,
 * logged and reported; and the one line of advice a failure gets.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { FastlyApiError, FastlyForbiddenError, FORBIDDEN_ADVICE } from "../fastly/errors.ts";
import { memoryLogger } from "../util/log.ts";
import { clearSecrets, registerSecret } from "../util/redact.ts";
import { openJournal, readJournal, type Journal, type JournalRecord } from "./journal.ts";
import { adviceFor, describe, StepFailure, StepLog, type RotationEvent } from "./steps.ts";

const SECRET = "Zk3sV9qPq0mT7yLw2xNc8rBd5hJf4gHa";

function world(newTokenId?: string) {
  const dir = mkdtempSync(join(tmpdir(), "ftr-steps-"));
  let tick = 0;
  const now = () => new Date(Date.UTC(2026, 0, 1, 0, 0, tick++));
  const journal = openJournal(dir, now);
  const log = memoryLogger();
  const events: RotationEvent[] = [];
  const steps = new StepLog({
    journal,
    runId: "r1",
    environment: "staging",
    log,
    now,
    onEvent: (e) => events.push(e),
    newTokenId: () => newTokenId,
  });
  return { dir, journal, log, events, steps };
}

test("a step that succeeds is journaled begin then done, announced, logged at debug, and reported", async () => {
  const w = world();
  const value = await w.steps.run(
    "mint",
    () => Promise.resolve({ value: 42, detail: "minted new1", record: { newTokenId: "new1" } }),
    { tokenName: "ftr-staging" },
  );
  w.journal.close();
  assert.equal(value, 42);
  const records = readJournal(w.dir);
  assert.deepEqual(
    records.map((r) => [r.step, r.status, r.detail, r.newTokenId, r.tokenName]),
    [
      ["mint", "begin", undefined, undefined, "ftr-staging"],
      ["mint", "done", "minted new1", "new1", undefined],
    ],
  );
  assert.ok(records.every((r) => r.runId === "r1" && r.environment === "staging"));
  assert.deepEqual(
    w.events.map((e) => [e.environment, e.step, e.status, e.detail]),
    [
      ["staging", "mint", "begin", undefined],
      ["staging", "mint", "done", "minted new1"],
    ],
  );
  assert.ok(!("detail" in (w.events[0] ?? {})), "no empty detail on an event without one");
  assert.equal(w.events[1]?.at, records[1]?.at);
  assert.deepEqual(
    w.log.lines.map((l) => [l.level, l.message, l.fields]),
    [
      ["debug", "staging: mint begin", { environment: "staging", step: "mint" }],
      ["debug", "staging: mint done", { environment: "staging", step: "mint", detail: "minted new1" }],
    ],
  );
  assert.deepEqual(w.steps.reports, [
    {
      step: "mint",
      ok: true,
      startedAt: "2026-01-01T00:00:00.000Z",
      endedAt: "2026-01-01T00:00:03.000Z",
      detail: "minted new1",
    },
  ]);
});

test("a step that throws is journaled failed with the redacted message, logged at warn, rethrown", async () => {
  registerSecret(SECRET);
  try {
    const w = world("new1");
    const boom = new Error(`refused ${SECRET}`);
    await assert.rejects(
      w.steps.run("stage", () => Promise.reject(boom)),
      (e) => e === boom,
    );
    w.journal.close();
    const records = readJournal(w.dir);
    assert.deepEqual(
      records.map((r) => [r.step, r.status, r.detail, r.newTokenId]),
      [
        ["stage", "begin", undefined, "new1"],
        ["stage", "failed", "refused [REDACTED]", "new1"],
      ],
    );
    assert.deepEqual(
      w.log.lines.map((l) => [l.level, l.message]),
      [
        ["debug", "staging: stage begin"],
        ["warn", "staging: stage failed"],
      ],
    );
    assert.deepEqual(w.steps.reports, [
      {
        step: "stage",
        ok: false,
        startedAt: "2026-01-01T00:00:00.000Z",
        endedAt: "2026-01-01T00:00:03.000Z",
        detail: "refused [REDACTED]",
      },
    ]);
  } finally {
    clearSecrets();
  }
});

test("the run's new token goes on every record, unless the record names its own", () => {
  const w = world("new1");
  w.steps.record("verify", "done", "ok");
  w.steps.record("promote", "done", undefined, { newTokenId: "other" });
  w.journal.close();
  const records = readJournal(w.dir);
  assert.deepEqual(
    records.map((r) => [r.newTokenId, r.detail]),
    [
      ["new1", "ok"],
      ["other", undefined],
    ],
  );
  assert.ok(!("detail" in (records[1] ?? {})));
});

test("a done detail is redacted in the report", async () => {
  registerSecret(SECRET);
  try {
    const w = world();
    await w.steps.run("test", () => Promise.resolve({ value: undefined, detail: `used ${SECRET}` }));
    w.journal.close();
    assert.equal(w.steps.reports[0]?.detail, "used [REDACTED]");
  } finally {
    clearSecrets();
  }
});

test("describe: an Error's message or any value as text, secrets removed", () => {
  registerSecret(SECRET);
  try {
    assert.equal(describe(new Error(`bad ${SECRET}`)), "bad [REDACTED]");
    assert.equal(describe(`plain ${SECRET}`), "plain [REDACTED]");
    assert.equal(describe(7), "7");
  } finally {
    clearSecrets();
  }
});

test("adviceFor: a StepFailure's own advice, Fastly's 403 advice, a retry for 5xx and network, else the fallback", () => {
  const init = { method: "GET", path: "/tokens" };
  assert.equal(adviceFor(new StepFailure("m", "do this"), "fallback"), "do this");
  const forbidden = new FastlyForbiddenError({ ...init, status: 403, apiMessage: "Forbidden" });
  assert.equal(adviceFor(forbidden, "fallback"), FORBIDDEN_ADVICE[forbidden.reason]);
  const retry = "Fastly or the network failed; run again later";
  assert.equal(adviceFor(new FastlyApiError({ ...init, status: 0 }, "network"), "fallback"), retry);
  assert.equal(adviceFor(new FastlyApiError({ ...init, status: 500 }, "server"), "fallback"), retry);
  assert.equal(adviceFor(new FastlyApiError({ ...init, status: 503 }, "server"), "fallback"), retry);
  assert.equal(adviceFor(new FastlyApiError({ ...init, status: 499 }, "client"), "fallback"), "fallback");
  assert.equal(adviceFor(new FastlyApiError({ ...init, status: 404 }, "missing"), "fallback"), "fallback");
  assert.equal(adviceFor(new Error("other"), "fallback"), "fallback");
  const failure = new StepFailure("m", "a");
  assert.equal(failure.name, "StepFailure");
  assert.equal(failure.message, "m");
});

test("a StepLog without a listener journals and reports all the same", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ftr-steps-"));
  const journal = openJournal(dir);
  const steps = new StepLog({
    journal,
    runId: "r1",
    environment: "staging",
    log: memoryLogger(),
    now: () => new Date(),
    newTokenId: () => undefined,
  });
  assert.equal(await steps.run("verify", () => Promise.resolve({ value: 1, detail: "ok" })), 1);
  journal.close();
  assert.equal(readJournal(dir).length, 2);
});

/**
 * A journal that, like a remote one, holds records in memory until `flush`: a record is on disk only
 * once flushed. Wraps the directory journal of `dir`.
 */
function bufferedJournal(dir: string): Journal & { close(): void } {
  const file = openJournal(dir);
  let pending: (Omit<JournalRecord, "v" | "at"> & { at?: string })[] = [];
  return {
    path: file.path,
    append(record) {
      pending.push(record);
      return { v: 1, at: new Date().toISOString(), ...record };
    },
    flush() {
      for (const record of pending) file.append(record);
      pending = [];
      return Promise.resolve();
    },
    close: () => file.close(),
  };
}

test("a step's begin is journaled and flushed to disk before its body runs", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ftr-steps-"));
  const journal = bufferedJournal(dir);
  const steps = new StepLog({
    journal,
    runId: "r1",
    environment: "staging",
    log: memoryLogger(),
    now: () => new Date(),
    newTokenId: () => undefined,
  });
  steps.record("start", "done", "decision due");
  const seen: string[][] = [];
  await steps.run(
    "promote",
    () => {
      // What a crash right now would leave on disk.
      seen.push(readJournal(dir).map((r) => `${r.step} ${r.status}`));
      return Promise.resolve({ value: undefined, detail: "promoted" });
    },
    { deployedTokenId: "old1" },
  );
  assert.deepEqual(seen, [["start done", "promote begin"]], "start and begin are durable when the body runs");
  await journal.flush();
  journal.close();
  assert.deepEqual(
    readJournal(dir).map((r) => [r.step, r.status, r.deployedTokenId]),
    [
      ["start", "done", undefined],
      ["promote", "begin", "old1"],
      ["promote", "done", undefined],
    ],
  );
});

test("a step whose begin cannot be made durable never runs its body", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ftr-steps-"));
  const file = openJournal(dir);
  const journal: Journal = {
    path: file.path,
    append: (record) => file.append(record),
    flush: () => Promise.reject(new Error("the state store refused the write")),
  };
  const steps = new StepLog({
    journal,
    runId: "r1",
    environment: "staging",
    log: memoryLogger(),
    now: () => new Date(),
    newTokenId: () => undefined,
  });
  let ran = false;
  await assert.rejects(
    steps.run("revoke", () => {
      ran = true;
      return Promise.resolve({ value: undefined, detail: "revoked" });
    }),
    /refused the write/,
  );
  file.close();
  assert.equal(ran, false, "no side effect without a durable begin");
});
