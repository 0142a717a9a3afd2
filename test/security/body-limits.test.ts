/**
 * A hostile or broken server answering with an endless body must not take the process's memory:
 * the Fastly API client reads at most 32 MiB (then fails with one line), and so do the Kubernetes
 * clients; the Prometheus verifier reads at most 8 MiB. Each server here streams 64 MiB of JSON-ish
 * filler without a Content-Length. The AWS Secrets Manager store reads at most 1 MiB of an answer,
 * against the Secrets Manager fake answering 64 MiB with and without a Content-Length.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  AwsSecretsManagerError,
  createAwsSecretsManagerStore,
} from "../../src/adapters/aws-secrets-manager/index.ts";
import { createKubernetesSecretStore } from "../../src/adapters/kubernetes-secret/index.ts";
import { queryPrometheus } from "../../src/adapters/prometheus/index.ts";
import {
  AWS_TEST_CREDENTIALS,
  AWS_TEST_REGION,
  OVERSIZED_BODY_BYTES,
  startAwsSecretsManager,
  type RunningAwsSecretsManager,
} from "../../src/sandbox/aws-secrets-manager-server.ts";
import { writeKubeconfig } from "../../src/sandbox/kubernetes-api-server.ts";
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
    const kubeconfig = await writeKubeconfig(join(h.dir, "capped-kubeconfig"), url, "c");
    const store = createKubernetesSecretStore({
      namespace: "monitoring",
      name: "exporter",
      key: "token",
      kubeconfig,
    });
    await assert.rejects(store.read(), /larger than 32 MiB/);
  });
});

describe("AWS Secrets Manager answers are capped at 1 MiB", () => {
  const OLD = "X-srxc_zLpchro9ngNBVgyofN_jqQFJ2";
  const NEW = "QoU3neoxQQ6IPL8g7eRkkCjyWcwdNI7J";
  const RUN = "20261128T041153Z-1a2b3c4d";
  let aws: RunningAwsSecretsManager;

  before(async () => {
    aws = await startAwsSecretsManager();
  });
  after(async () => {
    await aws?.close();
  });

  for (const oversized of ["declared", "chunked"] as const) {
    const how =
      oversized === "declared" ? "a Content-Length of 64 MiB" : "a chunked body streaming past the cap";
    it(`GetSecretValue answering ${how}: read and stage fail with one line, and nothing is written`, async () => {
      const name = `govuk/fastly-exporter-${oversized}`;
      const document = JSON.stringify({ token: OLD, other: "kept" });
      aws.createSecret(name, document);
      // The SDK's default retries: a too-large answer must not be asked for again.
      const store = createAwsSecretsManagerStore({
        secretId: name,
        jsonKey: "token",
        region: AWS_TEST_REGION,
        endpoint: aws.url,
        clientConfig: { credentials: AWS_TEST_CREDENTIALS },
      });
      const answersBefore = aws.oversizedAnswers.length;
      aws.fail({ operation: "GetSecretValue", oversized, times: 2 });

      const refused = (error: unknown): true => {
        assert.ok(error instanceof AwsSecretsManagerError, String(error));
        assert.equal(
          error.message,
          `GetSecretValue on AWS Secrets Manager secret ${name}#token failed: the endpoint answered with more than 1 MiB, so the read was stopped (a Secrets Manager answer is a few KiB); check that secret.endpoint points at Secrets Manager`,
        );
        assert.ok(!error.message.includes(OLD), "no secret value in the message");
        return true;
      };
      await assert.rejects(store.read(), refused);
      await assert.rejects(store.stage(NEW, RUN), refused);

      // Both calls finished (no heap filled with 64 MiB); the fake has seen each caller hang up.
      await aws.idle(30_000);
      const answers = aws.oversizedAnswers.slice(answersBefore);
      assert.equal(answers.length, 2, "one oversized answer per call, none asked again");
      for (const answer of answers) {
        assert.equal(answer.finished, false, "the client hung up before the end of the body");
        assert.ok(answer.written < OVERSIZED_BODY_BYTES);
      }
      assert.deepEqual(aws.allValues(name), [document], "nothing written to the secret");
      assert.equal(aws.requests.filter((r) => r.operation === "PutSecretValue").length, 0);
    });
  }
});
