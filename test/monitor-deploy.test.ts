/**
 * The Kubernetes manifests and the Grafana dashboard in deploy/: every YAML document parses, the
 * kinds are there, and the pieces reference each other consistently (names, labels and selectors,
 * ports, the config key and path, the credential); the config they ship is valid; the dashboard's
 * queries use metrics `ftr serve` actually registers.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- manifests are loose JSON; the assertions are the shape check */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { parseAllDocuments } from "yaml";
import { parseConfig } from "../src/config/index.ts";
import { createMonitorMetrics, MONITOR_METRIC_NAMES, parseListen } from "../src/monitor/index.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const K8S = `${ROOT}deploy/kubernetes/`;

// Loose shapes: only the fields the checks read.
interface Doc {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  [key: string]: any;
}

const docs: Doc[] = readdirSync(K8S)
  .filter((f) => f.endsWith(".yaml"))
  .flatMap((file) =>
    parseAllDocuments(readFileSync(K8S + file, "utf8")).map((d) => {
      assert.deepEqual(d.errors, [], `${file}: ${d.errors.join("; ")}`);
      return d.toJS() as Doc;
    }),
  )
  .filter((d) => d !== null);

/**
 * The objects of `serve` and `check` where a kind has several (the rotate CronJob brings its own
 * ConfigMap and Secret; test/deploy-kustomize.test.ts checks those).
 */
const MONITOR_OBJECTS: Readonly<Record<string, string>> = {
  ConfigMap: "fastly-token-rotator-config",
  Secret: "fastly-token-rotator-credentials",
  CronJob: "fastly-token-rotator-check",
};

function one(kind: string, name: string | undefined = MONITOR_OBJECTS[kind]): Doc {
  const found = docs.filter((d) => d.kind === kind && (name === undefined || d.metadata.name === name));
  assert.equal(found.length, 1, `exactly one ${kind}${name ? ` ${name}` : ""}`);
  return found[0]!;
}

function subset(small: Record<string, string>, big: Record<string, string> | undefined, what: string): void {
  assert.ok(Object.keys(small).length > 0, `${what}: empty selector`);
  for (const [k, v] of Object.entries(small)) assert.equal(big?.[k], v, `${what}: label ${k}`);
}

/** Pod specs of the Deployment and the CronJob, with the container running ftr. */
function pods(): { what: string; spec: any; container: any }[] {
  const deployment = one("Deployment");
  const cron = one("CronJob");
  return [
    {
      what: "Deployment",
      spec: deployment.spec.template.spec,
      container: deployment.spec.template.spec.containers[0],
    },
    {
      what: "CronJob",
      spec: cron.spec.jobTemplate.spec.template.spec,
      container: cron.spec.jobTemplate.spec.template.spec.containers[0],
    },
  ];
}

describe("deploy/kubernetes", () => {
  it("has every kind, once", () => {
    for (const kind of [
      "ConfigMap",
      "Secret",
      "Deployment",
      "Service",
      "ServiceMonitor",
      "CronJob",
      "PrometheusRule",
      "Kustomization",
    ]) {
      one(kind);
    }
    const kustomization = one("Kustomization");
    const files = readdirSync(K8S)
      .filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml")
      .sort();
    // Its files, and directories of other kustomizations (../rbac).
    const resources = (kustomization.resources as string[]).filter((r) => r.endsWith(".yaml"));
    assert.deepEqual(resources.sort(), files);
  });

  it("selects the Deployment's pods from the Deployment, the Service and the ServiceMonitor", () => {
    const deployment = one("Deployment");
    const service = one("Service");
    const monitor = one("ServiceMonitor");
    const podLabels = deployment.spec.template.metadata.labels as Record<string, string>;
    subset(deployment.spec.selector.matchLabels, podLabels, "Deployment selector");
    subset(service.spec.selector, podLabels, "Service selector");
    subset(monitor.spec.selector.matchLabels, service.metadata.labels, "ServiceMonitor selector");
    // The CronJob's pods must not be selected by the Service.
    const cronLabels = one("CronJob").spec.jobTemplate.spec.template.metadata.labels as Record<
      string,
      string
    >;
    assert.ok(
      Object.entries(service.spec.selector as Record<string, string>).some(([k, v]) => cronLabels[k] !== v),
    );
  });

  it("agrees on ports: --listen, containerPort, Service targetPort and ServiceMonitor port", () => {
    const container = pods()[0]!.container;
    const args = container.args as string[];
    assert.equal(args[0], "serve");
    const listen = parseListen(args[args.indexOf("--listen") + 1]!);
    const port = (container.ports as { name: string; containerPort: number }[])[0]!;
    assert.equal(port.containerPort, listen.port);
    const service = one("Service");
    const servicePort = (service.spec.ports as { name: string; targetPort: string | number }[])[0]!;
    assert.ok(servicePort.targetPort === port.name || servicePort.targetPort === port.containerPort);
    const endpoint = (one("ServiceMonitor").spec.endpoints as { port: string; path: string }[])[0]!;
    assert.equal(endpoint.port, servicePort.name);
    assert.equal(endpoint.path, "/metrics");
    assert.equal(container.readinessProbe.httpGet.path, "/healthz");
    assert.equal(container.readinessProbe.httpGet.port, port.name);
  });

  it("mounts the ConfigMap's key where --config points, and the config is valid", () => {
    const configMap = one("ConfigMap");
    for (const { what, spec, container } of pods()) {
      const args = container.args as string[];
      const configPath = args[args.indexOf("--config") + 1]!;
      const volume = (spec.volumes as any[]).find((v) => v.configMap?.name === configMap.metadata.name);
      assert.ok(volume, `${what} mounts the ConfigMap`);
      const item = (volume.configMap.items as { key: string; path: string }[])[0]!;
      assert.ok(item.key in configMap.data, `${what}: key ${item.key} is in the ConfigMap`);
      const mount = (container.volumeMounts as any[]).find((m) => m.name === volume.name);
      const mounted = mount.subPath ? mount.mountPath : `${mount.mountPath}/${item.path}`;
      assert.equal(mount.subPath ?? item.path, item.path);
      assert.equal(mounted, configPath, `${what}: --config is the mounted file`);

      const result = parseConfig(configMap.data[item.key] as string, {
        baseDir: "/etc/ftr",
        sourceName: "ConfigMap",
      });
      assert.deepEqual(result.errors, []);
      // Every file secret the config reads is mounted from a Secret volume.
      for (const env of result.config!.environments) {
        assert.equal(env.secret.type, "file");
        const path = env.secret.type === "file" ? env.secret.path : "";
        const secretMount = (container.volumeMounts as any[]).find((m) => path.startsWith(`${m.mountPath}/`));
        assert.ok(secretMount, `${what}: ${path} is mounted`);
        const secretVolume = (spec.volumes as any[]).find((v) => v.name === secretMount.name);
        assert.ok(secretVolume.secret, `${what}: ${path} comes from a Secret`);
        assert.ok(
          (secretVolume.secret.items as { path: string }[]).some(
            (i) => `${secretMount.mountPath}/${i.path}` === path,
          ),
          `${what}: the Secret item lands at ${path}`,
        );
      }
    }
  });

  it("takes FASTLY_API_TOKEN from the Secret, runs non-root with a read-only root and resources", () => {
    const secret = one("Secret");
    for (const { what, spec, container } of pods()) {
      const env = (container.env as any[]).find((e) => e.name === "FASTLY_API_TOKEN");
      assert.equal(env.valueFrom.secretKeyRef.name, secret.metadata.name, what);
      assert.ok(env.valueFrom.secretKeyRef.key in secret.stringData, what);
      assert.equal(spec.securityContext.runAsNonRoot, true, what);
      assert.ok(spec.securityContext.runAsUser > 0, what);
      assert.equal(container.securityContext.readOnlyRootFilesystem, true, what);
      assert.equal(container.securityContext.allowPrivilegeEscalation, false, what);
      assert.deepEqual(container.securityContext.capabilities.drop, ["ALL"], what);
      assert.ok(container.resources.requests.memory && container.resources.limits.memory, what);
      // Never a credential in argv.
      assert.ok(!(container.args as string[]).some((a) => /token/i.test(a) && a !== "--config"), what);
    }
    assert.equal(one("CronJob").spec.jobTemplate.spec.template.spec.restartPolicy, "Never");
  });
});

describe("deploy/grafana dashboard", () => {
  it("parses and queries only metrics ftr serve registers", async () => {
    const dashboard = JSON.parse(readFileSync(`${ROOT}deploy/grafana/fastly-token-rotator.json`, "utf8")) as {
      panels: { title: string; targets: { expr: string }[] }[];
    };
    const registered = new Set((await createMonitorMetrics().registry.getMetricsAsJSON()).map((m) => m.name));
    assert.deepEqual([...registered].sort(), [...MONITOR_METRIC_NAMES].sort());
    const used = new Set<string>();
    for (const panel of dashboard.panels) {
      assert.ok(panel.targets.length > 0, panel.title);
      for (const { expr } of panel.targets) {
        for (const m of expr.matchAll(/\bfastly_[a-z0-9_]+/g)) used.add(m[0]);
      }
    }
    for (const name of used)
      assert.ok(registered.has(name), `the dashboard queries ${name}, which serve does not export`);
    const titles = dashboard.panels.map((p) => p.title).join(" | ");
    assert.match(titles, /Time left per token/);
    assert.match(titles, /Last rotation per environment/);
    assert.match(titles, /Refresh health/);
    for (const needed of [
      "fastly_automation_token_expiry_timestamp_seconds",
      "fastly_token_rotator_last_rotation_timestamp_seconds",
      "fastly_token_rotator_refresh_success",
    ]) {
      assert.ok(used.has(needed), needed);
    }
  });
});
