/**
 * What the Kubernetes reloaders share: loading a kubeconfig (a file, `KUBECONFIG`, `~/.kube/config`
 * or the pod's service account, as kubectl does) and turning API failures into one line with a fix.
 */
import type * as KubernetesClient from "@kubernetes/client-node";
import type { KubeConfig } from "@kubernetes/client-node";

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
  constructor(message: string, status?: number, options?: ErrorOptions) {
    super(message, options);
    this.status = status;
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
  return kc;
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
  const cause = error instanceof KubernetesError ? error.cause : error;
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

/** Turns what a client call threw into a KubernetesError saying what failed and what to do. */
export function explainKubernetesError(what: string, error: unknown): KubernetesError {
  if (error instanceof KubernetesError) return error;
  if (isApiException(error)) {
    const status = error.code;
    const detail = statusMessage(error.body) ?? `HTTP ${status}`;
    const fix =
      status === 401
        ? "the cluster refused the credentials; refresh them (kubectl auth whoami)"
        : status === 403
          ? "grant the permission in a Role bound to this identity"
          : status === 404
            ? "check the namespace and name in the config"
            : status === 409
              ? "it was changed at the same moment; run again"
              : status === 429
                ? "the API server is shedding load (429 Too Many Requests); run again in a minute"
                : undefined;
    return new KubernetesError(`${what} failed: ${detail}${fix ? `; ${fix}` : ""}`, status, { cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new KubernetesError(
    `${what} failed: ${message}; check that the cluster is reachable (kubectl cluster-info)`,
    undefined,
    { cause: error },
  );
}
