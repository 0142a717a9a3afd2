/**
 * A local server speaking Argo CD's REST API (the grpc-gateway JSON of
 * `server/application/application.proto`, as of Argo CD 3.1 to 3.5) for what the `argocd` reloader
 * calls: `GET /api/v1/applications/{name}` (with `refresh`), `GET .../resource` (the live manifest),
 * `POST .../resource/actions/v2` and the older `POST .../resource/actions` (body: the action's name
 * as a JSON string; the only route before 3.1, `legacyActions`), and `POST .../sync`. Like the real
 * server it takes a bearer token (401 `no session information` / `invalid session`), refuses writes
 * whose Content-Type is not exactly `application/json` (415), answers errors with grpc-gateway's
 * body `{ error, code, message }`, hides an unknown application behind 403 unless a project is
 * given (then 404), and answers an unknown route with a plain-text `Not Found`. RBAC is a list of
 * the actions the token may take on the one application (`get`, `sync`,
 * `action/apps/Deployment/restart`).
 *
 * A small controller plays Argo CD and the cluster, one step per `delayMs`: the restart action
 * stamps `kubectl.kubernetes.io/restartedAt` (whole seconds, as the built-in Lua action does), which
 * bumps the Deployment's generation; the new pod starts (`onRestart`, which restarts the consumer),
 * then the old one goes and the resource and application turn Healthy. A sync sets `operation`,
 * runs (`onSync`) and records `operationState`, clearing `operation` when done. Faults: `degraded`
 * (the rollout exceeds its progress deadline, health Degraded), `neverSynced` (the application stays
 * OutOfSync), `unavailable` (503s), `redirectTo` (a 307 to another host).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** The token the fake accepts by default. */
export const ARGOCD_TEST_TOKEN = "ftr-test-argocd-token-6c1e0f3a9b7d";

type Json = Record<string, unknown>;

/** The one resource of the application. */
export interface FakeResource {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly replicas: number;
}

/** Options of {@link startArgoCdApi}. */
export interface ArgoCdApiOptions {
  /** The bearer token accepted (default {@link ARGOCD_TEST_TOKEN}). */
  readonly token?: string;
  /** RBAC: the actions the token may take (default get, sync and the restart action). */
  readonly permissions?: readonly string[];
  /** The application's name, namespace and project (default fastly-exporter, argocd, default). */
  readonly app?: string;
  readonly appNamespace?: string;
  readonly project?: string;
  /** The application's Deployment (default apps/v1 Deployment monitoring/fastly-exporter, 1 replica). */
  readonly resource?: Partial<FakeResource>;
  /** Runs when the restarted Deployment's new pod starts; a throw exceeds the progress deadline. */
  readonly onRestart?: () => Promise<void>;
  /** Runs while a sync operation applies; a throw fails the operation with its message. */
  readonly onSync?: () => Promise<void>;
  /** How long each controller step takes. Default 50 ms. */
  readonly delayMs?: number;
  /** Serve only the action route without `/v2`, as Argo CD before 3.1 does. */
  readonly legacyActions?: boolean;
}

/** Faults, changeable while the server runs. */
export interface ArgoCdFaults {
  /** Rollouts exceed their progress deadline; syncs and refreshes leave the application Degraded. */
  degraded?: boolean;
  /** The application stays OutOfSync whatever is synced. */
  neverSynced?: boolean;
  /** Answer this many requests 503 (gRPC Unavailable) before serving again. */
  unavailable?: number;
  /** Answer every request with a 307 to this URL. */
  redirectTo?: string;
}

/** One request as the fake saw it. */
export interface ArgoRequest {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly contentType: string | undefined;
  readonly authorization: string | undefined;
  readonly body: string;
  readonly status: number;
}

/** A running fake. */
export interface RunningArgoCdApi {
  readonly url: string;
  readonly requests: ArgoRequest[];
  readonly faults: ArgoCdFaults;
  /** The Application as `GET` would show it. */
  application(): Json;
  /** The live Deployment. */
  deployment(): Json;
  /** Resolves once no controller step is pending. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

/** gRPC codes and the HTTP status grpc-gateway gives them. */
const GRPC = {
  invalidArgument: [3, 400],
  notFound: [5, 404],
  permissionDenied: [7, 403],
  failedPrecondition: [9, 400],
  unavailable: [14, 503],
  unauthenticated: [16, 401],
  unknown: [2, 500],
} as const;

type Reply = { status: number; body: Json | string; headers?: Record<string, string> };

function grpcError(code: keyof typeof GRPC, message: string): Reply {
  const [grpcCode, status] = GRPC[code];
  return { status, body: { error: message, code: grpcCode, message, details: [] } };
}

const PERMISSION_DENIED = () => grpcError("permissionDenied", "permission denied");
const seconds = (ms = Date.now()) =>
  new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");

/** Start the fake on 127.0.0.1, port 0. Always `close()` it. */
export async function startArgoCdApi(options: ArgoCdApiOptions = {}): Promise<RunningArgoCdApi> {
  const token = options.token ?? ARGOCD_TEST_TOKEN;
  const permissions = new Set(options.permissions ?? ["get", "sync", "action/apps/Deployment/restart"]);
  const appName = options.app ?? "fastly-exporter";
  const appNamespace = options.appNamespace ?? "argocd";
  const project = options.project ?? "default";
  const res: FakeResource = {
    group: "apps",
    version: "v1",
    kind: "Deployment",
    namespace: "monitoring",
    name: "fastly-exporter",
    replicas: 1,
    ...options.resource,
  };
  const delayMs = options.delayMs ?? 50;
  const faults: ArgoCdFaults = {};
  const requests: ArgoRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let pending = 0;
  let resourceVersion = 1000;
  let closed = false;

  const bump = () => String(++resourceVersion);
  const earlier = seconds(Date.now() - 3_600_000);
  const app = {
    metadata: { name: appName, namespace: appNamespace, resourceVersion: bump(), uid: "3f0c6a2e-app" },
    spec: {
      project,
      destination: { server: "https://kubernetes.default.svc", namespace: res.namespace },
      source: { repoURL: "https://git.example.com/deploy.git", path: "exporter", targetRevision: "HEAD" },
    },
    status: {
      sync: { status: "Synced", revision: "4d2c8e1" },
      health: { status: "Healthy" },
      resources: [
        {
          group: res.group,
          version: res.version,
          kind: res.kind,
          namespace: res.namespace,
          name: res.name,
          status: "Synced",
          health: { status: "Healthy" },
        },
      ],
      operationState: {
        operation: { sync: { revision: "4d2c8e1" }, initiatedBy: { automated: true } },
        phase: "Succeeded",
        message: "successfully synced (all tasks run)",
        startedAt: earlier,
        finishedAt: earlier,
      },
      reconciledAt: earlier,
    },
  } as {
    metadata: Json & { resourceVersion: string; annotations?: Record<string, string> };
    spec: Json;
    status: {
      sync: { status: string; revision: string };
      health: { status: string; message?: string };
      resources: (Json & { health: { status: string; message?: string } })[];
      operationState: Json;
      reconciledAt: string;
    };
    operation?: Json;
  };
  const deployment = {
    apiVersion: `${res.group === "" ? "" : `${res.group}/`}${res.version}`,
    kind: res.kind,
    metadata: { name: res.name, namespace: res.namespace, generation: 1, uid: "9b1f-deploy" },
    spec: {
      replicas: res.replicas,
      template: { metadata: { annotations: {} as Record<string, string> }, spec: {} },
    },
    status: {
      observedGeneration: 1,
      replicas: res.replicas,
      updatedReplicas: res.replicas,
      readyReplicas: res.replicas,
      availableReplicas: res.replicas,
      conditions: [{ type: "Progressing", status: "True", reason: "NewReplicaSetAvailable" }] as Json[],
    },
  };

  const setHealth = (status: string, message?: string) => {
    app.status.health = message === undefined ? { status } : { status, message };
    app.status.resources[0]!.health = message === undefined ? { status } : { status, message };
    app.metadata.resourceVersion = bump();
  };
  /** Run `step` after the controller's delay; steps are counted so tests can wait for quiet. */
  const later = (step: () => void | Promise<void>, ms = delayMs) => {
    pending++;
    const timer = setTimeout(() => {
      timers.delete(timer);
      void (async () => {
        try {
          if (!closed) await step();
        } finally {
          pending--;
        }
      })();
    }, ms);
    timers.add(timer);
  };

  /** The Deployment controller's rollout of `generation`, with the consumer restarted on the way. */
  const rollOut = (generation: number) => {
    const current = () => deployment.metadata.generation === generation;
    later(() => {
      if (!current()) return;
      deployment.status.observedGeneration = generation;
      deployment.status.updatedReplicas = 0;
      deployment.status.conditions = [{ type: "Progressing", status: "True", reason: "ReplicaSetUpdated" }];
      setHealth(
        "Progressing",
        `Waiting for rollout to finish: 0 of ${res.replicas} updated replicas are available...`,
      );
      later(async () => {
        if (!current()) return;
        let failed = faults.degraded === true;
        if (!failed) {
          try {
            await options.onRestart?.();
          } catch {
            failed = true;
          }
        }
        if (!current()) return;
        if (failed) {
          deployment.status.conditions = [
            { type: "Progressing", status: "False", reason: "ProgressDeadlineExceeded" },
          ];
          setHealth("Degraded", `Deployment "${res.name}" exceeded its progress deadline`);
          return;
        }
        // The new pods run beside the old ones (surge), then the old ones go.
        deployment.status.updatedReplicas = res.replicas;
        deployment.status.replicas = res.replicas * 2;
        app.metadata.resourceVersion = bump();
        later(() => {
          if (!current()) return;
          deployment.status.replicas = res.replicas;
          deployment.status.readyReplicas = res.replicas;
          deployment.status.availableReplicas = res.replicas;
          deployment.status.conditions = [
            { type: "Progressing", status: "True", reason: "NewReplicaSetAvailable" },
          ];
          setHealth("Healthy");
        });
      });
    });
  };

  /** The reconciled state after a refresh or sync. */
  const reconcile = () => {
    app.status.sync.status = faults.neverSynced ? "OutOfSync" : "Synced";
    if (faults.degraded) setHealth("Degraded", `Deployment "${res.name}" exceeded its progress deadline`);
    app.status.reconciledAt = seconds();
    app.metadata.resourceVersion = bump();
  };

  /**
   * Argo CD's `getAppEnforceRBAC`: without a project, an unknown application and a missing
   * permission both answer 403; with one, both answer 404.
   */
  const lookup = (action: string, name: string, query: Record<string, string>): Reply | undefined => {
    const givenProject = query.project ?? "";
    const ns = query.appNamespace || appNamespace;
    const notFound = () => grpcError("notFound", `applications.argoproj.io "${name}" not found`);
    if (givenProject !== "" && !permissions.has(action)) return PERMISSION_DENIED();
    if (name !== appName || ns !== appNamespace)
      return givenProject !== "" ? notFound() : PERMISSION_DENIED();
    if (!permissions.has(action)) return givenProject !== "" ? notFound() : PERMISSION_DENIED();
    if (givenProject !== "" && givenProject !== project) return notFound();
    return undefined;
  };

  /** The resource a request names, or the InvalidArgument Argo CD answers. */
  const findResource = (q: Record<string, string | undefined>, name: string): Reply | undefined => {
    for (const field of ["resourceName", "version", "kind"]) {
      if ((q[field] ?? "") === "") return grpcError("invalidArgument", `required field "${field}" not set`);
    }
    const match =
      (q.group ?? "") === res.group &&
      q.kind === res.kind &&
      (q.namespace ?? "") === res.namespace &&
      q.resourceName === res.name;
    if (!match) {
      return grpcError(
        "invalidArgument",
        `${q.kind ?? ""} ${q.group ?? ""} ${q.resourceName ?? ""} not found as part of application ${name}`,
      );
    }
    return undefined;
  };

  const runAction = (name: string, q: Record<string, string | undefined>, action: string): Reply => {
    const denied = lookup(`action/${q.group ?? ""}/${q.kind ?? ""}/${action}`, name, clean(q));
    if (denied) return denied;
    const missing = findResource(q, name);
    if (missing) return missing;
    if (action !== "restart") {
      return grpcError("unknown", `error getting Lua resource action: action '${action}' not found`);
    }
    const stamp = seconds();
    const annotations = deployment.spec.template.metadata.annotations;
    // The same second's stamp changes nothing: the patch is empty, no new generation.
    if (annotations["kubectl.kubernetes.io/restartedAt"] !== stamp) {
      annotations["kubectl.kubernetes.io/restartedAt"] = stamp;
      deployment.metadata.generation += 1;
      app.metadata.resourceVersion = bump();
      rollOut(deployment.metadata.generation);
    }
    return { status: 200, body: {} };
  };

  const handle = (method: string, path: string, query: Record<string, string>, body: string): Reply => {
    const route = /^\/api\/v1\/applications\/([^/]+)(\/resource(?:\/actions(?:\/v2)?)?|\/sync)?$/.exec(path);
    if (!route) return { status: 404, body: "Not Found\n" };
    const name = decodeURIComponent(route[1]!);
    const rest = route[2] ?? "";
    if (method === "GET" && rest === "") {
      const denied = lookup("get", name, query);
      if (denied) return denied;
      if (query.refresh !== undefined) return { status: 0, body: "refresh" };
      return { status: 200, body: structuredClone(app) };
    }
    if (method === "GET" && rest === "/resource") {
      const denied = lookup("get", name, query);
      if (denied) return denied;
      const missing = findResource(query, name);
      if (missing) return missing;
      return { status: 200, body: { manifest: JSON.stringify(deployment) } };
    }
    if (method === "POST" && rest === "/resource/actions/v2" && !options.legacyActions) {
      const parsed = parseJson(body);
      if (parsed === undefined || typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
        return grpcError("invalidArgument", "invalid request body");
      }
      const fields = Object.fromEntries(
        Object.entries(parsed).map(([k, v]) => [k, typeof v === "string" ? v : undefined]),
      );
      return runAction(name, fields, fields.action ?? "");
    }
    if (method === "POST" && rest === "/resource/actions") {
      const action = parseJson(body);
      if (typeof action !== "string") return grpcError("invalidArgument", "invalid request body");
      return runAction(name, query, action);
    }
    if (method === "POST" && rest === "/sync") {
      const parsed = parseJson(body);
      if (parsed === undefined || typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
        return grpcError("invalidArgument", "invalid request body");
      }
      const request = parsed as Json;
      const scope = clean({
        project: typeof request.project === "string" ? request.project : undefined,
        appNamespace: typeof request.appNamespace === "string" ? request.appNamespace : undefined,
      });
      const denied = lookup("get", name, scope);
      if (denied) return denied;
      if (!permissions.has("sync")) {
        return grpcError(
          "permissionDenied",
          `permission denied: applications, sync, ${project}/${appName}, sub: ftr`,
        );
      }
      if (app.operation !== undefined) {
        return grpcError("failedPrecondition", "another operation is already in progress");
      }
      const operation = {
        sync: {
          revision: app.status.sync.revision,
          prune: request.prune === true,
          resources: request.resources,
        },
        initiatedBy: { username: "ftr" },
      };
      app.operation = operation;
      app.metadata.resourceVersion = bump();
      const answer = structuredClone(app);
      later(() => {
        app.status.operationState = { operation, phase: "Running", message: "", startedAt: seconds() };
        app.metadata.resourceVersion = bump();
        later(async () => {
          let failure: string | undefined;
          try {
            await options.onSync?.();
          } catch (error) {
            failure = error instanceof Error ? error.message : String(error);
          }
          app.status.operationState = {
            ...app.status.operationState,
            phase: failure === undefined ? "Succeeded" : "Failed",
            message: failure ?? "successfully synced (all tasks run)",
            finishedAt: seconds(),
          };
          delete app.operation;
          if (failure === undefined) reconcile();
          app.metadata.resourceVersion = bump();
        });
      });
      return { status: 200, body: answer };
    }
    return { status: 404, body: "Not Found\n" };
  };

  const respond = (response: ServerResponse, reply: Reply) => {
    const text = typeof reply.body === "string" ? reply.body : JSON.stringify(reply.body);
    response.writeHead(reply.status, {
      "Content-Type": typeof reply.body === "string" ? "text/plain; charset=utf-8" : "application/json",
      ...reply.headers,
    });
    response.end(text);
  };

  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const url = new URL(request.url ?? "/", "http://fake");
      const query = Object.fromEntries(url.searchParams);
      const body = Buffer.concat(chunks).toString("utf8");
      const method = request.method ?? "GET";
      const log = (status: number) =>
        requests.push({
          method,
          path: url.pathname,
          query,
          contentType: request.headers["content-type"],
          authorization: request.headers.authorization,
          body,
          status,
        });
      const send = (reply: Reply) => {
        log(reply.status);
        respond(response, reply);
      };
      if (faults.redirectTo !== undefined) {
        send({ status: 307, body: "", headers: { Location: faults.redirectTo } });
        return;
      }
      if ((faults.unavailable ?? 0) > 0) {
        faults.unavailable = (faults.unavailable ?? 0) - 1;
        send(grpcError("unavailable", 'connection error: desc = "transport: Error while dialing"'));
        return;
      }
      // Argo CD's CSRF guard: writes must say exactly application/json.
      if (method !== "GET" && (request.headers["content-type"] ?? "").toLowerCase() !== "application/json") {
        send({ status: 415, body: "Invalid content type\n" });
        return;
      }
      const auth = request.headers.authorization ?? "";
      if (!auth.startsWith("Bearer ")) {
        send(grpcError("unauthenticated", "no session information"));
        return;
      }
      if (auth.slice("Bearer ".length) !== token) {
        send(grpcError("unauthenticated", "invalid session: token signature is invalid"));
        return;
      }
      const reply = handle(method, url.pathname, query, body);
      if (reply.status !== 0) {
        send(reply);
        return;
      }
      // A refresh: Argo CD answers once the controller has reconciled the application.
      app.metadata.annotations = {
        "argocd.argoproj.io/refresh": query.refresh === "hard" ? "hard" : "normal",
      };
      app.metadata.resourceVersion = bump();
      later(() => {
        delete app.metadata.annotations;
        reconcile();
        send({ status: 200, body: structuredClone(app) });
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    faults,
    application: () => structuredClone(app),
    deployment: () => structuredClone(deployment),
    async idle() {
      while (pending > 0) await new Promise((resolve) => setTimeout(resolve, 10));
    },
    async close() {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      pending -= timers.size;
      timers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** The string members of `record` that are set. */
function clean(record: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(record)) if (value !== undefined) out[key] = value;
  return out;
}
