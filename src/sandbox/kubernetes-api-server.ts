/**
 * A local server speaking the Kubernetes API's REST protocol for what ftr's Kubernetes adapters
 * touch, so the real `@kubernetes/client-node` (and kubectl, in kubernetes-fake-vs-kubectl.test.ts)
 * can be driven against it: Deployments, StatefulSets, DaemonSets (`apps/v1`), Secrets and ConfigMaps
 * (`v1`), Leases (`coordination.k8s.io/v1`) and ExternalSecrets (`external-secrets.io/v1`); GET,
 * list, watch, PUT, PATCH (merge, strategic merge with merge keys, JSON patch), POST (Secrets,
 * ConfigMaps, Leases, ExternalSecrets; 409 AlreadyExists) and DELETE (the same); one resourceVersion counter with 409
 * Conflict on a stale one (PUT and PATCH alike); `metadata.generation` bumped on spec changes; `Status` bodies for errors; bearer-token
 * authentication; discovery; 403 and 429 faults on request. Small controllers play the cluster,
 * one step per configurable delay: a Deployment controller that rolls a new generation as the real
 * one reports it (observedGeneration, replica counts, Progressing reset per generation, and
 * ProgressDeadlineExceeded when `onRollout` throws); StatefulSet and DaemonSet controllers; and an
 * External Secrets operator that, when the annotations change, runs `onSync` and reports
 * `refreshTime`, `syncedResourceVersion` and `Ready`. docs/testing.md lists where it differs from
 * a real API server.
 */
import { createHash, randomUUID } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { createHolds } from "./holds.ts";

export const KUBE_TEST_TOKEN = "ftr-test-kube-bearer-token-0123456789";

type Json = Record<string, unknown>;

/** The resources served, with their API group ("" for the core group) and kind. */
const RESOURCES = {
  deployments: { group: "apps", kind: "Deployment", shortNames: ["deploy"] },
  statefulsets: { group: "apps", kind: "StatefulSet", shortNames: ["sts"] },
  daemonsets: { group: "apps", kind: "DaemonSet", shortNames: ["ds"] },
  externalsecrets: { group: "external-secrets.io", kind: "ExternalSecret", shortNames: ["es"] },
  secrets: { group: "", kind: "Secret", shortNames: undefined },
  replicasets: { group: "apps", kind: "ReplicaSet", shortNames: ["rs"] },
  pods: { group: "", kind: "Pod", shortNames: ["po"] },
  configmaps: { group: "", kind: "ConfigMap", shortNames: ["cm"] },
  leases: { group: "coordination.k8s.io", kind: "Lease", shortNames: undefined },
} as const;
export type Resource = keyof typeof RESOURCES;

/** What POST may create and DELETE remove (the others are made by `add…` and the controllers). */
const CREATABLE: ReadonlySet<Resource> = new Set<Resource>([
  "secrets",
  "configmaps",
  "leases",
  "externalsecrets",
]);
/** Objects without `metadata.generation` (no spec, or a spec the API does not count: a Lease's). */
const UNGENERATED: ReadonlySet<Resource> = new Set<Resource>(["secrets", "configmaps", "leases"]);

/** A pod's log: `/api/v1/namespaces/<ns>/pods/<name>/log`. */
const LOG_ROUTE = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/log$/;

/** The annotation a Deployment and its ReplicaSets carry: which rollout a ReplicaSet is. */
const REVISION = "deployment.kubernetes.io/revision";

/** The characters Kubernetes' SafeEncodeString uses for names made from hashes (no vowels). */
const SAFE = "bcdfghjklmnpqrstvwxz2456789";

/** `value` as JSON with object keys sorted. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    return `{${Object.entries(value)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`)
      .join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/** A pod template's `pod-template-hash` (the real one hashes with FNV; any stable hash will do). */
function templateHash(template: unknown): string {
  const digest = createHash("sha256").update(canonical(template)).digest();
  return [...digest.subarray(0, 10)].map((b) => SAFE[b % SAFE.length]).join("");
}

/** Five random characters, as the API server's generateName suffix. */
const suffix = (): string =>
  Array.from({ length: 5 }, () => SAFE[Math.floor(Math.random() * SAFE.length)]).join("");

/**
 * Does a label selector (`a=b,c!=d,e in (f,g),h,!i`, the subset kubectl and ftr send) match `labels`?
 * Throws on what it cannot parse, as the API server answers 400.
 */
function selects(selector: string, labels: Record<string, string>): boolean {
  const terms = selector.match(/[^,(]+(?:\([^)]*\))?/g) ?? [];
  return terms.every((raw) => {
    const term = raw.trim();
    if (term === "") return true;
    let m = /^([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)$/.exec(term);
    if (m) return m[2] === "!=" ? labels[m[1]!] !== m[3] : labels[m[1]!] === m[3];
    m = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
    if (m) {
      const values = m[3]!.split(",").map((v) => v.trim());
      const has = labels[m[1]!] !== undefined && values.includes(labels[m[1]!]!);
      return m[2] === "in" ? has : !has;
    }
    m = /^(!?)([\w./-]+)$/.exec(term);
    if (m) return m[1] === "!" ? labels[m[2]!] === undefined : labels[m[2]!] !== undefined;
    throw new Error(`unable to parse requirement: ${term}`);
  });
}

/** `/api/v1/...` or `/apis/<group>/v1/...`, a namespaced collection or one object in it. */
const ROUTE = /^\/(?:api\/v1|apis\/([^/]+)\/v1)\/namespaces\/([^/]+)\/([a-z]+)(?:\/([^/]+))?$/;

/** Status code, body and extra headers of an answer. */
type Reply = [number, Json, Record<string, string>?];
/** A plain-text answer (a pod's log). */
interface TextReply {
  readonly text: string;
}
interface WatchRequest {
  readonly watch: { resource: Resource; namespace: string; name?: string; since?: string };
}
interface Watcher {
  readonly resource: Resource;
  readonly namespace: string;
  readonly name?: string;
  readonly res: ServerResponse;
}

/** Options of {@link startKubernetesApi}. */
export interface KubernetesApiOptions {
  /** Restart the consumer; a throw makes the rollout exceed its progress deadline. */
  readonly onRollout?: (namespace: string, name: string) => Promise<void>;
  /** Copy the value into the target Secret; a throw reports `SecretSyncedError`. */
  readonly onSync?: (namespace: string, name: string) => Promise<void>;
  /** How long each controller step takes (observe, start a pod, sync). Default 100 ms. */
  readonly controllerDelayMs?: number;
  /**
   * Serve HTTPS with this key and certificate. kubectl (client-go) sends a kubeconfig's credentials
   * only over TLS, so the kubectl checks need it; the client library tests use plain HTTP.
   */
  readonly tls?: { readonly key: string; readonly cert: string };
  /** How far the cluster's clock is from this machine's (the operators' timestamps). Default 0. */
  readonly clusterClockSkewMs?: number;
  /**
   * Run a Stakater Reloader: when a Secret's data changes, it changes the pod template of every
   * Deployment in the namespace annotated `reloader.stakater.com/auto: "true"` that uses the
   * Secret, or naming it in `secret.reloader.stakater.com/reload` (an env var
   * `STAKATER_<NAME>_SECRET` holding a hash of the data with the default `env-vars` strategy, the
   * annotation `reloader.stakater.com/last-reloaded-from` with `annotations`).
   */
  readonly reloader?: "env-vars" | "annotations";
  /** The bearer token requests must carry. Default {@link KUBE_TEST_TOKEN}. */
  readonly token?: string;
  /** Port on 127.0.0.1. Default 0 (any free port). */
  readonly port?: number;
}

/** A pod as the fake's controllers made it, for tests that write its logs. */
export interface FakePod {
  readonly name: string;
  readonly ready: boolean;
  readonly podTemplateHash: string;
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
  /**
   * A Deployment, rolled out (revision 1: a ReplicaSet and its Ready pods). `secret` mounts that
   * Secret in the pod template; `annotations` go on the Deployment (Reloader's, say); `labels` are
   * its selector's and its pods' (default `app: <name>`: two Deployments given the same labels
   * select each other's pods, as Kubernetes allows).
   */
  addDeployment(
    namespace: string,
    name: string,
    replicas?: number,
    extra?: {
      paused?: boolean;
      secret?: string;
      annotations?: Record<string, string>;
      labels?: Record<string, string>;
    },
  ): void;
  /** The pods of the Deployment's current ReplicaSet (the newest rollout), oldest first. */
  currentPods(namespace: string, deployment: string): FakePod[];
  /** Append a line to a container's log (its only container by default), stamped now. */
  appendLog(namespace: string, pod: string, line: string, container?: string): void;
  /** Start or stop the Reloader (see the `reloader` option). */
  setReloader(strategy: "env-vars" | "annotations" | undefined): void;
  addStatefulSet(namespace: string, name: string, replicas?: number, extra?: { onDelete?: boolean }): void;
  addDaemonSet(namespace: string, name: string, nodes?: number): void;
  statefulSet(namespace: string, name: string): Json | undefined;
  daemonSet(namespace: string, name: string): Json | undefined;
  /** With `failing`, its Ready condition is already False with that message. */
  addExternalSecret(namespace: string, name: string, spec?: Json, failing?: string): void;
  /**
   * Write an ExternalSecret's whole `status` as an operator does through the status subresource (a
   * new resourceVersion, a MODIFIED event): conditions no operator of the fake writes. `undefined`
   * removes it.
   */
  writeExternalSecretStatus(namespace: string, name: string, status: Json | undefined): void;
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
  /** Any object as stored (a copy), or undefined when it does not exist. */
  object(resource: Resource, namespace: string, name: string): Json | undefined;
  /** A Lease with this spec (holderIdentity, renewTime..., as the API holds them). */
  addLease(namespace: string, name: string, spec: Json): void;
  /** Stop the operators acting (a cluster without External Secrets running, a stuck rollout). */
  pause(controller: "deployments" | "externalsecrets", paused?: boolean): void;
  /** Every version of an object written since it was added (controllers' writes too), oldest first. */
  history(resource: Resource, namespace: string, name: string): Json[];
  /** How long each controller step takes from now on (slower than a reloader's poll, say). */
  setControllerDelay(ms: number): void;
  /**
   * Answer the next `times` requests of `method` on `resource` with 429 Too Many Requests and
   * `Retry-After`, as the API server's priority and fairness does under load.
   */
  throttle(method: string, resource: string, times: number, retryAfterSeconds?: number): void;
  /**
   * Hold the next request of `method` on `resource` (optionally one object): `before` it is carried
   * out (dropped unprocessed if the client's connection dies while held) or `after` (the write is
   * done, the answer held). Held until {@link RunningKubernetesApi.release} or the connection dies.
   */
  hold(method: string, resource: Resource, phase: "before" | "after", name?: string): void;
  /** Resolves once a request is held (it reached the server); rejects after `timeoutMs`. */
  held(timeoutMs?: number): Promise<void>;
  /** Let held requests go on and drop holds nothing met yet. */
  release(): void;
  /** Resolves once no request is being handled or held. */
  idle(timeoutMs?: number): Promise<void>;
  /** Write a kubeconfig pointing at this server; returns its path. */
  writeKubeconfig(path: string, context?: string): Promise<string>;
  close(): Promise<void>;
}

const clone = <T>(value: T): T => structuredClone(value);
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** RFC 7386 JSON merge patch: maps merge, everything else (lists too) is replaced wholesale. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return clone(patch);
  const out: Json = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

/**
 * The merge keys of the lists ftr and kubectl touch in Deployments, StatefulSets, DaemonSets and
 * Secrets (`patchMergeKey` in the Kubernetes API types). A list not named here is replaced.
 */
const MERGE_KEYS: Readonly<Record<string, string>> = {
  containers: "name",
  initContainers: "name",
  env: "name",
  envFrom: "",
  volumes: "name",
  volumeMounts: "mountPath",
  ports: "containerPort",
  imagePullSecrets: "name",
  conditions: "type",
};

/**
 * Strategic merge patch as the API server applies it to built-in types: maps merge as in a JSON
 * merge patch, lists with a merge key merge element by element (`$patch: delete` removes one,
 * `$patch: replace` replaces the list), other lists are replaced. `$setElementOrder/` and
 * `$retainKeys` directives are accepted and ignored (order is kept as stored).
 */
function strategicMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return clone(patch);
  if (patch.$patch === "replace") {
    const { $patch: _replace, ...rest } = patch;
    return clone(rest);
  }
  const out: Json = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith("$setElementOrder/") || key === "$retainKeys" || key === "$patch") continue;
    if (value === null) {
      delete out[key];
      continue;
    }
    const mergeKey = MERGE_KEYS[key];
    if (Array.isArray(value) && mergeKey && Array.isArray(out[key])) {
      const list = [...(out[key] as unknown[])];
      const items = value.filter(isObject);
      if (items.some((item) => item.$patch === "replace")) {
        out[key] = items.filter((item) => item.$patch !== "replace").map((item) => clone(item));
        continue;
      }
      for (const item of items) {
        const at = list.findIndex((e) => isObject(e) && e[mergeKey] === item[mergeKey]);
        if (item.$patch === "delete") {
          if (at >= 0) list.splice(at, 1);
        } else if (at >= 0) {
          list[at] = strategicMergePatch(list[at], item);
        } else {
          list.push(strategicMergePatch(undefined, item));
        }
      }
      out[key] = list;
    } else {
      out[key] = strategicMergePatch(out[key], value);
    }
  }
  return out;
}

/** RFC 6902 JSON patch (add, remove, replace, test); throws on a failed test or a missing path. */
function jsonPatch(target: Json, operations: unknown): Json {
  if (!Array.isArray(operations)) throw new Error("a JSON patch is a list of operations");
  const doc = clone(target);
  for (const operation of operations) {
    if (!isObject(operation) || typeof operation.path !== "string") throw new Error("bad operation");
    const parts = operation.path
      .split("/")
      .slice(1)
      .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
    const last = parts.pop() ?? "";
    let parent: unknown = doc;
    for (const part of parts) {
      parent = Array.isArray(parent) ? parent[Number(part)] : isObject(parent) ? parent[part] : undefined;
      if (parent === undefined) throw new Error(`path ${operation.path} does not exist`);
    }
    const container = parent;
    const get = (): unknown =>
      Array.isArray(container) ? container[Number(last)] : isObject(container) ? container[last] : undefined;
    switch (operation.op) {
      case "test":
        if (JSON.stringify(get()) !== JSON.stringify(operation.value)) throw new Error("test failed");
        break;
      case "remove":
        if (get() === undefined) throw new Error(`path ${operation.path} does not exist`);
        if (Array.isArray(container)) container.splice(Number(last), 1);
        else if (isObject(container)) delete container[last];
        break;
      case "add":
      case "replace":
        if (operation.op === "replace" && get() === undefined) {
          throw new Error(`path ${operation.path} does not exist`);
        }
        if (Array.isArray(container)) {
          const index = last === "-" ? container.length : Number(last);
          container.splice(index, operation.op === "replace" ? 1 : 0, clone(operation.value));
        } else if (isObject(container)) container[last] = clone(operation.value);
        break;
      default:
        throw new Error(`unsupported operation ${String(operation.op)}`);
    }
  }
  return doc;
}

const format = (date: Date): string => date.toISOString().replace(/\.\d{3}Z$/, "Z");

export async function startKubernetesApi(options: KubernetesApiOptions = {}): Promise<RunningKubernetesApi> {
  const stores: Record<Resource, Map<string, Json>> = {
    deployments: new Map(),
    statefulsets: new Map(),
    daemonsets: new Map(),
    externalsecrets: new Map(),
    secrets: new Map(),
    replicasets: new Map(),
    pods: new Map(),
    configmaps: new Map(),
    leases: new Map(),
  };
  const { deployments, externalSecrets, secrets, statefulSets, daemonSets } = {
    deployments: stores.deployments,
    externalSecrets: stores.externalsecrets,
    secrets: stores.secrets,
    statefulSets: stores.statefulsets,
    daemonSets: stores.daemonsets,
  };
  const forbidden = new Set<string>();
  const faults: { method: string; resource: string; remaining: number; retryAfterSeconds: number }[] = [];
  const quoting = new Set<string>();
  const quoted: string[] = [];
  const requests: RequestLogEntry[] = [];
  const paused = new Set<string>();
  const watchers = new Set<Watcher>();
  const history = new Map<string, Json[]>();
  const timers = new Set<NodeJS.Timeout>();
  let delay = options.controllerDelayMs ?? 100;
  // One counter for the whole cluster, as etcd's revision: every write gets a new, larger one.
  let revision = 1;
  const nextResourceVersion = (): string => String(++revision);
  const seconds = (): string => format(new Date(Date.now() + (options.clusterClockSkewMs ?? 0)));
  const key = (ns: string, name: string): string => `${ns}/${name}`;

  const status = (code: number, reason: string, message: string, details?: Json): Reply => [
    code,
    {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message,
      reason,
      ...(details ? { details } : {}),
      code,
    },
  ];

  /** A controller's step, after the configured delay; dropped when the server closes. */
  const later = (step: () => void): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      step();
    }, delay);
    timers.add(timer);
  };

  /** Stores a write: a new resourceVersion, and a MODIFIED event for whoever watches. */
  const written = (resource: Resource, object: Json, type = "MODIFIED"): void => {
    (object.metadata as Json).resourceVersion = nextResourceVersion();
    const meta = object.metadata as Json;
    const id = `${resource}/${String(meta.namespace)}/${String(meta.name)}`;
    history.set(id, [...(history.get(id) ?? []), clone(object)]);
    for (const watcher of watchers) {
      if (watcher.resource !== resource || watcher.namespace !== meta.namespace) continue;
      if (watcher.name !== undefined && watcher.name !== meta.name) continue;
      watcher.res.write(`${JSON.stringify({ type, object: clone(object) })}\n`);
    }
  };

  /** Sets a condition; its lastTransitionTime moves only when its status changes, as controllers do. */
  const withCondition = (conditions: unknown, condition: Json): Json[] => {
    const list = Array.isArray(conditions) ? conditions.filter(isObject) : [];
    const previous = list.find((c) => c.type === condition.type);
    const now = seconds();
    const next: Json = {
      ...condition,
      lastUpdateTime: now,
      lastTransitionTime:
        previous && previous.status === condition.status ? previous.lastTransitionTime : now,
    };
    return previous ? list.map((c) => (c === previous ? next : c)) : [...list, next];
  };

  /** Container logs by `namespace/pod/container`: lines stamped with the cluster's time. */
  const logs = new Map<string, { at: number; line: string }[]>();
  let reloaderStrategy = options.reloader;
  const metaOf = (o: Json): Json => o.metadata as Json;
  const labelsOf = (o: Json): Record<string, string> => (metaOf(o).labels ?? {}) as Record<string, string>;
  const ownedBy = (o: Json, owner: Json): boolean =>
    Array.isArray(metaOf(o).ownerReferences) &&
    (metaOf(o).ownerReferences as Json[]).some((r) => r.uid === metaOf(owner).uid);
  const replicaSetsOf = (dep: Json): Json[] =>
    [...stores.replicasets.values()].filter(
      (rs) => metaOf(rs).namespace === metaOf(dep).namespace && ownedBy(rs, dep),
    );
  const podsOf = (rs: Json): Json[] =>
    [...stores.pods.values()].filter((p) => metaOf(p).namespace === metaOf(rs).namespace && ownedBy(p, rs));
  const ownerRef = (o: Json): Json => ({
    apiVersion: String(o.apiVersion),
    kind: String(o.kind),
    name: metaOf(o).name,
    uid: metaOf(o).uid,
    controller: true,
    blockOwnerDeletion: true,
  });

  /**
   * The ReplicaSet of `dep`'s current pod template (found by its pod-template-hash, or made), which
   * becomes the newest revision; the Deployment's revision annotation follows it, as the
   * Deployment controller does.
   */
  const replicaSetFor = (dep: Json): Json => {
    const meta = metaOf(dep);
    const ns = String(meta.namespace);
    const template = clone((dep.spec as Json).template as Json);
    const hash = templateHash(template);
    const owned = replicaSetsOf(dep);
    const revision = String(
      Math.max(0, ...owned.map((rs) => Number(((metaOf(rs).annotations ?? {}) as Json)[REVISION] ?? 0))) + 1,
    );
    let rs = owned.find((r) => labelsOf(r)["pod-template-hash"] === hash);
    if (rs) {
      metaOf(rs).annotations = { ...((metaOf(rs).annotations ?? {}) as Json), [REVISION]: revision };
      written("replicasets", rs);
    } else {
      const name = `${String(meta.name)}-${hash}`;
      const templateMeta = (template.metadata ?? {}) as Json;
      const labels = { ...((templateMeta.labels ?? {}) as Json), "pod-template-hash": hash };
      rs = {
        apiVersion: "apps/v1",
        kind: "ReplicaSet",
        metadata: {
          namespace: ns,
          name,
          labels,
          annotations: { [REVISION]: revision },
          ownerReferences: [ownerRef(dep)],
          generation: 1,
          uid: randomUUID(),
          creationTimestamp: seconds(),
        },
        spec: {
          replicas: 0,
          selector: {
            matchLabels: {
              ...(((dep.spec as Json).selector as Json).matchLabels as Json),
              "pod-template-hash": hash,
            },
          },
          template: { ...template, metadata: { ...templateMeta, labels } },
        },
        status: { replicas: 0, observedGeneration: 1 },
      };
      stores.replicasets.set(key(ns, name), rs);
      written("replicasets", rs, "ADDED");
    }
    meta.annotations = { ...((meta.annotations ?? {}) as Json), [REVISION]: revision };
    return rs;
  };

  /** Sets a pod's readiness (and its container's), as the kubelet reports it. */
  const setReady = (pod: Json, ready: boolean, waiting?: string): void => {
    const now = seconds();
    const status = pod.status as Json;
    const containers = ((pod.spec as Json).containers as Json[]).map((c) => ({
      name: c.name,
      image: c.image,
      imageID: "",
      ready,
      started: ready,
      restartCount: waiting ? 1 : 0,
      state: waiting ? { waiting: { reason: waiting } } : { running: { startedAt: status.startTime } },
    }));
    pod.status = {
      ...status,
      conditions: [
        { type: "Initialized", status: "True", lastTransitionTime: status.startTime },
        { type: "Ready", status: ready ? "True" : "False", lastTransitionTime: now },
        { type: "ContainersReady", status: ready ? "True" : "False", lastTransitionTime: now },
        { type: "PodScheduled", status: "True", lastTransitionTime: status.startTime },
      ],
      containerStatuses: containers,
    };
    written("pods", pod);
  };

  /** A new pod of `rs`, running (Ready when `ready`). */
  const startPod = (rs: Json, ready: boolean): Json => {
    const meta = metaOf(rs);
    const ns = String(meta.namespace);
    const name = `${String(meta.name)}-${suffix()}`;
    const template = (rs.spec as Json).template as Json;
    const now = seconds();
    const pod: Json = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        namespace: ns,
        name,
        generateName: `${String(meta.name)}-`,
        labels: { ...labelsOf(template) },
        ...(isObject((template.metadata as Json | undefined)?.annotations)
          ? { annotations: clone((template.metadata as Json).annotations) }
          : {}),
        ownerReferences: [ownerRef(rs)],
        uid: randomUUID(),
        creationTimestamp: now,
      },
      spec: { ...clone(template.spec as Json), nodeName: "node-1" },
      status: {
        phase: "Running",
        hostIP: "10.0.0.1",
        podIP: `10.1.0.${stores.pods.size + 2}`,
        startTime: now,
      },
    };
    for (const c of (pod.spec as Json).containers as Json[]) logs.set(`${ns}/${name}/${String(c.name)}`, []);
    stores.pods.set(key(ns, name), pod);
    written("pods", pod, "ADDED");
    setReady(pod, ready);
    return pod;
  };

  const deletePod = (pod: Json): void => {
    const meta = metaOf(pod);
    stores.pods.delete(key(String(meta.namespace), String(meta.name)));
    for (const k of logs.keys())
      if (k.startsWith(`${String(meta.namespace)}/${String(meta.name)}/`)) logs.delete(k);
    written("pods", pod, "DELETED");
  };

  /** Scales a ReplicaSet's reported counts to its pods. */
  const countReplicaSet = (rs: Json): void => {
    const pods = podsOf(rs);
    const ready = pods.filter((p) =>
      ((p.status as Json).conditions as Json[] | undefined)?.some(
        (c) => c.type === "Ready" && c.status === "True",
      ),
    ).length;
    (rs.spec as Json).replicas = pods.length;
    rs.status = {
      replicas: pods.length,
      readyReplicas: ready,
      availableReplicas: ready,
      observedGeneration: 1,
    };
    written("replicasets", rs);
  };

  /**
   * The Reloader: a Secret's data changed, so every Deployment of its namespace that asks for it
   * gets a new pod template (after the controller delay).
   */
  const reload = (secret: Json): void => {
    const strategy = reloaderStrategy;
    if (!strategy) return;
    const meta = metaOf(secret);
    const name = String(meta.name);
    const ns = String(meta.namespace);
    const hash = createHash("sha1")
      .update(canonical(secret.data ?? {}))
      .digest("hex");
    later(() => {
      for (const dep of deployments.values()) {
        if (metaOf(dep).namespace !== ns) continue;
        const annotations = (metaOf(dep).annotations ?? {}) as Record<string, string>;
        const template = (dep.spec as Json).template as Json;
        const uses =
          JSON.stringify(template.spec).includes(`"secretName":"${name}"`) ||
          JSON.stringify(template.spec).includes(`"secretRef":{"name":"${name}"`) ||
          JSON.stringify(template.spec).includes(`"secretKeyRef":{"name":"${name}"`);
        const named = (annotations["secret.reloader.stakater.com/reload"] ?? "")
          .split(",")
          .map((n) => n.trim())
          .includes(name);
        if (!named && !(annotations["reloader.stakater.com/auto"] === "true" && uses)) continue;
        const next = clone(dep);
        const nextTemplate = (next.spec as Json).template as Json;
        if (strategy === "annotations") {
          const templateMeta = (nextTemplate.metadata ?? {}) as Json;
          nextTemplate.metadata = {
            ...templateMeta,
            annotations: {
              ...((templateMeta.annotations ?? {}) as Json),
              "reloader.stakater.com/last-reloaded-from": JSON.stringify({
                type: "SECRET",
                name,
                namespace: ns,
                hash,
                containerRefs: ((nextTemplate.spec as Json).containers as Json[]).map((c) => c.name),
                observedAt: Math.floor(Date.now() / 1000),
              }),
            },
          };
        } else {
          const variable = `STAKATER_${name.toUpperCase().replace(/[^A-Z0-9]/g, "_")}_SECRET`;
          for (const container of (nextTemplate.spec as Json).containers as Json[]) {
            const env = ((container.env ?? []) as Json[]).filter((e) => e.name !== variable);
            container.env = [...env, { name: variable, value: hash }];
          }
        }
        update("deployments", dep, next);
      }
    });
  };

  /**
   * The Deployment controller for one new generation (RollingUpdate, maxSurge 1, maxUnavailable 0):
   * observe it and reset Progressing to ReplicaSetUpdated, start one new pod beside the old ones,
   * run `onRollout`, then replace the old pods one at a time and report NewReplicaSetAvailable; a
   * failed `onRollout` leaves the rollout stuck and reports ProgressDeadlineExceeded. Each step
   * waits the controller delay; a newer generation supersedes it.
   */
  const rollout = (dep: Json): void => {
    const generation = (dep.metadata as Json).generation as number;
    const current = (): boolean =>
      !paused.has("deployments") && (dep.metadata as Json).generation === generation;
    const spec = (): Json => dep.spec as Json;
    const replicas = (): number => (spec().replicas as number | undefined) ?? 1;
    let rs = "";
    let newSet: Json | undefined;
    /** The pods of the rollouts before this one. */
    const oldPods = (): Json[] =>
      replicaSetsOf(dep)
        .filter((r) => r !== newSet)
        .flatMap(podsOf);
    const retire = (count: number): void => {
      for (const pod of oldPods().slice(0, count)) deletePod(pod);
      for (const r of replicaSetsOf(dep)) countReplicaSet(r);
    };
    const set = (fields: Json, progressing: Json): void => {
      const previous = dep.status as Json;
      dep.status = {
        ...previous,
        observedGeneration: generation,
        ...fields,
        conditions: withCondition(previous.conditions, { type: "Progressing", ...progressing }),
      };
      written("deployments", dep);
    };
    later(() => {
      if (!current()) return;
      if (spec().paused === true) {
        set({}, { status: "Unknown", reason: "DeploymentPaused", message: "Deployment is paused" });
        return;
      }
      const n = replicas();
      newSet = replicaSetFor(dep);
      rs = String(metaOf(newSet).name);
      const first = startPod(newSet, false);
      countReplicaSet(newSet);
      const progressing = {
        status: "True",
        reason: "ReplicaSetUpdated",
        message: `ReplicaSet "${rs}" is progressing.`,
      };
      set(
        {
          replicas: n + 1,
          updatedReplicas: 1,
          readyReplicas: n,
          availableReplicas: n,
          unavailableReplicas: 1,
        },
        progressing,
      );
      const hook =
        options.onRollout?.(String((dep.metadata as Json).namespace), String((dep.metadata as Json).name)) ??
        Promise.resolve();
      hook.then(
        () => {
          if (stores.pods.has(key(String(metaOf(first).namespace), String(metaOf(first).name)))) {
            setReady(first, true);
          }
          const step = (updated: number): void =>
            later(() => {
              if (!current()) return;
              if (updated < n) {
                startPod(newSet!, true);
                retire(1);
                // One more new pod ready, one more old pod stopping.
                set(
                  { replicas: n + 1, updatedReplicas: updated + 1, readyReplicas: n, availableReplicas: n },
                  progressing,
                );
                step(updated + 1);
                return;
              }
              retire(Infinity);
              const { unavailableReplicas: _gone, ...rest } = dep.status as Json;
              dep.status = rest;
              set(
                { replicas: n, updatedReplicas: n, readyReplicas: n, availableReplicas: n },
                {
                  status: "True",
                  reason: "NewReplicaSetAvailable",
                  message: `ReplicaSet "${rs}" has successfully progressed.`,
                },
              );
            });
          step(1);
        },
        () => {
          if (!current()) return;
          setReady(first, false, "CrashLoopBackOff");
          set(
            {},
            {
              status: "False",
              reason: "ProgressDeadlineExceeded",
              message: `ReplicaSet "${rs}" has timed out progressing.`,
            },
          );
        },
      );
    });
  };

  /**
   * The External Secrets operator reconciling after a change to the ExternalSecret: runs `onSync`
   * and reports `refreshTime`, `syncedResourceVersion` (generation and a hash of labels and
   * annotations, as the operator computes it) and `Ready`; a failed sync changes only `Ready`.
   */
  const sync = (es: Json): void => {
    later(() => {
      if (paused.has("externalsecrets")) return;
      const meta = es.metadata as Json;
      // Its status patch on an object deleted meanwhile would be NotFound: nothing is written.
      const current = (): boolean =>
        externalSecrets.get(key(String(meta.namespace), String(meta.name))) === es;
      const hash = createHash("sha256")
        .update(JSON.stringify([meta.labels ?? {}, meta.annotations ?? {}]))
        .digest("hex")
        .slice(0, 16);
      const synced = `${String(meta.generation)}-${hash}`;
      const hook = options.onSync?.(meta.namespace as string, meta.name as string) ?? Promise.resolve();
      hook.then(
        () => {
          if (!current()) return;
          const previous = (es.status ?? {}) as Json;
          es.status = {
            ...previous,
            refreshTime: seconds(),
            syncedResourceVersion: synced,
            binding: { name: meta.name },
            conditions: withCondition(previous.conditions, {
              type: "Ready",
              status: "True",
              reason: "SecretSynced",
              message: "secret synced",
            }).map(({ lastUpdateTime: _u, ...c }) => c),
          };
          written("externalsecrets", es);
        },
        (error: unknown) => {
          if (!current()) return;
          const previous = (es.status ?? {}) as Json;
          es.status = {
            ...previous,
            conditions: withCondition(previous.conditions, {
              type: "Ready",
              status: "False",
              reason: "SecretSyncedError",
              message: `could not get secret data from provider: ${error instanceof Error ? error.message : String(error)}`,
            }).map(({ lastUpdateTime: _u, ...c }) => c),
          };
          written("externalsecrets", es);
        },
      );
    });
  };

  /** The StatefulSet and DaemonSet controllers: replace the pods (after `onRollout`), then report. */
  const rollPods = (object: Json, kind: "statefulsets" | "daemonsets"): void => {
    const meta = (): Json => object.metadata as Json;
    const spec = object.spec as Json;
    const generation = meta().generation as number;
    later(() => {
      if (paused.has("deployments")) return;
      const revisionName = `${String(meta().name)}-${generation}`;
      if (kind === "statefulsets") {
        object.status = {
          ...(object.status as Json),
          observedGeneration: generation,
          updateRevision: revisionName,
          updatedReplicas: 0,
        };
      } else {
        object.status = {
          ...(object.status as Json),
          observedGeneration: generation,
          updatedNumberScheduled: 0,
        };
      }
      written(kind, object);
      const hook =
        options.onRollout?.(meta().namespace as string, meta().name as string) ?? Promise.resolve();
      void hook.then(() => {
        if (meta().generation !== generation) return;
        if (kind === "statefulsets") {
          const replicas = (spec.replicas as number | undefined) ?? 1;
          object.status = {
            observedGeneration: generation,
            replicas,
            readyReplicas: replicas,
            updatedReplicas: replicas,
            currentRevision: revisionName,
            updateRevision: revisionName,
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
        written(kind, object);
      });
    });
  };

  const stale = (resource: Resource, name: string): Reply =>
    status(
      409,
      "Conflict",
      `Operation cannot be fulfilled on ${resource}${RESOURCES[resource].group ? `.${RESOURCES[resource].group}` : ""} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
      { name, group: RESOURCES[resource].group, kind: resource },
    );

  /** A PATCH or PUT: server-owned fields kept, resourceVersion checked, then the controllers told. */
  const update = (resource: Resource, object: Json, next: Json): Reply => {
    const meta = object.metadata as Json;
    const asked = isObject(next.metadata) ? next.metadata.resourceVersion : undefined;
    // A resourceVersion in the body is a precondition, never a value to store.
    if (asked !== undefined && asked !== meta.resourceVersion) return stale(resource, String(meta.name));
    const before = JSON.stringify(object.spec);
    const dataBefore = JSON.stringify([object.data ?? {}, object.stringData ?? {}]);
    const beforeMeta = JSON.stringify([meta.labels, meta.annotations]);
    const kept = {
      name: meta.name,
      namespace: meta.namespace,
      uid: meta.uid,
      generation: meta.generation,
      creationTimestamp: meta.creationTimestamp,
      resourceVersion: meta.resourceVersion,
    };
    const oldStatus = object.status;
    for (const k of Object.keys(object)) delete object[k];
    Object.assign(object, next, {
      metadata: { ...(isObject(next.metadata) ? next.metadata : {}), ...kept },
    });
    // The status subresource is written by the controllers, not through the object.
    if (oldStatus !== undefined) object.status = oldStatus;
    else delete object.status;
    const specChanged = JSON.stringify(object.spec) !== before;
    const newMeta = object.metadata as Json;
    if (specChanged && !UNGENERATED.has(resource))
      newMeta.generation = ((kept.generation as number) ?? 1) + 1;
    written(resource, object);
    if (specChanged && resource === "deployments") rollout(object);
    if (
      resource === "secrets" &&
      JSON.stringify([object.data ?? {}, object.stringData ?? {}]) !== dataBefore
    ) {
      reload(object);
    }
    if (specChanged && (resource === "statefulsets" || resource === "daemonsets")) rollPods(object, resource);
    if (
      resource === "externalsecrets" &&
      JSON.stringify([newMeta.labels, newMeta.annotations]) !== beforeMeta
    ) {
      sync(object);
    }
    return [200, clone(object)];
  };

  const discovery = (path: string, host: string): Reply | undefined => {
    const list = (groupVersion: string): Json => ({
      kind: "APIResourceList",
      apiVersion: "v1",
      groupVersion,
      resources: Object.entries(RESOURCES)
        .filter(([, r]) => (r.group ? `${r.group}/v1` : "v1") === groupVersion)
        .map(([name, r]) => ({
          name,
          singularName: r.kind.toLowerCase(),
          namespaced: true,
          kind: r.kind,
          verbs: ["create", "delete", "get", "list", "patch", "update", "watch"],
          ...(r.shortNames ? { shortNames: r.shortNames } : {}),
        })),
    });
    const group = (name: string): Json => ({
      name,
      versions: [{ groupVersion: `${name}/v1`, version: "v1" }],
      preferredVersion: { groupVersion: `${name}/v1`, version: "v1" },
    });
    switch (path) {
      case "/version":
        return [200, { major: "1", minor: "32", gitVersion: "v1.32.0-ftr-test", platform: "linux/amd64" }];
      case "/api":
        return [
          200,
          {
            kind: "APIVersions",
            versions: ["v1"],
            serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: host }],
          },
        ];
      case "/apis":
        return [
          200,
          {
            kind: "APIGroupList",
            apiVersion: "v1",
            groups: [group("apps"), group("external-secrets.io"), group("coordination.k8s.io")],
          },
        ];
      case "/api/v1":
        return [200, list("v1")];
      case "/apis/apps/v1":
        return [200, list("apps/v1")];
      case "/apis/external-secrets.io/v1":
        return [200, list("external-secrets.io/v1")];
      case "/apis/coordination.k8s.io/v1":
        return [200, list("coordination.k8s.io/v1")];
      default:
        return undefined;
    }
  };

  /** `GET .../pods/<name>/log`: the container's lines, plain text, as the kubelet serves them. */
  const podLog = (ns: string, name: string, params: URLSearchParams): Reply | TextReply => {
    if (forbidden.has("GET pods/log")) {
      return status(
        403,
        "Forbidden",
        `pods "${name}" is forbidden: User "system:serviceaccount:monitoring:ftr" cannot get resource "pods/log" in API group "" in the namespace "${ns}"`,
      );
    }
    const pod = stores.pods.get(key(ns, name));
    if (!pod) return status(404, "NotFound", `pods "${name}" not found`, { name, kind: "pods" });
    const containers = ((pod.spec as Json).containers as Json[]).map((c) => String(c.name));
    const asked = params.get("container");
    if (asked === null && containers.length > 1) {
      return status(
        400,
        "BadRequest",
        `a container name must be specified for pod ${name}, choose one of: [${containers.join(" ")}]`,
      );
    }
    const container = asked ?? containers[0]!;
    if (!containers.includes(container)) {
      return status(400, "BadRequest", `container ${container} is not valid for pod ${name}`);
    }
    const sinceTime = params.get("sinceTime");
    const sinceSeconds = params.get("sinceSeconds");
    const now = Date.now() + (options.clusterClockSkewMs ?? 0);
    const from =
      sinceTime !== null
        ? Date.parse(sinceTime)
        : sinceSeconds !== null
          ? now - Number(sinceSeconds) * 1000
          : -Infinity;
    if (Number.isNaN(from)) {
      return status(400, "BadRequest", `parsing time "${sinceTime ?? ""}" as RFC3339: cannot parse`);
    }
    let lines = (logs.get(`${ns}/${name}/${container}`) ?? []).filter((l) => l.at >= from);
    const tail = params.get("tailLines");
    if (tail !== null) lines = lines.slice(Math.max(0, lines.length - Number(tail)));
    const stamps = params.get("timestamps") === "true";
    return {
      text: lines.map((l) => `${stamps ? `${new Date(l.at).toISOString()} ` : ""}${l.line}\n`).join(""),
    };
  };

  const handle = (req: IncomingMessage, body: string): Reply | WatchRequest | TextReply => {
    if (req.headers.authorization !== `Bearer ${options.token ?? KUBE_TEST_TOKEN}`) {
      return status(401, "Unauthorized", "Unauthorized");
    }
    const url = new URL(req.url ?? "/", "http://localhost");
    const path = url.pathname;
    const method = req.method ?? "GET";
    if (method === "GET") {
      const found = discovery(path, req.headers.host ?? "");
      if (found) return found;
      // Every namespace exists (kubectl reads it to word a NotFound).
      const namespace = /^\/api\/v1\/namespaces\/([^/]+)$/.exec(path)?.[1];
      if (namespace) {
        return [
          200,
          { kind: "Namespace", apiVersion: "v1", metadata: { name: namespace }, status: { phase: "Active" } },
        ];
      }
    }
    const log = LOG_ROUTE.exec(path);
    if (log && method === "GET") return podLog(log[1]!, log[2]!, url.searchParams);
    const route = ROUTE.exec(path);
    if (!route) return status(404, "NotFound", "the server could not find the requested resource");
    const [, apiGroup = "", ns = "", plural = "", name] = route;
    const resource = Object.keys(RESOURCES).find((r): r is Resource => r === plural);
    if (!resource || RESOURCES[resource].group !== apiGroup) {
      return status(404, "NotFound", "the server could not find the requested resource");
    }
    if (forbidden.has(`${method} ${resource}`)) {
      return status(
        403,
        "Forbidden",
        `${resource} is forbidden: User "system:serviceaccount:monitoring:ftr" cannot ${method.toLowerCase()} resource "${resource}"`,
      );
    }
    const fault = faults.find((f) => f.method === method && f.resource === resource && f.remaining > 0);
    if (fault) {
      fault.remaining -= 1;
      const [code, reply] = status(429, "TooManyRequests", "Too many requests, please try again later.", {
        retryAfterSeconds: fault.retryAfterSeconds,
      });
      return [code, reply, { "retry-after": String(fault.retryAfterSeconds) }];
    }
    if (quoting.has(`${method} ${resource}`)) {
      quoted.push(body);
      return status(
        422,
        "Invalid",
        `admission webhook "secrets.policy.example.com" denied the request: object ${body} does not carry the label team`,
      );
    }
    const store = stores[resource];
    const { group, kind } = RESOURCES[resource];
    const apiVersion = group ? `${group}/v1` : "v1";

    if (name === undefined) {
      // The collection: list (by name only), watch, and create (Secrets, ConfigMaps, Leases, ExternalSecrets).
      if (method === "GET") {
        const selector = url.searchParams.get("fieldSelector") ?? "";
        const only = /^metadata\.name=(.+)$/.exec(selector)?.[1];
        if (url.searchParams.get("watch") === "true" || url.searchParams.get("watch") === "1") {
          const since = url.searchParams.get("resourceVersion");
          return {
            watch: {
              resource,
              namespace: ns,
              ...(only !== undefined ? { name: only } : {}),
              ...(since ? { since } : {}),
            },
          };
        }
        const labelSelector = url.searchParams.get("labelSelector") ?? "";
        let items: Json[];
        try {
          items = [...store.values()].filter(
            (o) =>
              (o.metadata as Json).namespace === ns &&
              (only === undefined || (o.metadata as Json).name === only) &&
              selects(labelSelector, labelsOf(o)),
          );
        } catch (error) {
          return status(400, "BadRequest", error instanceof Error ? error.message : String(error));
        }
        return [
          200,
          {
            kind: `${kind}List`,
            apiVersion,
            metadata: { resourceVersion: String(revision) },
            items: clone(items),
          },
        ];
      }
      if (method === "POST" && CREATABLE.has(resource)) {
        let object: Json;
        try {
          const parsed: unknown = JSON.parse(body);
          if (!isObject(parsed)) throw new Error("not an object");
          object = parsed;
        } catch {
          return status(400, "BadRequest", "the body of the request could not be decoded");
        }
        // A resourceVersion sent with a create is dropped, as the API server does.
        const { resourceVersion: _ignored, ...meta } = isObject(object.metadata) ? object.metadata : {};
        if (typeof meta.name !== "string" || meta.name === "") {
          return status(
            422,
            "Invalid",
            `${kind} "" is invalid: metadata.name: Required value: name or generateName is required`,
          );
        }
        const objectName = meta.name;
        if (store.has(key(ns, objectName))) {
          const qualified = `${resource}${group ? `.${group}` : ""}`;
          return status(409, "AlreadyExists", `${qualified} "${objectName}" already exists`, {
            name: objectName,
            group,
            kind: resource,
          });
        }
        // The status subresource's: a status sent with a create is dropped, as the API server does.
        const { status: _status, ...fields } = object;
        const stored: Json = {
          ...fields,
          apiVersion,
          kind,
          metadata: {
            ...meta,
            namespace: ns,
            uid: randomUUID(),
            creationTimestamp: seconds(),
            ...(UNGENERATED.has(resource) ? {} : { generation: 1 }),
          },
        };
        if (resource === "secrets" && stored.type === undefined) stored.type = "Opaque";
        store.set(key(ns, objectName), stored);
        written(resource, stored, "ADDED");
        // The operator reconciles a new ExternalSecret at once.
        if (resource === "externalsecrets") sync(stored);
        return [201, clone(stored)];
      }
      return status(
        405,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource",
      );
    }

    const object = store.get(key(ns, name));
    if (!object) {
      return status(404, "NotFound", `${resource}${group ? `.${group}` : ""} "${name}" not found`, {
        name,
        group,
        kind: resource,
      });
    }
    if (method === "GET") return [200, clone(object)];
    if (method === "DELETE" && CREATABLE.has(resource)) {
      store.delete(key(ns, name));
      const meta = object.metadata as Json;
      written(resource, object, "DELETED");
      return [
        200,
        {
          kind: "Status",
          apiVersion: "v1",
          metadata: {},
          status: "Success",
          details: { name, group, kind: resource, uid: meta.uid },
        },
      ];
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return status(400, "BadRequest", "error decoding patch: invalid JSON");
    }
    if (method === "PUT") {
      if (!isObject(parsed)) return status(400, "BadRequest", "the body of the request is not an object");
      return update(resource, object, parsed);
    }
    if (method === "PATCH") {
      const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim();
      let next: Json;
      try {
        if (type === "application/merge-patch+json") next = mergePatch(object, parsed) as Json;
        else if (type === "application/json-patch+json") next = jsonPatch(object, parsed);
        else if (type === "application/strategic-merge-patch+json") {
          if (resource === "externalsecrets") {
            return status(
              415,
              "UnsupportedMediaType",
              "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
            );
          }
          next = strategicMergePatch(object, parsed) as Json;
        } else {
          return status(
            415,
            "UnsupportedMediaType",
            `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`,
          );
        }
      } catch (error) {
        return status(
          422,
          "Invalid",
          `the patch could not be applied: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
      // The precondition is the patch's resourceVersion, not the merged object's.
      const asked =
        isObject(parsed) && isObject(parsed.metadata) ? parsed.metadata.resourceVersion : undefined;
      const nextMeta = isObject(next.metadata) ? next.metadata : {};
      const { resourceVersion: _merged, ...withoutVersion } = nextMeta;
      return update(resource, object, {
        ...next,
        metadata: asked === undefined ? withoutVersion : { ...withoutVersion, resourceVersion: asked },
      });
    }
    return status(405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
  };

  const log = (req: IncomingMessage, code: number): void => {
    requests.push({
      method: req.method ?? "",
      path: req.url ?? "",
      contentType: req.headers["content-type"],
      status: code,
    });
  };

  const holds: { method: string; resource: Resource; phase: "before" | "after"; name?: string }[] = [];
  let handling = 0;
  const held = createHolds();
  const takeHold = (req: IncomingMessage): "before" | "after" | undefined => {
    const route = ROUTE.exec((req.url ?? "").split("?")[0] ?? "");
    const index = holds.findIndex(
      (h) =>
        h.method === req.method && route?.[3] === h.resource && (h.name === undefined || route[4] === h.name),
    );
    if (index < 0) return undefined;
    return holds.splice(index, 1)[0]!.phase;
  };

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    handling += 1;
    res.once("close", () => (handling -= 1));
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => void respond(req, res, Buffer.concat(chunks).toString("utf8")));
  };
  const respond = async (req: IncomingMessage, res: ServerResponse, text: string): Promise<void> => {
    const phase = takeHold(req);
    if (phase === "before" && !(await held.hold(res))) {
      log(req, 0); // the client went away: dropped unprocessed
      return;
    }
    const result = handle(req, text);
    if (phase === "after" && Array.isArray(result) && !(await held.hold(res))) {
      log(req, result[0]); // carried out, the answer never sent
      return;
    }
    if ("text" in result) {
      log(req, 200);
      res.writeHead(200, {
        "content-type": "text/plain",
        "content-length": Buffer.byteLength(result.text),
      });
      res.end(result.text);
      return;
    }
    if (!Array.isArray(result)) {
      // A watch: events as they happen, one JSON object a line, until the client goes away.
      log(req, 200);
      res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
      res.flushHeaders();
      const watcher: Watcher = { ...result.watch, res };
      // From a resourceVersion (a list's, as informers do): the changes since then come first.
      const since = Number(result.watch.since ?? "0");
      if (since > 0) {
        const missed = [...history.values()]
          .flat()
          .filter((o) => {
            const meta = o.metadata as Json;
            return (
              Number(meta.resourceVersion) > since &&
              meta.namespace === watcher.namespace &&
              (watcher.name === undefined || meta.name === watcher.name) &&
              RESOURCES[watcher.resource].kind === o.kind
            );
          })
          .sort(
            (a, b) =>
              Number((a.metadata as Json).resourceVersion) - Number((b.metadata as Json).resourceVersion),
          );
        for (const object of missed) res.write(`${JSON.stringify({ type: "MODIFIED", object })}\n`);
      }
      watchers.add(watcher);
      res.on("close", () => watchers.delete(watcher));
      return;
    }
    const [code, body, headers = {}] = result;
    log(req, code);
    const out = JSON.stringify(body);
    res.writeHead(code, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(out),
      ...headers,
    });
    res.end(out);
  };
  const server = options.tls ? createHttpsServer(options.tls, listener) : createServer(listener);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", resolve);
  });
  const url = `${options.tls ? "https" : "http"}://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const created = (): Json => ({
    resourceVersion: nextResourceVersion(),
    creationTimestamp: seconds(),
    uid: randomUUID(),
  });

  return {
    url,
    requests,
    addDeployment(namespace, name, replicas = 1, extra = {}) {
      const container: Json = { name, image: "fastly-exporter" };
      const podSpec: Json = { containers: [container] };
      if (extra.secret) {
        container.volumeMounts = [{ name: "token", mountPath: "/etc/fastly", readOnly: true }];
        podSpec.volumes = [{ name: "token", secret: { secretName: extra.secret } }];
      }
      const dep: Json = {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: {
          namespace,
          name,
          generation: 1,
          ...(extra.annotations ? { annotations: { ...extra.annotations } } : {}),
          ...created(),
        },
        spec: {
          replicas,
          ...(extra.paused ? { paused: true } : {}),
          selector: { matchLabels: { ...(extra.labels ?? { app: name }) } },
          template: {
            metadata: { labels: { ...(extra.labels ?? { app: name }) } },
            spec: podSpec,
          },
        },
        status: {
          observedGeneration: 1,
          replicas,
          updatedReplicas: replicas,
          availableReplicas: replicas,
          readyReplicas: replicas,
        },
      };
      deployments.set(key(namespace, name), dep);
      const rs = replicaSetFor(dep);
      for (let i = 0; i < replicas; i++) startPod(rs, true);
      countReplicaSet(rs);
    },
    currentPods(namespace, deployment) {
      const dep = deployments.get(key(namespace, deployment));
      if (!dep) return [];
      const revision = ((metaOf(dep).annotations ?? {}) as Json)[REVISION];
      const rs = replicaSetsOf(dep).find(
        (r) => ((metaOf(r).annotations ?? {}) as Json)[REVISION] === revision,
      );
      return (rs ? podsOf(rs) : []).map((pod) => ({
        name: String(metaOf(pod).name),
        podTemplateHash: labelsOf(pod)["pod-template-hash"] ?? "",
        ready:
          ((pod.status as Json).conditions as Json[] | undefined)?.some(
            (c) => c.type === "Ready" && c.status === "True",
          ) ?? false,
      }));
    },
    appendLog(namespace, pod, line, container) {
      const object = stores.pods.get(key(namespace, pod));
      if (!object) throw new Error(`no pod ${namespace}/${pod}`);
      const name = container ?? String(((object.spec as Json).containers as Json[])[0]!.name);
      const lines = logs.get(`${namespace}/${pod}/${name}`);
      if (!lines) throw new Error(`pod ${pod} has no container ${name}`);
      lines.push({ at: Date.now() + (options.clusterClockSkewMs ?? 0), line });
    },
    setReloader(strategy) {
      reloaderStrategy = strategy;
    },
    addExternalSecret(namespace, name, spec = {}, failing) {
      externalSecrets.set(key(namespace, name), {
        apiVersion: "external-secrets.io/v1",
        kind: "ExternalSecret",
        metadata: { namespace, name, generation: 1, ...created() },
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
                  message: "secret synced",
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
        metadata: { namespace, name, ...created() },
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
        metadata: { namespace, name, generation: 1, ...created() },
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
        metadata: { namespace, name, generation: 1, ...created() },
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
    writeExternalSecretStatus(namespace, name, status) {
      const es = externalSecrets.get(key(namespace, name));
      if (!es) throw new Error(`no ExternalSecret ${namespace}/${name}`);
      if (status === undefined) delete es.status;
      else es.status = clone(status);
      written("externalsecrets", es);
    },
    statefulSet: (namespace, name) => clone(statefulSets.get(key(namespace, name))),
    daemonSet: (namespace, name) => clone(daemonSets.get(key(namespace, name))),
    deployment: (namespace, name) => clone(deployments.get(key(namespace, name))),
    externalSecret: (namespace, name) => clone(externalSecrets.get(key(namespace, name))),
    object: (resource, namespace, name) => clone(stores[resource].get(key(namespace, name))),
    addLease(namespace, name, spec) {
      stores.leases.set(key(namespace, name), {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { namespace, name, ...created() },
        spec: clone(spec),
      });
    },
    pause(controller, isPaused = true) {
      if (isPaused) paused.add(controller);
      else paused.delete(controller);
    },
    history: (resource, namespace, name) => clone(history.get(`${resource}/${namespace}/${name}`) ?? []),
    setControllerDelay(ms) {
      delay = ms;
    },
    throttle(method, resource, times, retryAfterSeconds = 1) {
      faults.push({ method, resource, remaining: times, retryAfterSeconds });
    },
    hold(method, resource, phase, name) {
      holds.push({ method, resource, phase, ...(name === undefined ? {} : { name }) });
    },
    async held(timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      while (held.holding === 0) {
        if (Date.now() > deadline) throw new Error("no request reached a hold of the Kubernetes fake");
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    },
    release() {
      holds.length = 0;
      held.release();
    },
    async idle(timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      // Watches stay open by design; a held or running request is what counts.
      while (held.holding > 0 || handling > watchers.size) {
        if (Date.now() > deadline) throw new Error("the Kubernetes fake still handles a request");
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    writeKubeconfig: (path, context) => writeKubeconfig(path, url, context),
    close: () =>
      new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        held.release();
        for (const watcher of watchers) watcher.res.end();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Write a kubeconfig for `server` (TLS not verified), with the test's bearer token and one context
 * named `context`; returns its path.
 */
export async function writeKubeconfig(path: string, server: string, context = "test"): Promise<string> {
  const text = [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    `  - name: ${context}`,
    `    cluster: { server: "${server}", insecure-skip-tls-verify: true }`,
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
}

// ---- the rotation world's side of it -----------------------------------------------------------

/** The config of a `kubernetes-secret` store: key `key` of Secret `namespace/name`. */
export function kubeSecretStoreConfig(
  kubeconfig: string,
  namespace: string,
  name: string,
  key: string,
): Record<string, unknown> {
  return { type: "kubernetes-secret", namespace, name, key, kubeconfig };
}

/** A `kubernetes-rollout` reload step for Deployment `namespace/deployment`, waiting 20 s at most. */
export function kubeRolloutStep(
  kubeconfig: string,
  namespace: string,
  deployment: string,
  extra: Readonly<Record<string, unknown>> = {},
): Record<string, unknown> {
  return {
    type: "kubernetes-rollout",
    namespace,
    deployment,
    kubeconfig,
    timeout: "20s",
    interval: "1s",
    ...extra,
  };
}
