/**
 * A hostile or hijacked endpoint answering `307 Location: http://127.0.0.2:<port>/…`: no client of
 * ftr follows it, so nothing (no Fastly-Key, no sudo password, no new token's value, no Prometheus
 * header, no Kubernetes bearer token or Secret data, no AWS signature) reaches the second server,
 * which records everything it receives. Each failure is one line naming the Location's host.
 */
import assert from "node:assert/strict";
import { createServer, request, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createAwsSecretsManagerStore } from "../../src/adapters/aws-secrets-manager/index.ts";
import { createKubernetesSecretStore } from "../../src/adapters/kubernetes-secret/index.ts";
import { createGitHubActionsStore } from "../../src/adapters/github-actions/index.ts";
import { createHcpTerraformStore } from "../../src/adapters/hcp-terraform/index.ts";
import { createVaultKvStore } from "../../src/adapters/vault-kv/index.ts";
import { queryPrometheus } from "../../src/adapters/prometheus/index.ts";
import { AWS_TEST_CREDENTIALS, AWS_TEST_REGION } from "../../src/sandbox/aws-secrets-manager-server.ts";
import { writeKubeconfig } from "../../src/sandbox/kubernetes-api-server.ts";
import { startRotationEnv, type RotationEnv } from "../helpers/rotation-env.ts";

/** What the second host received. */
interface Received {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage["headers"];
  readonly body: string;
}

async function listen(server: Server, host: string): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return `http://${host}:${(server.address() as AddressInfo).port}`;
}

async function close(server: Server | undefined): Promise<void> {
  if (!server) return;
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

describe("redirects are never followed", () => {
  let h: RotationEnv;
  let other: Server;
  let otherUrl: string;
  let otherHost: string;
  const received: Received[] = [];
  let redirector: Server;
  let redirectorUrl: string;
  /** Which requests the redirector answers 307; the rest go through to the emulator. */
  let redirects: (method: string, path: string) => boolean = () => true;

  before(async () => {
    h = await startRotationEnv({ environments: ["integration"], exporters: false });
    other = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        received.push({
          method: req.method ?? "",
          url: req.url ?? "",
          headers: req.headers,
          body: Buffer.concat(chunks).toString("utf8"),
        });
        res.writeHead(200, { "content-type": "application/json" });
        res.end("{}");
      });
    });
    otherUrl = await listen(other, "127.0.0.2");
    otherHost = new URL(otherUrl).host;
    const target = new URL(h.emulator.url);
    redirector = createServer((req, res) => {
      const path = (req.url ?? "/").split("?")[0]!;
      if (redirects(req.method ?? "GET", path)) {
        req.resume();
        res.writeHead(307, { Location: `${otherUrl}${req.url ?? "/"}`, "content-length": 0 });
        res.end();
        return;
      }
      // Through to the emulator, as a transparent proxy would.
      const upstream = request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      req.pipe(upstream);
    });
    redirectorUrl = await listen(redirector, "127.0.0.1");
  });
  after(async () => {
    await close(redirector);
    await close(other);
    await h?.close();
  });

  const cli = (argv: string[]) => h.runCli(argv, { FASTLY_API_ENDPOINT: redirectorUrl });

  /** One `error:` line naming the other host, and nothing received there. */
  function assertRefused(result: { code: number | null; stderr: string }, what: string): void {
    assert.equal(result.code, 1, `${what}: ${result.stderr}`);
    const errors = result.stderr.split("\n").filter((l) => l.startsWith("error:"));
    assert.equal(errors.length, 1, `${what}: one error line:\n${result.stderr}`);
    assert.ok(errors[0]!.includes(otherHost), `${what}: the line names ${otherHost}:\n${result.stderr}`);
    assert.deepEqual(received, [], `${what}: nothing reached ${otherHost}`);
  }

  for (const command of ["plan", "status", "rotate"]) {
    it(`Fastly API, every request redirected: ftr ${command} sends nothing to the other host`, async () => {
      received.length = 0;
      redirects = () => true;
      const argv = ["--config", h.configPath];
      const result = await cli(
        command === "rotate" ? ["rotate", ...argv, "--yes", "--force"] : [command, ...argv],
      );
      assertRefused(result, `ftr ${command}`);
    });
  }

  it("Fastly API, only POST /sudo redirected: the password goes nowhere else", async () => {
    received.length = 0;
    redirects = (method, path) => method === "POST" && path === "/sudo";
    const result = await cli(["rotate", "--config", h.configPath, "--yes", "--force"]);
    assert.equal(result.code, 1, result.stderr);
    assert.ok(result.stderr.includes(otherHost), result.stderr);
    assert.deepEqual(received, [], "the password did not reach the other host");
  });

  it("Fastly API, only the create redirected: the request and the key go nowhere else", async () => {
    received.length = 0;
    redirects = (method, path) => method === "POST" && path === "/automation-tokens";
    const result = await cli(["rotate", "--config", h.configPath, "--yes", "--force"]);
    assert.equal(result.code, 1, result.stderr);
    assert.ok(result.stderr.includes(otherHost), result.stderr);
    assert.deepEqual(received, [], "nothing reached the other host");
    assert.deepEqual(
      (await h.managedLive("integration")).length,
      1,
      "no token was created besides the deployed one",
    );
  });

  it("Prometheus with headers: the headers go nowhere else", async () => {
    received.length = 0;
    redirects = () => true;
    await assert.rejects(
      queryPrometheus(fetch, redirectorUrl, "up", {
        headers: { Authorization: "Bearer prom-secret-123456" },
      }),
      (error: Error) => error.message.includes(otherHost) && /redirect/.test(error.message),
    );
    assert.deepEqual(received, []);
  });

  it("Kubernetes (client-node): neither the bearer token nor the Secret's data go elsewhere", async () => {
    received.length = 0;
    redirects = () => true;
    const kubeconfig = await writeKubeconfig(join(h.dir, "redirecting-kubeconfig"), redirectorUrl, "r");
    const store = createKubernetesSecretStore({
      namespace: "monitoring",
      name: "exporter",
      key: "token",
      kubeconfig,
    });
    await assert.rejects(store.read(), (error: Error) => error.message.includes(otherHost));
    await assert.rejects(
      store.stage("QoU3neoxQQ6IPL8g7eRkkCjyWcwdNI7J", "20261128T041153Z-1a2b3c4d"),
      (error: Error) => error.message.includes(otherHost),
    );
    await assert.rejects(store.promote("20261128T041153Z-1a2b3c4d"));
    assert.deepEqual(received, [], "nothing reached the other host");
  });

  it("AWS Secrets Manager (SDK v3): the signed request is not re-sent elsewhere", async () => {
    received.length = 0;
    redirects = () => true;
    const store = createAwsSecretsManagerStore({
      secretId: "govuk/fastly-exporter",
      region: AWS_TEST_REGION,
      endpoint: redirectorUrl,
      clientConfig: { credentials: AWS_TEST_CREDENTIALS, maxAttempts: 1 },
    });
    await assert.rejects(store.read());
    await assert.rejects(store.stage("QoU3neoxQQ6IPL8g7eRkkCjyWcwdNI7J", "20261128T041153Z-1a2b3c4d"));
    assert.deepEqual(received, [], "nothing reached the other host");
  });

  it("GitHub (Octokit), Vault and HCP Terraform: neither the token nor the value go elsewhere", async () => {
    received.length = 0;
    redirects = () => true;
    const env = { T: "redirect-test-credential-0123456789" };
    const value = "QoU3neoxQQ6IPL8g7eRkkCjyWcwdNI7J";
    const stores = [
      createGitHubActionsStore(
        { repository: "o/r", name: "X", tokenEnv: "T", apiUrl: redirectorUrl },
        { env },
      ),
      createVaultKvStore(
        { address: redirectorUrl, path: "p", auth: { method: "token", tokenEnv: "T" } },
        { env },
      ),
      createHcpTerraformStore(
        { organization: "o", workspace: "w", key: "K", tokenEnv: "T", address: redirectorUrl },
        { env },
      ),
    ];
    for (const store of stores) {
      const problems = (await store.preflight?.()) ?? [];
      if (store.readBack !== false)
        await assert.rejects(store.read(), (error: Error) => error.message.includes(otherHost));
      else
        assert.match(
          problems.join(""),
          new RegExp(
            `redirect.*${otherHost.replace(/\./g, "\\.")}|${otherHost.replace(/\./g, "\\.")}.*redirect`,
          ),
        );
      const staged = await store.stage(value, "20261128T041153Z-1a2b3c4d").then(
        () => true,
        () => false,
      );
      if (staged) await assert.rejects(store.promote("20261128T041153Z-1a2b3c4d"));
    }
    assert.deepEqual(received, [], "nothing reached the other host");
  });
});
