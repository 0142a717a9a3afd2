import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseConfig } from "./index.ts";

const BASE = "/srv/ftr";
const ENV = `
environments:
  - name: integration
    token: { name: Exporter token for Integration, services: { all: true } }
    secret: { type: file, path: ./secrets/integration }
    reload: [{ type: exec, command: ["true"] }]
    verify: [{ type: token-in-use }]
`;

function parse(head: string) {
  return parseConfig(`version: 1\n${head}\n${ENV}`, { baseDir: BASE, configPath: `${BASE}/ftr.yaml` });
}

describe("config: state and schedule", () => {
  it("defaults to the directory state beside the config", () => {
    const { config, errors } = parse("");
    assert.deepEqual(errors, []);
    assert.deepEqual(config?.state, { type: "directory", dir: `${BASE}/.ftr-state` });
    assert.equal(config?.schedule, undefined);
  });

  it("reads Kubernetes state with its defaults", () => {
    const { config, errors } = parse(
      "state: { type: kubernetes, namespace: monitoring, name: ftr-state, kubeconfig: ./kube, context: prod }",
    );
    assert.deepEqual(errors, []);
    assert.deepEqual(config?.state, {
      type: "kubernetes",
      namespace: "monitoring",
      name: "ftr-state",
      resource: "secret",
      kubeconfig: `${BASE}/kube`,
      context: "prod",
      leaseDurationMs: 60_000,
    });
  });

  it("names what Kubernetes state lacks, and keys that need it", () => {
    const missing = parse("state: { type: kubernetes }");
    assert.deepEqual(missing.errors.map((e) => e.path).sort(), ["state.name", "state.namespace"]);
    const stray = parse("state: { dir: ./s, namespace: monitoring }");
    assert.match(stray.errors[0]?.message ?? "", /state.namespace applies only with `type: kubernetes`/);
    const upper = parse("state: { type: kubernetes, namespace: Monitoring, name: x }");
    assert.match(upper.errors[0]?.message ?? "", /state.namespace must be a Kubernetes namespace name/);
    const short = parse("state: { type: kubernetes, namespace: monitoring, name: x, leaseDuration: 2s }");
    assert.match(short.errors[0]?.message ?? "", /leaseDuration "2s" must be a duration from 15s to 1h/);
  });

  it("reads windows and a time zone, and refuses bad ones naming the field", () => {
    const ok = parse(
      'schedule: { window: ["Mon-Thu 09:30-16:00", "Fri 10:00-12:00"], timeZone: Europe/London }',
    );
    assert.deepEqual(ok.errors, []);
    assert.deepEqual(ok.config?.schedule, {
      windows: ["Mon-Thu 09:30-16:00", "Fri 10:00-12:00"],
      timeZone: "Europe/London",
    });
    const bad = parse('schedule: { window: "Mon-Thx 09:30-16:00", timeZone: Mars/Olympus }');
    assert.ok(bad.errors.some((e) => e.path === "schedule.window" && /"thx" is not a day/.test(e.message)));
    assert.ok(bad.errors.some((e) => e.path === "schedule.timeZone" && /not a time zone/.test(e.message)));
  });
});
