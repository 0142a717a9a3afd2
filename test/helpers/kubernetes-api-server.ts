/**
 * A local server speaking the Kubernetes API's REST protocol for what the reloaders touch, so the
 * real `@kubernetes/client-node` can be driven against it: Deployments (`apps/v1`), ExternalSecrets
 * (`external-secrets.io/v1`) and Secrets (`v1`, also created by POST), GET and PATCH (merge and
 * strategic-merge), with
 * `metadata.generation` bumped on spec changes, `Status` bodies for errors, and bearer-token
 * authentication. Two small controllers play the cluster: a Deployment controller that, when the
 * pod template changes, runs `onRollout` (restart the consumer) and then reports the rollout
 * complete as the real one does (observedGeneration, updated/available replicas, the Progressing
 * condition); and an External Secrets operator that, when the annotations change, runs `onSync`
 * (copy the value) and reports `refreshTime`, `syncedResourceVersion` and `Ready`.
 */
import { createHash } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export const KUBE_TEST_TOKEN = "ftr-test-kube-bearer-token-0123456789";

type Json = Record<string, unknown>;

interface Options {
  /** Restart the consumer; a throw makes the rollout exceed its progress deadline. */
  readonly onRollout?: (namespace: string, name: string) => Promise<void>;
  /** Copy the value into the target Secret; a throw reports `SecretSyncedError`. */
  readonly onSync?: (namespace: string, name: string) => Promise<void>;
  /** How long each controller takes before acting. Default 100 ms. */
  readonly controllerDelayMs?: number;
  /** How far the cluster's clock is from this machine's (the operators' timestamps). Default 0. */
  readonly clusterClockSkewMs?: number;
}

export interface RequestLogEntry {
  readonly method: string;
  readonly path: string;
  readonly contentType: string | undefined;
  readonly status: number;
}

export interface RunningKubernetesApi {
  readonly url: string;
  readonly requests: RequestLogEntry[];
  addDeployment(namespace: string, name: string, replicas?: number, extra?: { paused?: boolean }): void;
  addStatefulSet(namespace: string, name: string, replicas?: number, extra?: { onDelete?: boolean }): void;
  addDaemonSet(namespace: string, name: string, nodes?: number): void;
  statefulSet(namespace: string, name: string): Json | undefined;
  daemonSet(namespace: string, name: string): Json | undefined;
  /** With `failing`, its Ready condition is already False with that message. */
  addExternalSecret(namespace: string, name: string, spec?: Json, failing?: string): void;
  /** A Secret with these (plain) values; stored base64-encoded as the API does. */
  addSecret(namespace: string, name: string, values: Record<string, string>): void;
  /** A Secret's decoded values, or undefined when it does not exist. */
  secretValues(namespace: string, name: string): Record<string, string> | undefined;
  /** Refuse every request of `method` on `resource` (e.g. PATCH secrets) with 403, or allow it again. */
  forbid(method: string, resource: string, forbidden?: boolean): void;
  /**
   * Refuse every request of `method` on `resource` with 422 from an admission webhook whose message
   * quotes the request body, as many webhooks do (or allow it again).
   */
  rejectQuoting(method: string, resource: string, rejecting?: boolean): void;
  /** The request bodies quoted back by {@link rejectQuoting}. */
  readonly quoted: string[];
  deployment(namespace: string, name: string): Json | undefined;
  externalSecret(namespace: string, name: string): Json | undefined;
  /** Stop the operators acting (a cluster without External Secrets running, a stuck rollout). */
  pause(controller: "deployments" | "externalsecrets", paused?: boolean): void;
  /** Write a kubeconfig pointing at this server; returns its path. */
  writeKubeconfig(path: string, context?: string): Promise<string>;
  close(): Promise<void>;
}

const clone = <T>(value: T): T => structuredClone(value);
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** RFC 7386 merge patch (strategic merge acts the same on the maps these patches touch). */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return clone(patch);
  const out: Json = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

const format = (date: Date): string => date.toISOString().replace(/\.\d{3}Z$/, "Z");

export async function startKubernetesApi(options: Options = {}): Promise<RunningKubernetesApi> {
  const deployments = new Map<string, Json>();
  const externalSecrets = new Map<string, Json>();
  const secrets = new Map<string, Json>();
  const statefulSets = new Map<string, Json>();
  const daemonSets = new Map<string, Json>();
  const forbidden = new Set<string>();
  const quoting = new Set<string>();
  const quoted: string[] = [];
  const requests: RequestLogEntry[] = [];
  const paused = new Set<string>();
  const delay = options.controllerDelayMs ?? 100;
  const seconds = (): string => format(new Date(Date.now() + (options.clusterClockSkewMs ?? 0)));
  const key = (ns: string, name: string): string => `${ns}/${name}`;

  const status = (code: number, reason: string, message: string): [number, Json] => [
    code,
    { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, code },
  ];

  const rollout = (dep: Json): void => {
    const meta = dep.metadata as Json;
    const spec = dep.spec as Json;
    const generation = meta.generation as number;
    const replicas = (spec.replicas as number | undefined) ?? 1;
    setTimeout(() => {
      if (paused.has("deployments")) return;
      // Observed: a new ReplicaSet starts next to the old one (surge 1, unavailable 0).
      dep.status = {
        ...(dep.status as Json),
        observedGeneration: generation,
        replicas: replicas + 1,
        updatedReplicas: 1,
        availableReplicas: replicas,
      };
      const hook = options.onRollout?.(meta.namespace as string, meta.name as string) ?? Promise.resolve();
      hook.then(
        () => {
          if ((dep.metadata as Json).generation !== generation) return; // superseded
          dep.status = {
            observedGeneration: generation,
            replicas,
            updatedReplicas: replicas,
            readyReplicas: replicas,
            availableReplicas: replicas,
            conditions: [
              { type: "Available", status: "True", reason: "MinimumReplicasAvailable" },
              { type: "Progressing", status: "True", reason: "NewReplicaSetAvailable" },
            ],
          };
        },
        () => {
          dep.status = {
            ...(dep.status as Json),
            conditions: [
              {
                type: "Progressing",
                status: "False",
                reason: "ProgressDeadlineExceeded",
                message: "rollout failed",
              },
            ],
          };
        },
      );
    }, delay);
  };

  const sync = (es: Json): void => {
    const meta = es.metadata as Json;
    setTimeout(() => {
      if (paused.has("externalsecrets")) return;
      const hash = createHash("sha256")
        .update(JSON.stringify([meta.labels ?? {}, meta.annotations ?? {}]))
        .digest("hex")
        .slice(0, 16);
      const hook = options.onSync?.(meta.namespace as string, meta.name as string) ?? Promise.resolve();
      hook.then(
        () => {
          es.status = {
            refreshTime: seconds(),
            syncedResourceVersion: `${String(meta.generation)}-${hash}`,
            binding: { name: meta.name },
            conditions: [
              {
                type: "Ready",
                status: "True",
                reason: "SecretSynced",
                message: "secret synced",
                lastTransitionTime: seconds(),
              },
            ],
          };
        },
        (error: unknown) => {
          // As the operator does: the transition time moves only when the status changes.
          const previous = ((es.status as Json).conditions as Json[] | undefined)?.find(
            (c) => c.type === "Ready",
          );
          es.status = {
            ...(es.status as Json),
            conditions: [
              {
                type: "Ready",
                status: "False",
                reason: "SecretSyncedError",
                message: `could not get secret data from provider: ${error instanceof Error ? error.message : String(error)}`,
                lastTransitionTime: previous?.status === "False" ? previous.lastTransitionTime : seconds(),
              },
            ],
          };
        },
      );
    }, delay);
  };

  /** The StatefulSet and DaemonSet controllers: replace the pods (after `onRollout`), then report. */
  const rollPods = (object: Json, kind: "statefulsets" | "daemonsets"): void => {
    const meta = object.metadata as Json;
    const spec = object.spec as Json;
    const generation = meta.generation as number;
    setTimeout(() => {
      if (paused.has("deployments")) return;
      const revision = `${String(meta.name)}-${generation}`;
      if (kind === "statefulsets") {
        object.status = {
          ...(object.status as Json),
          observedGeneration: generation,
          updateRevision: revision,
          updatedReplicas: 0,
        };
      } else {
        object.status = {
          ...(object.status as Json),
          observedGeneration: generation,
          updatedNumberScheduled: 0,
        };
      }
      const hook = options.onRollout?.(meta.namespace as string, meta.name as string) ?? Promise.resolve();
      void hook.then(() => {
        if ((object.metadata as Json).generation !== generation) return;
        if (kind === "statefulsets") {
          const replicas = (spec.replicas as number | undefined) ?? 1;
          object.status = {
            observedGeneration: generation,
            replicas,
            readyReplicas: replicas,
            updatedReplicas: replicas,
            currentRevision: revision,
            updateRevision: revision,
          };
        } else {
          const nodes = (object.status as Json).desiredNumberScheduled as number;
          object.status = {
            observedGeneration: generation,
            desiredNumberScheduled: nodes,
            currentNumberScheduled: nodes,
            updatedNumberScheduled: nodes,
            numberAvailable: nodes,
            numberReady: nodes,
          };
        }
      });
    }, delay);
  };

  const routes: {
    pattern: RegExp;
    store: Map<string, Json>;
    kind: "deployments" | "statefulsets" | "daemonsets" | "externalsecrets" | "secrets";
  }[] = [
    {
      pattern: /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/statefulsets\/([^/]+)$/,
      store: statefulSets,
      kind: "statefulsets",
    },
    {
      pattern: /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/daemonsets\/([^/]+)$/,
      store: daemonSets,
      kind: "daemonsets",
    },
    { pattern: /^\/api\/v1\/namespaces\/([^/]+)\/secrets\/([^/]+)$/, store: secrets, kind: "secrets" },
    {
      pattern: /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/deployments\/([^/]+)$/,
      store: deployments,
      kind: "deployments",
    },
    {
      pattern: /^\/apis\/external-secrets\.io\/v1\/namespaces\/([^/]+)\/externalsecrets\/([^/]+)$/,
      store: externalSecrets,
      kind: "externalsecrets",
    },
  ];

  const handle = (req: IncomingMessage, body: string): [number, Json] => {
    if (req.headers.authorization !== `Bearer ${KUBE_TEST_TOKEN}`) {
      return status(401, "Unauthorized", "Unauthorized");
    }
    const path = (req.url ?? "/").split("?")[0]!;
    const resource =
      /\/(deployments|statefulsets|daemonsets|externalsecrets|secrets)(\/|$)/.exec(path)?.[1] ?? "";
    if (forbidden.has(`${req.method ?? ""} ${resource}`)) {
      return status(
        403,
        "Forbidden",
        `${resource} is forbidden: User "system:serviceaccount:monitoring:ftr" cannot ${String(req.method).toLowerCase()} resource "${resource}"`,
      );
    }
    if (quoting.has(`${req.method ?? ""} ${resource}`)) {
      quoted.push(body);
      return status(
        422,
        "Invalid",
        `admission webhook "secrets.policy.example.com" denied the request: object ${body} does not carry the label team`,
      );
    }
    const create = /^\/api\/v1\/namespaces\/([^/]+)\/secrets$/.exec(path);
    if (create && req.method === "POST") {
      const object = JSON.parse(body) as Json;
      const meta = (object.metadata ?? {}) as Json;
      const name = String(meta.name);
      if (secrets.has(key(create[1]!, name)))
        return status(409, "AlreadyExists", `secrets "${name}" already exists`);
      const stored = {
        apiVersion: "v1",
        kind: "Secret",
        ...object,
        metadata: { ...meta, namespace: create[1], resourceVersion: "1" },
      };
      secrets.set(key(create[1]!, name), stored);
      return [201, clone(stored)];
    }
    for (const route of routes) {
      const match = route.pattern.exec(path);
      if (!match) continue;
      const [, ns = "", name = ""] = match;
      const object = route.store.get(key(ns, name));
      const group = {
        deployments: ".apps",
        statefulsets: ".apps",
        daemonsets: ".apps",
        externalsecrets: ".external-secrets.io",
        secrets: "",
      }[route.kind];
      const what = `${route.kind}${group} "${name}"`;
      if (!object) return status(404, "NotFound", `${what} not found`);
      if (req.method === "GET") return [200, clone(object)];
      if (req.method === "PATCH") {
        const type = req.headers["content-type"] ?? "";
        if (!/^application\/(merge-patch|strategic-merge-patch)\+json/.test(type)) {
          return status(
            415,
            "UnsupportedMediaType",
            `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`,
          );
        }
        if (route.kind === "externalsecrets" && type.startsWith("application/strategic-merge-patch")) {
          return status(
            415,
            "UnsupportedMediaType",
            "strategic merge patch is not supported for custom resources",
          );
        }
        let patch: unknown;
        try {
          patch = JSON.parse(body);
        } catch {
          return status(400, "BadRequest", "error decoding patch: invalid JSON");
        }
        const before = JSON.stringify(object.spec);
        const beforeMeta = JSON.stringify([
          (object.metadata as Json).labels,
          (object.metadata as Json).annotations,
        ]);
        const merged = mergePatch(object, patch) as Json;
        Object.assign(object, merged);
        const meta = object.metadata as Json;
        if (JSON.stringify(object.spec) !== before) meta.generation = ((meta.generation as number) ?? 1) + 1;
        meta.resourceVersion = String(Number(meta.resourceVersion ?? "1") + 1);
        if (route.kind === "deployments" && JSON.stringify(object.spec) !== before) rollout(object);
        if (
          (route.kind === "statefulsets" || route.kind === "daemonsets") &&
          JSON.stringify(object.spec) !== before
        ) {
          rollPods(object, route.kind);
        }
        if (
          route.kind === "externalsecrets" &&
          JSON.stringify([meta.labels, meta.annotations]) !== beforeMeta
        )
          sync(object);
        return [200, clone(object)];
      }
      return status(
        405,
        "MethodNotAllowed",
        `the server does not allow this method on the requested resource`,
      );
    }
    return status(404, "NotFound", "the server could not find the requested resource");
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const [code, body] = handle(req, Buffer.concat(chunks).toString("utf8"));
      requests.push({
        method: req.method ?? "",
        path: req.url ?? "",
        contentType: req.headers["content-type"],
        status: code,
      });
      const text = JSON.stringify(body);
      res.writeHead(code, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
      res.end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    requests,
    addDeployment(namespace, name, replicas = 1, extra = {}) {
      deployments.set(key(namespace, name), {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: {
          namespace,
          name,
          generation: 1,
          resourceVersion: "1",
          uid: createHash("sha1").update(name).digest("hex"),
        },
        spec: {
          replicas,
          ...(extra.paused ? { paused: true } : {}),
          selector: { matchLabels: { app: name } },
          template: {
            metadata: { labels: { app: name } },
            spec: { containers: [{ name, image: "fastly-exporter" }] },
          },
        },
        status: {
          observedGeneration: 1,
          replicas,
          updatedReplicas: replicas,
          availableReplicas: replicas,
          readyReplicas: replicas,
        },
      });
    },
    addExternalSecret(namespace, name, spec = {}, failing) {
      externalSecrets.set(key(namespace, name), {
        apiVersion: "external-secrets.io/v1",
        kind: "ExternalSecret",
        metadata: { namespace, name, generation: 1, resourceVersion: "1" },
        spec: {
          refreshInterval: "1h",
          secretStoreRef: { name: "aws-secretsmanager", kind: "ClusterSecretStore" },
          target: { name, creationPolicy: "Owner" },
          ...spec,
        },
        status: {
          refreshTime: "2026-01-01T00:00:00Z",
          syncedResourceVersion: "1-0000000000000000",
          conditions: [
            failing
              ? {
                  type: "Ready",
                  status: "False",
                  reason: "SecretSyncedError",
                  message: `could not get secret data from provider: ${failing}`,
                  lastTransitionTime: "2026-01-01T00:00:00Z",
                }
              : {
                  type: "Ready",
                  status: "True",
                  reason: "SecretSynced",
                  lastTransitionTime: "2026-01-01T00:00:00Z",
                },
          ],
        },
      });
    },
    addSecret(namespace, name, values) {
      secrets.set(key(namespace, name), {
        apiVersion: "v1",
        kind: "Secret",
        type: "Opaque",
        metadata: { namespace, name, resourceVersion: "1" },
        data: Object.fromEntries(
          Object.entries(values).map(([k, v]) => [k, Buffer.from(v).toString("base64")]),
        ),
      });
    },
    secretValues(namespace, name) {
      const secret = secrets.get(key(namespace, name));
      if (!secret) return undefined;
      return Object.fromEntries(
        Object.entries((secret.data ?? {}) as Record<string, string>).map(([k, v]) => [
          k,
          Buffer.from(v, "base64").toString("utf8"),
        ]),
      );
    },
    quoted,
    rejectQuoting(method, resource, rejecting = true) {
      if (rejecting) quoting.add(`${method} ${resource}`);
      else quoting.delete(`${method} ${resource}`);
    },
    forbid(method, resource, isForbidden = true) {
      if (isForbidden) forbidden.add(`${method} ${resource}`);
      else forbidden.delete(`${method} ${resource}`);
    },
    addStatefulSet(namespace, name, replicas = 1, extra = {}) {
      const revision = `${name}-1`;
      statefulSets.set(key(namespace, name), {
        apiVersion: "apps/v1",
        kind: "StatefulSet",
        metadata: { namespace, name, generation: 1, resourceVersion: "1" },
        spec: {
          replicas,
          serviceName: name,
          selector: { matchLabels: { app: name } },
          updateStrategy: extra.onDelete ? { type: "OnDelete" } : { type: "RollingUpdate" },
          template: {
            metadata: { labels: { app: name } },
            spec: { containers: [{ name, image: "fastly-exporter" }] },
          },
        },
        status: {
          observedGeneration: 1,
          replicas,
          readyReplicas: replicas,
          updatedReplicas: replicas,
          currentRevision: revision,
          updateRevision: revision,
        },
      });
    },
    addDaemonSet(namespace, name, nodes = 2) {
      daemonSets.set(key(namespace, name), {
        apiVersion: "apps/v1",
        kind: "DaemonSet",
        metadata: { namespace, name, generation: 1, resourceVersion: "1" },
        spec: {
          selector: { matchLabels: { app: name } },
          updateStrategy: { type: "RollingUpdate" },
          template: {
            metadata: { labels: { app: name } },
            spec: { containers: [{ name, image: "fastly-exporter" }] },
          },
        },
        status: {
          observedGeneration: 1,
          desiredNumberScheduled: nodes,
          currentNumberScheduled: nodes,
          updatedNumberScheduled: nodes,
          numberAvailable: nodes,
          numberReady: nodes,
        },
      });
    },
    statefulSet: (namespace, name) => clone(statefulSets.get(key(namespace, name))),
    daemonSet: (namespace, name) => clone(daemonSets.get(key(namespace, name))),
    deployment: (namespace, name) => clone(deployments.get(key(namespace, name))),
    externalSecret: (namespace, name) => clone(externalSecrets.get(key(namespace, name))),
    pause(controller, isPaused = true) {
      if (isPaused) paused.add(controller);
      else paused.delete(controller);
    },
    async writeKubeconfig(path, context = "test") {
      const text = [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        `  - name: ${context}`,
        `    cluster: { server: "${url}", insecure-skip-tls-verify: true }`,
        "users:",
        `  - name: ${context}`,
        `    user: { token: "${KUBE_TEST_TOKEN}" }`,
        "contexts:",
        `  - name: ${context}`,
        `    context: { cluster: ${context}, user: ${context} }`,
        `current-context: ${context}`,
        "",
      ].join("\n");
      await writeFile(path, text, { mode: 0o600 });
      return path;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
