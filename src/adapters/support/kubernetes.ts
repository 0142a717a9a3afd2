/**
 * What the Kubernetes reloaders share: loading a kubeconfig (a file, `KUBECONFIG`, `~/.kube/config`
 * or the pod's service account, as kubectl does) and turning API failures into one line with a fix.
 */
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import type * as KubernetesClient from "@kubernetes/client-node";
import type { KubeConfig, RequestContext, ResponseContext } from "@kubernetes/client-node";
import { BodyTooLargeError, DEFAULT_MAX_BODY_BYTES, isRedirect, redirectHost } from "../../util/http.ts";
import { proxyFor } from "../../util/net.ts";

/** Where the cluster credentials come from. */
export interface KubernetesAccess {
  /** Path of a kubeconfig file; default `KUBECONFIG`, then `~/.kube/config`, then in-cluster. */
  readonly kubeconfig?: string;
  /** Context of the kubeconfig to use; default its current context. */
  readonly context?: string;
}

/** A Kubernetes API call failed, or the cluster cannot be reached; the message says what to do. */
export class KubernetesError extends Error {
  override readonly name = "KubernetesError";
  /** HTTP status, when the API answered. */
  readonly status: number | undefined;
  /** How long a 429 asked to wait, read when the error was built (the raw answer is not kept). */
  readonly retryAfterMs: number | undefined;
  constructor(message: string, status?: number, options?: ErrorOptions & { retryAfterMs?: number }) {
    super(message, options);
    this.status = status;
    this.retryAfterMs = options?.retryAfterMs;
  }
}

/**
 * The Kubernetes client library, loaded on first use: it takes about half a second to load, which
 * every other command would otherwise pay.
 */
export function kubernetesClient(): Promise<typeof KubernetesClient> {
  return import("@kubernetes/client-node");
}

/** Loads the kubeconfig `access` names; throws a KubernetesError naming the file or context. */
export async function loadKubeConfig(access: KubernetesAccess): Promise<KubeConfig> {
  const { KubeConfig } = await kubernetesClient();
  const kc = new KubeConfig();
  try {
    if (access.kubeconfig) kc.loadFromFile(access.kubeconfig);
    else kc.loadFromDefault();
  } catch (error) {
    throw new KubernetesError(
      `cannot load the kubeconfig ${access.kubeconfig ?? "(KUBECONFIG or ~/.kube/config)"}: ${error instanceof Error ? error.message : String(error)}; check kubeconfig in the config`,
      undefined,
      { cause: error },
    );
  }
  if (access.context) {
    if (!kc.getContexts().some((c) => c.name === access.context)) {
      throw new KubernetesError(
        `the kubeconfig has no context "${access.context}" (it has ${
          kc
            .getContexts()
            .map((c) => c.name)
            .join(", ") || "none"
        }); fix context in the config`,
      );
    }
    kc.setCurrentContext(access.context);
  }
  const cluster = kc.getCurrentCluster();
  // With no kubeconfig anywhere and not in a pod, the client falls back to http://localhost:8080.
  const fallback =
    !access.kubeconfig &&
    cluster?.server === "http://localhost:8080" &&
    kc.getCurrentContext() === "loaded-context";
  if (!cluster || fallback) {
    throw new KubernetesError(
      "no Kubernetes cluster is configured (no kubeconfig and not running in a pod); set kubeconfig or context in the config",
    );
  }
  // As kubectl: the cluster's own proxy-url first, else HTTPS_PROXY/HTTP_PROXY/NO_PROXY.
  const envProxy = cluster.proxyUrl === undefined ? proxyFor(cluster.server) : undefined;
  if (envProxy !== undefined) {
    kc.clusters = kc.clusters.map((c) => (c.name === cluster.name ? { ...c, proxyUrl: envProxy } : c));
  }
  return kc;
}

/** An API client class of `@kubernetes/client-node` (CoreV1Api, AppsV1Api, ...). */
type ApiClass<T> = new (configuration: KubernetesClient.Configuration) => T;

/**
 * An API client for the kubeconfig `access` names, like `KubeConfig.makeApiClient` but over
 * {@link noRedirectHttp}: the library's default stack (node-fetch) follows redirects, re-sending the
 * request body (a Secret's data) and the TLS client certificate to whatever host the Location names.
 */
export async function makeApiClient<T>(access: KubernetesAccess, api: ApiClass<T>): Promise<T> {
  const k8s = await kubernetesClient();
  const kc = await loadKubeConfig(access);
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new KubernetesError("the kubeconfig has no current cluster; set context in the config");
  const configuration = k8s.createConfiguration({
    baseServer: new k8s.ServerConfiguration(cluster.server, {}),
    authMethods: { default: kc },
    httpApi: k8s.wrapHttpLibrary({ send: (request) => noRedirectHttp(k8s, request) }),
  });
  return new api(configuration);
}

/**
 * One request with Node's own http(s) (which never follows redirects) through the agent the
 * kubeconfig set up (CA, client certificate, proxy): a 3xx fails naming the Location's host, and a
 * body past 32 MiB is abandoned.
 */
function noRedirectHttp(k8s: typeof KubernetesClient, request: RequestContext): Promise<ResponseContext> {
  const url = new URL(request.getUrl());
  const body = request.getBody();
  const agent = request.getAgent();
  const signal = request.getSignal();
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const onResponse = (res: IncomingMessage): void => {
      const status = res.statusCode ?? 0;
      if (isRedirect(status)) {
        res.destroy();
        reject(
          new KubernetesError(
            `the Kubernetes API answered ${status}, redirecting to ${redirectHost(res.headers.location ?? null, url)}; redirects are not followed (the credentials and the request would go to that host): check the cluster's server in the kubeconfig`,
            status,
          ),
        );
        return;
      }
      const chunks: Buffer[] = [];
      let total = 0;
      res.on("data", (chunk: Buffer) => {
        total += chunk.byteLength;
        if (total > DEFAULT_MAX_BODY_BYTES) res.destroy(new BodyTooLargeError(DEFAULT_MAX_BODY_BYTES));
        else chunks.push(chunk);
      });
      res.on("error", reject);
      res.on("end", () => {
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(res.headers)) {
          if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : value;
        }
        const data = Promise.resolve(Buffer.concat(chunks));
        resolve(new k8s.ResponseContext(status, headers, new k8s.SelfDecodingBody(data)));
      });
    };
    const req = send(
      url,
      {
        method: request.getHttpMethod(),
        headers: request.getHeaders(),
        ...(agent === undefined ? {} : { agent }),
        ...(signal === undefined ? {} : { signal }),
      },
      onResponse,
    );
    req.on("error", reject);
    // The calls made here send JSON text; form bodies are not used.
    req.end(typeof body === "string" || body instanceof URLSearchParams ? body.toString() : undefined);
  });
}

/** The `message` of a Kubernetes `Status` body, if the body is one. */
function statusMessage(body: unknown): string | undefined {
  let parsed = body;
  if (typeof body === "string") {
    try {
      parsed = JSON.parse(body);
    } catch {
      return body.trim().slice(0, 200) || undefined;
    }
  }
  if (typeof parsed === "object" && parsed !== null && "message" in parsed) {
    const message = parsed.message;
    return typeof message === "string" ? message : undefined;
  }
  return undefined;
}

/** Longest server message kept in an error. */
const MAX_SERVER_MESSAGE = 300;

/**
 * A server's message, cut where it starts quoting a document (an admission webhook or validation
 * message may quote the request, a Secret's data included) and to a bounded length. Encoded
 * secrets are also removed by `redact`; this keeps what no registry knows (the other keys' data).
 */
function cutServerMessage(message: string | undefined): string | undefined {
  if (message === undefined) return undefined;
  const quote = message.search(/[{[]\s*"|\bdata:|\bstringData:/);
  const kept =
    quote === -1 ? message : `${message.slice(0, quote).trimEnd()} [the quoted request is not shown]`;
  return kept.length > MAX_SERVER_MESSAGE ? `${kept.slice(0, MAX_SERVER_MESSAGE)}…` : kept;
}

/** The client's `ApiException` (an HTTP status and the body), recognised without loading the client. */
function isApiException(error: unknown): error is { code: number; body: unknown } {
  return error instanceof Error && typeof (error as { code?: unknown }).code === "number" && "body" in error;
}

/**
 * When `error` is the API server's 429 Too Many Requests (priority and fairness shedding load):
 * how long it asked the client to wait (`Retry-After`, else the Status body's
 * `details.retryAfterSeconds`, else 1 s). Undefined for any other error.
 */
export function retryAfterMs(error: unknown): number | undefined {
  if (error instanceof KubernetesError) return error.retryAfterMs;
  const cause = error;
  if (!isApiException(cause) || cause.code !== 429) return undefined;
  const raw: unknown = "headers" in cause ? cause.headers : undefined;
  const headers = typeof raw === "object" && raw !== null ? raw : {};
  const header: unknown = Object.entries(headers).find(([name]) => name.toLowerCase() === "retry-after")?.[1];
  let seconds = Number(header);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    const body: unknown = typeof cause.body === "string" ? safeParse(cause.body) : cause.body;
    const details = typeof body === "object" && body !== null && "details" in body ? body.details : undefined;
    const fromBody =
      typeof details === "object" && details !== null && "retryAfterSeconds" in details
        ? Number(details.retryAfterSeconds)
        : Number.NaN;
    seconds = Number.isFinite(fromBody) && fromBody > 0 ? fromBody : 1;
  }
  return seconds * 1000;
}

const safeParse = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

/**
 * Turns what a client call threw into a KubernetesError saying what failed and what to do; `fixes`
 * words the fix for a status more precisely than the general one (which Role rule a 403 lacks).
 */
export function explainKubernetesError(
  what: string,
  error: unknown,
  fixes: Readonly<Partial<Record<number, string>>> = {},
): KubernetesError {
  if (error instanceof KubernetesError) return error;
  if (isApiException(error)) {
    const status = error.code;
    const detail = cutServerMessage(statusMessage(error.body)) ?? `HTTP ${status}`;
    const fix =
      fixes[status] ??
      (status === 401
        ? "the cluster refused the credentials; refresh them (kubectl auth whoami)"
        : status === 403
          ? "grant the permission in a Role bound to this identity"
          : status === 404
            ? "check the namespace and name in the config"
            : status === 409
              ? "it was changed at the same moment; run again"
              : status === 429
                ? "the API server is shedding load (429 Too Many Requests); run again in a minute"
                : undefined);
    // No cause: the client's exception carries the whole response body (which may quote the request).
    const wait = retryAfterMs(error);
    return new KubernetesError(
      `${what} failed: ${detail}${fix ? `; ${fix}` : ""}`,
      status,
      wait === undefined ? {} : { retryAfterMs: wait },
    );
  }
  const message = error instanceof Error ? error.message : String(error);
  return new KubernetesError(
    `${what} failed: ${message}; check that the cluster is reachable (kubectl cluster-info)`,
    undefined,
    { cause: error },
  );
}
