import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { resolve } from "node:path";
import {
  createReloader,
  createSecretStore,
  createVerifier,
  reloaders,
  secretStores,
  verifiers,
} from "./registry.ts";
import type { ConfigContext } from "./support/config.ts";

const warnings: { path: readonly PropertyKey[]; message: string }[] = [];
const ctx: ConfigContext = {
  baseDir: "/etc/ftr",
  warn: (path, message) => warnings.push({ path, message }),
};

describe("adapter registry", () => {
  it("normalises an entry with its adapter's schema: defaults, durations in ms, paths resolved", () => {
    const exec = secretStores.exec.schema(ctx).parse({ type: "exec", write: ["put"], cwd: "scripts" });
    assert.deepEqual(exec, {
      type: "exec",
      write: ["put"],
      timeoutMs: 30_000,
      cwd: resolve("/etc/ftr", "scripts"),
      env: {},
    });
    assert.deepEqual(
      warnings.map((w) => w.path),
      [["read"]],
    );
    const rollout = reloaders["kubernetes-rollout"].schema(ctx).parse({
      type: "kubernetes-rollout",
      namespace: "monitoring",
      daemonSet: "exporter",
      kubeconfig: "./kube.yaml",
    });
    assert.deepEqual(rollout, {
      type: "kubernetes-rollout",
      namespace: "monitoring",
      kind: "DaemonSet",
      name: "exporter",
      restart: true,
      timeoutMs: 300_000,
      intervalMs: 2_000,
      kubeconfig: "/etc/ftr/kube.yaml",
    });
  });

  it("reports a rule within one entry at the field's path", () => {
    const result = verifiers.exec.schema(ctx).safeParse({ type: "exec", command: ["x"], timeout: "1s" });
    assert.equal(result.success, false);
    assert.deepEqual(
      result.error?.issues.map((i) => i.path),
      [["timeout"]],
    );
  });

  it("loads each implementation when it is first created", async () => {
    const store = await createSecretStore({ type: "file", path: "/etc/ftr/secret" });
    assert.match(store.description, /secret/);
    const reloader = await createReloader({
      type: "exec",
      command: ["true"],
      timeoutMs: 1_000,
      cwd: "/",
      env: {},
    });
    assert.ok(reloader.description.length > 0);
    const verifier = await createVerifier({ type: "token-in-use", timeoutMs: 10_000, intervalMs: 1_000 });
    assert.match(verifier.description, /token-in-use/);
  });
});
