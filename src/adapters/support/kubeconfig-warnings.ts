/**
 * Warnings about the kubeconfigs a config's Kubernetes steps name, for `ftr validate` and every
 * command that loads a config. Kept out of kubernetes.ts, which brings node:http, node:https and
 * the proxy code: that module is loaded here only when there is a kubeconfig to read, so a config
 * checked on a machine without one never loads them.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type * as KubernetesClient from "@kubernetes/client-node";
import { isSecureOrLoopback } from "../../util/http.ts";
import type { KubernetesAccess } from "./kubernetes.ts";

/** The adapter types that reach a cluster through a kubeconfig. */
const KUBERNETES_TYPES = new Set([
  "kubernetes-secret",
  "external-secret",
  "kubernetes-rollout",
  "kubernetes-logs",
]);

/** Where the client library finds a pod's service-account token (its in-cluster config). */
const SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/**
 * True when `access` names no kubeconfig and the client library would find none either (its
 * `loadFromDefault` on Linux and macOS: `KUBECONFIG`, `$HOME/.kube/config`, a pod's service account),
 * so `loadKubeConfig` would fail with "no Kubernetes cluster is configured". Known without
 * loading the library, which costs about half a second of start-up.
 */
function noKubeconfigToLoad(access: KubernetesAccess): boolean {
  if (access.kubeconfig || process.platform === "win32") return false;
  if ((process.env["KUBECONFIG"] ?? "") !== "") return false;
  const home = process.env["HOME"];
  if (home && existsSync(join(home, ".kube", "config"))) return false;
  return !existsSync(SERVICE_ACCOUNT_TOKEN);
}

/**
 * Warnings about the kubeconfigs a config's Kubernetes steps use: a cluster with
 * `insecure-skip-tls-verify: true` has its certificate unchecked, so the bearer token or client
 * certificate goes to whoever intercepts the connection. `environments` is the validated config's;
 * a kubeconfig that cannot be loaded is left to the step (its own message says why).
 */
export async function kubeconfigWarnings(
  environments: readonly {
    readonly secret: unknown;
    readonly reload: readonly unknown[];
    readonly verify: readonly unknown[];
  }[],
): Promise<{ path: string; message: string }[]> {
  const steps: { path: string; access: KubernetesAccess }[] = [];
  environments.forEach((env, i) => {
    const candidates: [string, unknown][] = [
      [`environments[${i}].secret`, env.secret],
      ...env.reload.map((r, j): [string, unknown] => [`environments[${i}].reload[${j}]`, r]),
      ...env.verify.map((v, j): [string, unknown] => [`environments[${i}].verify[${j}]`, v]),
    ];
    for (const [path, step] of candidates) {
      if (typeof step !== "object" || step === null || !("type" in step)) continue;
      if (!KUBERNETES_TYPES.has(String(step.type))) continue;
      const { kubeconfig, context } = step as { kubeconfig?: unknown; context?: unknown };
      steps.push({
        path,
        access: {
          ...(typeof kubeconfig === "string" ? { kubeconfig } : {}),
          ...(typeof context === "string" ? { context } : {}),
        },
      });
    }
  });
  const warnings: { path: string; message: string }[] = [];
  const seen = new Set<string>();
  for (const { path, access } of steps) {
    const key = `${access.kubeconfig ?? ""}\n${access.context ?? ""}`;
    if (seen.has(key)) continue;
    seen.add(key);
    // Nothing to read: loading would fail (no cluster configured), so the library is not loaded.
    if (noKubeconfigToLoad(access)) continue;
    let cluster: KubernetesClient.Cluster | null;
    try {
      const { loadKubeConfig } = await import("./kubernetes.ts");
      cluster = (await loadKubeConfig(access)).getCurrentCluster();
    } catch {
      continue;
    }
    if (cluster === null) continue;
    // The client allows plain http only with skipTLSVerify; to this machine that is a test cluster.
    const plain = cluster.server.startsWith("http:");
    if (plain && !isSecureOrLoopback(cluster.server)) {
      warnings.push({
        path,
        message: `the kubeconfig's cluster ${JSON.stringify(cluster.name)} (${cluster.server}) is plain http: the credentials sent to it cross the network unencrypted; use https://`,
      });
    } else if (!plain && cluster.skipTLSVerify === true) {
      warnings.push({
        path,
        message: `the kubeconfig's cluster ${JSON.stringify(cluster.name)} (${cluster.server}) has insecure-skip-tls-verify: true: its certificate is not checked, so the credentials sent to it (a bearer token, a client certificate) go to whoever intercepts the connection; give its CA (certificate-authority-data) instead`,
      });
    }
  }
  return warnings;
}
