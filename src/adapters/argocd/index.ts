/**
 * The `argocd` reloader: where the only way to the cluster is Argo CD, restart the consumer with the
 * resource's `restart` action, or refresh or sync its application, through Argo CD's REST API (the
 * grpc-gateway JSON of `server/application/application.proto`), and wait until Argo CD shows the
 * change done and healthy.
 */
import * as z from "zod";
import type { AdapterContext, Reloader } from "../types.ts";
import { AdapterSetupError, errorMessage, resolveDeps, type AdapterDeps } from "../support/deps.ts";
import { pollUntil, type Probe } from "../support/poll.ts";
import type { OptionsOf } from "../support/config.ts";
import { restartInNewSecond, rolloutState } from "../support/rollout.ts";
import { formatDuration } from "../../util/time.ts";
import { timeoutSignal } from "../../util/timer.ts";
import { redact, registerSecret } from "../../util/redact.ts";
import { USER_AGENT } from "../../version.ts";
import {
  BodyTooLargeError,
  isRedirect,
  isSecureOrLoopback,
  readTextCapped,
  redirectHost,
} from "../../util/http.ts";
import type { ArgoCdConfig } from "./schema.ts";

/** Options of the `argocd` reloader (already validated; durations in ms). */
export type ArgoCdOptions = OptionsOf<
  ArgoCdConfig,
  "action" | "hardRefresh" | "tokenEnv" | "allowInsecure" | "intervalMs"
>;

/** How a call to Argo CD failed, decided once from the HTTP status and Argo CD's error body. */
export type ArgoCdErrorKind =
  /** 401: the token is missing, invalid or expired. */
  | "unauthorized"
  /** 403: an RBAC permission is missing (or, without `project`, the application does not exist). */
  | "forbidden"
  /** 404 with Argo CD's error body: the application is not in the given project. */
  | "not-found"
  /** 404 without it: the server has no such route (an Argo CD older than the API asked for). */
  | "no-route"
  /** Another 4xx: Argo CD refused the request as made (a resource not in the app, an operation running). */
  | "rejected"
  /** 429, 5xx or no answer: worth asking again while waiting. */
  | "unavailable"
  /** A 3xx: never followed, the token would go with it. */
  | "redirect"
  /** An answer that is not the JSON Argo CD sends. */
  | "protocol"
  /** The change did not come about: an operation failed, health degraded, the deadline passed. */
  | "failed";

/** A failed Argo CD call or wait. The message is one line: the call, the application, the fix. */
export class ArgoCdError extends Error {
  override readonly name = "ArgoCdError";
  /** What went wrong, for callers that decide by it. */
  readonly kind: ArgoCdErrorKind;
  /** HTTP status, when there was an answer. */
  readonly status: number | undefined;
  constructor(message: string, kind: ArgoCdErrorKind, status?: number, options?: ErrorOptions) {
    // Redacted here, so that no later log line can carry the token.
    super(redact(message), options);
    this.kind = kind;
    this.status = status;
  }
}

const DEFAULT_INTERVAL_MS = 2000;
/** One request's limit; a refresh has the step's (Argo CD answers it once the app is reconciled). */
const REQUEST_TIMEOUT_MS = 30_000;
/** The longest piece of a server's own error text quoted in a message. */
const MAX_QUOTE = 300;

// Argo CD's answers, listing only the fields read.
const healthSchema = z.object({ status: z.string().optional(), message: z.string().optional() }).optional();
const applicationSchema = z.object({
  metadata: z.object({ resourceVersion: z.string().optional() }).optional(),
  spec: z.object({ project: z.string().optional() }).optional(),
  operation: z.unknown().optional(),
  status: z
    .object({
      sync: z.object({ status: z.string().optional() }).optional(),
      health: healthSchema,
      operationState: z
        .object({
          phase: z.string().optional(),
          message: z.string().optional(),
          startedAt: z.string().optional(),
          finishedAt: z.string().optional(),
        })
        .optional(),
      resources: z
        .array(
          z.object({
            group: z.string().optional(),
            kind: z.string().optional(),
            namespace: z.string().optional(),
            name: z.string().optional(),
            health: healthSchema,
          }),
        )
        .optional(),
    })
    .optional(),
});
const resourceResponseSchema = z.object({ manifest: z.string() });
const conditionSchema = z.object({ type: z.string().optional(), reason: z.string().optional() });
const manifestSchema = z.object({
  metadata: z.object({ generation: z.number().optional() }).optional(),
  spec: z
    .object({
      replicas: z.number().optional(),
      paused: z.boolean().optional(),
      updateStrategy: z
        .object({
          type: z.string().optional(),
          rollingUpdate: z.object({ partition: z.number().optional() }).optional(),
        })
        .optional(),
    })
    .optional(),
  status: z
    .object({
      // Argo Rollouts writes it as a string.
      observedGeneration: z.preprocess(
        (v) => (typeof v === "string" && /^\d+$/.test(v) ? Number(v) : v),
        z.number().optional(),
      ),
      replicas: z.number().optional(),
      updatedReplicas: z.number().optional(),
      readyReplicas: z.number().optional(),
      availableReplicas: z.number().optional(),
      desiredNumberScheduled: z.number().optional(),
      updatedNumberScheduled: z.number().optional(),
      numberAvailable: z.number().optional(),
      conditions: z.array(conditionSchema).optional(),
    })
    .optional(),
});
const errorBodySchema = z.object({
  error: z.string().optional(),
  message: z.string().optional(),
  code: z.number().optional(),
});

/** A live manifest as read through Argo CD. */
export type LiveManifest = z.output<typeof manifestSchema>;

/** The fields of a live manifest the rollout rules read; throws when one has the wrong type. */
export function parseManifest(value: unknown): LiveManifest {
  return manifestSchema.parse(value);
}

/** An application as the waits read it: "Unknown" where Argo CD has not said. */
export interface AppView {
  /** `metadata.resourceVersion` as a number, when it is one (Argo CD compares them so too). */
  readonly resourceVersion: number | undefined;
  readonly project: string;
  readonly sync: string;
  readonly health: string;
  readonly healthMessage: string | undefined;
  /** An operation asked for that the controller has not finished (`operation` is set). */
  readonly operationPending: boolean;
  readonly operationState:
    | {
        readonly phase: string;
        readonly message: string;
        readonly startedAt: string;
        readonly finishedAt: string;
      }
    | undefined;
  /** The health Argo CD shows for one of its resources. */
  resourceHealth(ref: { group: string; kind: string; namespace: string; name: string }): string | undefined;
}

function appView(value: unknown): AppView {
  const app = applicationSchema.parse(value);
  const status = app.status ?? {};
  const op = status.operationState;
  const version = Number(app.metadata?.resourceVersion ?? "");
  return {
    resourceVersion: Number.isSafeInteger(version) && version > 0 ? version : undefined,
    project: app.spec?.project || "default",
    sync: status.sync?.status || "Unknown",
    health: status.health?.status || "Unknown",
    healthMessage: status.health?.message || undefined,
    operationPending: app.operation !== undefined && app.operation !== null,
    operationState:
      op === undefined
        ? undefined
        : {
            phase: op.phase ?? "",
            message: op.message ?? "",
            startedAt: op.startedAt ?? "",
            finishedAt: op.finishedAt ?? "",
          },
    resourceHealth: (ref) =>
      (status.resources ?? []).find(
        (r) =>
          (r.group ?? "") === ref.group &&
          r.kind === ref.kind &&
          (r.namespace ?? "") === ref.namespace &&
          r.name === ref.name,
      )?.health?.status,
  };
}

/** One call to the API. */
interface Call {
  readonly method: "GET" | "POST";
  /** Path below the server's base URL, its segments already encoded. */
  readonly path: string;
  readonly query?: Readonly<Record<string, string | undefined>>;
  readonly body?: unknown;
  /** What the call is for, in the message of its failure: "reading application fastly-exporter". */
  readonly what: string;
  /** The RBAC action the call needs (`get`, `sync`, `action/apps/Deployment/restart`), for a 403's fix. */
  readonly permission: string;
  /** Limit for this call (default 30 s). */
  readonly timeoutMs?: number;
}

/**
 * Runs the configured action through Argo CD and waits for its outcome:
 * - `restart`: the resource's `restart` action (`POST .../resource/actions/v2`, or the older route
 *   without `/v2` when the server has no such route), then the live resource's new generation rolled
 *   out (`GET .../resource`, by kubectl's rules) and the application Healthy;
 * - `refresh`: `GET /api/v1/applications/{app}?refresh=normal|hard`, then Synced and Healthy;
 * - `sync`: `POST .../sync` of the one resource, without pruning, then the operation Succeeded,
 *   Synced and Healthy.
 * `Degraded` health, a failed operation or an exceeded progress deadline fails at once. The token
 * comes from the environment variable `tokenEnv` when the reloader is made, and is registered as a
 * secret so no message can carry it. Redirects are never followed.
 */
export function createArgoCdReloader(options: ArgoCdOptions, deps: AdapterDeps = {}): Reloader {
  const { fetch: fetchImpl, clock, env } = resolveDeps(deps);
  const tokenEnv = options.tokenEnv ?? "ARGOCD_AUTH_TOKEN";
  const token = env[tokenEnv]?.trim() ?? "";
  if (token === "") {
    throw new AdapterSetupError(
      `argocd reloader for app ${options.app}: ${tokenEnv} is not set; set it to an Argo CD API token (argocd account generate-token --account <account>)`,
    );
  }
  registerSecret(token);
  const base = new URL(options.server);
  if (!options.allowInsecure && !isSecureOrLoopback(base)) {
    throw new AdapterSetupError(
      `argocd reloader for app ${options.app}: plain http to ${base.host} would send the token unencrypted; use https:// (or allowInsecure: true)`,
    );
  }
  const server = options.server.replace(/\/+$/, "");
  const action = options.action ?? "restart";
  const intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
  const app = options.app;
  const appPath = `/api/v1/applications/${encodeURIComponent(app)}`;
  const scope = { appNamespace: options.appNamespace, project: options.project };
  const resource = options.resource;
  const target =
    resource === undefined
      ? `app ${app}`
      : `${resource.kind} ${resource.namespace}/${resource.name} in app ${app}`;
  /** The application's RBAC object, `<project>/<app>` (with its namespace when given). */
  let project = options.project;
  const rbacObject = () =>
    `${project ?? "<project>"}/${options.appNamespace === undefined ? "" : `${options.appNamespace}/`}${app}`;
  /** Set once a server has shown it lacks the `/v2` action route, so it is not asked again. */
  let legacyActions = false;

  /** One exchange: the parsed JSON of a 2xx, or an `ArgoCdError` saying what failed and what to do. */
  const request = async (call: Call, signal: AbortSignal | undefined): Promise<unknown> => {
    const url = new URL(`${server}${call.path}`);
    for (const [key, value] of Object.entries(call.query ?? {})) {
      if (value !== undefined && value !== "") url.searchParams.set(key, value);
    }
    const label = `${call.method} ${url.pathname}`;
    const timeout = timeoutSignal(call.timeoutMs ?? REQUEST_TIMEOUT_MS);
    let response: Response;
    let text: string;
    try {
      response = await fetchImpl(url, {
        method: call.method,
        headers: {
          Authorization: `Bearer ${token}`,
          Accept: "application/json",
          "User-Agent": USER_AGENT,
          // Argo CD refuses other content types on writes (its CSRF guard), charset included.
          ...(call.body === undefined ? {} : { "Content-Type": "application/json" }),
        },
        ...(call.body === undefined ? {} : { body: JSON.stringify(call.body) }),
        redirect: "manual",
        signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]),
      });
      if (isRedirect(response.status)) {
        await response.body?.cancel().catch(() => undefined);
        throw new ArgoCdError(
          `${label} (${call.what}) answered HTTP ${response.status} redirecting to ${redirectHost(response.headers.get("location"), url)}; redirects are not followed, so the token stays with ${base.host}: set server to the address Argo CD answers on itself`,
          "redirect",
          response.status,
        );
      }
      text = await readTextCapped(response);
    } catch (error) {
      if (error instanceof ArgoCdError) throw error;
      if (signal?.aborted) throw error;
      if (error instanceof BodyTooLargeError) {
        throw new ArgoCdError(`${label} (${call.what}): ${error.message}`, "protocol");
      }
      const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
      const why = timeout.aborted
        ? `no answer within ${formatDuration(call.timeoutMs ?? REQUEST_TIMEOUT_MS)}`
        : errorMessage(cause);
      throw new ArgoCdError(
        `${label} (${call.what}): cannot reach ${base.host}: ${why}`,
        "unavailable",
        undefined,
        {
          cause: error,
        },
      );
    }
    if (response.ok) {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw new ArgoCdError(
          `${label} (${call.what}) answered HTTP ${response.status} with a body that is not JSON; is ${base.host} an Argo CD server?`,
          "protocol",
          response.status,
        );
      }
    }
    throw failure(call, label, response.status, text);
  };

  /** The error for a non-2xx answer: Argo CD's own words, and the fix. */
  const failure = (call: Call, label: string, status: number, text: string): ArgoCdError => {
    let parsed: z.output<typeof errorBodySchema> | undefined;
    try {
      const result = errorBodySchema.safeParse(JSON.parse(text));
      parsed = result.success ? result.data : undefined;
    } catch {
      parsed = undefined;
    }
    const said = quote(parsed?.message || parsed?.error || text) || "(no message)";
    const head = `${label} (${call.what}) answered HTTP ${status}: ${said}`;
    if (status === 401) {
      return new ArgoCdError(
        `${head}; the token in ${tokenEnv} is invalid or expired: generate a new one (argocd account generate-token --account <account>) and set ${tokenEnv}`,
        "unauthorized",
        status,
      );
    }
    if (status === 403) {
      const unknownApp =
        options.project === undefined
          ? `, or application ${app} does not exist (without project, Argo CD answers 403 for both)`
          : "";
      return new ArgoCdError(
        `${head}; the account lacks the permission${unknownApp}: its Argo CD RBAC needs "p, <role>, applications, ${call.permission}, ${rbacObject()}, allow"`,
        "forbidden",
        status,
      );
    }
    if (status === 404 && parsed === undefined) {
      return new ArgoCdError(
        `${head}; ${base.host} does not serve this route: check that server is Argo CD's address (with its root path, if any)`,
        "no-route",
        status,
      );
    }
    if (status === 404) {
      return new ArgoCdError(
        `${head}; application ${app} is not in project ${options.project ?? "default"}${options.appNamespace === undefined ? "" : ` and namespace ${options.appNamespace}`} (or the account may not see it): check app, project and appNamespace`,
        "not-found",
        status,
      );
    }
    if (status === 429 || status >= 500) {
      // Worth asking again while waiting; said to be unavailable only when it is (gRPC Unavailable,
      // a gateway's answer), not when Argo CD reports its own failure (gRPC Unknown, with its words).
      const down = parsed === undefined || parsed.code === 14 || status === 429 || status >= 502;
      return new ArgoCdError(
        `${head}${down ? "; Argo CD is unavailable, try again later" : ""}`,
        "unavailable",
        status,
      );
    }
    // gRPC FailedPrecondition (9) is what Argo CD answers while another operation runs.
    const fix =
      parsed?.code === 9
        ? `; wait for the running operation to finish, or end it (argocd app terminate-op ${app})`
        : resource !== undefined && parsed?.code === 3
          ? `; check resource (kind, name, namespace, group) against the application's resources (argocd app resources ${app})`
          : "";
    return new ArgoCdError(`${head}${fix}`, "rejected", status);
  };

  const getApp = async (signal: AbortSignal | undefined, refresh?: "normal" | "hard", timeoutMs?: number) => {
    const body = await request(
      {
        method: "GET",
        path: appPath,
        query: { ...scope, ...(refresh === undefined ? {} : { refresh }) },
        what:
          refresh === undefined ? `reading application ${app}` : `${refresh} refresh of application ${app}`,
        permission: "get",
        ...(timeoutMs === undefined ? {} : { timeoutMs }),
      },
      signal,
    );
    const view = parseAnswer(() => appView(body), `application ${app}`);
    project ??= view.project;
    return view;
  };

  const resourceQuery = () =>
    resource === undefined
      ? {}
      : {
          namespace: resource.namespace,
          resourceName: resource.name,
          version: resource.version,
          group: resource.group,
          kind: resource.kind,
          ...scope,
        };

  const getResource = async (signal: AbortSignal | undefined): Promise<LiveManifest> => {
    const body = await request(
      {
        method: "GET",
        path: `${appPath}/resource`,
        query: resourceQuery(),
        what: `reading ${target}`,
        permission: "get",
      },
      signal,
    );
    return parseAnswer(
      () => parseManifest(JSON.parse(resourceResponseSchema.parse(body).manifest)),
      `the live manifest of ${target}`,
    );
  };

  const runRestartAction = async (signal: AbortSignal | undefined): Promise<void> => {
    if (resource === undefined) return;
    const permission = `action/${resource.group}/${resource.kind}/restart`;
    const what = `restart action on ${target}`;
    if (!legacyActions) {
      try {
        await request(
          {
            method: "POST",
            path: `${appPath}/resource/actions/v2`,
            body: { name: app, ...resourceQuery(), action: "restart" },
            what,
            permission,
          },
          signal,
        );
        return;
      } catch (error) {
        if (!(error instanceof ArgoCdError && error.kind === "no-route")) throw error;
        // Argo CD before 3.1 has only the first route: the action name is the whole body.
        legacyActions = true;
      }
    }
    await request(
      {
        method: "POST",
        path: `${appPath}/resource/actions`,
        query: resourceQuery(),
        body: "restart",
        what,
        permission,
      },
      signal,
    );
  };

  /** Healthy passes, Degraded fails at once, anything else is waited out. */
  const checkHealth = (view: AppView, requireSynced: boolean): Probe<undefined> => {
    if (view.health === "Degraded") {
      const how = view.healthMessage === undefined ? "" : ` (${quote(view.healthMessage)})`;
      throw new ArgoCdError(
        `${target}: application ${app} is Degraded${how}; see argocd app get ${app}`,
        "failed",
      );
    }
    if (requireSynced && view.sync !== "Synced") {
      return { done: false, reason: `application ${app} is ${view.sync}, health ${view.health}` };
    }
    if (view.health !== "Healthy")
      return { done: false, reason: `application ${app} health is ${view.health}` };
    return { done: true, value: undefined };
  };

  /** Probes that read Argo CD keep waiting through an unavailable server or a garbled answer. */
  const patiently = (probe: () => Promise<Probe<undefined>>) => async (): Promise<Probe<undefined>> => {
    try {
      return await probe();
    } catch (error) {
      if (error instanceof ArgoCdError && (error.kind === "unavailable" || error.kind === "protocol")) {
        return { done: false, reason: error.message };
      }
      throw error;
    }
  };

  const wait = (deadline: number, signal: AbortSignal | undefined, probe: () => Promise<Probe<undefined>>) =>
    pollUntil(
      {
        deadline,
        interval: intervalMs,
        signal,
        clock,
        waitFirst: true,
        timeoutError: (reason) =>
          new ArgoCdError(
            `argocd ${action} of ${target}: not done within ${formatDuration(options.timeoutMs)} (${reason}); see argocd app get ${app}`,
            "failed",
          ),
      },
      patiently(probe),
    );

  const restart = async (ctx: AdapterContext, deadline: number): Promise<void> => {
    if (resource === undefined) return;
    const signal = ctx.signal;
    await getApp(signal);
    const before = await getResource(signal);
    if (resource.kind === "Deployment" && before.spec?.paused === true) {
      throw new ArgoCdError(`${target} is paused; resume it and run again`, "rejected");
    }
    if (before.spec?.updateStrategy?.type === "OnDelete") {
      throw new ArgoCdError(
        `${target} uses the OnDelete update strategy: a restart never rolls out`,
        "rejected",
      );
    }
    const previous = before.metadata?.generation ?? 0;
    // The action's timestamp has whole seconds: a restart within the same second as the last one
    // changes nothing until the second is over.
    const generation = await restartInNewSecond(
      clock,
      signal,
      async () => {
        await runRestartAction(signal);
        return (await getResource(signal)).metadata?.generation ?? 0;
      },
      (after) => after > previous,
    );
    if (generation <= previous) {
      throw new ArgoCdError(
        `the restart action left ${target} at generation ${generation}: it changed nothing to roll out; see argocd app actions list ${app} --kind ${resource.kind}`,
        "failed",
      );
    }
    ctx.log.info(`restarted ${target} through Argo CD`, { environment: ctx.environment, generation });
    let last = "";
    await wait(deadline, signal, async () => {
      const state = rolloutState(resource.kind, await getResource(signal), generation);
      if (state.failed)
        throw new ArgoCdError(`${target}: ${state.failed}; see argocd app get ${app}`, "failed");
      if (!state.done) {
        const reason = state.waiting ?? "rolling out";
        if (reason !== last) ctx.log.debug(`${target}: ${(last = reason)}`, { environment: ctx.environment });
        return { done: false, reason };
      }
      const view = await getApp(signal);
      const own = view.resourceHealth(resource);
      if (own === "Degraded") {
        throw new ArgoCdError(`${target} is Degraded; see argocd app get ${app}`, "failed");
      }
      return checkHealth(view, false);
    });
    ctx.log.info(`${target} rolled out and application ${app} is Healthy`, { environment: ctx.environment });
  };

  const refresh = async (ctx: AdapterContext, deadline: number): Promise<void> => {
    const signal = ctx.signal;
    const kind = options.hardRefresh ? "hard" : "normal";
    // Argo CD answers a refresh once the application is reconciled, which may take a while.
    const first = await getApp(signal, kind, Math.max(1000, deadline - clock.now()));
    ctx.log.info(`refreshed application ${app} (${kind})`, { environment: ctx.environment });
    let view: AppView | undefined = first;
    await wait(deadline, signal, async () => {
      const current = view ?? (await getApp(signal));
      view = undefined;
      return checkHealth(current, true);
    });
    ctx.log.info(`application ${app} is Synced and Healthy`, { environment: ctx.environment });
  };

  const sync = async (ctx: AdapterContext, deadline: number): Promise<void> => {
    if (resource === undefined) return;
    const signal = ctx.signal;
    const before = (await getApp(signal)).operationState;
    const started = await request(
      {
        method: "POST",
        path: `${appPath}/sync`,
        body: {
          name: app,
          prune: false,
          resources: [
            {
              group: resource.group,
              kind: resource.kind,
              name: resource.name,
              namespace: resource.namespace,
            },
          ],
          ...(options.appNamespace === undefined ? {} : { appNamespace: options.appNamespace }),
          ...(options.project === undefined ? {} : { project: options.project }),
        },
        what: `sync of ${target}`,
        permission: "sync",
      },
      signal,
    );
    // The answer is the application with `operation` set. The controller clears `operation` when it
    // has finished, so a later version without it carries this sync's state, even when it started
    // and ended within the second of the one before (Argo CD's times are whole seconds).
    const asked = parseAnswer(() => appView(started), `the answer to the sync of ${app}`).resourceVersion;
    ctx.log.info(`started a sync of ${target}`, { environment: ctx.environment });
    const differs = (op: NonNullable<AppView["operationState"]>) =>
      before === undefined || op.startedAt !== before.startedAt || op.finishedAt !== before.finishedAt;
    await wait(deadline, signal, async () => {
      const view = await getApp(signal);
      const op = view.operationState;
      const notStarted = { done: false, reason: "the sync operation has not started" } as const;
      if (view.operationPending) {
        if (op === undefined || !differs(op)) return notStarted;
        const message = op.message === "" ? "" : `: ${quote(op.message)}`;
        return { done: false, reason: `sync operation ${op.phase || "pending"}${message}` };
      }
      const ours =
        op !== undefined &&
        (asked !== undefined && view.resourceVersion !== undefined
          ? view.resourceVersion > asked
          : differs(op));
      if (!ours) return notStarted;
      if (op.phase === "Failed" || op.phase === "Error") {
        throw new ArgoCdError(
          `sync of ${target} ended ${op.phase}: ${quote(op.message) || "(no message)"}; see argocd app get ${app}`,
          "failed",
        );
      }
      if (op.phase !== "Succeeded") return { done: false, reason: `sync operation ${op.phase || "pending"}` };
      return checkHealth(view, true);
    });
    ctx.log.info(`synced ${target}; application ${app} is Synced and Healthy`, {
      environment: ctx.environment,
    });
  };

  return {
    description: `argocd ${action} ${target} (${base.host})`,
    async run(ctx: AdapterContext) {
      const deadline = clock.now() + options.timeoutMs;
      if (action === "restart") await restart(ctx, deadline);
      else if (action === "refresh") await refresh(ctx, deadline);
      else await sync(ctx, deadline);
    },
  };
}

/** A server's text, on one line, short and without control characters (escapes), for a message. */
function quote(text: string): string {
  const line = text
    .replace(/\s+/g, " ")
    .replace(/\p{Cc}/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)
    .trim();
  return line.length > MAX_QUOTE ? `${line.slice(0, MAX_QUOTE)}...` : line;
}

/** The value `parse` returns, or an `ArgoCdError` saying the answer was not what Argo CD sends. */
function parseAnswer<T>(parse: () => T, what: string): T {
  try {
    return parse();
  } catch (error) {
    const problem =
      error instanceof z.ZodError
        ? error.issues
            .slice(0, 3)
            .map((i) => `${i.path.join(".") || "body"}: ${i.message}`)
            .join("; ")
        : errorMessage(error);
    throw new ArgoCdError(`${what}: unexpected answer (${problem})`, "protocol");
  }
}

/** The registry's entry point (see `../registry.ts`). */
export { createArgoCdReloader as create };
