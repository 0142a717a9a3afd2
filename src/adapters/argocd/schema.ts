/** `reload: - { type: argocd }`: the config as written, and the reloader's Options. */
import * as z from "zod";
import type { AdapterTarget } from "../support/describe.ts";
import {
  checkInterval,
  defined,
  duration,
  intervalField,
  k8sName,
  type ConfigContext,
} from "../support/config.ts";
import { isSecureOrLoopback } from "../../util/http.ts";

/** What the reloader asks Argo CD to do. */
export const ARGOCD_ACTIONS = ["restart", "refresh", "sync"] as const;

/** The environment variable names a shell accepts. */
const ENV_VAR_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The API group and version of the kinds whose group is not the core one, when left out. */
const KNOWN_KINDS: Readonly<Record<string, { readonly group: string; readonly version: string }>> = {
  Deployment: { group: "apps", version: "v1" },
  StatefulSet: { group: "apps", version: "v1" },
  DaemonSet: { group: "apps", version: "v1" },
  Rollout: { group: "argoproj.io", version: "v1alpha1" },
};

const resourceSchema = z
  .strictObject({
    kind: z
      .string()
      .regex(/^[A-Z][A-Za-z0-9]*$/, {
        error: "give the resource's Kind as Kubernetes spells it, e.g. Deployment",
      })
      .meta({ description: "Kind of the resource.", examples: ["Deployment"] }),
    name: k8sName("resource name", "fastly-exporter"),
    namespace: k8sName("resource's namespace", "monitoring"),
    group: z
      .string()
      .regex(/^([a-z0-9.-]*)$/, { error: 'give the API group, e.g. apps ("" for the core group)' })
      .meta({
        description:
          'API group of the resource. Default: `apps` for Deployment, StatefulSet and DaemonSet, `argoproj.io` for Rollout, otherwise "" (the core group).',
        examples: ["apps"],
      })
      .optional(),
    version: z
      .string()
      .regex(/^v[0-9a-z]+$/, { error: "give the API version, e.g. v1" })
      .meta({
        description: "API version of the resource. Default: `v1` (`v1alpha1` for Rollout).",
        examples: ["v1"],
      })
      .optional(),
  })
  .meta({ description: "The resource of the application to restart or sync." });

/** The `argocd` reload step: restart, refresh or sync through Argo CD's API and wait for the outcome. */
export function argoCdSchema(ctx: ConfigContext) {
  return z
    .strictObject({
      type: z.literal("argocd"),
      server: z
        .url({
          protocol: /^https?$/,
          error: "give the Argo CD server's base URL with https://, e.g. https://argocd.example.com",
        })
        .meta({ description: "Argo CD server base URL.", examples: ["https://argocd.example.com"] }),
      app: z
        .string()
        .max(253, { error: "an Argo CD application name has at most 253 characters" })
        .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, {
          error:
            'not an Argo CD application name: use lower-case letters, digits, "-" and ".", starting and ending with a letter or digit',
        })
        .meta({ description: "The Argo CD application.", examples: ["fastly-exporter"] }),
      appNamespace: k8sName("namespace of the Application (Argo CD's apps in any namespace)", "argocd")
        .meta({
          description:
            "Namespace of the Application, for Argo CD's applications in any namespace. Default: the server's own namespace.",
          examples: ["argocd"],
        })
        .optional(),
      project: z
        .string()
        .min(1, { error: "project is empty; give the application's Argo CD project or remove project" })
        .meta({
          description:
            "The application's Argo CD project. With it, Argo CD answers 404 for an unknown application; without it, 403.",
          examples: ["default"],
        })
        .optional(),
      action: z
        .enum(ARGOCD_ACTIONS, { error: "action must be restart, refresh or sync" })
        .meta({
          description:
            "`restart`: run the resource's restart action and wait for its rollout; `refresh`: refresh the application and wait until it is Synced and Healthy; `sync`: sync the resource and wait for the operation, Synced and Healthy.",
          examples: ["restart"],
        })
        .default("restart"),
      resource: resourceSchema.optional(),
      hardRefresh: z
        .boolean()
        .meta({
          description: "For `refresh`: a hard refresh (regenerate the manifests, bypassing the cache).",
          examples: [true],
        })
        .default(false),
      tokenEnv: z
        .string()
        .regex(ENV_VAR_PATTERN, { error: "not an environment variable name; e.g. ARGOCD_AUTH_TOKEN" })
        .meta({
          description: "Environment variable holding the Argo CD API token (sent as a bearer token).",
          examples: ["ARGOCD_AUTH_TOKEN"],
        })
        .default("ARGOCD_AUTH_TOKEN"),
      allowInsecure: z
        .boolean()
        .meta({
          description:
            "Allow plain http:// to a host other than localhost, sending the token unencrypted. Default false.",
          examples: [false],
        })
        .default(false),
      timeout: duration("How long the action and the wait for its outcome may take.", "5m"),
      interval: intervalField("How often Argo CD is asked."),
    })
    .meta({
      description:
        "Restart a resource (its `restart` action), refresh or sync an application through Argo CD's API, and wait until Argo CD shows it done and healthy.",
    })
    .transform((entry, issues) => {
      const { type, server, app, appNamespace, project, action, resource, hardRefresh } = entry;
      const url = new URL(server);
      if (!entry.allowInsecure && !isSecureOrLoopback(url)) {
        issues.addIssue({
          code: "custom",
          path: ["server"],
          message: `plain http to ${url.host} would send the Argo CD token unencrypted; use https:// (or set allowInsecure: true on a network you trust)`,
        });
      }
      if (url.search !== "" || url.hash !== "") {
        issues.addIssue({
          code: "custom",
          path: ["server"],
          message: "give the server's base URL without a query or fragment, e.g. https://argocd.example.com",
        });
      }
      if (resource === undefined && action !== "refresh") {
        issues.addIssue({
          code: "custom",
          path: ["resource"],
          message: `resource is required for action ${action}: name it, e.g. { kind: Deployment, name: fastly-exporter, namespace: monitoring }`,
        });
      }
      if (resource !== undefined && action === "refresh") {
        ctx.warn(["resource"], "action refresh refreshes the whole application; resource is not used");
      }
      if (hardRefresh && action !== "refresh") {
        issues.addIssue({
          code: "custom",
          path: ["hardRefresh"],
          message: `hardRefresh applies to action refresh only; remove it or set action: refresh`,
        });
      }
      const step = { timeoutMs: entry.timeout, intervalMs: entry.interval };
      checkInterval(issues, step);
      const known = resource === undefined ? undefined : KNOWN_KINDS[resource.kind];
      return {
        type,
        server: `${url.origin}${url.pathname.replace(/\/+$/, "")}`,
        app,
        action,
        ...defined({ appNamespace, project }),
        ...(resource === undefined
          ? {}
          : {
              resource: {
                kind: resource.kind,
                name: resource.name,
                namespace: resource.namespace,
                group: resource.group ?? known?.group ?? "",
                version: resource.version ?? known?.version ?? "v1",
              },
            }),
        hardRefresh,
        tokenEnv: entry.tokenEnv,
        allowInsecure: entry.allowInsecure,
        ...step,
      };
    });
}

/** Restarts, refreshes or syncs through Argo CD and waits for the outcome. */
export type ArgoCdConfig = z.output<ReturnType<typeof argoCdSchema>>;

/** The Argo CD application and action, and how long it may take. */
export function describeArgoCd(spec: ArgoCdConfig): AdapterTarget {
  const resource = spec.resource
    ? `${spec.resource.kind} ${spec.resource.namespace}/${spec.resource.name}`
    : undefined;
  return {
    type: "argocd",
    summary: `Argo CD ${spec.action} of ${spec.app}${resource ? ` (${resource})` : ""}`,
    target: {
      server: spec.server,
      app: spec.app,
      action: spec.action,
      ...defined({ appNamespace: spec.appNamespace, project: spec.project, resource }),
    },
    waitsFor:
      spec.action === "refresh"
        ? "the application to be refreshed"
        : "the application to be Synced and Healthy",
    timeoutMs: spec.timeoutMs,
  };
}
