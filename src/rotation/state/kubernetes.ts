/**
 * Rotation state in Kubernetes, for a rotation run as a Job whose disk does not outlive it.
 *
 * The lock is a `coordination.k8s.io/v1` Lease named `name`: `holderIdentity` names the holder
 * (`<host>/<pid>/<process start>/<random id>`), `renewTime` moves every third of
 * `leaseDurationSeconds` while the run lives. A Lease is taken only when nobody holds it, when it has
 * expired (`renewTime + leaseDurationSeconds` is past), or when its holder was a process on this
 * host that is gone (its PID dead or started at another time), as the directory lock judges: so a
 * killed process's run is resumed at once on the same machine, and a killed Job's by the next Job
 * once the Lease expires.
 *
 * The journal is key `journal.jsonl` of a Secret (or ConfigMap) named `name`, the same JSON lines as
 * the directory journal. Records are queued by `append` and written by `flush`; every write is a
 * read, an append and a PUT with the resourceVersion read, and a 409 Conflict means read again and
 * append again: nothing another writer wrote is ever overwritten. A journal past ~700 KiB (Secrets
 * and ConfigMaps hold 1 MiB) drops its oldest finished runs when written, keeping every unfinished
 * run, the latest finished run of each environment and the runs kept rollbacks undo.
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { CoordinationV1Api, CoreV1Api, V1ConfigMap, V1Lease, V1Secret } from "@kubernetes/client-node";
import type { StateConfig } from "../../config/types.ts";
import {
  explainKubernetesError,
  kubernetesClient,
  KubernetesError,
  makeApiClient,
} from "../../adapters/support/kubernetes.ts";
import { untilAborted } from "../../adapters/support/deps.ts";
import { abortError, systemClock, type Clock } from "../../adapters/support/poll.ts";
import { redact } from "../../util/redact.ts";
import { formatTime } from "../../util/time.ts";
import { parseJournal, runStates, type Journal, type JournalRecord } from "../journal.ts";
import { isAlive, LockedError, processStart } from "../lock.ts";
import type { StateDeps } from "./index.ts";
import type { LockHolder, StateBackend, StateSession } from "./types.ts";

/** The `state:` of a config with `type: kubernetes`. */
export type KubernetesStateConfig = Extract<StateConfig, { type: "kubernetes" }>;

/** The journal's key in its Secret or ConfigMap. */
export const JOURNAL_KEY = "journal.jsonl";
/** The label on the Lease and the journal object. */
export const MANAGED_BY_LABEL = { "app.kubernetes.io/managed-by": "fastly-token-rotator" } as const;
/** A journal longer than this (bytes of text) is compacted when written. */
export const COMPACT_AT_BYTES = 700 * 1024;
/** What compaction aims for, so that it does not run again at every write. */
export const COMPACT_TO_BYTES = 512 * 1024;

/** Longest wait for one API call: a hung connection must not stall renewals for ever. */
const CALL_TIMEOUT_MS = 30_000;
/** Conflicts (409) in a row before a write gives up. */
const ATTEMPTS = 10;
/** Tries of one call the API server answers 429 Too Many Requests. */
const THROTTLED_ATTEMPTS = 4;
/** Least real time between two renewals (see the renewal loop). */
const MIN_RENEWAL_SPACING_MS = 1000;
/** Longest wait a 429's Retry-After gets. */
const MAX_THROTTLE_WAIT_MS = 10_000;

/** The Lease was lost while the session held it (taken over after it expired): the run must stop. */
export class LeaseLostError extends Error {
  override readonly name = "LeaseLostError";
}

/** Who holds a Lease, as `holderIdentity` says. */
export interface LeaseIdentity {
  readonly host: string;
  readonly pid: number;
  /** As `processStart` in rotation/lock.ts; absent where it cannot be read. */
  readonly processStart?: string;
  /** Unique per acquisition. */
  readonly id: string;
}

/** `holderIdentity` for `identity`: `<host>/<pid>/<process start or ->/<id>`. */
export function formatIdentity(identity: LeaseIdentity): string {
  return `${identity.host}/${identity.pid}/${identity.processStart ?? "-"}/${identity.id}`;
}

/** The identity in a `holderIdentity` ftr wrote; undefined for anything else. */
export function parseIdentity(text: string): LeaseIdentity | undefined {
  const parts = text.split("/");
  if (parts.length < 4) return undefined;
  const [host = "", pidText = ""] = parts;
  const id = parts[parts.length - 1] ?? "";
  const start = parts.slice(2, -1).join("/");
  const pid = Number(pidText);
  if (host === "" || id === "" || !/^\d+$/.test(pidText) || !Number.isSafeInteger(pid) || pid <= 0) {
    return undefined;
  }
  return { host, pid, id, ...(start === "-" || start === "" ? {} : { processStart: start }) };
}

/** Ids of the Leases this process holds: one naming this PID but not listed here is an earlier process's. */
const held = new Set<string>();

/** A MicroTime as the API wants it (RFC 3339 with six fractional digits). */
type MicroTime = Date;

/** A time the client read back (a string: the library does not parse MicroTime) in ms, or undefined. */
function timeOf(value: unknown): number | undefined {
  if (value instanceof Date) return value.getTime();
  if (typeof value !== "string") return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Text from the cluster, safe for a one-line message. */
function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, "?");
  return clean.length > 120 ? `${clean.slice(0, 120)}…` : clean;
}

/** A time for a message; a Lease's absurd duration (no date can hold it) is "never". */
function when(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? "never" : formatTime(date);
}

/** Is `error` a KubernetesError with status `status`? */
const hasStatus = (error: unknown, status: number): boolean =>
  error instanceof KubernetesError && error.status === status;

/** How a Lease stands for someone who wants it. */
type Verdict =
  | { readonly kind: "free" }
  | { readonly kind: "expired" }
  | { readonly kind: "gone" }
  | { readonly kind: "live"; readonly error: LockedError };

/**
 * Rotation state in the Lease and the Secret (or ConfigMap) `config` names. Loads the kubeconfig
 * now (a KubernetesError names what is wrong with it); the cluster is first called by `acquire`,
 * `readJournal` or `holder`.
 */
export async function kubernetesState(
  config: KubernetesStateConfig,
  deps: StateDeps = {},
): Promise<StateBackend> {
  const k8s = await kubernetesClient();
  const access = {
    ...(config.kubeconfig === undefined ? {} : { kubeconfig: config.kubeconfig }),
    ...(config.context === undefined ? {} : { context: config.context }),
  };
  const core: CoreV1Api = await makeApiClient(access, k8s.CoreV1Api);
  const coordination: CoordinationV1Api = await makeApiClient(access, k8s.CoordinationV1Api);
  const clock: Clock = deps.clock ?? systemClock;
  // The system clock's timers would keep the process alive; an injected clock is the test's to run.
  const sleep =
    deps.clock && deps.clock !== systemClock
      ? (ms: number, signal: AbortSignal): Promise<void> => clock.sleep(ms, signal)
      : unrefSleep;
  const micro = (ms: number): MicroTime => new k8s.V1MicroTime(ms);
  const { namespace, name } = config;
  const leaseName = `Lease ${namespace}/${name}`;
  const journalKind = config.resource === "configmap" ? "ConfigMap" : "Secret";
  const journalName = `${journalKind} ${namespace}/${name}`;
  const durationSeconds = Math.max(1, Math.round(config.leaseDurationMs / 1000));
  const fixes = {
    403: `the Role bound to this identity needs get, create and update on leases (coordination.k8s.io) and ${journalKind === "Secret" ? "secrets" : "configmaps"} in namespace ${namespace} (deploy/rbac/rotate-cronjob-role.yaml)`,
    404: `check state.namespace (${namespace}) in the config: the namespace must exist`,
  };

  /**
   * A client call, bounded in time and by `signal`; failures as one-line KubernetesErrors. A 429
   * (the API server shedding load) is tried again after the wait it asks for, a few times.
   */
  const call = async <T>(what: string, work: () => Promise<T>, signal?: AbortSignal): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      const timeout = AbortSignal.timeout(CALL_TIMEOUT_MS);
      try {
        return await untilAborted(work(), signal ? AbortSignal.any([signal, timeout]) : timeout);
      } catch (error) {
        if (signal?.aborted) throw abortError(signal);
        const explained = explainKubernetesError(what, error, fixes);
        if (explained.status !== 429 || attempt >= THROTTLED_ATTEMPTS) throw explained;
        const wait = Math.min(explained.retryAfterMs ?? 1000, MAX_THROTTLE_WAIT_MS);
        await sleep(wait, signal ?? new AbortController().signal);
      }
    }
  };

  // ---- the Lease ----------------------------------------------------------------------------------

  const readLease = async (signal?: AbortSignal): Promise<V1Lease | undefined> => {
    try {
      return await call(
        `reading ${leaseName}`,
        () => coordination.readNamespacedLease({ name, namespace }),
        signal,
      );
    } catch (error) {
      if (hasStatus(error, 404)) return undefined;
      throw error;
    }
  };
  const createLease = (body: V1Lease, signal?: AbortSignal): Promise<V1Lease> =>
    call(`creating ${leaseName}`, () => coordination.createNamespacedLease({ namespace, body }), signal);
  const replaceLease = (body: V1Lease, signal?: AbortSignal): Promise<V1Lease> =>
    call(
      `updating ${leaseName}`,
      () => coordination.replaceNamespacedLease({ name, namespace, body }),
      signal,
    );

  /** How `lease` stands at `now`. */
  const judge = (lease: V1Lease, now: number): Verdict => {
    const holder = lease.spec?.holderIdentity;
    if (!holder) return { kind: "free" };
    const seconds = lease.spec?.leaseDurationSeconds ?? durationSeconds;
    const renewed = timeOf(lease.spec?.renewTime) ?? timeOf(lease.spec?.acquireTime);
    if (renewed === undefined) return { kind: "expired" };
    const expires = renewed + seconds * 1000;
    if (expires < now) return { kind: "expired" };
    const identity = parseIdentity(holder);
    if (identity && identity.host === hostname()) {
      if (!isAlive(identity.pid)) return { kind: "gone" };
      // Our PID on a Lease we do not hold: an earlier process had it (PID 1 of a restarted container).
      if (identity.pid === process.pid && !held.has(identity.id)) return { kind: "gone" };
      const started = identity.processStart && processStart(identity.pid);
      if (started && started !== identity.processStart) return { kind: "gone" };
    }
    const who = identity
      ? `host ${printable(identity.host)}, pid ${identity.pid}`
      : `holder ${JSON.stringify(printable(holder))}`;
    return {
      kind: "live",
      error: new LockedError(
        `lease ${namespace}/${name}`,
        `another run (${who}) holds the Kubernetes ${leaseName}: it last renewed it at ${when(renewed)} and it expires at ${when(expires)} unless renewed; wait for that run to finish, or, if it has died, run again after that time`,
        identity?.pid ?? 0,
        identity?.host,
      ),
    };
  };

  const labels = (existing: Record<string, string> | undefined): Record<string, string> => ({
    ...existing,
    ...MANAGED_BY_LABEL,
  });

  // ---- the journal ----------------------------------------------------------------------------------

  type Stored =
    | { readonly kind: "secret"; readonly object: V1Secret }
    | { readonly kind: "configmap"; readonly object: V1ConfigMap };

  const readStored = async (): Promise<Stored | undefined> => {
    try {
      return config.resource === "configmap"
        ? {
            kind: "configmap",
            object: await call(`reading ${journalName}`, () =>
              core.readNamespacedConfigMap({ name, namespace }),
            ),
          }
        : {
            kind: "secret",
            object: await call(`reading ${journalName}`, () =>
              core.readNamespacedSecret({ name, namespace }),
            ),
          };
    } catch (error) {
      if (hasStatus(error, 404)) return undefined;
      throw error;
    }
  };
  const textOf = (stored: Stored | undefined): string => {
    if (!stored) return "";
    const value = stored.object.data?.[JOURNAL_KEY];
    if (value === undefined) return "";
    return stored.kind === "secret" ? Buffer.from(value, "base64").toString("utf8") : value;
  };
  const encode = (text: string): string =>
    config.resource === "configmap" ? text : Buffer.from(text, "utf8").toString("base64");

  const createStored = async (text: string): Promise<void> => {
    const metadata = { name, namespace, labels: labels(undefined) };
    const data = { [JOURNAL_KEY]: encode(text) };
    if (config.resource === "configmap") {
      await call(`creating ${journalName}`, () =>
        core.createNamespacedConfigMap({ namespace, body: { metadata, data } }),
      );
    } else {
      await call(`creating ${journalName}`, () =>
        core.createNamespacedSecret({ namespace, body: { metadata, type: "Opaque", data } }),
      );
    }
  };
  /** PUT with the resourceVersion `stored` was read at (a 409 when someone wrote meanwhile). */
  const replaceStored = async (stored: Stored, text: string): Promise<void> => {
    const metadata = { ...stored.object.metadata, labels: labels(stored.object.metadata?.labels) };
    const data = { ...stored.object.data, [JOURNAL_KEY]: encode(text) };
    if (stored.kind === "configmap") {
      const body: V1ConfigMap = { ...stored.object, metadata, data };
      await call(`updating ${journalName}`, () => core.replaceNamespacedConfigMap({ name, namespace, body }));
    } else {
      const { stringData: _none, ...rest } = stored.object;
      const body: V1Secret = { ...rest, metadata, data };
      await call(`updating ${journalName}`, () => core.replaceNamespacedSecret({ name, namespace, body }));
    }
  };

  /** Appends `lines` to the stored journal, never overwriting what another writer added. */
  const appendLines = async (lines: string): Promise<void> => {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const stored = await readStored();
      const before = textOf(stored);
      const text = compactJournal(
        before === "" || before.endsWith("\n") ? before + lines : `${before}\n${lines}`,
      );
      try {
        if (stored) await replaceStored(stored, text);
        else await createStored(text);
        return;
      } catch (error) {
        // 409: changed (or created) since it was read; 404 on an update: deleted since. Read it
        // again and append again.
        if (!hasStatus(error, 409) && !(stored && hasStatus(error, 404))) throw error;
      }
    }
    throw new KubernetesError(
      `writing the journal to ${journalName} failed: it changed at every one of ${ATTEMPTS} attempts; run again`,
      409,
    );
  };

  const readRecords = async (): Promise<JournalRecord[]> => parseJournal(textOf(await readStored()));

  /** A journal writing to the cluster at `flush`; one flush at a time, in order. */
  const openJournal = (): Journal => {
    const pending: JournalRecord[] = [];
    let chain: Promise<void> = Promise.resolve();
    const write = async (): Promise<void> => {
      if (pending.length === 0) return;
      const batch = pending.slice();
      await appendLines(batch.map((r) => `${JSON.stringify(r)}\n`).join(""));
      pending.splice(0, batch.length);
    };
    return {
      path: `Kubernetes ${journalName} (key ${JOURNAL_KEY})`,
      append(record) {
        const full: JournalRecord = {
          v: 1,
          ...record,
          at: record.at ?? new Date(clock.now()).toISOString(),
          ...(record.detail === undefined ? {} : { detail: redact(record.detail) }),
        };
        pending.push(full);
        return full;
      },
      flush() {
        const next = chain.then(write);
        chain = next.catch(() => undefined);
        return next;
      },
    };
  };

  // ---- the backend -------------------------------------------------------------------------------

  return {
    description: `Kubernetes ${leaseName}`,

    async acquire(options = {}) {
      const { signal } = options;
      const id = randomBytes(12).toString("hex");
      const start = processStart(process.pid);
      const me = formatIdentity({
        host: hostname(),
        pid: process.pid,
        id,
        ...(start === undefined ? {} : { processStart: start }),
      });
      let current: V1Lease | undefined;
      for (let attempt = 0; attempt < ATTEMPTS && !current; attempt++) {
        const lease = await readLease(signal);
        const now = clock.now();
        try {
          if (!lease) {
            current = await createLease(
              {
                metadata: { name, namespace, labels: labels(undefined) },
                spec: {
                  holderIdentity: me,
                  leaseDurationSeconds: durationSeconds,
                  acquireTime: micro(now),
                  renewTime: micro(now),
                  leaseTransitions: 0,
                },
              },
              signal,
            );
            break;
          }
          const verdict = judge(lease, now);
          if (verdict.kind === "live") throw verdict.error;
          current = await replaceLease(
            {
              ...lease,
              metadata: { ...lease.metadata, labels: labels(lease.metadata?.labels) },
              spec: {
                ...lease.spec,
                holderIdentity: me,
                leaseDurationSeconds: durationSeconds,
                acquireTime: micro(now),
                renewTime: micro(now),
                // Every change of holder counts, from nobody too (as client-go's leader election counts).
                leaseTransitions: (lease.spec?.leaseTransitions ?? 0) + 1,
              },
            },
            signal,
          );
        } catch (error) {
          // 409: created or changed since it was read (AlreadyExists, Conflict); 404 on an update:
          // deleted since. Read and decide again.
          if (!hasStatus(error, 409) && !(lease && hasStatus(error, 404))) throw error;
        }
      }
      if (!current) {
        throw new LockedError(
          `lease ${namespace}/${name}`,
          `could not take the Kubernetes ${leaseName}: other runs kept changing it; try again`,
          0,
        );
      }
      held.add(id);

      const lostController = new AbortController();
      const stopped = new AbortController();
      const durationMs = durationSeconds * 1000;
      let lease: V1Lease = current;
      let renewedAt = clock.now();
      const lose = (reason: string): void => {
        if (!lostController.signal.aborted) lostController.abort(new LeaseLostError(reason));
      };

      /** One renewal: renewTime now, with the resourceVersion last seen; lost when someone else holds it. */
      const renew = async (): Promise<void> => {
        for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
          const now = clock.now();
          try {
            lease = await replaceLease(
              { ...lease, spec: { ...lease.spec, renewTime: micro(now) } },
              stopped.signal,
            );
            renewedAt = now;
            return;
          } catch (error) {
            // 409: written by someone since; 404: deleted. Either way, see who holds it now.
            if (!hasStatus(error, 409) && !hasStatus(error, 404)) throw error;
          }
          const fresh = await readLease(stopped.signal);
          if (fresh?.spec?.holderIdentity !== me) {
            const other = fresh?.spec?.holderIdentity;
            lose(
              `the Kubernetes ${leaseName} was ${other ? `taken over by ${JSON.stringify(printable(other))}` : "released or deleted"} while this run held it (it was not renewed in time); this run stopped: run ftr resume once the other run has finished`,
            );
            return;
          }
          lease = fresh;
        }
      };
      let lastCall = Date.now();
      const renewing = (async () => {
        while (!stopped.signal.aborted && !lostController.signal.aborted) {
          try {
            await sleep(durationMs / 3, stopped.signal);
            // At most one renewal a second of real time, whatever the clock: a test's instant clock
            // (whose sleeps return at once) must not turn renewing into a stream of requests.
            const spacing = MIN_RENEWAL_SPACING_MS - (Date.now() - lastCall);
            if (spacing > 0) await unrefSleep(spacing, stopped.signal);
          } catch {
            return; // released
          }
          if (stopped.signal.aborted) return;
          lastCall = Date.now();
          try {
            await renew();
          } catch (error) {
            if (stopped.signal.aborted) return; // released while renewing
            // A failed renewal is tried again at the next tick, until the Lease would have expired.
            if (clock.now() >= renewedAt + durationMs) {
              lose(
                `the Kubernetes ${leaseName} could not be renewed for longer than its duration (${error instanceof Error ? error.message : String(error)}); another run may take it over, so this run stopped: run ftr resume`,
              );
            }
          }
        }
      })();

      const journal = openJournal();
      let released = false;
      const session: StateSession = {
        journal,
        lost: lostController.signal,
        async readJournal() {
          await journal.flush();
          return readRecords();
        },
        async release() {
          if (released) return;
          released = true;
          let failure: Error | undefined;
          try {
            await journal.flush();
          } catch (error) {
            failure = error instanceof Error ? error : new Error(String(error));
          }
          stopped.abort();
          await renewing;
          held.delete(id);
          // Clear holderIdentity, only while it is still ours: read, and PUT with that resourceVersion;
          // a 409 (a renewal abandoned mid-flight landed, or a takeover) means read again.
          for (let attempt = 0; attempt < 3; attempt++) {
            try {
              const fresh = await readLease();
              if (fresh?.spec?.holderIdentity !== me) break; // not ours any more
              const { holderIdentity: _mine, ...spec } = fresh.spec;
              await replaceLease({ ...fresh, spec: { ...spec, renewTime: micro(clock.now()) } });
              break;
            } catch (error) {
              // Anything else (the cluster unreachable): the Lease expires by itself.
              if (!hasStatus(error, 409)) break;
            }
          }
          if (failure !== undefined) throw failure;
        },
      };
      return session;
    },

    readJournal: readRecords,

    async holder(): Promise<LockHolder | undefined> {
      const lease = await readLease();
      if (!lease) return undefined;
      const verdict = judge(lease, clock.now());
      return verdict.kind === "live" ? { message: verdict.error.message } : undefined;
    },
  };
}

/** `setTimeout` that does not keep the process alive; rejects when `signal` aborts. */
function unrefSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(abortError(signal));
      return;
    }
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    timer.unref();
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortError(signal));
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * `text` (journal lines) as written back: unchanged up to `limit` bytes; past it, lines that are not
 * records go, then the oldest finished runs, one at a time, until it is at most `target` bytes.
 * Never dropped: an unfinished run, the latest finished run of each environment, and the run a kept
 * rollback run undoes.
 */
export function compactJournal(text: string, limit = COMPACT_AT_BYTES, target = COMPACT_TO_BYTES): string {
  if (Buffer.byteLength(text, "utf8") <= limit) return text;
  const keyOf = (runId: string, environment: string): string => `${runId}\u0000${environment}`;
  const entries = text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => ({ line, record: parseJournal(line)[0] }));
  const records = entries.flatMap((e) => (e.record ? [e.record] : []));
  const runs = runStates(records);
  const keep = new Set<string>();
  const latestFinished = new Map<string, string>();
  for (const record of records) {
    if (record.step === "finish")
      latestFinished.set(record.environment, keyOf(record.runId, record.environment));
  }
  for (const run of runs) if (!run.finished) keep.add(keyOf(run.runId, run.environment));
  for (const key of latestFinished.values()) keep.add(key);
  // A kept rollback run needs the run it undoes (and so on, for a rollback of a rollback).
  for (let changed = true; changed;) {
    changed = false;
    for (const run of runs) {
      const key = keyOf(run.runId, run.environment);
      if (!keep.has(key) || run.rollbackOf === undefined) continue;
      const undone = keyOf(run.rollbackOf, run.environment);
      if (!keep.has(undone)) {
        keep.add(undone);
        changed = true;
      }
    }
  }
  const size = (line: string): number => Buffer.byteLength(line, "utf8") + 1;
  const dropped = new Set<string>();
  let total = entries.filter((e) => e.record).reduce((sum, e) => sum + size(e.line), 0);
  const bytesOf = new Map<string, number>();
  for (const e of entries) {
    if (!e.record) continue;
    const key = keyOf(e.record.runId, e.record.environment);
    bytesOf.set(key, (bytesOf.get(key) ?? 0) + size(e.line));
  }
  for (const run of runs) {
    if (total <= target) break;
    const key = keyOf(run.runId, run.environment);
    if (keep.has(key)) continue;
    dropped.add(key);
    total -= bytesOf.get(key) ?? 0;
  }
  return entries
    .filter((e) => e.record && !dropped.has(keyOf(e.record.runId, e.record.environment)))
    .map((e) => `${e.line}\n`)
    .join("");
}
