/**
 * On a proxy-only network every client of ftr goes through the proxy HTTPS_PROXY/HTTP_PROXY name,
 * and NO_PROXY is honoured the same way by each: the Fastly client, the AWS SDK and the Kubernetes
 * client (a kubeconfig's own proxy-url first) in `ftr plan` (a real child process), and the
 * Prometheus verifier, Argo CD and the notifiers. The names used here (`*.test`) resolve nowhere:
 * only a request sent through the proxy, which routes them to local servers, can succeed. And a
 * certificate that is not trusted is said to be one, naming NODE_EXTRA_CA_CERTS.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createArgoCdReloader } from "../../src/adapters/argocd/index.ts";
import { createPrometheusVerifier } from "../../src/adapters/prometheus/index.ts";
import { createSlackNotifier } from "../../src/adapters/slack-notify/index.ts";
import { createWebhookNotifier } from "../../src/adapters/webhook-notify/index.ts";
import type { NotificationEvent } from "../../src/adapters/types.ts";
import type { FastlyClient } from "../../src/fastly/types.ts";
import { demoCredentials, demoSeed } from "../../src/emulator/index.ts";
import { memoryLogger } from "../../src/util/log.ts";
import { AWS_TEST_CREDENTIALS, AWS_TEST_REGION } from "../../src/sandbox/aws-secrets-manager-server.ts";
import { runCliProcess } from "../helpers/cli.ts";
import { KUBE_TEST_TOKEN } from "../../src/sandbox/kubernetes-api-server.ts";
import {
  startRecordingProxy,
  startTlsFront,
  TEST_CA_PEM,
  type RecordingProxy,
  type TlsFront,
} from "../helpers/proxy.ts";
import { world, type World } from "../helpers/world.ts";

const { superuser, exporterTokens } = demoCredentials;

function kubeconfig(proxyUrl?: string): string {
  const ca = Buffer.from(TEST_CA_PEM).toString("base64");
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "  - name: corp",
    "    cluster:",
    "      server: https://kube.test",
    `      certificate-authority-data: ${ca}`,
    ...(proxyUrl ? [`      proxy-url: ${proxyUrl}`] : []),
    `users: [{ name: corp, user: { token: "${KUBE_TEST_TOKEN}" } }]`,
    "contexts: [{ name: corp, context: { cluster: corp, user: corp } }]",
    "current-context: corp",
    "",
  ].join("\n");
}

describe("security: proxies are honoured by every client", () => {
  let w: World<"fastly" | "aws" | "kubernetes">;
  let fronts: TlsFront[];
  let proxy: RecordingProxy;
  let kubeProxy: RecordingProxy;
  let caFile: string;

  before(async () => {
    w = await world({
      dir: "ftr-proxies-",
      fastly: demoSeed,
      aws: { "govuk/fastly/api": exporterTokens.staging.token },
      kubernetes: true,
    });
    w.kube.addSecret("monitoring", "fastly", { token: exporterTokens.production.token });
    fronts = await Promise.all([w.emulator.url, w.aws.url, w.kube.url].map((url) => startTlsFront(url)));
    const [fastly, aws, kube] = fronts;
    const routes = {
      "api.fastly.test:443": fastly!,
      "secretsmanager.test:443": aws!,
      "kube.test:443": kube!,
    };
    proxy = await startRecordingProxy(routes);
    kubeProxy = await startRecordingProxy(routes);
    caFile = join(w.dir, "ca.pem");
    writeFileSync(caFile, TEST_CA_PEM);
    await w.writeSecret("integration.txt", exporterTokens.integration.token + "\n");
    writeFileSync(join(w.dir, "kubeconfig"), kubeconfig());
    writeFileSync(join(w.dir, "kubeconfig-proxy-url"), kubeconfig(kubeProxy.url));
    const config = (kube: string) =>
      [
        "version: 1",
        'fastly: { endpoint: "https://api.fastly.test" }',
        "environments:",
        "  - name: integration",
        `    token: { name: "${exporterTokens.integration.name}", services: { all: true } }`,
        "    secret: { type: file, path: ./integration.txt }",
        "  - name: staging",
        `    token: { name: "${exporterTokens.staging.name}", services: { all: true } }`,
        `    secret: { type: aws-secrets-manager, secretId: govuk/fastly/api, region: ${AWS_TEST_REGION}, endpoint: "https://secretsmanager.test" }`,
        "  - name: production",
        `    token: { name: "${exporterTokens.production.name}", services: { all: true } }`,
        `    secret: { type: kubernetes-secret, namespace: monitoring, name: fastly, key: token, kubeconfig: ./${kube} }`,
        "",
      ].join("\n");
    await w.writeConfig(config("kubeconfig"), "ftr.yaml");
    await w.writeConfig(config("kubeconfig-proxy-url"), "proxy-url.yaml");
  });

  after(async () => {
    await proxy?.close();
    await kubeProxy?.close();
    for (const front of fronts ?? []) await front.close();
    await w?.close();
  });

  const env = (extra: Record<string, string> = {}) => ({
    FASTLY_API_TOKEN: superuser.token,
    NODE_EXTRA_CA_CERTS: caFile,
    AWS_ACCESS_KEY_ID: AWS_TEST_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: AWS_TEST_CREDENTIALS.secretAccessKey,
    ...extra,
  });

  it("ftr plan reaches Fastly, AWS and Kubernetes only through HTTPS_PROXY", async () => {
    proxy.forwarded.length = 0;
    const { code, stdout, stderr } = await runCliProcess(["plan", "--config", "ftr.yaml", "--json"], {
      cwd: w.dir,
      env: env({ HTTPS_PROXY: proxy.url }),
    });
    assert.equal(code, 0, stdout + stderr);
    const plan = JSON.parse(stdout) as { environments: { environment: string; decision: string }[] };
    assert.deepEqual(
      plan.environments.map((e) => e.environment),
      ["integration", "staging", "production"],
    );
    assert.ok(!plan.environments.some((e) => e.decision === "error"), stdout);
    for (const host of ["api.fastly.test:443", "secretsmanager.test:443", "kube.test:443"]) {
      assert.ok(
        proxy.forwarded.includes(`CONNECT ${host}`),
        `${host} went through the proxy: ${proxy.forwarded.join(", ")}`,
      );
    }
  });

  it("a kubeconfig's proxy-url comes before HTTPS_PROXY, as for kubectl", async () => {
    proxy.forwarded.length = 0;
    kubeProxy.forwarded.length = 0;
    const { code, stdout, stderr } = await runCliProcess(["plan", "--config", "proxy-url.yaml", "--json"], {
      cwd: w.dir,
      env: env({ HTTPS_PROXY: proxy.url }),
    });
    assert.equal(code, 0, stdout + stderr);
    assert.ok(kubeProxy.forwarded.includes("CONNECT kube.test:443"), kubeProxy.forwarded.join(", "));
    assert.ok(!proxy.forwarded.includes("CONNECT kube.test:443"));
    assert.ok(proxy.forwarded.includes("CONNECT api.fastly.test:443"));
  });

  it("NO_PROXY is honoured by each of them: nothing reaches the proxy", async () => {
    proxy.forwarded.length = 0;
    const { code } = await runCliProcess(["plan", "--config", "ftr.yaml"], {
      cwd: w.dir,
      env: env({ HTTPS_PROXY: proxy.url, NO_PROXY: ".test" }),
    });
    assert.notEqual(code, 0, "direct, the *.test names resolve nowhere");
    assert.deepEqual(proxy.forwarded, []);
  });

  it("an untrusted certificate is said to be one, naming NODE_EXTRA_CA_CERTS", async () => {
    const { code, stderr } = await runCliProcess(["status", "--config", "ftr.yaml"], {
      cwd: w.dir,
      env: { FASTLY_API_TOKEN: superuser.token, HTTPS_PROXY: proxy.url },
    });
    assert.equal(code, 1, stderr);
    assert.match(stderr, /the certificate of api\.fastly\.test is not trusted \([A-Z_]+\)/);
    assert.match(stderr, /NODE_EXTRA_CA_CERTS/);
    assert.doesNotMatch(stderr, /Check the network/);
    assert.ok(!stderr.includes(superuser.token));
  });

  describe("in-process clients", () => {
    const saved = { ...process.env };
    after(() => {
      for (const name of ["HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "no_proxy"]) {
        if (saved[name] === undefined) delete process.env[name];
        else process.env[name] = saved[name];
      }
    });

    const event: NotificationEvent = {
      version: 1,
      event: "run-finished",
      at: "2026-11-29T12:00:00.000Z",
      source: "rotate",
      summary: "done",
      runId: "r",
    };

    /** Calls every HTTP adapter once at a `*.test` name; their outcome is beside the point. */
    async function callEach(): Promise<void> {
      const log = memoryLogger();
      const quick = { timeoutMs: 2_000, intervalMs: 500 };
      await createPrometheusVerifier({ url: "http://prometheus.test:9090", ...quick })
        .verify({
          environment: "integration",
          runId: "r",
          tokenId: "t",
          otherTokenIds: [],
          since: new Date(),
          client: {} as FastlyClient,
          ownUserAgent: "ftr/test",
          log,
        })
        .catch(() => undefined);
      await createArgoCdReloader(
        { server: "http://argocd.test", app: "exporter", action: "refresh", allowInsecure: true, ...quick },
        { env: { ARGOCD_AUTH_TOKEN: "argocd-token" } },
      )
        .run({ environment: "integration", runId: "r", log })
        .catch(() => undefined);
      await createWebhookNotifier({ url: "https://hooks.test/ftr" })
        .send(event)
        .catch(() => undefined);
      await createSlackNotifier(
        { webhookUrlEnv: "SLACK_URL" },
        { env: { SLACK_URL: "https://slack.test/services/T/B/x" } },
      )
        .send(event)
        .catch(() => undefined);
    }

    it("the Prometheus verifier, Argo CD, the webhook and Slack go through the proxy", async () => {
      process.env.HTTP_PROXY = proxy.url;
      process.env.HTTPS_PROXY = proxy.url;
      delete process.env.NO_PROXY;
      proxy.forwarded.length = 0;
      await callEach();
      const hosts = proxy.forwarded.map(
        (line) => line.replace(/^(CONNECT|[A-Z]+ http:\/\/)\s*/, "").split("/")[0],
      );
      for (const host of ["prometheus.test:9090", "argocd.test:80", "hooks.test:443", "slack.test:443"]) {
        assert.ok(hosts.includes(host), `${host} went through the proxy: ${proxy.forwarded.join(", ")}`);
      }
    });

    it("and NO_PROXY keeps each of them direct", async () => {
      process.env.NO_PROXY = ".test";
      proxy.forwarded.length = 0;
      await callEach();
      assert.deepEqual(proxy.forwarded, []);
    });
  });
});
