/**
 * The bookkeeping of one environment's run: every step is journaled before and after it runs,
 * announced to the live output, logged, and kept as a report for the result. Also the one line of
 * advice a failure gets.
 */
import { FastlyApiError, FastlyForbiddenError, FORBIDDEN_ADVICE } from "../fastly/errors.ts";
import { abortError } from "../adapters/support/poll.ts";
import type { Logger } from "../util/log.ts";
import { redact } from "../util/redact.ts";
import type { Journal, Outcome, Step, StepStatus } from "./journal.ts";

/** A progress event, for live output. */
export interface RotationEvent {
  readonly environment: string;
  readonly step: Step;
  readonly status: "begin" | "done" | "failed" | "skipped";
  readonly detail?: string;
  readonly at: string;
}

/** One step as reported in the result. */
export interface StepReport {
  readonly step: Step;
  readonly ok: boolean;
  readonly startedAt: string;
  readonly endedAt: string;
  readonly detail?: string;
}

/** How one environment ended. */
export interface EnvironmentResult {
  readonly environment: string;
  /**
   * `skipped`: not due, declined, or after a failure elsewhere. `interrupted`: stopped by a signal,
   * unfinished in the journal (`ftr resume` continues it).
   */
  readonly outcome: Outcome | "skipped" | "nothing-to-do" | "interrupted";
  readonly runId: string;
  readonly newTokenId?: string;
  /** When the new token expires (ISO 8601), when this run minted it. */
  readonly newTokenExpiresAt?: string;
  readonly deployedTokenId?: string;
  readonly revoked: readonly string[];
  readonly steps: readonly StepReport[];
  /** One line: what went wrong. */
  readonly error?: string;
  /** One line: what to do now. */
  readonly advice?: string;
  /** What the run found that contradicts what it expected, for a person to look at (one line each). */
  readonly warnings?: readonly string[];
  /** Fastly requests this environment's run made (retries included); non-GETs count against the rate limit. */
  readonly requests?: { readonly total: number; readonly nonGet: number };
}

/** Journal fields a record may carry besides step, status and detail. */
export interface RecordFields {
  readonly outcome?: Outcome;
  readonly newTokenId?: string;
  readonly tokenName?: string;
  readonly oldTokenIds?: readonly string[];
  readonly deployedTokenId?: string;
  readonly rollbackOf?: string;
}

/** What a step's body returns: its value, a line for the report, and fields for its `done` record. */
export interface StepOutcome<T> {
  readonly value: T;
  readonly detail: string;
  readonly record?: { readonly newTokenId?: string };
}

/** Where a `StepLog` writes. */
export interface StepLogOptions {
  readonly journal: Journal;
  readonly runId: string;
  readonly environment: string;
  readonly log: Logger;
  readonly now: () => Date;
  readonly onEvent?: ((event: RotationEvent) => void) | undefined;
  /** The run's new token, added to every record once it is known. */
  readonly newTokenId: () => string | undefined;
  /** Once aborted, no step begins: `run` rejects with the abort reason before journaling. */
  readonly signal?: AbortSignal | undefined;
}

/** Journals, announces and reports the steps of one environment's run. */
export class StepLog {
  private readonly done: StepReport[] = [];

  constructor(private readonly o: StepLogOptions) {}

  /** The steps run so far, in order. */
  get reports(): readonly StepReport[] {
    return this.done;
  }

  /** Append one journal record, announce it and log it. */
  record(step: Step, status: StepStatus, detail?: string, fields: RecordFields = {}): void {
    const { environment } = this.o;
    const newTokenId = this.o.newTokenId();
    const rec = this.o.journal.append({
      runId: this.o.runId,
      environment,
      step,
      status,
      ...(newTokenId && !fields.newTokenId ? { newTokenId } : {}),
      ...fields,
      ...(detail === undefined ? {} : { detail }),
    });
    this.o.onEvent?.({
      environment,
      step,
      status,
      at: rec.at,
      ...(rec.detail ? { detail: rec.detail } : {}),
    });
    // Progress reaches people through `onEvent`; the log keeps the same facts for debugging.
    this.o.log[status === "failed" ? "warn" : "debug"](`${environment}: ${step} ${status}`, {
      environment,
      step,
      ...(rec.detail ? { detail: rec.detail } : {}),
    });
  }

  /** Journal `begin`, run `fn`, journal `done` (or `failed`), and keep a report of it. */
  async run<T>(
    step: Step,
    fn: () => Promise<StepOutcome<T>>,
    beginFields: Pick<RecordFields, "tokenName" | "oldTokenIds" | "deployedTokenId"> = {},
  ): Promise<T> {
    // A stopped run starts no new side effect.
    if (this.o.signal?.aborted) throw abortError(this.o.signal);
    const startedAt = this.o.now().toISOString();
    this.record(step, "begin", undefined, beginFields);
    // The `begin` (and every record before it) is durable before the side effect starts.
    await this.o.journal.flush();
    try {
      const { value, detail, record } = await fn();
      this.record(step, "done", detail, record ?? {});
      this.done.push({
        step,
        ok: true,
        startedAt,
        endedAt: this.o.now().toISOString(),
        detail: redact(detail),
      });
      return value;
    } catch (error) {
      // A step stopped by a signal says so first: `ftr resume` treats it as not done.
      const signal = this.o.signal;
      const stopped = signal?.aborted && signal.reason !== error ? describe(signal.reason) : undefined;
      const detail = stopped ? `${stopped}: ${describe(error)}` : describe(error);
      this.record(step, "failed", detail);
      this.done.push({ step, ok: false, startedAt, endedAt: this.o.now().toISOString(), detail });
      throw error;
    }
  }
}

/** Thrown inside an environment run to stop it with a message and advice. */
export class StepFailure extends Error {
  override readonly name = "StepFailure";
  /** True when the run must stay unfinished in the journal, so that `resume` can settle it. */
  readonly resumable: boolean;
  constructor(
    message: string,
    readonly advice: string,
    options: { resumable?: boolean } = {},
  ) {
    super(message);
    this.resumable = options.resumable ?? false;
  }
}

/** One line for any error, secrets removed. */
export function describe(error: unknown): string {
  return redact(error instanceof Error ? error.message : String(error));
}

/** What to do after `error`; `fallback` when nothing more specific is known. */
export function adviceFor(error: unknown, fallback: string): string {
  if (error instanceof StepFailure) return error.advice;
  if (error instanceof FastlyForbiddenError) return FORBIDDEN_ADVICE[error.reason];
  if (error instanceof FastlyApiError && (error.status === 0 || error.status >= 500)) {
    return "Fastly or the network failed; run again later";
  }
  return fallback;
}
