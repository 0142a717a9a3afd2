/**
 * Servers echo back what they were sent: a Kubernetes admission webhook denying a Secret quotes the
 * object, data (the new token, base64-encoded) included. Neither the token nor any encoding of it
 * may reach stderr, stdout or the journal. Below that, the redaction registry itself: every secret
 * is known in its raw, base64 (standard and URL-safe, padded or not, at any alignment inside a
 * larger encoded value), URL-encoded and JSON-escaped forms.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { demoCredentials } from "../../src/emulator/index.ts";
import { redact, registerSecret } from "../../src/util/redact.ts";
import { kubeSecretStoreConfig } from "../../src/sandbox/kubernetes-api-server.ts";
import type { RotationEnv } from "../helpers/rotation-env.ts";
import { world, type World } from "../helpers/world.ts";

/** The forms of `value` a server may echo. */
function echoes(value: string): string[] {
  const b64 = Buffer.from(value).toString("base64");
  return [
    value,
    b64,
    b64.replace(/=+$/, ""),
    Buffer.from(value).toString("base64url"),
    encodeURIComponent(value),
    JSON.stringify(value).slice(1, -1),
  ];
}

describe("a Kubernetes 422 quoting the Secret it refused", () => {
  let w: World<"kubernetes">;
  let h: RotationEnv;

  before(async () => {
    w = await world({ kubernetes: { controllerDelayMs: 50 } });
    w.kube.addSecret("monitoring", "fastly-exporter-token", {
      "fastly-api-token": demoCredentials.exporterTokens.integration.token,
    });
    h = await w.startRotationEnv({
      environments: ["integration"],
      exporters: false,
      configure: (doc) => {
        const env = doc.environments[0]!;
        env.secret = kubeSecretStoreConfig(
          w.kubeconfig,
          "monitoring",
          "fastly-exporter-token",
          "fastly-api-token",
        );
        env.reload = [];
        env.verify = [{ type: "token-in-use", timeout: "2s", interval: "1s" }];
      },
    });
  });
  after(() => w?.close());

  it("the new token's base64 form reaches neither stderr, stdout nor the journal", async () => {
    w.kube.rejectQuoting("PATCH", "secrets");
    w.kube.rejectQuoting("POST", "secrets");
    const result = await h.runCliProcess([
      "rotate",
      "--config",
      h.configPath,
      "--env",
      "integration",
      "--yes",
      "--force",
    ]);
    assert.equal(result.code, 1, result.stderr);
    assert.ok(w.kube.quoted.length > 0, "the webhook quoted a request");
    // The token values the rotation sent, decoded from what the webhook quoted.
    const sentValues = new Set<string>();
    for (const body of w.kube.quoted) {
      const data = (JSON.parse(body) as { data?: Record<string, string | null> }).data ?? {};
      for (const [key, encoded] of Object.entries(data)) {
        if (encoded && key === "pending") sentValues.add(Buffer.from(encoded, "base64").toString("utf8"));
      }
    }
    assert.ok(sentValues.size > 0, "the quoted bodies carried the new token");
    const texts = [
      { source: "stderr", text: result.stderr },
      { source: "stdout", text: result.stdout },
      { source: "journal", text: h.journalText() },
    ];
    assert.match(result.stderr, /admission webhook/, "the refusal itself is reported");
    for (const value of sentValues) {
      for (const form of echoes(value)) {
        for (const { source, text } of texts) {
          assert.ok(!text.includes(form), `a form of the new token appears in ${source}`);
        }
      }
    }
  });
});

describe("the redaction registry", () => {
  const secret = 'Zq9+x/TOKEN?&=é"value\\1234567';

  before(() => registerSecret(secret));

  it("redacts raw, base64 (both alphabets, padded or not), URL-encoded and JSON-escaped forms", () => {
    for (const form of [
      secret,
      Buffer.from(secret).toString("base64"),
      Buffer.from(secret).toString("base64").replace(/=+$/, ""),
      Buffer.from(secret).toString("base64url"),
      encodeURIComponent(secret),
      new URLSearchParams({ password: secret }).toString().slice("password=".length),
      JSON.stringify(secret).slice(1, -1),
    ]) {
      const out = redact(`before ${form} after`);
      assert.ok(!out.includes(form), `not redacted: ${JSON.stringify(out)}`);
      assert.match(out, /\[REDACTED\]/);
    }
  });

  it("redacts the secret's base64 inside a larger encoded document, at every alignment", () => {
    for (const prefix of ['{"k":"', '{"key":"', '{"other-key":"']) {
      const encoded = Buffer.from(`${prefix}${secret}"}`).toString("base64");
      const out = redact(`data: ${encoded}`);
      assert.notEqual(out, `data: ${encoded}`, `prefix ${prefix.length} bytes: redacted`);
      assert.ok(!out.includes(encoded));
    }
  });
});
