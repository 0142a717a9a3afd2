import type { FastlyClient } from "../fastly/types.ts";
import type { Logger } from "../util/log.ts";

/**
 * Where a consumer's token value lives. A rotation writes the new value as a pending version
 * (`stage`), makes it current (`promote`, keeping the previous value), and can put the previous value
 * back (`restorePrevious`). Every method is idempotent for a given run id, so `resume` can repeat the
 * step it was in when the process died.
 */
export interface SecretStore {
  /** Human description for plans and reports, e.g. `file secrets/integration.json#fastly-api-token`. */
  readonly description: string;
  /** False when the store cannot hold a pending version durably (a crash before promote loses it). */
  readonly durableStaging: boolean;
  /**
   * False when the store's value cannot be read back (a GitHub Actions secret, a sensitive Terraform
   * variable): `read` and `readPrevious` return undefined and `restorePrevious` cannot put the old
   * value back. The plan says so before anything runs; a failure after the write leaves the new
   * token deployed, the old one alive and the run unfinished for a person. Absent means true.
   */
  readonly readBack?: boolean;
  /** The current value, or undefined when the store holds none (or cannot be read). */
  read(): Promise<string | undefined>;
  /**
   * Problems that would make a write fail or harm the consumer (an owner ftr cannot keep, a planted
   * link), found without writing; one line each, empty when none. Called when the plan is made, so
   * `rotate` refuses before anything is written. Optional: stores without local checks omit it.
   */
  preflight?(): Promise<readonly string[]>;
  /** Write `value` as the pending version of run `runId`; the current value is untouched. */
  stage(value: string, runId: string): Promise<void>;
  /** The pending value staged by `runId`, if it is still there. */
  readStaged(runId: string): Promise<string | undefined>;
  /**
   * Make run `runId`'s pending version current; the old current becomes the previous version. A
   * failure known to have changed nothing (a refused write) is a `NothingWrittenError`
   * (`support/store.ts`).
   */
  promote(runId: string): Promise<void>;
  /** The previous version (the value before the last promote), if kept. */
  readPrevious(): Promise<string | undefined>;
  /** Put the previous version back as current (the rollback of `promote`). */
  restorePrevious(runId: string): Promise<void>;
  /** Drop run `runId`'s pending version, if any. */
  discardStaged(runId: string): Promise<void>;
}

/** What a reloader or verifier is told about the run. */
export interface AdapterContext {
  readonly environment: string;
  readonly runId: string;
  readonly log: Logger;
  /** Aborted when the run is interrupted. */
  readonly signal?: AbortSignal;
  /** Told what the adapter waits for while it polls (`rollout 1/2 replicas updated`), for live progress. */
  readonly onWaiting?: (reason: string) => void;
}

/** Makes the consumer pick up the current secret (sync an ExternalSecret, restart a process...). */
export interface Reloader {
  readonly description: string;
  /**
   * Called just before the secret changes (promote, restore), for a reloader that waits for a
   * reaction it does not cause (a controller restarting the consumer when the Secret changes) and
   * must tell it from what came before. Never throws: what it cannot note, `run` does without.
   */
  prepare?(ctx: AdapterContext): Promise<void>;
  /** Resolves once the effect has happened (command exited 0, rollout complete); throws otherwise. */
  run(ctx: AdapterContext): Promise<void>;
}

/** What a verifier checks: that `tokenId` is the token in use, since `since`. */
export interface VerifyContext extends AdapterContext {
  /** The token that should now be in use (the new one, or the old one during a rollback). */
  readonly tokenId: string;
  /** Tokens that should no longer be in use. */
  readonly otherTokenIds: readonly string[];
  /** When the consumer was switched over; uses before this do not count. */
  readonly since: Date;
  /** A client with the superuser's credential, able to read automation tokens. */
  readonly client: FastlyClient;
  /** The User-Agent this tool sends, so its own requests are not mistaken for the consumer's. */
  readonly ownUserAgent: string;
}

/** The outcome of one verifier. */
export interface VerifyResult {
  readonly ok: boolean;
  /** One line: what was seen, or why it failed. */
  readonly detail: string;
}

/** Proves the consumer uses the expected token and is healthy. */
export interface Verifier {
  readonly description: string;
  /** Polls until it passes or its timeout ends; never throws for a failed check, returns `ok: false`. */
  verify(ctx: VerifyContext): Promise<VerifyResult>;
}

/** What a notification is about. */
export type NotificationEventType =
  | "run-started"
  | "environment-rotated"
  | "environment-failed"
  | "environment-rolled-back"
  | "run-finished"
  | "token-expiring"
  /** `serve` found a run left unfinished in the journal (sent once per run). */
  | "run-unfinished"
  /** An unattended `rotate --due` left a due environment alone because it needs approval. */
  | "approval-required";

/**
 * One notification, as every notifier receives it and the `webhook` notifier sends it (JSON). It
 * carries token ids, never a token value. Fields that do not apply to an event are left out.
 */
export interface NotificationEvent {
  /** The payload's format; changes only in a compatible way while it stays `1`. */
  readonly version: 1;
  readonly event: NotificationEventType;
  /** When it happened, ISO 8601. */
  readonly at: string;
  /** The command that sent it: `rotate`, `resume`, `rollback` or `serve`. */
  readonly source: "rotate" | "resume" | "rollback" | "serve";
  /** One line for people (a chat message). */
  readonly summary: string;
  /** The rotation run (absent for `token-expiring`). */
  readonly runId?: string;
  /** The environment (absent for `run-started` and `run-finished`). */
  readonly environment?: string;
  /** `run-started`: the environments the run will rotate, in order. */
  readonly environments?: readonly string[];
  /** The environment's outcome (`rotated`, `kept-old`, `rolled-back`, `failed`), or the run's (`ok`, `failed`). */
  readonly outcome?: string;
  /** The token the consumer held before the run. */
  readonly previousTokenId?: string;
  /** The token this run minted. */
  readonly newTokenId?: string;
  /** When the new token expires, ISO 8601. */
  readonly newTokenExpiresAt?: string;
  /** Tokens this run revoked. */
  readonly revokedTokenIds?: readonly string[];
  /** `token-expiring`: the token, its expiry and the whole days left. */
  readonly tokenId?: string;
  readonly expiresAt?: string;
  readonly daysLeft?: number;
  /** `run-unfinished`: the last step journaled and how it stood (`begin`, `done`, `failed`). */
  readonly step?: string;
  readonly stepStatus?: string;
  /** What went wrong, one line, secrets removed. */
  readonly error?: string;
  /** What to do now, e.g. the command to run. */
  readonly nextStep?: string;
  /** `run-finished`: each environment's outcome. */
  readonly results?: readonly {
    readonly environment: string;
    readonly outcome: string;
    readonly newTokenId?: string;
    readonly error?: string;
  }[];
}

/** Tells people about a rotation (a webhook, a chat channel). */
export interface Notifier {
  /** For warnings: names the kind and host, never a secret URL or header. */
  readonly description: string;
  /** Deliver `event`; rejects when it was not accepted (the caller reports it, nothing more). */
  send(event: NotificationEvent): Promise<void>;
}
