/**
 * `kubectl kustomize deploy/kubernetes` renders (Debian's kubectl, with its built-in kustomize), and
 * every container in the result runs the image the Containerfile's header says to build; the rotate
 * CronJob in the result runs unattended as designed (one Job at a time, credentials from a Secret,
 * the image's non-root user, its config valid with state in the cluster) and its Role allows what
 * that config touches, by name where Kubernetes allows. Skips when kubectl is missing, except under
 * CI=true.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- manifests are loose JSON; the assertions are the shape check */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { parseAllDocuments } from "yaml";
import { parseConfig } from "../src/config/index.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const run = promisify(execFile);

const hasKubectl = await run("kubectl", ["version", "--client"]).then(
  () => true,
  () => false,
);
const skip =
  hasKubectl || process.env.CI === "true" ? false : "kubectl is not installed (apt-get install kubectl)";

interface Doc {
  kind: string;
  metadata: { name: string; namespace?: string };
  [key: string]: any;
}

const render = async (): Promise<{ stdout: string; docs: Doc[] }> => {
  const { stdout } = await run("kubectl", ["kustomize", "deploy/kubernetes"], {
    cwd: ROOT,
    timeout: 60_000,
  });
  const docs = parseAllDocuments(stdout).map((d) => {
    assert.deepEqual(d.errors, []);
    return d.toJS() as Doc;
  });
  return { stdout, docs };
};

describe("kubectl kustomize deploy/kubernetes", { skip }, () => {
  it("renders, naming the image the Containerfile documents", async () => {
    const { stdout, docs } = await render();
    assert.deepEqual(docs.map((d) => d.kind).sort(), [
      "ConfigMap",
      "ConfigMap",
      "CronJob",
      "CronJob",
      "Deployment",
      "PrometheusRule",
      "Role",
      "RoleBinding",
      "Secret",
      "Secret",
      "Service",
      "ServiceAccount",
      "ServiceMonitor",
    ]);

    // The build command in the Containerfile's header: the name deploy/ must use.
    const containerfile = readFileSync(`${ROOT}Containerfile`, "utf8");
    const documented = /^#\s+buildah bud -f Containerfile -t (\S+) \.$/m.exec(containerfile)?.[1];
    assert.ok(documented, "the Containerfile's header names no image");
    const images = [...stdout.matchAll(/^\s+image: (\S+)$/gm)].map((m) => m[1]);
    assert.deepEqual(
      images,
      [documented, documented, documented],
      "the Deployment's and the CronJobs' image",
    );
  });

  it("runs ftr rotate --due --yes daily, one Job at a time, as the image's non-root user, credentials from a Secret", async () => {
    const { docs } = await render();
    const find = (kind: string, name: string): Doc => {
      const found = docs.find((d) => d.kind === kind && d.metadata.name === name);
      assert.ok(found, `${kind} ${name} is rendered`);
      return found;
    };
    const cron = find("CronJob", "fastly-token-rotator-rotate");
    assert.match(cron.spec.schedule as string, /^\d+ \d+ \* \* \*$/, "daily");
    assert.equal(cron.spec.concurrencyPolicy, "Forbid");
    const job = cron.spec.jobTemplate.spec;
    assert.ok(job.backoffLimit >= 0 && job.backoffLimit <= 2, `backoffLimit ${job.backoffLimit} is small`);
    const pod = job.template.spec;
    assert.equal(pod.restartPolicy, "Never");
    assert.equal(pod.containers.length, 1);
    const [container] = pod.containers;
    assert.deepEqual(container.args, ["rotate", "--due", "--yes", "--config", "/config/ftr.yaml"]);

    // The image's user, as the Containerfile sets it.
    const user = /^USER (\d+):(\d+)$/m.exec(readFileSync(`${ROOT}Containerfile`, "utf8"));
    assert.ok(user, "the Containerfile names its user");
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.securityContext.runAsUser, Number(user[1]));
    assert.equal(pod.securityContext.runAsGroup, Number(user[2]));
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    assert.equal(container.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(container.securityContext.capabilities.drop, ["ALL"]);

    // Both credentials from the rotate Secret, by secretKeyRef, never a literal value.
    const credentials = find("Secret", "fastly-token-rotator-rotate-credentials");
    const env = container.env as any[];
    assert.deepEqual(env.map((e) => String(e.name)).sort(), ["FASTLY_API_TOKEN", "FASTLY_SUDO_PASSWORD"]);
    for (const e of env) {
      assert.equal(e.value, undefined, `${e.name} is not a literal`);
      assert.equal(e.valueFrom.secretKeyRef.name, credentials.metadata.name, e.name);
      assert.ok(e.valueFrom.secretKeyRef.key in credentials.stringData, e.name);
    }
    // The password is not in the Secret serve and check read.
    assert.ok(!("FASTLY_SUDO_PASSWORD" in find("Secret", "fastly-token-rotator-credentials").stringData));

    // The config: mounted where --config points, from the ConfigMap, valid, with state in the cluster.
    const volume = (pod.volumes as any[]).find((v) => v.configMap);
    const configMap = find("ConfigMap", volume.configMap.name);
    const mount = (container.volumeMounts as any[]).find((m) => m.name === volume.name);
    assert.equal(mount.mountPath, "/config/ftr.yaml");
    assert.equal(mount.subPath, "ftr.yaml");
    assert.ok(volume.configMap.items.some((i: any) => i.key === "ftr.yaml" && i.path === "ftr.yaml"));
    const result = parseConfig(configMap.data["ftr.yaml"] as string, {
      baseDir: "/config",
      sourceName: "ConfigMap",
    });
    assert.deepEqual(result.errors, []);
    const config = result.config!;
    const state = config.state;
    assert.ok(
      state?.type === "kubernetes",
      "state is kept in the cluster (the Job's disk does not outlive it)",
    );
    assert.equal(state.kubeconfig, undefined, "in a pod: the service account");
    assert.equal(pod.automountServiceAccountToken, true);

    // The ServiceAccount is bound to a Role in the state's namespace.
    const account = find("ServiceAccount", pod.serviceAccountName as string);
    assert.equal(account.metadata.namespace, state.namespace);
    const binding = docs.find(
      (d) =>
        d.kind === "RoleBinding" &&
        (d.subjects as any[]).some((s) => s.kind === "ServiceAccount" && s.name === account.metadata.name),
    );
    assert.ok(binding, "a RoleBinding names the ServiceAccount");
    assert.equal(binding.metadata.namespace, state.namespace);
    const role = find("Role", binding.roleRef.name as string);
    assert.equal(role.metadata.namespace, state.namespace);

    /** Does a rule of the Role allow `verb` on `resource` (of `group`) named `name`? */
    const allows = (group: string, resource: string, verb: string, name?: string): boolean =>
      (role.rules as any[]).some(
        (r) =>
          r.apiGroups.includes(group) &&
          r.resources.includes(resource) &&
          r.verbs.includes(verb) &&
          (r.resourceNames === undefined || (name !== undefined && r.resourceNames.includes(name))),
      );
    /** ...and only by that name (a rule with resourceNames). */
    const onlyNamed = (group: string, resource: string, verb: string, name: string): boolean =>
      (role.rules as any[]).some(
        (r) =>
          r.apiGroups.includes(group) &&
          r.resources.includes(resource) &&
          r.verbs.includes(verb) &&
          r.resourceNames?.includes(name),
      ) &&
      !(role.rules as any[]).some(
        (r) =>
          r.apiGroups.includes(group) &&
          r.resources.includes(resource) &&
          r.verbs.includes(verb) &&
          !r.resourceNames,
      );
    // The Lease and the journal: get and update by name; create cannot be restricted by name.
    for (const [group, resource] of [
      ["coordination.k8s.io", "leases"],
      ["", state.resource === "configmap" ? "configmaps" : "secrets"],
    ] as const) {
      assert.ok(onlyNamed(group, resource, "get", state.name), `get ${resource}/${state.name}`);
      assert.ok(onlyNamed(group, resource, "update", state.name), `update ${resource}/${state.name}`);
      assert.ok(allows(group, resource, "create"), `create ${resource}`);
    }
    assert.ok(!allows("coordination.k8s.io", "leases", "delete", state.name), "no delete");
    // What each environment touches, by name.
    for (const environment of config.environments) {
      if (environment.secret.type === "kubernetes-secret") {
        assert.equal(environment.secret.namespace, state.namespace);
        for (const name of [environment.secret.name, `${environment.secret.name}-ftr`]) {
          assert.ok(onlyNamed("", "secrets", "get", name), `get secrets/${name}`);
          assert.ok(onlyNamed("", "secrets", "patch", name), `patch secrets/${name}`);
        }
      }
      for (const step of environment.reload) {
        if (step.type !== "kubernetes-rollout") continue;
        assert.ok(onlyNamed("apps", "deployments", "get", step.name), `get ${step.name}`);
        assert.ok(onlyNamed("apps", "deployments", "patch", step.name), `patch ${step.name}`);
      }
    }
  });
});
