/**
 * The `argocd` reloader against a local server speaking Argo CD's REST API
 * (test/helpers/argocd-api-server.ts): real HTTP on port 0, bearer auth, Argo CD's error bodies and
 * RBAC answers, and a controller that rolls out, syncs and reconciles.
 */
import assert from "node:assert/strict";
import { after, afterEach, describe, it } from "node:test";
import { createArgoCdReloader, ArgoCdError, type ArgoCdOptions } from "../src/adapters/argocd/index.ts";
import type { AdapterContext } from "../src/adapters/types.ts";
import { memoryLogger } from "../src/util/log.ts";
import {
  ARGOCD_TEST_TOKEN,
  startArgoCdApi,
  type ArgoCdApiOptions,
  type RunningArgoCdApi,
} from "./helpers/argocd-api-server.ts";
import { gate } from "./helpers/wait.ts";

/** The variable the tests' reloaders read their token from (never a developer's real one). */
const TOKEN_ENV = "FTR_TEST_ARGOCD_TOKEN";
process.env[TOKEN_ENV] = ARGOCD_TEST_TOKEN;
after(() => {
  delete process.env[TOKEN_ENV];
});

const RESOURCE = {
  kind: "Deployment",
  name: "fastly-exporter",
  namespace: "monitoring",
  group: "apps",
  version: "v1",
};

const servers: RunningArgoCdApi[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(options: ArgoCdApiOptions = {}): Promise<RunningArgoCdApi> {
  const api = await startArgoCdApi({ delayMs: 20, ...options });
  servers.push(api);
  return api;
}

function reloader(api: RunningArgoCdApi, options: Partial<ArgoCdOptions> = {}) {
  return createArgoCdReloader({
    server: api.url,
    app: "fastly-exporter",
    action: "restart",
    resource: RESOURCE,
    tokenEnv: TOKEN_ENV,
    timeoutMs: 10_000,
    intervalMs: 20,
    ...options,
  });
}

const ctx = (signal?: AbortSignal): AdapterContext & { log: ReturnType<typeof memoryLogger> } => ({
  environment: "integration",
  runId: "run-1",
  log: memoryLogger(),
  ...(signal === undefined ? {} : { signal }),
});

/** Asserts `promise` rejects with an ArgoCdError of `kind` whose message matches every pattern. */
async function rejectsWith(
  promise: Promise<unknown>,
  kind: string,
  ...patterns: RegExp[]
): Promise<ArgoCdError> {
  const error = await promise.then(
    () => assert.fail("expected a rejection"),
    (e: unknown) => e,
  );
  assert.ok(error instanceof ArgoCdError, `not an ArgoCdError: ${String(error)}`);
  assert.equal(error.kind, kind, error.message);
  for (const pattern of patterns) assert.match(error.message, pattern);
  assert.ok(!error.message.includes(ARGOCD_TEST_TOKEN), "the token is in the message");
  assert.ok(!error.message.includes("\n"), "one line");
  return error;
}

describe("argocd reloader: restart", () => {
  it("runs the restart action through the v2 route and waits for the rollout and Healthy", async () => {
    let restarts = 0;
    const api = await start({ onRestart: async () => void restarts++ });
    const c = ctx();
    await reloader(api).run(c);

    assert.equal(restarts, 1);
    const deployment = api.deployment() as {
      metadata: { generation: number };
      status: { observedGeneration: number };
    };
    assert.equal(deployment.metadata.generation, 2);
    assert.equal(deployment.status.observedGeneration, 2);
    assert.equal(
      (api.application() as { status: { health: { status: string } } }).status.health.status,
      "Healthy",
    );

    const action = api.requests.find((r) => r.method === "POST");
    assert.ok(action);
    assert.equal(action.path, "/api/v1/applications/fastly-exporter/resource/actions/v2");
    assert.equal(action.contentType, "application/json");
    assert.deepEqual(JSON.parse(action.body), {
      name: "fastly-exporter",
      namespace: "monitoring",
      resourceName: "fastly-exporter",
      version: "v1",
      group: "apps",
      kind: "Deployment",
      action: "restart",
    });
    for (const r of api.requests) assert.equal(r.authorization, `Bearer ${ARGOCD_TEST_TOKEN}`);
    assert.deepEqual(
      api.requests.slice(0, 4).map((r) => `${r.method} ${r.path}`),
      [
        "GET /api/v1/applications/fastly-exporter",
        "GET /api/v1/applications/fastly-exporter/resource",
        "POST /api/v1/applications/fastly-exporter/resource/actions/v2",
        "GET /api/v1/applications/fastly-exporter/resource",
      ],
    );
    assert.ok(c.log.lines.some((l) => /restarted Deployment monitoring\/fastly-exporter/.test(l.message)));
    assert.ok(!JSON.stringify(c.log.lines).includes(ARGOCD_TEST_TOKEN));
  });

  it("restarts again within the same second by waiting for the next one", async () => {
    const api = await start();
    await reloader(api).run(ctx());
    await reloader(api).run(ctx());
    assert.equal((api.deployment() as { metadata: { generation: number } }).metadata.generation, 3);
  });

  it("falls back to the route without /v2 on an Argo CD before 3.1", async () => {
    const api = await start({ legacyActions: true });
    const r = reloader(api, { appNamespace: "argocd", project: "default" });
    await r.run(ctx());
    const posts = api.requests.filter((q) => q.method === "POST");
    assert.deepEqual(
      posts.map((q) => [q.path, q.status]),
      [
        ["/api/v1/applications/fastly-exporter/resource/actions/v2", 404],
        ["/api/v1/applications/fastly-exporter/resource/actions", 200],
      ],
    );
    assert.equal(posts[1]!.body, '"restart"');
    assert.deepEqual(posts[1]!.query, {
      namespace: "monitoring",
      resourceName: "fastly-exporter",
      version: "v1",
      group: "apps",
      kind: "Deployment",
      appNamespace: "argocd",
      project: "default",
    });
    // The same reloader remembers: a second run goes to the old route at once (twice when it
    // falls within the same second as the first, whose stamp it would repeat).
    api.requests.length = 0;
    await r.run(ctx());
    const paths = new Set(api.requests.filter((q) => q.method === "POST").map((q) => q.path));
    assert.deepEqual([...paths], ["/api/v1/applications/fastly-exporter/resource/actions"]);
  });

  it("fails at once when the rollout exceeds its progress deadline (Degraded)", async () => {
    const api = await start();
    api.faults.degraded = true;
    // A reloader that waited for its timeout would fail with "not done within" instead.
    await rejectsWith(
      reloader(api, { timeoutMs: 120_000 }).run(ctx()),
      "failed",
      /exceeded its progress deadline/,
      /argocd app get fastly-exporter/,
    );
  });

  it("keeps waiting through 503s while the rollout runs", async () => {
    const faults: { set?: () => void } = {};
    const api = await start({ onRestart: async () => faults.set?.() });
    faults.set = () => {
      api.faults.unavailable = 3;
    };
    await reloader(api).run(ctx());
    assert.equal(api.requests.filter((r) => r.status === 503).length, 3);
  });

  it("names a resource that is not part of the application", async () => {
    const api = await start();
    await rejectsWith(
      reloader(api, { resource: { ...RESOURCE, name: "other" } }).run(ctx()),
      "rejected",
      /HTTP 400: Deployment apps other not found as part of application fastly-exporter/,
      /argocd app resources fastly-exporter/,
    );
  });

  it("times out with the last thing it waited for", async () => {
    const pod = gate();
    const api = await start({ onRestart: () => pod.wait });
    await rejectsWith(
      reloader(api, { timeoutMs: 300 }).run(ctx()),
      "failed",
      /argocd restart of Deployment monitoring\/fastly-exporter in app fastly-exporter: not done within 300ms/,
      /0 of 1 new replicas updated/,
    );
    pod.open();
  });

  it("stops waiting at once when the run is aborted", async () => {
    const pod = gate();
    const api = await start({ onRestart: () => pod.wait });
    const controller = new AbortController();
    // Aborted while it waits on the rollout; one that ignored the signal would end in its own
    // timeout error (not an AbortError) once the two minutes are over.
    const run = reloader(api, { timeoutMs: 120_000 }).run(ctx(controller.signal));
    const deadline = Date.now() + 60_000;
    while (!api.requests.some((r) => r.method === "POST")) {
      assert.ok(Date.now() < deadline, "the restart was never requested");
      await new Promise((r) => setTimeout(r, 10));
    }
    controller.abort();
    await assert.rejects(run, { name: "AbortError" });
    pod.open();
  });
});

describe("argocd reloader: refresh and sync", () => {
  it("refreshes (normal, or hard) and waits for Synced and Healthy", async () => {
    const api = await start();
    await reloader(api, { action: "refresh" }).run(ctx());
    await reloader(api, { action: "refresh", hardRefresh: true }).run(ctx());
    assert.deepEqual(
      api.requests.filter((r) => r.query.refresh !== undefined).map((r) => [r.path, r.query.refresh]),
      [
        ["/api/v1/applications/fastly-exporter", "normal"],
        ["/api/v1/applications/fastly-exporter", "hard"],
      ],
    );
    assert.equal(api.requests.filter((r) => r.method !== "GET").length, 0);
  });

  it("times out when the application never becomes Synced", async () => {
    const api = await start();
    api.faults.neverSynced = true;
    await rejectsWith(
      reloader(api, { action: "refresh", timeoutMs: 300 }).run(ctx()),
      "failed",
      /not done within 300ms \(application fastly-exporter is OutOfSync, health Healthy\)/,
    );
  });

  it("syncs the one resource without pruning and waits for the operation, Synced and Healthy", async () => {
    let syncs = 0;
    const api = await start({ onSync: async () => void syncs++ });
    await reloader(api, { action: "sync" }).run(ctx());
    assert.equal(syncs, 1);
    const post = api.requests.find((r) => r.method === "POST");
    assert.equal(post?.path, "/api/v1/applications/fastly-exporter/sync");
    assert.deepEqual(JSON.parse(post?.body ?? ""), {
      name: "fastly-exporter",
      prune: false,
      resources: [{ group: "apps", kind: "Deployment", name: "fastly-exporter", namespace: "monitoring" }],
    });
    const state = (api.application() as { status: { operationState: { phase: string } } }).status
      .operationState;
    assert.equal(state.phase, "Succeeded");
    // A second sync within the same second is told from the first by the application's version.
    await reloader(api, { action: "sync" }).run(ctx());
    assert.equal(syncs, 2);
  });

  it("fails with Argo CD's message when the sync operation fails", async () => {
    const api = await start({
      onSync: () =>
        Promise.reject(new Error("one or more objects failed to apply, reason: admission webhook denied")),
    });
    await rejectsWith(
      reloader(api, { action: "sync" }).run(ctx()),
      "failed",
      /sync of Deployment monitoring\/fastly-exporter in app fastly-exporter ended Failed: one or more objects failed to apply/,
    );
  });

  it("fails at once on Degraded health after the sync", async () => {
    const api = await start();
    api.faults.degraded = true;
    await rejectsWith(
      reloader(api, { action: "sync" }).run(ctx()),
      "failed",
      /application fastly-exporter is Degraded \(Deployment "fastly-exporter" exceeded its progress deadline\)/,
    );
  });

  it("says so when another operation is running", async () => {
    const sync = gate();
    const running = gate();
    const api = await start({
      onSync: () => {
        running.open();
        return sync.wait;
      },
    });
    const first = reloader(api, { action: "sync" }).run(ctx());
    // The first sync's operation is running on the server (its hook was reached) before the second.
    await running.wait;
    await rejectsWith(
      reloader(api, { action: "sync" }).run(ctx()),
      "rejected",
      /HTTP 400: another operation is already in progress; wait for the running operation to finish, or end it \(argocd app terminate-op fastly-exporter\)/,
    );
    sync.open();
    await first;
  });
});

describe("argocd reloader: refusals", () => {
  it("401: names the call, the app and the token's variable", async () => {
    const api = await start({ token: "another-token-entirely" });
    await rejectsWith(
      reloader(api).run(ctx()),
      "unauthorized",
      /^GET \/api\/v1\/applications\/fastly-exporter \(reading application fastly-exporter\) answered HTTP 401: invalid session: token signature is invalid;/,
      /the token in FTR_TEST_ARGOCD_TOKEN is invalid or expired/,
    );
  });

  it("403 on the action: the RBAC line for the restart action", async () => {
    const api = await start({ permissions: ["get"] });
    await rejectsWith(
      reloader(api).run(ctx()),
      "forbidden",
      /POST \/api\/v1\/applications\/fastly-exporter\/resource\/actions\/v2 \(restart action on Deployment monitoring\/fastly-exporter in app fastly-exporter\) answered HTTP 403: permission denied/,
      /"p, <role>, applications, action\/apps\/Deployment\/restart, default\/fastly-exporter, allow"/,
      /or application fastly-exporter does not exist \(without project, Argo CD answers 403 for both\)/,
    );
  });

  it("403 on the sync: the RBAC line for sync", async () => {
    const api = await start({ permissions: ["get"] });
    await rejectsWith(
      reloader(api, { action: "sync", project: "default" }).run(ctx()),
      "forbidden",
      /answered HTTP 403: permission denied: applications, sync, default\/fastly-exporter/,
      /"p, <role>, applications, sync, default\/fastly-exporter, allow"/,
    );
  });

  it("an unknown application: 403 without project, 404 with one", async () => {
    const api = await start();
    await rejectsWith(
      reloader(api, { app: "nope" }).run(ctx()),
      "forbidden",
      /application nope does not exist/,
    );
    await rejectsWith(
      reloader(api, { app: "nope", project: "default" }).run(ctx()),
      "not-found",
      /HTTP 404: applications\.argoproj\.io "nope" not found; application nope is not in project default/,
    );
  });

  it("never follows a redirect: the token stays with the configured server", async () => {
    const elsewhere = await start();
    const api = await start();
    api.faults.redirectTo = `${elsewhere.url.replace("127.0.0.1", "localhost")}/api/v1/applications/fastly-exporter`;
    await rejectsWith(
      reloader(api).run(ctx()),
      "redirect",
      new RegExp(`answered HTTP 307 redirecting to localhost:${new URL(elsewhere.url).port};`),
    );
    assert.equal(elsewhere.requests.length, 0);
  });

  it("refuses to be made without a token, or for plain http to another host", () => {
    delete process.env.FTR_TEST_ARGOCD_UNSET;
    assert.throws(
      () =>
        createArgoCdReloader({
          server: "https://argocd.example.com",
          app: "a",
          tokenEnv: "FTR_TEST_ARGOCD_UNSET",
          timeoutMs: 1000,
        }),
      /FTR_TEST_ARGOCD_UNSET is not set/,
    );
    assert.throws(
      () =>
        createArgoCdReloader({
          server: "http://argocd.example.com",
          app: "a",
          tokenEnv: TOKEN_ENV,
          timeoutMs: 1000,
        }),
      /plain http to argocd\.example\.com would send the token unencrypted/,
    );
    assert.doesNotThrow(() =>
      createArgoCdReloader({
        server: "http://argocd.internal",
        app: "a",
        tokenEnv: TOKEN_ENV,
        allowInsecure: true,
        timeoutMs: 1000,
      }),
    );
  });
});

describe("the Argo CD fake refuses as Argo CD does", () => {
  it("writes that are not application/json (415), no token (401), an unknown route (plain 404)", async () => {
    const api = await start();
    const auth = { Authorization: `Bearer ${ARGOCD_TEST_TOKEN}` };
    const sync = `${api.url}/api/v1/applications/fastly-exporter/sync`;
    const plain = await fetch(sync, {
      method: "POST",
      headers: { ...auth, "Content-Type": "text/plain" },
      body: "{}",
    });
    assert.equal(plain.status, 415);
    assert.equal(await plain.text(), "Invalid content type\n");
    const anonymous = await fetch(`${api.url}/api/v1/applications/fastly-exporter`);
    assert.equal(anonymous.status, 401);
    assert.deepEqual(await anonymous.json(), {
      error: "no session information",
      code: 16,
      message: "no session information",
      details: [],
    });
    const unknown = await fetch(`${api.url}/api/v1/applications/fastly-exporter/nothing`, { headers: auth });
    assert.equal(unknown.status, 404);
    assert.equal(await unknown.text(), "Not Found\n");
  });

  it("quotes a server's words without control characters", async () => {
    const api = await start({ onSync: () => Promise.reject(new Error("bad\u001b[31m red")) });
    await rejectsWith(
      reloader(api, { action: "sync" }).run(ctx()),
      "failed",
      /ended Failed: bad\\u001b\[31m red;/,
    );
  });
});
