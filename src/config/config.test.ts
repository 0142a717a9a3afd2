import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ConfigError,
  formatIssues,
  loadConfig,
  parseConfig,
  validateConfig,
  type ConfigIssue,
  type ConfigResult,
} from "./index.ts";

const BASE = "/srv/ftr";

function parse(text: string): ConfigResult {
  return parseConfig(text, { baseDir: BASE, sourceName: "ftr.yaml", configPath: `${BASE}/ftr.yaml` });
}

/** The single issue at `path`; fails with every issue listed otherwise, so a broken test explains itself. */
function issueAt(issues: readonly ConfigIssue[], path: string, pattern?: RegExp): ConfigIssue {
  const found = issues.filter((i) => i.path === path && (pattern === undefined || pattern.test(i.message)));
  assert.equal(
    found.length,
    1,
    `expected one issue at ${path} matching ${String(pattern)}, got:\n${JSON.stringify(issues, null, 2)}`,
  );
  return found[0]!;
}

const ENV = `
  - name: integration
    token:
      name: Exporter token for Integration
      services: { nameMatches: "[Ii]ntegration" }
    secret: { type: file, path: ./secrets/integration.json, jsonKey: fastly-api-token }
    reload:
      - { type: exec, command: ["./restart-exporter.sh", "integration"] }
    verify:
      - { type: token-in-use }
`;

const VALID = `version: 1
environments:${ENV}`;

/** A valid config with `replace` applied to the single environment above. */
function variant(from: string, to: string): string {
  assert.ok(VALID.includes(from), `fixture has no ${from}`);
  return VALID.replace(from, to);
}

describe("parseConfig: valid configs", () => {
  it("applies built-in defaults and normalises everything", () => {
    const result = parse(VALID);
    assert.deepEqual(result.errors, []);
    assert.deepEqual(result.warnings, []);
    assert.deepEqual(result.config, {
      version: 1,
      fastly: {},
      stateDir: `${BASE}/.ftr-state`,
      state: { type: "directory", dir: `${BASE}/.ftr-state` },
      baseDir: BASE,
      configPath: `${BASE}/ftr.yaml`,
      environments: [
        {
          name: "integration",
          index: 0,
          token: {
            name: "Exporter token for Integration",
            role: "engineer",
            scope: "global:read",
            scopes: ["global:read"],
            expiresInMs: 365 * 86_400_000,
            rotateBeforeMs: 30 * 86_400_000,
            tlsAccess: false,
            services: { kind: "nameMatches", pattern: "[Ii]ntegration" },
          },
          secret: { type: "file", path: `${BASE}/secrets/integration.json`, jsonKey: "fastly-api-token" },
          reload: [
            {
              type: "exec",
              command: ["./restart-exporter.sh", "integration"],
              timeoutMs: 60_000,
              cwd: BASE,
              env: {},
            },
          ],
          verify: [{ type: "token-in-use", timeoutMs: 120_000, intervalMs: 2_000 }],
          approval: "none",
        },
      ],
      notify: [],
      policy: { unusedAfterMs: 90 * 86_400_000, maxLifetimeMs: 400 * 86_400_000 },
    });
  });

  it("merges defaults.token under each environment's own settings", () => {
    const text = `version: 1
fastly: { endpoint: "https://api.example.test/" }
state: { dir: ../state }
defaults:
  token: { role: user, scope: "global:read purge_select", expiresIn: 90d, rotateBefore: 2w, tlsAccess: true }
environments:
  - name: a
    token: { name: A, services: { ids: [s1, s2] }, expiresIn: 180d }
    secret: { type: exec, write: [store], read: [show], timeout: 10s, cwd: bin, env: { X: "1" } }
    reload: [{ type: exec, command: [r], timeout: 1m30s, cwd: /opt, env: { Y: "2" } }]
    verify:
      - { type: prometheus, url: "http://prom:9090/", query: "up == 1", interval: 5s }
      - { type: exec, command: [check] }
    approval: required
  - name: b
    token: { name: B, services: { all: true }, role: billing }
    secret: { type: file, path: /abs/b.txt }
    reload: [{ type: exec, command: [r] }]
    verify: [{ type: token-in-use, timeout: 10m, interval: 10s }]
`;
    const { config, errors } = parse(text);
    assert.deepEqual(errors, []);
    assert.ok(config);
    assert.equal(config.fastly.endpoint, "https://api.example.test");
    assert.equal(config.stateDir, "/srv/state");
    const [a, b] = config.environments;
    assert.ok(a && b);
    assert.deepEqual(a.token, {
      name: "A",
      role: "user",
      scope: "global:read purge_select",
      scopes: ["global:read", "purge_select"],
      expiresInMs: 180 * 86_400_000,
      rotateBeforeMs: 14 * 86_400_000,
      tlsAccess: true,
      services: { kind: "ids", ids: ["s1", "s2"] },
    });
    assert.deepEqual(a.secret, {
      type: "exec",
      write: ["store"],
      read: ["show"],
      timeoutMs: 10_000,
      cwd: `${BASE}/bin`,
      env: { X: "1" },
    });
    assert.deepEqual(a.reload, [
      { type: "exec", command: ["r"], timeoutMs: 90_000, cwd: "/opt", env: { Y: "2" } },
    ]);
    assert.deepEqual(a.verify, [
      {
        type: "prometheus",
        url: "http://prom:9090",
        metric: "fastly_rt_token_expiration",
        tokenIdLabel: "token_id",
        query: "up == 1",
        requireOthersAbsent: false,
        headers: {},
        timeoutMs: 120_000,
        intervalMs: 5_000,
      },
      { type: "exec", command: ["check"], timeoutMs: 30_000, intervalMs: 2_000, cwd: BASE, env: {} },
    ]);
    assert.equal(a.approval, "required");
    assert.equal(b.token.role, "billing");
    assert.equal(b.token.expiresInMs, 90 * 86_400_000);
    assert.deepEqual(b.token.services, { kind: "all" });
    assert.deepEqual(b.secret, { type: "file", path: "/abs/b.txt" });
    assert.deepEqual(b.verify, [{ type: "token-in-use", timeoutMs: 600_000, intervalMs: 10_000 }]);
  });

  it("resolves relative paths against the config file's directory, not the working directory", () => {
    const { config } = parseConfig(VALID, { baseDir: "/elsewhere/conf" });
    const env = config?.environments[0];
    assert.equal(
      env?.secret.type === "file" ? env.secret.path : undefined,
      "/elsewhere/conf/secrets/integration.json",
    );
    const reload = env?.reload[0];
    assert.equal(reload?.type === "exec" ? reload.cwd : undefined, "/elsewhere/conf");
    assert.equal(config?.stateDir, "/elsewhere/conf/.ftr-state");
    assert.equal(config?.configPath, undefined);
  });

  it("validateConfig takes plain data through the same path", () => {
    const result = validateConfig(
      {
        version: 1,
        environments: [
          {
            name: "x",
            token: { name: "X", services: { all: true } },
            secret: { type: "file", path: "x.txt" },
            verify: [{ type: "token-in-use" }],
            reload: [{ type: "exec", command: ["true"] }],
          },
        ],
      },
      { baseDir: "/b" },
    );
    assert.deepEqual(result.errors, []);
    assert.equal(
      result.config?.environments[0]?.secret.type === "file" && result.config.environments[0].secret.path,
      "/b/x.txt",
    );
  });
});

describe("parseConfig: errors name the field and the fix", () => {
  it("reports YAML syntax errors with line and column", () => {
    const result = parse("version: 1\nenvironments:\n  - name: a\n    token: [unclosed\n");
    assert.equal(result.config, undefined);
    const issue = result.errors[0];
    assert.ok(issue);
    assert.match(issue.message, /^YAML syntax error/);
    assert.equal(typeof issue.line, "number");
    assert.equal(typeof issue.column, "number");
  });

  it("reports duplicate keys as YAML errors", () => {
    const result = parse("version: 1\nversion: 1\nenvironments: []\n");
    assert.match(result.errors[0]?.message ?? "", /twice/);
    assert.equal(result.errors[0]?.line, 2);
  });

  it("reports an empty file", () => {
    assert.match(parse("# nothing\n").errors[0]?.message ?? "", /empty.*version: 1/);
  });

  it("names an unknown key and suggests the closest valid one", () => {
    const result = parse(variant("      name: Exporter", "      nmae: Exporter"));
    const issue = issueAt(result.errors, "environments[0].token.nmae");
    assert.match(issue.message, /unknown key "nmae": did you mean "name"\?/);
    assert.equal(issue.line, 5);
    assert.equal(issue.column, 7);
    // The missing `name` is reported too.
    assert.match(
      issueAt(result.errors, "environments[0].token.name").message,
      /name is required.*For example/,
    );
  });

  it("suggests camelCase for snake_case keys", () => {
    const result = parse(variant("jsonKey:", "json_key:"));
    assert.match(issueAt(result.errors, "environments[0].secret.json_key").message, /did you mean "jsonKey"/);
  });

  it("lists the valid keys when no key is close", () => {
    const result = parse(variant("version: 1", "version: 1\nbanana: yes"));
    assert.match(
      issueAt(result.errors, "banana").message,
      /valid keys here: version, fastly, state, schedule, policy, defaults, notify, environments/,
    );
  });

  it("suggests keys of the union member the type selects", () => {
    const result = parse(
      variant("{ type: token-in-use }", "{ type: prometheus, url: 'http://p:9090', tokenIdLable: id }"),
    );
    assert.match(
      issueAt(result.errors, "environments[0].verify[0].tokenIdLable").message,
      /did you mean "tokenIdLabel"/,
    );
  });

  it("explains a wrong type with the field's description", () => {
    const result = parse(variant("path: ./secrets/integration.json", "path: [a, b]"));
    assert.match(
      issueAt(result.errors, "environments[0].secret.path").message,
      /expected a string, got a list\. File holding/,
    );
  });

  it("says to quote numbers where strings are expected", () => {
    const result = parse(variant('nameMatches: "[Ii]ntegration"', "ids: [12345]"));
    assert.match(
      issueAt(result.errors, "environments[0].token.services.ids[0]").message,
      /got the number 12345: quote it, e\.g\. "12345"/,
    );
  });

  it("rejects a document that is not a mapping", () => {
    assert.match(issueAt(parse("- a\n- b\n").errors, "").message, /mapping that starts with `version: 1`/);
  });

  it("rejects durations without units, and bad durations, saying how to write them", () => {
    const result = parse(
      variant("{ type: token-in-use }", "{ type: token-in-use, timeout: 120000, interval: 1.5s }"),
    );
    assert.match(
      issueAt(result.errors, "environments[0].verify[0].timeout").message,
      /120000 has no unit .*e\.g\. 90s/,
    );
    assert.match(
      issueAt(result.errors, "environments[0].verify[0].interval").message,
      /fractions are not supported/,
    );
  });

  it("rejects a zero duration", () => {
    const result = parse(variant("{ type: token-in-use }", "{ type: token-in-use, timeout: 0s }"));
    assert.match(issueAt(result.errors, "environments[0].verify[0].timeout").message, /longer than zero/);
  });

  it("rejects an interval that is not shorter than the timeout", () => {
    const result = parse(
      variant("{ type: token-in-use }", "{ type: token-in-use, timeout: 5s, interval: 5s }"),
    );
    assert.match(
      issueAt(result.errors, "environments[0].verify[0].interval").message,
      /shorter than timeout/,
    );
  });

  it("rejects a regular expression that does not compile", () => {
    const result = parse(variant('"[Ii]ntegration"', '"[Ii]ntegration("'));
    assert.match(
      issueAt(result.errors, "environments[0].token.services.nameMatches").message,
      /not a valid regular expression/,
    );
  });

  it("rejects empty ids, and more or fewer than one selector", () => {
    assert.match(
      issueAt(
        parse(variant('nameMatches: "[Ii]ntegration"', "ids: []")).errors,
        "environments[0].token.services.ids",
      ).message,
      /empty; add at least one id/,
    );
    assert.match(
      issueAt(
        parse(variant('nameMatches: "[Ii]ntegration"', 'nameMatches: "x", all: true')).errors,
        "environments[0].token.services",
      ).message,
      /exactly one of nameMatches, ids, all \(found nameMatches and all\)/,
    );
    assert.match(
      issueAt(
        parse(variant('{ nameMatches: "[Ii]ntegration" }', "{}")).errors,
        "environments[0].token.services",
      ).message,
      /choose the services/,
    );
    assert.match(
      issueAt(
        parse(variant('nameMatches: "[Ii]ntegration"', "all: false")).errors,
        "environments[0].token.services.all",
      ).message,
      /all can only be true/,
    );
  });

  it("rejects duplicate environment names and token names", () => {
    const result = parse(VALID + ENV);
    assert.match(
      issueAt(result.errors, "environments[1].name").message,
      /already used by environments\[0\]; give each environment a unique name/,
    );
    assert.match(
      issueAt(result.errors, "environments[1].token.name").message,
      /already used by environments\[0\]/,
    );
    assert.match(
      issueAt(result.errors, "environments[1].secret.path").message,
      /same file; give each environment its own file/,
    );
  });

  it("rejects rotateBefore not shorter than expiresIn, pointing at the setting that was written", () => {
    const own = parse(
      variant("      services:", "      expiresIn: 30d\n      rotateBefore: 30d\n      services:"),
    );
    assert.match(
      issueAt(own.errors, "environments[0].token.rotateBefore").message,
      /must be shorter than expiresIn \(30d\)/,
    );
    const inherited = parse(
      variant("environments:", "defaults:\n  token: { expiresIn: 7d, rotateBefore: 2w }\nenvironments:"),
    );
    assert.match(issueAt(inherited.errors, "defaults.token.rotateBefore").message, /shorter than expiresIn/);
  });

  it("rejects unknown scopes and roles, suggesting the right one", () => {
    const result = parse(
      variant(
        "      services:",
        '      scope: "global:read purge-all"\n      role: enginer\n      services:',
      ),
    );
    assert.match(
      issueAt(result.errors, "environments[0].token.scope").message,
      /unknown scope "purge-all": use one or more of global, global:read, purge_select, purge_all/,
    );
    assert.match(
      issueAt(result.errors, "environments[0].token.role").message,
      /use one of billing, engineer, user \(did you mean "engineer"\?\)/,
    );
  });

  it("requires a secret, and a known secret type", () => {
    const missing = parse(
      variant(
        "    secret: { type: file, path: ./secrets/integration.json, jsonKey: fastly-api-token }\n",
        "",
      ),
    );
    assert.match(issueAt(missing.errors, "environments[0].secret").message, /secret is required.*type: file/);
    const unknown = parse(variant("type: file", "type: vault"));
    assert.match(
      issueAt(unknown.errors, "environments[0].secret.type").message,
      /unknown type "vault": use one of file, exec, aws-secrets-manager, kubernetes-secret/,
    );
  });

  it("accepts an aws-secrets-manager secret and checks its fields", () => {
    const aws = (fields: string): string =>
      variant(
        "secret: { type: file, path: ./secrets/integration.json, jsonKey: fastly-api-token }",
        `secret: { type: aws-secrets-manager, ${fields} }`,
      );
    const ok = parse(
      aws("secretId: govuk/integration/exporter, jsonKey: fastly-api-token, region: eu-west-2"),
    );
    assert.deepEqual(ok.errors, []);
    assert.deepEqual(ok.config?.environments[0]?.secret, {
      type: "aws-secrets-manager",
      secretId: "govuk/integration/exporter",
      jsonKey: "fastly-api-token",
      region: "eu-west-2",
    });
    const bad = parse(aws("secretId: '', region: europe, endpoint: 'ftp://x', secretArn: x"));
    assert.match(issueAt(bad.errors, "environments[0].secret.secretId").message, /secretId is empty/);
    assert.match(issueAt(bad.errors, "environments[0].secret.region").message, /like eu-west-2/);
    assert.match(issueAt(bad.errors, "environments[0].secret.endpoint").message, /http:\/\/ or https:\/\//);
    assert.match(issueAt(bad.errors, "environments[0].secret.secretArn").message, /unknown key/);
    const missing = parse(aws("region: eu-west-2"));
    assert.match(issueAt(missing.errors, "environments[0].secret.secretId").message, /required/);
  });

  it("accepts the Kubernetes reloaders with their defaults and checks their fields", () => {
    const reload = (steps: string): string =>
      variant('      - { type: exec, command: ["./restart-exporter.sh", "integration"] }', steps);
    const ok = parse(
      reload(
        "      - { type: external-secret, namespace: monitoring, name: govuk-fastly-api, context: integration }\n" +
          "      - { type: kubernetes-rollout, namespace: monitoring, deployment: fastly-exporter, kubeconfig: ./kube.yaml, timeout: 6m }",
      ),
    );
    assert.deepEqual(ok.errors, []);
    assert.deepEqual(ok.config?.environments[0]?.reload, [
      {
        type: "external-secret",
        namespace: "monitoring",
        name: "govuk-fastly-api",
        apiVersion: "external-secrets.io/v1",
        timeoutMs: 120_000,
        intervalMs: 2000,
        context: "integration",
      },
      {
        type: "kubernetes-rollout",
        namespace: "monitoring",
        kind: "Deployment",
        name: "fastly-exporter",
        restart: true,
        timeoutMs: 360_000,
        intervalMs: 2000,
        kubeconfig: `${BASE}/kube.yaml`,
      },
    ]);
    const bad = parse(
      reload(
        "      - { type: external-secret, namespace: Monitoring, name: x, apiVersion: v1 }\n" +
          "      - { type: kubernetes-rollout, namespace: monitoring, timeout: 1s, interval: 2s }",
      ),
    );
    assert.match(
      issueAt(bad.errors, "environments[0].reload[0].namespace").message,
      /not a Kubernetes namespace/,
    );
    assert.match(issueAt(bad.errors, "environments[0].reload[0].apiVersion").message, /group\/version/);
    const none = parse(reload("      - { type: kubernetes-rollout, namespace: monitoring }"));
    assert.match(
      issueAt(none.errors, "environments[0].reload[0].deployment").message,
      /deployment is required/,
    );
    const two = parse(
      reload("      - { type: kubernetes-rollout, namespace: monitoring, deployment: a, daemonSet: b }"),
    );
    assert.match(
      issueAt(two.errors, "environments[0].reload[0].daemonSet").message,
      /give one of deployment, statefulSet and daemonSet, not deployment and daemonSet/,
    );
    const stateful = parse(
      reload("      - { type: kubernetes-rollout, namespace: monitoring, statefulSet: s }"),
    );
    assert.deepEqual(stateful.errors, []);
    assert.equal((stateful.config?.environments[0]?.reload[0] as { kind: string }).kind, "StatefulSet");
    const waiting = parse(
      reload("      - { type: kubernetes-rollout, namespace: monitoring, deployment: a, restart: false }"),
    );
    assert.deepEqual(waiting.errors, []);
    assert.equal((waiting.config?.environments[0]?.reload[0] as { restart: boolean }).restart, false);
  });

  it("accepts the kubernetes-logs verifier with fastly-exporter's defaults and checks its fields", () => {
    const verify = (steps: string): string => variant("      - { type: token-in-use }", steps);
    const ok = parse(
      verify("      - { type: kubernetes-logs, namespace: monitoring, deployment: fastly-exporter }"),
    );
    assert.deepEqual(ok.errors, []);
    assert.deepEqual(ok.config?.environments[0]?.verify[0], {
      type: "kubernetes-logs",
      namespace: "monitoring",
      deployment: "fastly-exporter",
      failOn: ["token may be invalid", "status_code=40[13]\\b"],
      quietForMs: 30_000,
      timeoutMs: 180_000,
      intervalMs: 2000,
    });
    const neither = parse(verify("      - { type: kubernetes-logs, namespace: monitoring }"));
    assert.match(
      issueAt(neither.errors, "environments[0].verify[0].deployment").message,
      /deployment is required/,
    );
    const both = parse(
      verify("      - { type: kubernetes-logs, namespace: monitoring, deployment: a, selector: app=a }"),
    );
    assert.match(issueAt(both.errors, "environments[0].verify[0].selector").message, /not both/);
    const badRegex = parse(
      verify(
        '      - { type: kubernetes-logs, namespace: monitoring, selector: app=a, failOn: ["(unclosed"] }',
      ),
    );
    assert.match(
      issueAt(badRegex.errors, "environments[0].verify[0].failOn[0]").message,
      /not a valid regular expression/,
    );
    const loud = parse(
      verify(
        "      - { type: kubernetes-logs, namespace: monitoring, selector: app=a, quietFor: 5m, timeout: 1m }",
      ),
    );
    assert.match(issueAt(loud.errors, "environments[0].verify[0].quietFor").message, /shorter than timeout/);
  });

  it("rejects two environments sharing a file or secret, even under different keys", () => {
    const env = (name: string, secret: string) =>
      `  - name: ${name}\n    token: { name: T ${name}, services: { all: true } }\n    secret: ${secret}\n`;
    const aws = parse(
      `version: 1\nenvironments:\n${env("a", "{ type: aws-secrets-manager, secretId: shared, jsonKey: a }")}${env("b", "{ type: aws-secrets-manager, secretId: shared, jsonKey: b }")}`,
    );
    assert.match(
      issueAt(aws.errors, "environments[1].secret.secretId").message,
      /same secret; give each environment its own secret \(a rollback restores the whole secret/,
    );
    const file = parse(
      `version: 1\nenvironments:\n${env("a", "{ type: file, path: ./s.json, jsonKey: a }")}${env("b", "{ type: file, path: ./s.json, jsonKey: b }")}`,
    );
    assert.match(issueAt(file.errors, "environments[1].secret.path").message, /same file/);
    const k8s = parse(
      `version: 1\nenvironments:\n${env("a", "{ type: kubernetes-secret, namespace: m, name: s, key: a }")}${env("b", "{ type: kubernetes-secret, namespace: m, name: s, key: b }")}`,
    );
    assert.match(issueAt(k8s.errors, "environments[1].secret.name").message, /same secret/);
    const otherAccount = parse(
      `version: 1\nenvironments:\n${env("a", "{ type: aws-secrets-manager, secretId: shared, profile: a }")}${env("b", "{ type: aws-secrets-manager, secretId: shared, profile: b }")}`,
    );
    assert.deepEqual(otherAccount.errors, []);
    // Any other store: the same settings but the key are the same secret.
    const vault = parse(
      `version: 1\nenvironments:\n${env("a", "{ type: vault-kv, address: https://v, path: p, key: a }")}${env("b", "{ type: vault-kv, address: https://v, path: p, key: b }")}`,
    );
    assert.match(issueAt(vault.errors, "environments[1].secret.type").message, /same secret/);
    const github = parse(
      `version: 1\nenvironments:\n${env("a", "{ type: github-actions, repository: o/r, name: A }")}${env("b", "{ type: github-actions, repository: o/r, name: B }")}`,
    );
    assert.deepEqual(github.errors, [], "two secrets of one repository are two secrets");
  });

  it("rejects a file secret that is the config file itself", () => {
    const result = parse(variant("./secrets/integration.json", "./ftr.yaml"));
    assert.match(issueAt(result.errors, "environments[0].secret.path").message, /config file itself/);
  });

  it("accepts notifiers and checks their fields", () => {
    const ok = parse(
      variant(
        "version: 1",
        `version: 1
notify:
  - { type: webhook, url: "https://hooks.example.com/ftr", signingSecretEnv: FTR_HOOK_SECRET }
  - { type: slack, webhookUrlEnv: SLACK_WEBHOOK_URL, timeout: 3s }`,
      ),
    );
    assert.deepEqual(ok.errors, []);
    assert.deepEqual(ok.config?.notify, [
      {
        type: "webhook",
        url: "https://hooks.example.com/ftr",
        headers: {},
        signingSecretEnv: "FTR_HOOK_SECRET",
        timeoutMs: 10_000,
      },
      { type: "slack", webhookUrlEnv: "SLACK_WEBHOOK_URL", timeoutMs: 3_000 },
    ]);
    const bad = parse(
      variant(
        "version: 1",
        `version: 1
notify:
  - { type: webhook, url: "http://hooks.example.com/ftr" }
  - { type: slack }
  - { type: email, to: ops@example.com }`,
      ),
    );
    issueAt(bad.errors, "notify[0].url", /plain http to hooks\.example\.com .*use https:\/\//);
    issueAt(bad.errors, "notify[1].webhookUrlEnv");
    issueAt(bad.errors, "notify[2].type", /webhook|slack/);
  });

  it("rejects other versions", () => {
    assert.match(
      issueAt(parse(variant("version: 1", "version: 2")).errors, "version").message,
      /version 2 is not supported.*version: 1/,
    );
    assert.match(
      issueAt(parse(variant("version: 1\n", "")).errors, "version").message,
      /version is required/,
    );
  });

  it("rejects environment names unfit for file names and labels", () => {
    const result = parse(variant("name: integration", "name: Integration Env"));
    assert.match(issueAt(result.errors, "environments[0].name").message, /lower-case letters/);
  });

  it("rejects an empty command and a non-http Prometheus URL", () => {
    const result = parse(
      variant(
        '{ type: exec, command: ["./restart-exporter.sh", "integration"] }',
        "{ type: exec, command: [] }",
      ).replace("{ type: token-in-use }", "{ type: prometheus, url: 'ftp://p' }"),
    );
    assert.match(issueAt(result.errors, "environments[0].reload[0].command").message, /command is empty/);
    assert.match(issueAt(result.errors, "environments[0].verify[0].url").message, /http:\/\/ or https:\/\//);
  });

  it("reports every error at once, across environments, in file order", () => {
    const text = `version: 3
defaults:
  token: { scope: everything }
environments:
  - name: a
    token: { name: A, services: { ids: [] } }
    secret: { type: file }
  - name: b
    token: { name: B, services: { nameMatches: "(" }, expiresIn: 10 }
    secret: { type: file, path: b.txt, extra: 1 }
`;
    const result = parse(text);
    assert.equal(result.config, undefined);
    const paths = result.errors.map((i) => i.path);
    assert.deepEqual(paths, [
      "version",
      "defaults.token.scope",
      "environments[0].token.services.ids",
      "environments[0].secret.path",
      "environments[1].token.services.nameMatches",
      "environments[1].token.expiresIn",
      "environments[1].secret.extra",
    ]);
    const lines = result.errors.map((i) => i.line ?? 0);
    assert.deepEqual(
      lines,
      [...lines].sort((x, y) => x - y),
    );
  });
});

describe("parseConfig: warnings", () => {
  it("warns about broad scope, all services, long lifetimes, missing verifiers and reloaders", () => {
    const text = `version: 1
defaults:
  token: { scope: global, expiresIn: 400d }
environments:
  - name: production
    token: { name: P, services: { all: true } }
    secret: { type: exec, write: [store] }
`;
    const result = parse(text);
    assert.deepEqual(result.errors, []);
    assert.ok(result.config);
    issueAt(result.warnings, "defaults.token.scope", /global:read/);
    issueAt(result.warnings, "defaults.token.expiresIn", /longer than a year/);
    issueAt(result.warnings, "environments[0].token.services.all", /every service/);
    issueAt(result.warnings, "environments[0].verify", /no verifiers/);
    issueAt(result.warnings, "environments[0].reload", /no reloaders/);
    issueAt(result.warnings, "environments[0].secret.read", /without a read command/);
    issueAt(result.warnings, "environments[0].approval", /approval: required/);
  });

  it("warns when only exec verifiers are configured", () => {
    const result = parse(variant("{ type: token-in-use }", "{ type: exec, command: [check] }"));
    issueAt(result.warnings, "environments[0].verify", /only exec verifiers/);
  });

  it("reports an inherited problem once, not once per environment", () => {
    const two = VALID + ENV.replaceAll("integration", "staging").replaceAll("Integration", "Staging");
    const result = parse(
      two.replace("environments:", "defaults:\n  token: { scope: global }\nenvironments:"),
    );
    assert.deepEqual(result.errors, []);
    assert.equal(result.warnings.filter((w) => w.path === "defaults.token.scope").length, 1);
  });
});

describe("loadConfig", () => {
  it("reads a file, resolving paths beside it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ftr-config-"));
    const file = join(dir, "ftr.yaml");
    await writeFile(file, VALID);
    const loaded = await loadConfig(file);
    assert.equal(loaded.path, file);
    assert.equal(loaded.config.configPath, file);
    assert.equal(loaded.config.baseDir, dir);
    const secret = loaded.config.environments[0]?.secret;
    assert.equal(secret?.type === "file" ? secret.path : undefined, join(dir, "secrets/integration.json"));
  });

  it("throws a ConfigError listing every error", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ftr-config-"));
    const file = join(dir, "ftr.yaml");
    await writeFile(file, variant("version: 1", "version: 2").replace("type: file", "type: fil"));
    await assert.rejects(loadConfig(file), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.issues.length, 2);
      assert.match(
        err.message,
        /is not a valid config \(2 errors\): 1:1 version: version 2 .*; .*secret\.type: unknown type "fil"/,
      );
      assert.doesNotMatch(err.message, /\n/);
      return true;
    });
  });

  it("throws a ConfigError for a missing file", async () => {
    await assert.rejects(loadConfig("/nonexistent/ftr.yaml"), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /does not exist.*--config/);
      return true;
    });
  });
});

describe("formatIssues", () => {
  it("prints one line per issue with source, position and field", () => {
    const lines = formatIssues(parse(variant("version: 1", "version: 2")), "ftr.yaml");
    assert.deepEqual(lines, [
      "error ftr.yaml:1:1 version: version 2 is not supported: this release reads `version: 1` configs",
    ]);
  });
});
