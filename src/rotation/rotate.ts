/**
 * Executes a plan, environment by environment in config order: mint, test, stage, promote, reload,
 * verify, revoke, prove. Every transition is journaled before its side effect. A failure in test,
 * stage, promote, reload or verify rolls the environment back and stops the run. The same step
 * functions drive `resume`, which continues or rolls back from the last durable step.
 */
import { randomUUID } from "node:crypto";
import type { Reloader, SecretStore, Verifier } from "../adapters/types.ts";
import { createReloader, createSecretStore, createVerifier, type AdapterDeps } from "../adapters/registry.ts";
import { abortError, pollUntil, systemClock, type Clock, type Probe } from "../adapters/support/poll.ts";
import { nothingWritten } from "../adapters/support/store.ts";
import type { Config, EnvironmentConfig } from "../config/types.ts";
import { createFastlyClient } from "../fastly/client.ts";
import {
  FastlyAuthError,
  FastlyForbiddenError,
  FastlyNotFoundError,
  FastlyUnknownOutcomeError,
} from "../fastly/errors.ts";
import type { CreatedAutomationToken, FastlyClient, TokenSelf } from "../fastly/types.ts";
import type { EnvironmentPlan, Plan } from "../plan/plan.ts";
import { noNotifications, type NotificationSink } from "../notify/dispatch.ts";
import {
  approvalRequiredEvent,
  environmentEvent,
  runFinishedEvent,
  runStartedEvent,
  type EventSource,
} from "../notify/events.ts";
import { silentLogger, type Logger } from "../util/log.ts";
import { interruptionOf } from "../util/interrupt.ts";
import { redact, registerSecret } from "../util/redact.ts";
import { formatTime } from "../util/time.ts";
import { USER_AGENT } from "../version.ts";
import type { Journal, Outcome, Step } from "./journal.ts";
import { stateBackend, type StateSession } from "./state/index.ts";
import {
  adviceFor,
  describe,
  StepFailure,
  StepLog,
  type EnvironmentResult,
  type RotationEvent,
} from "./steps.ts";

/** The result of `rotate` / `resume` / `rollback`. */
export interface RotationResult {
  readonly runId: string;
  /** `ok` when no environment failed or was rolled back. */
  readonly ok: boolean;
  readonly startedAt: string;
  readonly endedAt: string;
  readonly environments: readonly EnvironmentResult[];
}

/** The adapters of one environment. */
export interface EnvironmentAdapters {
  readonly store: SecretStore;
  readonly reloaders: readonly Reloader[];
  readonly verifiers: readonly Verifier[];
}

/** What every run needs. */
export interface RunContext {
  readonly config: Config;
  /** The superuser's client. */
  readonly client: FastlyClient;
  /** The sudo password, asked for only when a token is about to be minted. */
  readonly getPassword: () => Promise<string>;
  /**
   * Fastly refused the password: another one (a person at a terminal asked again), or undefined
   * when there is nobody to ask or the tries are used up; the refusal then stops the run.
   */
  readonly passwordAgain?: () => Promise<string | undefined>;
  readonly log?: Logger;
  readonly onEvent?: (event: RotationEvent) => void;
  /** What the running step of `environment` waits for now (an adapter's poll reason), for live progress. */
  readonly onWaiting?: (environment: string, reason: string) => void;
  /** Time for the journal and reports; default read from `clock`. */
  readonly now?: () => Date;
  /** Time and waits (the product's pauses, the adapters' polling); default `systemClock`. */
  readonly clock?: Clock;
  /** Adapters per environment; default built from the config through the registry. */
  readonly adapters?: (env: EnvironmentConfig) => Promise<EnvironmentAdapters>;
  /** Injected fetch for clients made with token values (tests). */
  readonly fetch?: typeof fetch;
  /** Aborted to interrupt the run: every wait ends early. */
  readonly signal?: AbortSignal;
  /** How long to wait for Fastly to refuse a revoked token (default 30 s). */
  readonly proveTimeoutMs?: number;
  /**
   * Told when the run starts, as each environment ends, and when the run ends; the run waits for
   * its deliveries only before it returns. Default: none.
   */
  readonly notify?: NotificationSink;
  /**
   * The lock and journal, already held: the caller took the lock before it read the journal and
   * made the plan, so the plan is made from what is true while nobody else can change it. Without
   * it, the run takes the lock of the config's state backend itself and releases it at the end.
   */
  readonly state?: StateSession;
}

/** Options of `rotate`. */
export interface RotateOptions extends RunContext {
  readonly plan: Plan;
  /** Asked before an environment whose config says `approval: required`; false skips it. */
  readonly approve?: (environment: string) => Promise<boolean>;
  /** Skip the revoke and prove steps: the old token stays valid, `rollback` can undo the run. */
  readonly keepOld?: boolean;
  readonly runId?: string;
  /**
   * Nobody is there to approve (`rotate --due` without a terminal): environments with `approval:
   * required` are never rotated; each is journaled, reported and notified as awaiting approval.
   */
  readonly unattended?: boolean;
  /**
   * Asked before each environment starts: a reason not to start it (outside the maintenance
   * window), or undefined. An environment already started always finishes.
   */
  readonly mayStart?: (environment: string) => string | undefined;
}

/** Builds the adapters of an environment from its config, through the registry (loading them). */
export async function adaptersFromConfig(
  env: EnvironmentConfig,
  deps: AdapterDeps = {},
): Promise<EnvironmentAdapters> {
  return {
    store: await createSecretStore(env.secret, deps),
    reloaders: await Promise.all(env.reload.map((r) => createReloader(r, deps))),
    verifiers: await Promise.all(env.verify.map((v) => createVerifier(v, deps))),
  };
}

/** The adapters of `env`: injected ones, or the registry's. */
export function adaptersFor(ctx: RunContext, env: EnvironmentConfig): Promise<EnvironmentAdapters> {
  return (
    ctx.adapters ??
    ((e) =>
      adaptersFromConfig(e, {
        clock: runClock(ctx).clock,
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      }))
  )(env);
}

/**
 * Runs `fn` holding the run's state: `ctx.state` when the caller holds it already, else the lock of
 * the config's state backend, taken here and released (journal flushed) at the end. The context
 * handed to `fn` carries the session, and its signal also aborts when the lock is lost.
 */
export async function withState<T>(
  ctx: RunContext,
  runId: string | undefined,
  fn: (ctx: RunContext, session: StateSession) => Promise<T>,
): Promise<T> {
  const owned = ctx.state === undefined;
  const session =
    ctx.state ??
    (await (
      await stateBackend(ctx.config, { clock: runClock(ctx).clock })
    ).acquire({
      // Stryker disable next-line ConditionalExpression: both backends read a runId of undefined as none
      ...(runId === undefined ? {} : { runId }),
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    }));
  // The run stops on the caller's signal and when the lock is lost (`lost` is always there).
  const signal = AbortSignal.any([ctx.signal, session.lost].filter((s): s is AbortSignal => s !== undefined));
  try {
    return await fn({ ...ctx, state: session, signal }, session);
  } finally {
    if (owned) await session.release();
    else await session.journal.flush();
  }
}

/** Rotate every environment the plan marks, in config order. */
export async function rotate(options: RotateOptions): Promise<RotationResult> {
  const runId = options.runId ?? newRunId();
  return withState(options, runId, (ctx, session) =>
    rotateHeld({ ...options, ...ctx, runId }, session.journal),
  );
}

async function rotateHeld(
  options: RotateOptions & { runId: string },
  journal: Journal,
): Promise<RotationResult> {
  const { runId } = options;
  const { now } = runClock(options);
  const startedAt = now().toISOString();
  const notices = runNotices(options, "rotate", runId);
  const results: EnvironmentResult[] = [];
  try {
    // Every approval first, before the password is asked or sudo obtained: declining everything
    // sends nothing that writes, and nobody is asked twice in a run across environments.
    const declined = new Set<string>();
    const awaiting = new Set<string>();
    for (const envPlan of options.plan.environments) {
      const env = options.config.environments.find((e) => e.name === envPlan.environment);
      if (!env || !envPlan.rotate || env.approval !== "required") continue;
      if (options.unattended) {
        awaiting.add(env.name);
        continue;
      }
      if (!options.approve) continue;
      throwIfStopped(options.signal);
      if (!(await options.approve(env.name))) declined.add(env.name);
    }
    const sudo = sudoKeeper(options);
    const due = options.plan.environments
      .filter((e) => e.rotate && !declined.has(e.environment) && !awaiting.has(e.environment))
      .map((e) => e.environment);
    // Sudo up front: a wrong password stops the run before anything is written.
    if (due.length > 0) {
      throwIfStopped(options.signal);
      await sudo.ensure();
      notices.started(due);
    }
    let stopped = false;
    for (const envPlan of options.plan.environments) {
      const env = options.config.environments.find((e) => e.name === envPlan.environment);
      if (!env) continue;
      // Stryker disable next-line OptionalChaining: withState always gives a signal (the lock's `lost`)
      if (options.signal?.aborted) {
        results.push(skipped(envPlan, runId, `not started: ${describe(options.signal.reason)}`));
        continue;
      }
      if (stopped) {
        results.push(skipped(envPlan, runId, "not started: an earlier environment failed"));
        continue;
      }
      if (!envPlan.rotate) {
        results.push({
          ...skipped(envPlan, runId, envPlan.errors.join("; ") || envPlan.reasons.join("; ")),
          outcome: envPlan.decision === "error" ? "failed" : "nothing-to-do",
          ...(envPlan.errors.length
            ? { error: envPlan.errors.join("; "), advice: "Fix the config or the account, then run again" }
            : {}),
        });
        if (envPlan.decision === "error") stopped = true;
        continue;
      }
      if (declined.has(env.name)) {
        results.push(skipped(envPlan, runId, "declined at the approval prompt"));
        continue;
      }
      if (awaiting.has(env.name)) {
        results.push(awaitApproval(options, journal, envPlan, runId));
        continue;
      }
      const closed = options.mayStart?.(env.name);
      if (closed !== undefined) {
        results.push(skipped(envPlan, runId, `not started: ${closed}`));
        continue;
      }
      const runner = new EnvironmentRun({
        ctx: options,
        env,
        runId,
        journal,
        sudo,
        adapters: await adaptersFor(options, env),
        tokens: {
          // Stryker disable next-line ConditionalExpression: only a valid deployed state has a tokenId
          ...(envPlan.deployed.status === "valid" ? { deployedTokenId: envPlan.deployed.tokenId } : {}),
          oldTokenIds: envPlan.revoke,
          tokenName: env.token.name,
        },
      });
      const result = await runner.rotate(envPlan, options.keepOld ?? false);
      results.push(result);
      notices.environment(result);
      if (result.outcome !== "rotated" && result.outcome !== "kept-old") stopped = true;
    }
  } catch (error) {
    await notices.flush();
    throw error;
  }
  await journal.flush();
  return notices.finished(finishResult(runId, startedAt, now, results));
}

/** A run's notifications: started, one per environment, finished (then delivered before returning). */
export interface RunNotices {
  started(environments: readonly string[]): void;
  environment(result: EnvironmentResult): void;
  /** Send `run-finished` (when the run started), wait for every delivery, return `result`. */
  finished<R extends RotationResult>(result: R): Promise<R>;
  flush(): Promise<boolean>;
}

/** The notifications of one run of `source`, sent through `ctx.notify`. */
export function runNotices(ctx: RunContext, source: EventSource, runId: string): RunNotices {
  const sink = ctx.notify ?? noNotifications;
  const { now } = runClock(ctx);
  let started = false;
  return {
    started(environments) {
      started = true;
      void sink.emit(runStartedEvent(source, runId, now(), environments));
    },
    environment(result) {
      const event = environmentEvent(result, { source, at: now(), configPath: ctx.config.configPath });
      if (event) void sink.emit(event);
    },
    async finished(result) {
      if (started) void sink.emit(runFinishedEvent(source, result, now()));
      await sink.flush();
      return result;
    },
    flush: () => sink.flush(),
  };
}

/** Refuse to start anything once the run is stopped. */
function throwIfStopped(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError(signal);
}

/** Builds the `RotationResult` of a run from its environments' results. */
export function finishResult(
  runId: string,
  startedAt: string,
  now: () => Date,
  environments: EnvironmentResult[],
): RotationResult {
  return {
    runId,
    ok: environments.every(
      (e) =>
        e.outcome === "rotated" ||
        e.outcome === "kept-old" ||
        e.outcome === "nothing-to-do" ||
        e.outcome === "skipped",
    ),
    startedAt,
    endedAt: now().toISOString(),
    environments,
  };
}

/**
 * Leave a due environment that needs approval to a person, aloud: journaled (so `serve` exports it),
 * notified, and reported as skipped.
 */
function awaitApproval(
  options: RotateOptions,
  journal: Journal,
  envPlan: EnvironmentPlan,
  runId: string,
): EnvironmentResult {
  const { now } = runClock(options);
  const why = envPlan.reasons.join("; ");
  const detail = `needs approval (approval: required): an unattended run does not rotate it; rotate it with \`ftr rotate --config ${options.config.configPath ?? "<config file>"} --env ${envPlan.environment}\``;
  const base = { runId, environment: envPlan.environment } as const;
  journal.append({ ...base, step: "start", status: "done", detail: `due: ${why}` });
  journal.append({ ...base, step: "finish", status: "done", outcome: "awaiting-approval", detail });
  void (options.notify ?? noNotifications).emit(
    approvalRequiredEvent(runId, envPlan.environment, why, now(), options.config.configPath),
  );
  options.log?.warn(`${envPlan.environment}: ${detail}`);
  return skipped(envPlan, runId, detail);
}

function skipped(envPlan: EnvironmentPlan, runId: string, detail: string): EnvironmentResult {
  return {
    environment: envPlan.environment,
    outcome: "skipped",
    runId,
    revoked: [],
    steps: [],
    ...(envPlan.deployed.status === "valid" ? { deployedTokenId: envPlan.deployed.tokenId } : {}),
    error: detail,
  };
}

/** A run id: sortable by time, unique. */
export function newRunId(now = new Date()): string {
  return `${now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}Z$/, "Z")}-${randomUUID().slice(0, 8)}`;
}

/** Obtains sudo when needed and again when it is about to lapse (it lasts five minutes). */
export interface SudoKeeper {
  ensure(): Promise<void>;
  /** Forget the session (after Fastly said sudo is required). */
  invalidate(): void;
}

function sudoKeeper(ctx: RunContext): SudoKeeper {
  const { now } = runClock(ctx);
  let expiresAt: Date | undefined;
  return {
    async ensure() {
      // A margin covers the create request itself and clock skew between here and Fastly.
      if (expiresAt && expiresAt.getTime() - now().getTime() > 30_000) return;
      let password = await ctx.getPassword();
      for (;;) {
        try {
          expiresAt = (await ctx.client.sudo({ password })).expiresAt;
          return;
        } catch (error) {
          const wrong = error instanceof FastlyForbiddenError && error.reason === "wrong-password";
          const again = wrong && ctx.passwordAgain ? await ctx.passwordAgain() : undefined;
          if (again === undefined) throw error;
          password = again;
        }
      }
    },
    invalidate() {
      expiresAt = undefined;
    },
  };
}

/** What an environment run knows about its tokens when it starts (from the plan, or the journal). */
export interface RunTokens {
  /** The token this run minted, once minted. */
  readonly newTokenId?: string | undefined;
  /** The token deployed before this run, which a rollback goes back to. */
  readonly deployedTokenId?: string | undefined;
  /** Tokens to revoke once the new one is verified. */
  readonly oldTokenIds: readonly string[];
  /** The name the new token is (or was) minted with. */
  readonly tokenName: string;
}

/** Where an environment run writes and what it runs with. */
export interface EnvironmentRunInit {
  readonly ctx: RunContext;
  readonly env: EnvironmentConfig;
  readonly runId: string;
  readonly journal: Journal;
  readonly sudo: SudoKeeper;
  /** The environment's store, reloaders and verifiers (see `adaptersFor`). */
  readonly adapters: EnvironmentAdapters;
  readonly tokens: RunTokens;
}

/** The `ftr resume` command line for this config, for advice. */
export function resumeHint(config: Config): string {
  return `ftr resume --config ${config.configPath ?? "<config file>"}`;
}

/**
 * One environment's run: the forward steps, the rollback, and the resume entry points. State that
 * a crash would lose (the new token's value) lives only in memory and in the secret store.
 */
export class EnvironmentRun {
  readonly runId: string;
  private readonly ctx: RunContext;
  private readonly env: EnvironmentConfig;
  private readonly sudo: SudoKeeper;
  private readonly adapters: EnvironmentAdapters;
  private readonly steps: StepLog;
  private readonly revoked: string[] = [];
  /** What prove found that contradicts the journal (reported, never taken as proof). */
  private readonly inconsistencies: string[] = [];
  // Set by startRollbackOf: this run is an `ftr rollback`, asked for, not a failure undone.
  private requestedRollback = false;
  private readonly log: Logger;
  private readonly now: () => Date;
  private readonly clock: Clock;
  private readonly baseRequests: { total: number; nonGet: number };
  /** Requests of the clients made with token values (test, prove). */
  private valueClientRequests = 0;
  private newTokenId: string | undefined;
  private newTokenExpiresAt: string | undefined;
  private readonly deployedTokenId: string | undefined;
  private readonly oldTokenIds: readonly string[];
  private readonly tokenName: string;

  constructor(init: EnvironmentRunInit) {
    const { ctx, env, tokens } = init;
    this.ctx = ctx;
    this.env = env;
    this.runId = init.runId;
    this.sudo = init.sudo;
    this.newTokenId = tokens.newTokenId;
    this.deployedTokenId = tokens.deployedTokenId;
    this.oldTokenIds = [...tokens.oldTokenIds];
    this.tokenName = tokens.tokenName;
    ({ clock: this.clock, now: this.now } = runClock(ctx));
    this.adapters = init.adapters;
    this.log = ctx.log ?? silentLogger;
    this.baseRequests = { total: ctx.client.requestCount, nonGet: ctx.client.writeRequestCount };
    this.steps = new StepLog({
      journal: init.journal,
      runId: init.runId,
      environment: env.name,
      log: this.log,
      now: this.now,
      onEvent: ctx.onEvent,
      newTokenId: () => this.newTokenId,
      signal: ctx.signal,
    });
  }

  /** This environment's secret store. */
  get store(): SecretStore {
    return this.adapters.store;
  }

  /** The whole protocol from the start. */
  async rotate(plan: EnvironmentPlan, keepOld: boolean): Promise<EnvironmentResult> {
    this.steps.record("start", "done", `decision ${plan.decision}: ${plan.reasons.join("; ")}`);
    let created: CreatedAutomationToken;
    try {
      created = await this.mint(plan);
    } catch (error) {
      return this.stoppedBySignal() ?? this.failed(error, "mint");
    }
    let promoted = false;
    try {
      await this.test(created, plan);
      await this.stage(created.accessToken);
      // From here a rollback restores: a promote that fails may have switched part of the way
      // (each store's restore knows when nothing was switched).
      promoted = true;
      await this.promote();
      await this.reloadAndVerify();
    } catch (error) {
      // After a signal nothing is rolled back on our own (rollback and leaveForPerson return the
      // interrupted result first): the user may want to resume instead.
      // A write the store refused changed nothing: there is nothing to restore.
      if (promoted && nothingWritten(error)) return this.rollback(error, false);
      if (promoted && this.store.readBack === false) return this.leaveForPerson(error);
      return this.rollback(error, promoted);
    }
    if (keepOld) return this.finish("kept-old");
    return this.revokeAndProve();
  }

  /** Journal the start of an `ftr rollback` run that undoes run `rollbackOf`. */
  startRollbackOf(rollbackOf: string): void {
    this.requestedRollback = true;
    this.steps.record("start", "done", `rollback of run ${rollbackOf}`, {
      ...(this.deployedTokenId ? { deployedTokenId: this.deployedTokenId } : {}),
      rollbackOf,
    });
  }

  /**
   * End a run that stopped before its mint was answered. When the mint began at `mintBeganAt`,
   * the token may exist without its value having been kept: find it and revoke it.
   */
  async abandonMint(mintBeganAt: Date | undefined): Promise<EnvironmentResult> {
    if (mintBeganAt === undefined) {
      this.steps.record("finish", "done", "interrupted before minting", { outcome: "rolled-back" });
      return this.result(
        "rolled-back",
        "the run was interrupted before minting",
        "Nothing was deployed; run the rotation again",
      );
    }
    const orphans = await findMintedSince(this.ctx.client, this.tokenName, mintBeganAt, this.oldTokenIds);
    for (const id of orphans) await revokeQuietly(this.ctx.client, id);
    this.steps.record(
      "finish",
      "done",
      `interrupted while minting; revoked ${orphans.join(", ") || "nothing"}`,
      { outcome: "rolled-back" },
    );
    return this.result(
      "rolled-back",
      "the run was interrupted while minting",
      "Nothing was deployed; run the rotation again",
    );
  }

  // ---- forward steps ------------------------------------------------------------------------

  private async mint(plan: EnvironmentPlan): Promise<CreatedAutomationToken> {
    const input = {
      name: this.tokenName,
      role: this.env.token.role,
      ...(plan.create.roles ? { roles: plan.create.roles } : {}),
      ...(plan.create.workspaces ? { workspaces: plan.create.workspaces } : {}),
      scope: this.env.token.scope,
      services: plan.create.services,
      // As planned, on the Fastly API's clock: a local clock that is off would mint a token expiring
      // off by as much (and the test step checks the expiry against the plan's).
      expiresAt: new Date(plan.create.expiresAt),
      tlsAccess: this.env.token.tlsAccess,
    };
    return this.steps.run(
      "mint",
      async () => {
        await this.sudo.ensure();
        const began = this.now();
        for (let attempt = 0; ; attempt++) {
          try {
            const created = await this.ctx.client.createAutomationToken(input);
            registerSecret(created.accessToken);
            this.newTokenId = created.id;
            this.newTokenExpiresAt = created.expiresAt?.toISOString();
            return { value: created, detail: `created ${created.id}`, record: { newTokenId: created.id } };
          } catch (error) {
            if (error instanceof FastlyForbiddenError && error.reason === "sudo-required" && attempt === 0) {
              // Sudo lapsed early (or was cut short server-side): obtain it again and retry once.
              this.sudo.invalidate();
              await this.sudo.ensure();
              continue;
            }
            if (error instanceof FastlyUnknownOutcomeError) throw await this.settleLostMint(error, began);
            throw error;
          }
        }
      },
      {
        tokenName: input.name,
        oldTokenIds: this.oldTokenIds,
        ...(this.deployedTokenId ? { deployedTokenId: this.deployedTokenId } : {}),
      },
    );
  }

  /**
   * A create whose answer was lost (cut, stalled, unreadable) may have made a token whose value
   * nobody holds: it cannot be adopted (the value is returned once), so it is found by name and
   * creation time and revoked. Fastly may still be finishing the create, so it looks a few times.
   * When the look or the revoke fails, the run is left unfinished in the journal for `resume`.
   */
  private async settleLostMint(error: FastlyUnknownOutcomeError, began: Date): Promise<StepFailure> {
    const name = this.tokenName;
    const revoked: string[] = [];
    try {
      for (let look = 0; look < 3; look++) {
        if (look > 0) await this.clock.sleep(2000, this.ctx.signal);
        for (const id of await findMintedSince(this.ctx.client, name, began, this.oldTokenIds)) {
          if (revoked.includes(id)) continue;
          await revokeQuietly(this.ctx.client, id);
          revoked.push(id);
        }
      }
    } catch (cleanupError) {
      return new StepFailure(
        `${error.message}; a token named "${name}" it may have created could not be looked for or revoked (${describe(cleanupError)})${revoked.length ? `; revoked so far: ${revoked.join(", ")}` : ""}`,
        `A token of this run may be live: run \`${resumeHint(this.ctx.config)}\` to find and revoke it once Fastly answers`,
        { resumable: true },
      );
    }
    if (revoked.length === 0) {
      return new StepFailure(
        `${error.message}; no token named "${name}" was created since the run began, so none was made`,
        "Nothing was deployed and no token was created; run the rotation again",
      );
    }
    return new StepFailure(
      `${error.message}; it had created ${revoked.join(", ")} (found by name and creation time), which was revoked: its value was never received, so it could not be used`,
      "Nothing was deployed and the token it created is revoked; run the rotation again",
    );
  }

  private async test(created: CreatedAutomationToken, plan: EnvironmentPlan): Promise<void> {
    await this.steps.run("test", async () => {
      const asNew = createFastlyClient({
        token: created.accessToken,
        endpoint: this.ctx.client.endpoint,
        allowInsecure: this.ctx.client.allowInsecure,
        ...(this.ctx.fetch ? { fetch: this.ctx.fetch } : {}),
        signal: this.ctx.signal,
        retry: { retries: 3, baseDelayMs: 300 },
      });
      const self = await asNew.getTokenSelf().finally(() => (this.valueClientRequests += asNew.requestCount));
      const problems: string[] = [];
      if (self.id !== created.id) problems.push(`it authenticates as ${self.id}, not ${created.id}`);
      const want = [...this.env.token.scopes].sort().join(" ");
      const have = [...self.scopes].sort().join(" ");
      if (want !== have) problems.push(`scope is "${have}", asked "${want}"`);
      const wantServices = [...plan.create.services].sort().join(",");
      const haveServices = [...self.services].sort().join(",");
      if (wantServices !== haveServices)
        problems.push(`services are [${haveServices}], asked [${wantServices}]`);
      // The 2026 API says `limit_services`: false reaches every service, whatever `services` lists.
      const limited = self.limitServices ?? created.limitServices;
      if (limited !== undefined && limited !== plan.create.services.length > 0) {
        problems.push(
          limited
            ? "it is limited to its services, asked every service"
            : "it reaches every service (limit_services is false)",
        );
      }
      problems.push(...roleProblems(created, self, this.env.token.role, plan.create.roles));
      const wantExpiry = Date.parse(plan.create.expiresAt);
      if (!self.expiresAt || Math.abs(self.expiresAt.getTime() - wantExpiry) > 15 * 60_000) {
        problems.push(
          `expires ${self.expiresAt ? formatTime(self.expiresAt) : "never"}, asked about ${plan.create.expiresAt}`,
        );
      }
      if (problems.length > 0) {
        throw new StepFailure(
          `the new token is not as asked: ${problems.join("; ")}`,
          "Check the account's token policies",
        );
      }
      return {
        value: undefined,
        detail: `${self.id}: ${have}, ${self.services.length || "all"} services, expires ${self.expiresAt ? formatTime(self.expiresAt) : "never"}`,
      };
    });
  }

  private async stage(value: string): Promise<void> {
    await this.steps.run("stage", async () => {
      await this.adapters.store.stage(value, this.runId);
      return { value: undefined, detail: this.adapters.store.description };
    });
  }

  /** Make the staged value current. */
  async promote(): Promise<void> {
    await this.steps.run("promote", async () => {
      await this.prepareReloaders();
      await this.adapters.store.promote(this.runId);
      return { value: undefined, detail: this.adapters.store.description };
    });
  }

  /** Reload the consumer, then check it uses the new token. */
  async reloadAndVerify(): Promise<void> {
    const since = this.now();
    await this.reload("reload");
    const newTokenId = this.newTokenId;
    if (newTokenId === undefined) {
      throw new StepFailure("the journal does not name the new token", "Report this; the journal is damaged");
    }
    await this.verify("verify", newTokenId, this.oldTokenIds, since);
  }

  private async reload(step: "reload" | "rollback-reload"): Promise<void> {
    await this.steps.run(step, async () => {
      for (const reloader of this.adapters.reloaders) {
        await reloader.run(this.adapterContext());
      }
      return {
        value: undefined,
        detail: this.adapters.reloaders.map((r) => r.description).join("; ") || "no reloaders",
      };
    });
  }

  /** Lets reloaders that wait for someone else's reaction note the state before the secret changes. */
  private async prepareReloaders(): Promise<void> {
    for (const reloader of this.adapters.reloaders) await reloader.prepare?.(this.adapterContext());
  }

  private async verify(
    step: "verify" | "rollback-verify",
    tokenId: string,
    others: readonly string[],
    since: Date,
  ): Promise<void> {
    await this.steps.run(step, async () => {
      const details: string[] = [];
      for (const verifier of this.adapters.verifiers) {
        const result = await verifier.verify({
          ...this.adapterContext(),
          tokenId,
          otherTokenIds: others,
          since,
          client: this.ctx.client,
          ownUserAgent: USER_AGENT,
        });
        if (!result.ok) {
          throw new StepFailure(
            `${verifier.description}: ${result.detail}`,
            "Check the consumer's logs and the reload commands",
          );
        }
        details.push(`${verifier.description}: ${result.detail}`);
      }
      return { value: undefined, detail: details.join("; ") || "no verifiers" };
    });
  }

  /** Revoke the old tokens, then prove their values are refused. */
  async revokeAndProve(): Promise<EnvironmentResult> {
    try {
      await this.steps.run("revoke", async () => {
        const targets = this.oldTokenIds.filter((id) => id !== this.newTokenId);
        const { ours, gone } = await this.provablyOurs(targets);
        for (const id of ours) {
          await revokeQuietly(this.ctx.client, id);
          this.revoked.push(id);
        }
        const notes = [
          ...(this.revoked.length ? [`revoked ${this.revoked.join(", ")}`] : []),
          ...(gone.length ? [`already gone: ${gone.join(", ")}`] : []),
        ];
        return { value: undefined, detail: notes.join("; ") || "no old tokens" };
      });
      await this.steps.run("prove", async () => this.prove());
    } catch (error) {
      // The new token is in use and verified; a failed revoke is not a reason to roll back. No
      // `finish`: the run stays unfinished so that `ftr resume` revokes and proves again.
      const stopped = this.stoppedBySignal();
      if (stopped) return stopped;
      return this.result(
        "failed",
        `revoke failed: ${describe(error)}`,
        `The new token is deployed and verified; run \`${resumeHint(this.ctx.config)}\` to revoke the old token(s)`,
      );
    }
    return this.finish("rotated");
  }

  /**
   * Which of `ids` may be revoked: only automation tokens of this account named as this
   * environment's token, or the token the store's previous value authenticates as (the deployed one
   * when it was misnamed). The ids come from the plan or from the journal, and a journal can be
   * edited: an id that is someone's user token or another environment's token stops the step before
   * anything is revoked. Ids no longer among the account's automation tokens are gone already.
   */
  private async provablyOurs(ids: readonly string[]): Promise<{ ours: string[]; gone: string[] }> {
    if (ids.length === 0) return { ours: [], gone: [] };
    const listed = new Map((await this.ctx.client.listAutomationTokens()).map((t) => [t.id, t]));
    const ours: string[] = [];
    const gone: string[] = [];
    const refused: string[] = [];
    let previousId: string | undefined | null = null;
    for (const id of ids) {
      const token = listed.get(id);
      if (!token) {
        // Not an automation token of this account (any more): nothing is sent for it. A user
        // token's id is never listed here, so a forged id cannot reach a DELETE this way.
        gone.push(id);
        continue;
      }
      if (token.name === this.tokenName) {
        ours.push(id);
        continue;
      }
      if (id === this.deployedTokenId) {
        if (previousId === null) previousId = await this.previousValueTokenId();
        if (previousId === id) {
          ours.push(id);
          continue;
        }
      }
      refused.push(`${id} ("${token.name}")`);
    }
    if (refused.length > 0) {
      throw new StepFailure(
        `refusing to revoke ${refused.join(", ")}: not named "${this.tokenName}" and not the token the secret store held before this run, so not provably ${this.env.name}'s; nothing was revoked`,
        "Check the journal and the account (ftr status); revoke by hand in the Fastly web interface if the token is really this environment's",
      );
    }
    return { ours, gone };
  }

  /** The token the store's previous value authenticates as, or undefined when that cannot be told. */
  private async previousValueTokenId(): Promise<string | undefined> {
    const previous = await this.adapters.store.readPrevious().catch(() => undefined);
    if (previous === undefined) return undefined;
    const asOld = createFastlyClient({
      token: previous,
      endpoint: this.ctx.client.endpoint,
      allowInsecure: this.ctx.client.allowInsecure,
      ...(this.ctx.fetch ? { fetch: this.ctx.fetch } : {}),
      signal: this.ctx.signal,
      retry: { retries: 2, baseDelayMs: 200 },
    });
    try {
      return (await asOld.getTokenSelf().finally(() => (this.valueClientRequests += asOld.requestCount))).id;
    } catch {
      return undefined;
    }
  }

  private async prove(): Promise<{ value: undefined; detail: string }> {
    const deadline = this.clock.now() + (this.ctx.proveTimeoutMs ?? 30_000);
    const previous = await this.adapters.store.readPrevious().catch(() => undefined);
    const checks: string[] = [];
    for (const id of this.oldTokenIds) {
      if (id === this.newTokenId) continue;
      const value = id === this.deployedTokenId ? previous : undefined;
      let other: string | undefined;
      await pollUntil(
        {
          deadline,
          interval: 1000,
          signal: this.ctx.signal,
          clock: this.clock,
          timeoutError: () =>
            new StepFailure(
              `token ${id} still works after it was revoked`,
              "Revoke it in the Fastly web interface and report this",
            ),
        },
        async (): Promise<Probe<undefined>> => {
          const seen = await this.probeOld(id, other === undefined ? value : undefined);
          if (seen.state === "another") {
            // Never proof: the value is someone else's token. Say so, then judge the id itself.
            other = seen.tokenId;
            return { done: false, reason: `the previous value authenticates as ${seen.tokenId}` };
          }
          return seen.state === "dead"
            ? { done: true, value: undefined }
            : { done: false, reason: `token ${id} still works` };
        },
      );
      if (other !== undefined) {
        const line = `the store's previous value authenticates as token ${other}, not as ${id}: the secret was changed by someone else, and ${other} is live`;
        this.inconsistencies.push(line);
        checks.push(`${id}: gone (looked up by id); INCONSISTENT: ${line}`);
      } else checks.push(value !== undefined ? `${id}: its value is refused (401)` : `${id}: gone`);
    }
    return { value: undefined, detail: checks.join("; ") || "nothing to prove" };
  }

  /**
   * Whether the old token `id` is dead: its value (when known) is refused, or, without a value, the
   * id is gone from the account. A value that authenticates as another token proves nothing about
   * `id` and is reported as `another`.
   */
  private async probeOld(
    id: string,
    value: string | undefined,
  ): Promise<{ state: "dead" | "alive" } | { state: "another"; tokenId: string }> {
    if (value !== undefined) {
      const asOld = createFastlyClient({
        token: value,
        endpoint: this.ctx.client.endpoint,
        allowInsecure: this.ctx.client.allowInsecure,
        ...(this.ctx.fetch ? { fetch: this.ctx.fetch } : {}),
        signal: this.ctx.signal,
        retry: { retries: 2, baseDelayMs: 200 },
      });
      try {
        const self = await asOld
          .getTokenSelf()
          .finally(() => (this.valueClientRequests += asOld.requestCount));
        return self.id === id ? { state: "alive" } : { state: "another", tokenId: self.id };
      } catch (error) {
        if (error instanceof FastlyAuthError || error instanceof FastlyForbiddenError)
          return { state: "dead" };
        throw error;
      }
    }
    try {
      await this.ctx.client.getAutomationToken(id);
      return { state: "alive" };
    } catch (error) {
      if (error instanceof FastlyNotFoundError) return { state: "dead" };
      throw error;
    }
  }

  // ---- rollback -------------------------------------------------------------------------------

  /**
   * Undo this run: put the previous secret back (when promoted), reload, check the old token is in
   * use again, and revoke the new token. Reports rather than throws; where it cannot tell that the
   * consumer is safe it stops and leaves the new token valid.
   */
  async rollback(cause: unknown, promoted: boolean, interruptedAt?: Step): Promise<EnvironmentResult> {
    // After a signal nothing is rolled back on our own (and no `rollback begin` is journaled, which
    // would make `ftr resume` roll back rather than continue).
    const stopped = this.stoppedBySignal();
    if (stopped) return stopped;
    const reason = describe(cause);
    const reports = this.steps.reports;
    const failedStep = reports[reports.length - 1]?.step ?? interruptedAt ?? "start";
    const newTokenId = this.newTokenId;
    this.steps.record("rollback", "begin", reason);
    try {
      if (promoted) {
        await this.steps.run("restore", async () => {
          await this.prepareReloaders();
          await this.adapters.store.restorePrevious(this.runId);
          return { value: undefined, detail: this.adapters.store.description };
        });
        const since = this.now();
        await this.reload("rollback-reload");
        if (this.deployedTokenId) {
          await this.verify("rollback-verify", this.deployedTokenId, newTokenId ? [newTokenId] : [], since);
        }
      } else {
        await this.adapters.store.discardStaged(this.runId).catch(() => undefined);
      }
    } catch (error) {
      const stopped = this.stoppedBySignal();
      if (stopped) return stopped;
      const what = describe(error);
      // No `finish`: the run stays unfinished, so `ftr resume` runs the rollback again.
      this.steps.record("rollback", "failed", `rollback stopped: ${what}`);
      return this.result(
        "failed",
        `${failedStep} failed (${reason}); the rollback then failed too (${what})`,
        `The consumer's state is unknown: the new token ${newTokenId ?? "?"} was left valid. Check the consumer, then run \`${resumeHint(this.ctx.config)}\``,
      );
    }
    if (newTokenId) {
      try {
        await this.steps.run("revoke-new", async () => {
          const { ours } = await this.provablyOurs([newTokenId]);
          if (ours.length === 0) return { value: undefined, detail: `${newTokenId} was already gone` };
          await revokeQuietly(this.ctx.client, newTokenId);
          this.revoked.push(newTokenId);
          return { value: undefined, detail: `revoked ${newTokenId}` };
        });
      } catch (error) {
        const stopped = this.stoppedBySignal();
        if (stopped) return stopped;
        this.steps.record("rollback", "failed", `could not revoke the new token: ${describe(error)}`);
        return this.result(
          "failed",
          `${failedStep} failed (${reason}); rolled back, but the new token could not be revoked (${describe(error)})`,
          `Run \`${resumeHint(this.ctx.config)}\` to revoke token ${newTokenId} once Fastly answers`,
        );
      }
    }
    // An `ftr rollback` is asked for: nothing failed.
    const detail = this.requestedRollback ? "rolled back as asked" : `rolled back after ${failedStep} failed`;
    this.steps.record("finish", "done", detail, { outcome: "rolled-back" });
    return this.result(
      "rolled-back",
      `${failedStep} failed: ${reason}`,
      adviceFor(cause, "The previous token is back in place; fix the cause and run again"),
    );
  }

  /**
   * A failure after the new value was written to a store that cannot be read back: the old value
   * cannot be put back, so nothing is undone. The new token stays deployed, the old ones stay
   * valid (never revoked without proof), and no `finish` is journaled: `ftr resume` reloads and
   * verifies again once a person has fixed the consumer, then revokes.
   */
  leaveForPerson(cause: unknown, writeUnknown = false): EnvironmentResult {
    const stopped = this.stoppedBySignal();
    if (stopped) return stopped;
    const reports = this.steps.reports;
    const failedStep = reports[reports.length - 1]?.step ?? "promote";
    const old = this.oldTokenIds.filter((id) => id !== this.newTokenId).join(", ") || "(none)";
    const where = this.store.description;
    return this.result(
      "failed",
      `${failedStep} failed: ${describe(cause)}`,
      writeUnknown
        ? `The run stopped while writing the new token ${this.newTokenId ?? "?"} to ${where}, which cannot be read back, and the value was lost with the process: ftr cannot tell whether the write landed, so it revoked nothing; the old token(s) ${old} stay valid. Check ${where} (its last update time) and the consumer; if the write landed, fix the consumer and run \`${resumeHint(this.ctx.config)}\` again; if it did not, revoke ${this.newTokenId ?? "the new token"} in the Fastly web interface and run \`${resumeHint(this.ctx.config)} --abandon ${this.runId}\``
        : `The new token ${this.newTokenId ?? "?"} is in ${where}, which cannot be read back, so the old value cannot be put back: nothing was undone and the old token(s) ${old} stay valid. Fix the consumer, then run \`${resumeHint(this.ctx.config)}\` to verify again and revoke the old token(s)`,
    );
  }

  // ---- plumbing -------------------------------------------------------------------------------

  /**
   * The result of a run stopped by a signal, or undefined when it was not. The step that was
   * running is journaled `failed` ("interrupted by SIGTERM") and no `finish` is written, so the run
   * stays unfinished: `ftr resume` treats that step as not done and continues, or rolls back where
   * the protocol says so. Nothing is rolled back here: after a signal the user decides.
   */
  private stoppedBySignal(): EnvironmentResult | undefined {
    const stopped = interruptionOf(this.ctx.signal);
    if (!stopped) return undefined;
    const reports = this.steps.reports;
    const step = reports[reports.length - 1]?.step ?? "start";
    return this.result(
      "interrupted",
      `${step} ${stopped.message}`,
      `Run \`${resumeHint(this.ctx.config)}\` to continue the run (or roll it back where it cannot continue)`,
    );
  }

  private finish(outcome: Outcome): EnvironmentResult {
    this.steps.record("finish", "done", outcome, { outcome });
    return this.result(outcome);
  }

  private failed(error: unknown, step: Step): EnvironmentResult {
    // Unsettled (a token that may be live): no finish record, so `resume` picks the run up.
    if (!(error instanceof StepFailure && error.resumable)) {
      this.steps.record("finish", "failed", describe(error), { outcome: "failed" });
    }
    return this.result(
      "failed",
      `${step} failed: ${describe(error)}`,
      adviceFor(error, "Nothing was deployed; fix the cause and run again"),
    );
  }

  private result(outcome: EnvironmentResult["outcome"], error?: string, advice?: string): EnvironmentResult {
    return {
      environment: this.env.name,
      outcome,
      runId: this.runId,
      ...(this.newTokenId ? { newTokenId: this.newTokenId } : {}),
      ...(this.newTokenExpiresAt ? { newTokenExpiresAt: this.newTokenExpiresAt } : {}),
      ...(this.deployedTokenId ? { deployedTokenId: this.deployedTokenId } : {}),
      revoked: [...this.revoked],
      steps: [...this.steps.reports],
      requests: {
        total: this.ctx.client.requestCount - this.baseRequests.total + this.valueClientRequests,
        nonGet: this.ctx.client.writeRequestCount - this.baseRequests.nonGet,
      },
      ...(error ? { error: redact(error) } : {}),
      ...(advice ? { advice } : {}),
      ...(this.inconsistencies.length > 0 ? { warnings: this.inconsistencies.map((w) => redact(w)) } : {}),
    };
  }

  private adapterContext() {
    const onWaiting = this.ctx.onWaiting;
    const environment = this.env.name;
    return {
      environment,
      runId: this.runId,
      log: this.log,
      ...(this.ctx.signal ? { signal: this.ctx.signal } : {}),
      ...(onWaiting ? { onWaiting: (reason: string) => onWaiting(environment, reason) } : {}),
    };
  }
}

/** The clock of a run and its `now`: `ctx.now` when given, else read from the clock. */
export function runClock(ctx: Pick<RunContext, "clock" | "now">): { clock: Clock; now: () => Date } {
  const clock = ctx.clock ?? systemClock;
  return { clock, now: ctx.now ?? (() => new Date(clock.now())) };
}

/** Tokens named `name` created at or after `since` (less a minute of clock skew), not in `exclude`. */
export async function findMintedSince(
  client: FastlyClient,
  name: string,
  since: Date,
  exclude: readonly string[],
): Promise<string[]> {
  const tokens = await client.listAutomationTokens();
  return tokens
    .filter((t) => t.name === name && !exclude.includes(t.id))
    .filter((t) => !t.createdAt || t.createdAt.getTime() >= since.getTime() - 60_000)
    .map((t) => t.id);
}

/** Revoke; a token that is already gone counts as revoked. */
export async function revokeQuietly(client: FastlyClient, id: string): Promise<void> {
  try {
    await client.revokeToken(id);
  } catch (error) {
    if (error instanceof FastlyNotFoundError) return;
    throw error;
  }
}

/**
 * How the new token's roles differ from those asked: by id when `token.roles` was resolved, else
 * the one `role`. What the token says of itself (`/tokens/self`) wins over the create answer; an
 * API that says neither (2024-2025 `/tokens/self`) is judged by the create answer alone.
 */
function roleProblems(
  created: CreatedAutomationToken,
  self: TokenSelf,
  role: string,
  roleIds: readonly string[] | undefined,
): string[] {
  const roles = self.roles ?? created.roles;
  if (roleIds) {
    if (roles === undefined) return [];
    const have = roles
      .map((r) => r.id)
      .sort()
      .join(",");
    const want = [...roleIds].sort().join(",");
    return have === want
      ? []
      : [`roles are [${roles.map((r) => r.name || r.id).join(", ")}], asked [${want}]`];
  }
  if (roles !== undefined && roles.length > 0) {
    const names = roles.map((r) => r.name);
    return names.length === 1 && names[0] === role
      ? []
      : [`roles are [${names.join(", ")}], asked [${role}]`];
  }
  return created.role !== "" && created.role !== role ? [`role is "${created.role}", asked "${role}"`] : [];
}
