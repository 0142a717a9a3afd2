import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ConfigContext } from "../support/config.ts";
import { argoCdSchema } from "./schema.ts";

const warnings: string[] = [];
const ctx: ConfigContext = {
  baseDir: "/etc/ftr",
  warn: (path, message) => warnings.push(`${path.join(".")}: ${message}`),
};
const parse = (entry: Record<string, unknown>) => argoCdSchema(ctx).safeParse({ type: "argocd", ...entry });
const issues = (entry: Record<string, unknown>) =>
  (parse(entry).error?.issues ?? []).map((i) => `${i.path.join(".")}: ${i.message}`);

const RESOURCE = { kind: "Deployment", name: "fastly-exporter", namespace: "monitoring" };

describe("argocd schema", () => {
  it("fills in the defaults: restart, the token variable, the group and version of the kind", () => {
    const result = parse({
      server: "https://argocd.example.com/",
      app: "fastly-exporter",
      resource: RESOURCE,
    });
    assert.deepEqual(result.data, {
      type: "argocd",
      server: "https://argocd.example.com",
      app: "fastly-exporter",
      action: "restart",
      resource: { ...RESOURCE, group: "apps", version: "v1" },
      hardRefresh: false,
      tokenEnv: "ARGOCD_AUTH_TOKEN",
      allowInsecure: false,
      timeoutMs: 300_000,
      intervalMs: 2_000,
    });
  });

  it("keeps a root path, the app's namespace and project, and a core-group kind", () => {
    const result = parse({
      server: "https://example.com/argo-cd/",
      app: "exporter",
      appNamespace: "team-a",
      project: "monitoring",
      action: "sync",
      resource: { kind: "Secret", name: "fastly", namespace: "monitoring" },
    });
    assert.equal(result.data?.server, "https://example.com/argo-cd");
    assert.equal(result.data?.appNamespace, "team-a");
    assert.equal(result.data?.project, "monitoring");
    assert.deepEqual(result.data?.resource, {
      kind: "Secret",
      name: "fastly",
      namespace: "monitoring",
      group: "",
      version: "v1",
    });
  });

  it("needs a resource to restart or sync, not to refresh", () => {
    assert.deepEqual(issues({ server: "https://a.example", app: "x", action: "sync" }), [
      "resource: resource is required for action sync: name it, e.g. { kind: Deployment, name: fastly-exporter, namespace: monitoring }",
    ]);
    assert.deepEqual(
      issues({ server: "https://a.example", app: "x", action: "refresh", hardRefresh: true }),
      [],
    );
    assert.deepEqual(
      issues({ server: "https://a.example", app: "x", resource: RESOURCE, hardRefresh: true }),
      ["hardRefresh: hardRefresh applies to action refresh only; remove it or set action: refresh"],
    );
  });

  it("refuses plain http to another host unless allowInsecure, and allows it to loopback", () => {
    assert.deepEqual(issues({ server: "http://argocd.internal", app: "x", resource: RESOURCE }), [
      "server: plain http to argocd.internal would send the Argo CD token unencrypted; use https:// (or set allowInsecure: true on a network you trust)",
    ]);
    assert.deepEqual(
      issues({ server: "http://argocd.internal", app: "x", resource: RESOURCE, allowInsecure: true }),
      [],
    );
    assert.deepEqual(issues({ server: "http://127.0.0.1:8080", app: "x", resource: RESOURCE }), []);
    assert.deepEqual(issues({ server: "http://[::1]:8080", app: "x", resource: RESOURCE }), []);
  });

  it("words what is wrong with a field", () => {
    assert.deepEqual(
      issues({
        server: "argocd.example.com",
        app: "Fastly Exporter",
        action: "delete",
        tokenEnv: "ARGOCD-TOKEN",
        resource: { kind: "deployment", name: "x", namespace: "y" },
      }),
      [
        "server: give the Argo CD server's base URL with https://, e.g. https://argocd.example.com",
        'app: not an Argo CD application name: use lower-case letters, digits, "-" and ".", starting and ending with a letter or digit',
        "action: action must be restart, refresh or sync",
        "resource.kind: give the resource's Kind as Kubernetes spells it, e.g. Deployment",
        "tokenEnv: not an environment variable name; e.g. ARGOCD_AUTH_TOKEN",
      ],
    );
  });
});
