import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parse as parseYaml } from "yaml";
import { adapterSelection, configSchemaFor } from "./schema.ts";
import { parseConfig } from "./index.ts";
import type { ConfigContext } from "../adapters/support/config.ts";

const ctx: ConfigContext = { baseDir: "/conf", warn: () => undefined };

const CONFIG = `version: 1
notify:
  - { type: webhook, url: "https://hooks.example.com/ftr" }
environments:
  - name: integration
    token: { name: exporter integration, services: { all: true } }
    secret: { type: file, path: ./integration.txt }
    reload:
      - { type: exec, command: [./restart.sh] }
    verify:
      - { type: token-in-use }
  - name: staging
    token: { name: exporter staging, services: { all: true } }
    secret: { type: aws-secrets-manager, secretId: exporter/staging, region: eu-west-1 }
    verify:
      - { type: token-in-use }
      - { type: exec, command: [./check.sh] }
`;

/** The `type` values a discriminated union built by the config schema accepts (zod's `propValues`). */
function unionTypes(schema: unknown): string[] {
  const values = (schema as { _zod: { propValues?: Record<string, Set<unknown>> } })._zod.propValues?.[
    "type"
  ];
  return [...(values ?? [])].map(String).sort();
}

describe("adapter schemas built for a config", () => {
  it("names the types each kind of entry uses", () => {
    const only = adapterSelection(parseYaml(CONFIG));
    assert.deepEqual([...(only.secret ?? [])].sort(), ["aws-secrets-manager", "file"]);
    assert.deepEqual([...(only.reload ?? [])], ["exec"]);
    assert.deepEqual([...(only.verify ?? [])].sort(), ["exec", "token-in-use"]);
    assert.deepEqual([...(only.notify ?? [])], ["webhook"]);
  });

  it("builds only those adapters' schemas", () => {
    const schema = configSchemaFor(ctx, adapterSelection(parseYaml(CONFIG)));
    const environment = schema.shape.environments.element;
    assert.deepEqual(unionTypes(environment.shape.secret), ["aws-secrets-manager", "file"]);
    assert.deepEqual(unionTypes(environment.shape.reload.unwrap().element), ["exec"]);
    assert.deepEqual(unionTypes(schema.shape.notify.unwrap().element), ["webhook"]);
    // Without a selection, every adapter.
    const all = configSchemaFor(ctx).shape.environments.element;
    assert.ok(unionTypes(all.shape.secret).length > 2);
  });

  it("builds every type of a kind when one entry's type is unknown or missing, so the message lists them all", () => {
    const unknown = CONFIG.replace("- { type: exec, command: [./restart.sh] }", "- { type: restart }");
    assert.equal(adapterSelection(parseYaml(unknown)).reload, undefined);
    const result = parseConfig(unknown, { baseDir: "/conf" });
    const message = result.errors.map((e) => e.message).join("\n");
    assert.match(
      message,
      /unknown type "restart": use one of exec, external-secret, kubernetes-rollout, argocd/,
    );

    const missing = CONFIG.replace("secret: { type: file, path: ./integration.txt }", "secret: { path: x }");
    assert.equal(adapterSelection(parseYaml(missing)).secret, undefined);
    assert.match(
      parseConfig(missing, { baseDir: "/conf" })
        .errors.map((e) => e.message)
        .join("\n"),
      /type is required: one of file, exec, aws-secrets-manager, kubernetes-secret/,
    );
  });

  it("parses a config the same with and without the selection", () => {
    const data: unknown = parseYaml(CONFIG);
    const selected = configSchemaFor(ctx, adapterSelection(data)).safeParse(data);
    const whole = configSchemaFor(ctx).safeParse(data);
    assert.ok(selected.success && whole.success);
    assert.deepEqual(selected.data, whole.data);
  });
});
