/**
 * A hostile or broken server answering with an endless body must not take the process's memory:
 * the Fastly API client reads at most 32 MiB (then fails with one line), and so do the Kubernetes
 * clients; the Prometheus verifier reads at most 8 MiB. Each server here streams 64 MiB of JSON-ish
 * filler without a Content-Length.
 */
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createKubernetesSecretStore } from "../../src/adapters/kubernetes-secret/index.ts";
import { queryPrometheus } from "../../src/adapters/prometheus/index.ts";
import { KUBE_TEST_TOKEN } from "../helpers/kubernetes-api-server.ts";
import { startRotationEnv, type RotationEnv } from "../helpers/rotation-env.ts";

const TOTAL = 64 * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, "a");

describe("response bodies are capped", () => {
  let h: RotationEnv;
  let server: Server;
  let url: string;
  /** Bytes the server managed to write before the client hung up, per request. */
  const written: number[] = [];

  before(async () => {
    h = await startRotationEnv({ environments: ["integration"], exporters: false });
    server = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { "content-type": "application/json" });
      let sent = 0;
      res.write('{"filler":"');
      const index = written.push(0) - 1;
      const more = (): void => {
        while (sent < TOTAL) {
          sent += CHUNK.byteLength;
          written[index] = sent;
          if (!res.write(CHUNK)) {
            res.once("drain", more);
            return;
          }
        }
        res.end('"}');
      };
      res.on("close", () => res.removeAllListeners("drain"));
      more();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    await h?.close();
  });

  it("Fastly API: ftr plan fails with one line naming the 32 MiB cap, and stops reading", async () => {
    written.length = 0;
    const result = await h.runCli(["plan", "--config", h.configPath], { FASTLY_API_ENDPOINT: url });
    assert.equal(result.code, 1, result.stderr);
    const lines = result.stderr.trim().split("\n");
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0]!, /larger than 32 MiB/);
    assert.ok(
      written.every((n) => n < TOTAL),
      "the client hung up before the end of every body",
    );
  });

  it("Prometheus: a query's answer past 8 MiB fails naming the cap", async () => {
    await assert.rejects(queryPrometheus(fetch, url, "up"), /larger than 8 MiB/);
  });

  it("Kubernetes: an answer past 32 MiB fails naming the cap", async () => {
    const kubeconfig = join(h.dir, "capped-kubeconfig");
    await writeFile(
      kubeconfig,
      [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        `  - name: c`,
        `    cluster: { server: "${url}", insecure-skip-tls-verify: true }`,
        "users:",
        `  - name: c`,
        `    user: { token: "${KUBE_TEST_TOKEN}" }`,
        "contexts:",
        `  - name: c`,
        `    context: { cluster: c, user: c }`,
        `current-context: c`,
        "",
      ].join("\n"),
      { mode: 0o600 },
    );
    const store = createKubernetesSecretStore({
      namespace: "monitoring",
      name: "exporter",
      key: "token",
      kubeconfig,
    });
    await assert.rejects(store.read(), /larger than 32 MiB/);
  });
});
