/**
 * What an adapter says about itself in a plan: its exact target and its time limit, from its
 * validated config alone (no I/O, nothing loaded). Each adapter's `schema.ts` exports a `describe`
 * for its config; the registry carries it beside the schema, so the plan never needs to know an
 * adapter's fields.
 */

/** One adapter's target, as a plan shows it (never a secret: no header, no token, no password). */
export interface AdapterTarget {
  /** The adapter's `type` in the config. */
  readonly type: string;
  /** One line for people: what it writes, restarts or checks, e.g. `AWS secret govuk/x, key token`. */
  readonly summary: string;
  /** The exact target, field by field (file path, secret id and key, namespace/name/key, URL). */
  readonly target: Readonly<Record<string, string>>;
  /** What the step waits for, when it waits (a rollout, a sync, the token used). */
  readonly waitsFor?: string;
  /** The step's time limit in ms, when it has one. */
  readonly timeoutMs?: number;
}

/** The config's command line as one string, each word quoted when it needs to be. */
export function commandLine(argv: readonly string[]): string {
  return argv.map((word) => (/^[-\w./:=@%+,]+$/.test(word) ? word : JSON.stringify(word))).join(" ");
}

/** `--context ctx, kubeconfig path` fields, when given. */
export function kubernetesTarget(access: {
  readonly kubeconfig?: string;
  readonly context?: string;
}): Record<string, string> {
  return {
    ...(access.context !== undefined ? { context: access.context } : {}),
    ...(access.kubeconfig !== undefined ? { kubeconfig: access.kubeconfig } : {}),
  };
}
