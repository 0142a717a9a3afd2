/**
 * The whole of an environment's plan beyond Fastly: where the token goes, each step of the protocol
 * in order with its target and time limit, the approval, and when the old tokens are revoked. Pure:
 * computed from the config and the Fastly side of the plan; each adapter describes its own target
 * (`describe` in its `schema.ts`, carried by the registry).
 */
import {
  describeReloader,
  describeSecretStore,
  describeVerifier,
  type AdapterTarget,
} from "../adapters/registry.ts";
import type { EnvironmentConfig } from "../config/types.ts";

/** The protocol's steps as a plan names them (`approve` is asked before anything is written). */
export type PlannedStepName =
  "approve" | "mint" | "test" | "stage" | "promote" | "reload" | "verify" | "revoke" | "prove";

/** One step `rotate` would take, in order. */
export interface PlannedStep {
  readonly step: PlannedStepName;
  /** One line for people. */
  readonly summary: string;
  /** The adapter that does it (store, reloader, verifier), with its exact target. */
  readonly adapter?: AdapterTarget;
  /** The step's time limit in ms, when it has one. */
  readonly timeoutMs?: number;
}

/** The side of the plan beyond Fastly, for one environment. */
export interface EnvironmentSteps {
  /** Where the token value lives: the store and its exact target. */
  readonly secret: AdapterTarget;
  /** `required`: a person must answer yes on a terminal (or `--yes`) before the environment starts. */
  readonly approval: "required" | "none";
  /**
   * When the deployed token becomes due (its expiry less `rotateBefore`), ISO 8601; absent when it
   * never expires or no valid token is deployed.
   */
  readonly dueAt?: string;
  /** The steps `rotate` would take, in order; empty when the environment is not rotated. */
  readonly steps: readonly PlannedStep[];
}

/** What the steps need from the Fastly side of the plan. */
export interface StepInputs {
  readonly rotate: boolean;
  readonly create: {
    readonly name: string;
    readonly role: string;
    readonly scope: string;
    readonly services: readonly string[];
    readonly expiresAt: string;
  };
  readonly revoke: readonly string[];
  readonly deployed: { readonly status: string; readonly expiresAt?: string };
}

/** The steps of `env`'s rotation, given the Fastly side of its plan. */
export function planSteps(env: EnvironmentConfig, planned: StepInputs): EnvironmentSteps {
  const secret = describeSecretStore(env.secret);
  const approval = env.approval === "required" ? "required" : "none";
  const expiresAt = planned.deployed.status === "valid" ? planned.deployed.expiresAt : undefined;
  const dueAt =
    expiresAt !== undefined
      ? new Date(Date.parse(expiresAt) - env.token.rotateBeforeMs).toISOString()
      : undefined;
  const base = { secret, approval, ...(dueAt !== undefined ? { dueAt } : {}) } as const;
  if (!planned.rotate) return { ...base, steps: [] };

  const { create } = planned;
  const services = create.services.length > 0 ? `${create.services.length} service(s)` : "all services";
  const steps: PlannedStep[] = [];
  if (approval === "required") {
    steps.push({
      step: "approve",
      summary: "ask for approval before anything is written (--yes skips the question)",
    });
  }
  steps.push(
    {
      step: "mint",
      summary: `create automation token "${create.name}": role ${create.role}, scope ${create.scope}, ${services}, expires ${create.expiresAt}`,
    },
    { step: "test", summary: "check the new token authenticates with the scope, services and expiry asked" },
    { step: "stage", summary: `write it as a pending value to ${secret.summary}`, adapter: secret },
    {
      step: "promote",
      summary: `make it current in ${secret.summary}, keeping the previous value`,
      adapter: secret,
    },
  );
  for (const spec of env.reload) {
    const adapter = describeReloader(spec);
    steps.push({ step: "reload", summary: adapter.summary, adapter, ...timeout(adapter) });
  }
  for (const spec of env.verify) {
    const adapter = describeVerifier(spec);
    steps.push({ step: "verify", summary: adapter.summary, adapter, ...timeout(adapter) });
  }
  steps.push(
    {
      step: "revoke",
      summary:
        planned.revoke.length > 0
          ? `revoke ${planned.revoke.join(", ")} once every verify step has passed (not with --keep-old)`
          : "nothing to revoke",
    },
    {
      step: "prove",
      summary: planned.revoke.length > 0 ? "check Fastly refuses the revoked tokens" : "nothing to prove",
    },
  );
  return { ...base, steps };
}

function timeout(adapter: AdapterTarget): { timeoutMs?: number } {
  return adapter.timeoutMs !== undefined ? { timeoutMs: adapter.timeoutMs } : {};
}
