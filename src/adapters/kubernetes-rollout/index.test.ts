/**
 * The `kubernetes-rollout` reloader in-process, against the local Kubernetes API server on port 0
 * (its Deployment, StatefulSet and DaemonSet controllers and a Stakater Reloader acting a step after
 * each change) with an instant clock: the restart it sends, the rollout it waits for, what fails at
 * once, and, with `restart: false`, which pod template counts as the rollout to wait for.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hookedClock, until } from "../../../test/helpers/wait.ts";
import { after, before, describe, it } from "node:test";
import { type Clock } from "../support/poll.ts";
import type { AdapterContext } from "../types.ts";
import { memoryLogger } from "../../util/log.ts";
import {
  KUBE_TEST_TOKEN,
  startKubernetesApi,
  type RunningKubernetesApi,
} from "../../sandbox/kubernetes-api-server.ts";
import { createKubernetesRolloutReloader, RESTARTED_AT, type KubernetesRolloutOptions } from "./index.ts";

const NS = "monitoring";
let kube: RunningKubernetesApi;
let dir: string;
let kubeconfig: string;
/** The new pod of a rollout of these workloads (by name) starts when this settles. */
const rolloutOutcome = new Map<string, () => Promise<void>>();

before(async () => {
  kube = await startKubernetesApi({
    controllerDelayMs: 1,
    reloader: "env-vars",
    onRollout: (_ns, name) => rolloutOutcome.get(name)?.() ?? Promise.resolve(),
  });
  dir = await mkdtemp(join(tmpdir(), "ftr-krollout-"));
  kubeconfig = await kube.writeKubeconfig(join(dir, "kubeconfig"));
});
after(async () => {
  await kube.close();
  await rm(dir, { recursive: true, force: true });
});

const ctx = (signal?: AbortSignal) => {
  const log = memoryLogger();
  const waits: string[] = [];
  const context: AdapterContext = {
    environment: "integration",
    runId: "20261128T041153Z-1a2b3c4d",
    log,
    onWaiting: (reason) => waits.push(reason),
    ...(signal ? { signal } : {}),
  };
  return { log, waits, context };
};

const reloader = (options: Partial<KubernetesRolloutOptions> & { name: string }, clock: Clock) =>
  createKubernetesRolloutReloader(
    { namespace: NS, kubeconfig, timeoutMs: 600_000, intervalMs: 1_000, ...options },
    { clock },
  );

interface Workload {
  metadata: { generation: number; annotations?: Record<string, string> };
  spec: { template: { metadata: { annotations?: Record<string, string> } } };
  status: { observedGeneration: number; updatedReplicas?: number; updatedNumberScheduled?: number };
}
const dep = (name: string): Workload => kube.deployment(NS, name) as unknown as Workload;
const path = (name: string, plural = "deployments") => `/apis/apps/v1/namespaces/${NS}/${plural}/${name}`;
const calls = (from: number, name: string, plural?: string) =>
  kube.requests
    .slice(from)
    .filter((r) => r.path.split("?")[0] === path(name, plural))
    .map((r) => r.method);

/** Sends `body` as a patch of the given kind to `url` (as another client would). */
async function patch(url: string, body: unknown, type = "application/merge-patch+json"): Promise<void> {
  const response = await fetch(`${kube.url}${url}`, {
    method: "PATCH",
    headers: { authorization: `Bearer ${KUBE_TEST_TOKEN}`, "content-type": type },
    body: JSON.stringify(body),
  });
  assert.equal(response.status, 200, await response.text());
}

const START = Date.parse("2026-11-28T04:11:53.250Z");

describe("kubernetes-rollout: restart", () => {
  it("restarts with a strategic merge patch as kubectl does, pauses first, and waits until rolled out", async () => {
    kube.addDeployment(NS, "restarted", 2);
    const clock = hookedClock(START);
    const { log, context } = ctx();
    const from = kube.requests.length;
    const r = reloader({ name: "restarted" }, clock);
    assert.equal(r.description, `kubernetes-rollout deployment ${NS}/restarted`);
    await r.run(context);
    const d = dep("restarted");
    assert.equal(d.spec.template.metadata.annotations?.[RESTARTED_AT], "2026-11-28T04:11:53Z");
    assert.deepEqual(
      [d.metadata.generation, d.status.observedGeneration, d.status.updatedReplicas],
      [2, 2, 2],
    );
    const methods = calls(from, "restarted");
    assert.deepEqual(methods.slice(0, 2), ["GET", "PATCH"]);
    const sent = kube.requests.slice(from).find((x) => x.method === "PATCH");
    assert.match(sent?.contentType ?? "", /^application\/strategic-merge-patch\+json/);
    assert.equal(clock.sleeps.length, methods.length - 2, "a pause before every look, the first one too");
    assert.ok(clock.sleeps.every((ms) => ms === 1_000));
    const restarted = log.lines.find((l) => l.message === `restarted deployment ${NS}/restarted`);
    assert.deepEqual(restarted?.fields, {
      environment: "integration",
      restartedAt: "2026-11-28T04:11:53Z",
      generation: 2,
    });
    assert.ok(
      log.lines.some((l) => l.level === "info" && l.message === `deployment ${NS}/restarted rolled out`),
    );
  });

  it("a restart within the same second waits for the next one, so the annotation changes", async () => {
    kube.addDeployment(NS, "same-second", 1);
    await patch(
      path("same-second"),
      { spec: { template: { metadata: { annotations: { [RESTARTED_AT]: "2026-11-28T04:11:53Z" } } } } },
      "application/strategic-merge-patch+json",
    );
    await until(() => dep("same-second").status.observedGeneration === 2, "the first restart observed");
    const clock = hookedClock(START);
    const from = kube.requests.length;
    await reloader({ name: "same-second" }, clock).run(ctx().context);
    assert.equal(clock.sleeps[0], 750, "to the start of the next second");
    assert.deepEqual(calls(from, "same-second").slice(0, 3), ["GET", "PATCH", "PATCH"]);
    const d = dep("same-second");
    assert.equal(d.spec.template.metadata.annotations?.[RESTARTED_AT], "2026-11-28T04:11:54Z");
    assert.equal(d.metadata.generation, 3);
  });

  it("pauses 2 s between looks without an interval, and restarts StatefulSets and DaemonSets too", async () => {
    kube.addStatefulSet(NS, "sts", 2);
    kube.addDaemonSet(NS, "ds", 2);
    const clock = hookedClock(START);
    await createKubernetesRolloutReloader(
      { namespace: NS, name: "sts", kind: "StatefulSet", kubeconfig, timeoutMs: 600_000 },
      { clock },
    ).run(ctx().context);
    assert.ok(clock.sleeps.length > 0 && clock.sleeps.every((ms) => ms === 2_000), clock.sleeps.join(","));
    const sts = kube.statefulSet(NS, "sts") as unknown as Workload;
    assert.equal(sts.spec.template.metadata.annotations?.[RESTARTED_AT], "2026-11-28T04:11:53Z");
    assert.equal(sts.status.updatedReplicas, 2);
    const ds = reloader({ name: "ds", kind: "DaemonSet" }, hookedClock(START));
    assert.equal(ds.description, `kubernetes-rollout daemonset ${NS}/ds`);
    await ds.run(ctx().context);
    const set = kube.daemonSet(NS, "ds") as unknown as Workload;
    assert.equal(set.spec.template.metadata.annotations?.[RESTARTED_AT], "2026-11-28T04:11:53Z");
    assert.equal(set.status.updatedNumberScheduled, 2);
  });

  it("refuses a paused Deployment and an OnDelete StatefulSet before restarting them", async () => {
    kube.addDeployment(NS, "paused", 1, { paused: true });
    kube.addStatefulSet(NS, "on-delete", 1, { onDelete: true });
    const from = kube.requests.length;
    await assert.rejects(
      reloader({ name: "paused" }, hookedClock(START)).run(ctx().context),
      (error: Error) => {
        assert.equal(error.name, "KubernetesError");
        assert.equal(
          error.message,
          `deployment ${NS}/paused is paused; resume it (kubectl rollout resume) and run again`,
        );
        return true;
      },
    );
    await assert.rejects(
      reloader({ name: "on-delete", kind: "StatefulSet" }, hookedClock(START)).run(ctx().context),
      new RegExp(
        `^KubernetesError: statefulset ${NS}/on-delete uses the OnDelete update strategy: a restart never rolls out; see kubectl -n ${NS} describe statefulset on-delete$`,
      ),
    );
    await assert.rejects(
      reloader({ name: "on-delete", kind: "StatefulSet", restart: false }, hookedClock(START)).run(
        ctx().context,
      ),
      /uses the OnDelete update strategy: a changed pod template never rolls out;/,
    );
    assert.ok(!kube.requests.slice(from).some((r) => r.method === "PATCH"), "nothing restarted");
  });

  it("fails at once when the rollout exceeds its progress deadline", async () => {
    kube.addDeployment(NS, "crashing", 1);
    rolloutOutcome.set("crashing", () => Promise.reject(new Error("crash loop")));
    const clock = hookedClock(START);
    await assert.rejects(reloader({ name: "crashing" }, clock).run(ctx().context), (error: Error) => {
      assert.equal(
        error.message,
        `deployment ${NS}/crashing: the rollout exceeded its progress deadline; see kubectl -n ${NS} describe deployment crashing`,
      );
      return true;
    });
    assert.ok(clock.sleeps.length < 600);
  });

  it("times out at the deadline with what it waited for, logging each new wait once", async () => {
    kube.addDeployment(NS, "stuck", 1);
    let step: () => void = () => undefined;
    rolloutOutcome.set("stuck", () => new Promise<void>((resolve) => (step = resolve)));
    // Observed, one new pod started (not Ready, its start held): "0 of 1 …" is where it stays.
    const clock = hookedClock(START, (n) =>
      n === 1 ? until(() => dep("stuck").status.observedGeneration === 2, "the restart observed") : undefined,
    );
    const { log, waits, context } = ctx();
    try {
      await assert.rejects(
        reloader({ name: "stuck", timeoutMs: 30_000 }, clock).run(context),
        (error: Error) => {
          assert.equal(error.name, "KubernetesError");
          assert.equal(
            error.message,
            `deployment ${NS}/stuck did not finish rolling out within 30s (1 old replicas pending termination); see kubectl -n ${NS} rollout status deployment/stuck`,
          );
          return true;
        },
      );
    } finally {
      step();
    }
    assert.equal(
      clock.sleeps.reduce((a, b) => a + b, 0),
      30_000,
    );
    assert.deepEqual(new Set(waits), new Set(["1 old replicas pending termination"]));
    const debug = log.lines.filter((l) => l.level === "debug").map((l) => l.message);
    assert.deepEqual(debug, [`deployment ${NS}/stuck: 1 old replicas pending termination`]);
  });

  it("a 429 while waiting pauses as long as Retry-After asks, and says so in the log", async () => {
    kube.addDeployment(NS, "shed", 1);
    const clock = hookedClock(START, (n) => {
      if (n === 1) kube.throttle("GET", "deployments", 1, 5);
    });
    const { log, waits, context } = ctx();
    await reloader({ name: "shed" }, clock).run(context);
    assert.equal(clock.sleeps[1], 5_000);
    assert.equal(waits[0], "the API server asked to slow down (429)");
    assert.ok(
      log.lines.some(
        (l) =>
          l.level === "debug" &&
          l.message === `deployment ${NS}/shed: the API server asked to slow down (429); reading again in 5s`,
      ),
    );
  });

  it("fails saying which call was refused: the read, the restart, a read while waiting", async () => {
    await assert.rejects(
      reloader({ name: "absent" }, hookedClock(START)).run(ctx().context),
      /^KubernetesError: reading deployment monitoring\/absent failed: .*check the namespace and name/,
    );
    kube.addDeployment(NS, "refused", 1);
    kube.forbid("PATCH", "deployments");
    try {
      await assert.rejects(
        reloader({ name: "refused" }, hookedClock(START)).run(ctx().context),
        /^KubernetesError: restarting deployment monitoring\/refused failed: .*grant the permission/,
      );
    } finally {
      kube.forbid("PATCH", "deployments", false);
    }
    const clock = hookedClock(START, (n) => {
      if (n === 1) kube.forbid("GET", "deployments");
    });
    try {
      await assert.rejects(
        reloader({ name: "refused" }, clock).run(ctx().context),
        /^KubernetesError: reading deployment monitoring\/refused failed: .*grant the permission/,
      );
    } finally {
      kube.forbid("GET", "deployments", false);
    }
    assert.equal(clock.sleeps.length, 1);
  });

  it("an abort ends the wait with the abort's reason", async () => {
    kube.addDeployment(NS, "aborted", 1);
    kube.pause("deployments");
    const controller = new AbortController();
    const clock = hookedClock(START, (n) => {
      if (n === 3) controller.abort(new Error("interrupted by SIGTERM"));
    });
    const aborted = ctx(controller.signal);
    try {
      await assert.rejects(
        reloader({ name: "aborted" }, clock).run(aborted.context),
        /^Error: interrupted by SIGTERM$/,
      );
    } finally {
      kube.pause("deployments", false);
    }
    assert.equal(clock.sleeps.length, 2);
    assert.deepEqual(aborted.waits, Array(2).fill("waiting for the spec update to be observed"));
    assert.deepEqual(
      aborted.log.lines.filter((l) => l.level === "debug"),
      [],
      "the state it starts from is not logged as news",
    );
  });
});

describe("kubernetes-rollout: restart: false (waits for Reloader)", () => {
  /** Changes a Secret's value through the API, as a secret store's promote does. */
  const setSecret = (name: string, value: string) =>
    patch(`/api/v1/namespaces/${NS}/secrets/${name}`, {
      data: { token: Buffer.from(value).toString("base64") },
    });
  const watched = (
    name: string,
    annotations: Record<string, string> = { "reloader.stakater.com/auto": "true" },
  ) => {
    kube.addSecret(NS, `token-${name}`, { token: "old" });
    kube.addDeployment(NS, name, 1, { secret: `token-${name}`, annotations });
  };

  it("waits for the pod template Reloader changes, restarting nothing, looking at once", async () => {
    watched("reloaded");
    const clock = hookedClock(START);
    const r = reloader({ name: "reloaded", restart: false }, clock);
    assert.equal(r.description, `kubernetes-rollout deployment ${NS}/reloaded (waits for Reloader)`);
    const { log, context } = ctx();
    await r.prepare!(context);
    const from = kube.requests.length;
    await setSecret("token-reloaded", "new");
    await r.run(context);
    const d = dep("reloaded");
    assert.equal(d.metadata.generation, 2, "Reloader's rollout");
    assert.deepEqual([d.status.observedGeneration, d.status.updatedReplicas], [2, 1]);
    assert.equal(d.spec.template.metadata.annotations?.[RESTARTED_AT], undefined);
    assert.ok(!calls(from, "reloaded").includes("PATCH"));
    assert.ok(
      log.lines.some(
        (l) =>
          l.message === `waiting for deployment ${NS}/reloaded to roll out a new pod template` &&
          l.fields?.generation !== undefined,
      ),
    );
    assert.ok(!log.lines.some((l) => l.level === "warn"), JSON.stringify(log.lines));
    // The template noted is used once: a run without prepare does not know what came before.
    const again = ctx();
    await r.run(again.context);
    assert.ok(again.log.lines.some((l) => l.level === "warn" && /is not known/.test(l.message)));
  });

  it("a rollout already finished when the step begins is done without a pause", async () => {
    watched("early");
    const clock = hookedClock(START);
    const r = reloader({ name: "early", restart: false }, clock);
    const { context } = ctx();
    await r.prepare!(context);
    await setSecret("token-early", "new");
    await until(() => {
      const s = (kube.deployment(NS, "early") as { status: { observedGeneration: number; replicas: number } })
        .status;
      return s.observedGeneration === 2 && s.replicas === 1;
    }, "Reloader's rollout to finish");
    await r.run(context);
    assert.deepEqual(clock.sleeps, []);
  });

  it("without a noted template (a resumed run) waits for the current rollout only, and warns", async () => {
    watched("resumed");
    const clock = hookedClock(START);
    const { log, context } = ctx();
    await reloader({ name: "resumed", restart: false }, clock).run(context);
    assert.deepEqual(clock.sleeps, [], "rolled out already: nothing to wait for");
    assert.ok(
      log.lines.some(
        (l) =>
          l.level === "warn" &&
          l.message ===
            `deployment ${NS}/resumed: the pod template before the secret changed is not known (a resumed run?); waiting for the current rollout only`,
      ),
    );
  });

  it("a template that cannot be noted is warned about, and the run waits as a resumed one", async () => {
    watched("unreadable");
    const r = reloader({ name: "unreadable", restart: false }, hookedClock(START));
    const { log, context } = ctx();
    kube.forbid("GET", "deployments");
    try {
      await r.prepare!(context);
    } finally {
      kube.forbid("GET", "deployments", false);
    }
    const warned = log.lines.find((l) => l.level === "warn");
    assert.equal(warned?.message, `could not read deployment ${NS}/unreadable before the secret changed`);
    assert.match(String(warned?.fields?.error), /reading deployment monitoring\/unreadable failed/);
    await r.run(context);
    assert.ok(log.lines.some((l) => l.level === "warn" && /is not known/.test(l.message)));
  });

  it("no rollout within the timeout: says whether the annotations are there; the restore then waits for nothing", async () => {
    watched("unannotated", {});
    watched("annotated");
    kube.setReloader(undefined);
    try {
      for (const [name, neither] of [
        ["unannotated", true],
        ["annotated", false],
      ] as const) {
        const clock = hookedClock(START);
        const r = reloader({ name, restart: false, timeoutMs: 5_000 }, clock);
        const { context } = ctx();
        await r.prepare!(context);
        await setSecret(`token-${name}`, "new");
        await assert.rejects(r.run(context), (error: Error) => {
          assert.equal(error.name, "KubernetesError");
          assert.match(
            error.message,
            new RegExp(
              `^deployment ${NS}/${name} did not start a rollout within 5s: its pod template did not change`,
            ),
          );
          assert.equal(/\(it has neither\)/.test(error.message), neither, error.message);
          return true;
        });
        assert.equal(
          clock.sleeps.reduce((a, b) => a + b, 0),
          5_000,
        );
        assert.equal(clock.sleeps[0], 1_000);
        // The restore: the template is still the one from before, so its pods run the old value.
        const restore = ctx();
        await r.prepare!(restore.context);
        const from = kube.requests.length;
        await r.run(restore.context);
        assert.deepEqual(calls(from, name), [], "nothing read, nothing waited for");
        assert.ok(restore.log.lines.some((l) => /nothing to wait for/.test(l.message)));
        // Once only: a run without prepare after it is a resumed one.
        const resumed = ctx();
        await r.run(resumed.context);
        assert.ok(!resumed.log.lines.some((l) => /nothing to wait for/.test(l.message)));
        assert.ok(resumed.log.lines.some((l) => l.level === "warn" && /is not known/.test(l.message)));
        // And the next change is waited for again.
        const next = ctx();
        await r.prepare!(next.context);
        await setSecret(`token-${name}`, "newer");
        await assert.rejects(r.run(next.context), /did not start a rollout within 5s/);
      }
    } finally {
      kube.setReloader("env-vars");
    }
  });

  it("after a timeout, a restore whose template changed meanwhile (Reloader late) waits for its rollout", async () => {
    watched("late");
    kube.setReloader(undefined);
    const r = reloader({ name: "late", restart: false, timeoutMs: 3_000 }, hookedClock(START));
    try {
      const { context } = ctx();
      await r.prepare!(context);
      await setSecret("token-late", "new");
      await assert.rejects(r.run(context), /did not start a rollout within 3s/);
    } finally {
      kube.setReloader("env-vars");
    }
    // Reloader's late rollout of the change, before the restore.
    await patch(
      path("late"),
      { spec: { template: { metadata: { annotations: { late: "rollout" } } } } },
      "application/strategic-merge-patch+json",
    );
    await until(() => dep("late").metadata.generation === 2, "the late rollout");
    const restore = ctx();
    await r.prepare!(restore.context);
    await setSecret("token-late", "old");
    await r.run(restore.context);
    assert.ok(!restore.log.lines.some((l) => /nothing to wait for/.test(l.message)));
    const d = dep("late");
    assert.deepEqual([d.metadata.generation, d.status.observedGeneration], [3, 3], "the restore's rollout");
  });

  it("the secret annotation names the Secret for Reloader as well as auto", async () => {
    watched("by-name", { "secret.reloader.stakater.com/reload": "token-by-name" });
    kube.setReloader(undefined);
    try {
      const r = reloader({ name: "by-name", restart: false, timeoutMs: 2_000 }, hookedClock(START));
      const { context } = ctx();
      await r.prepare!(context);
      await assert.rejects(r.run(context), (error: Error) => {
        assert.doesNotMatch(error.message, /it has neither/);
        return true;
      });
    } finally {
      kube.setReloader("env-vars");
    }
  });

  it("a rollout that starts but does not finish times out as a restart's does", async () => {
    watched("half");
    rolloutOutcome.set("half", () => new Promise<void>(() => undefined));
    const clock = hookedClock(START, (n) =>
      n === 1
        ? until(() => dep("half").status.observedGeneration === 2, "Reloader's rollout observed")
        : undefined,
    );
    const r = reloader({ name: "half", restart: false, timeoutMs: 10_000 }, clock);
    const { context } = ctx();
    await r.prepare!(context);
    await setSecret("token-half", "new");
    await assert.rejects(
      r.run(context),
      new RegExp(
        `^KubernetesError: deployment ${NS}/half did not finish rolling out within 10s \\(1 old replicas pending termination\\); see kubectl -n ${NS} rollout status deployment/half$`,
      ),
    );
  });
});
