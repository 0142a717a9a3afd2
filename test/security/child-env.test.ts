/**
 * Child processes never inherit the superuser's credentials. `ftr` runs as a real child process
 * with FASTLY_API_TOKEN and FASTLY_SUDO_PASSWORD (and the contract tests' variables) set, and every
 * program it starts dumps its environment to a file: an exec reloader and an exec verifier during a
 * rotation, an AWS `credential_process` named by the config's profile and a kubeconfig `exec`
 * credential plugin while `plan` reads the secret stores. None of them sees a variable or a value.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { demoCredentials } from "../../src/emulator/index.ts";
import { AWS_TEST_CREDENTIALS, awsStoreConfig } from "../../src/sandbox/aws-secrets-manager-server.ts";
import { kubeSecretStoreConfig } from "../../src/sandbox/kubernetes-api-server.ts";
import type { RotationEnv } from "../helpers/rotation-env.ts";
import { world, type World } from "../helpers/world.ts";

const CREDENTIAL_NAMES = [
  "FASTLY_API_TOKEN",
  "FASTLY_SUDO_PASSWORD",
  "FASTLY_CONTRACT_TOKEN",
  "FASTLY_CONTRACT_PASSWORD",
];
const CONTRACT = {
  FASTLY_CONTRACT_TOKEN: "contract-token-value-0123456789",
  FASTLY_CONTRACT_PASSWORD: "contract-password-value",
};

// The AWS SDK must find its credentials through the profile's credential_process, not here.
delete process.env.AWS_ACCESS_KEY_ID;
delete process.env.AWS_SECRET_ACCESS_KEY;
delete process.env.AWS_SESSION_TOKEN;
delete process.env.AWS_PROFILE;

describe("credentials stay in ftr's memory", () => {
  let w: World<"aws" | "kubernetes">;
  let h: RotationEnv;
  const dumped = (name: string) => join(h.dir, name);
  const secretValues = () => [
    demoCredentials.superuser.token,
    demoCredentials.superuser.password,
    ...Object.values(CONTRACT),
  ];

  /** Fail when the dump is missing or names or holds any credential. */
  function assertClean(file: string): void {
    assert.ok(existsSync(dumped(file)), `${file} was written (the program ran)`);
    const text = readFileSync(dumped(file), "utf8");
    assert.ok(text.includes("PATH="), `${file} holds an environment`);
    for (const name of CREDENTIAL_NAMES) {
      assert.ok(!text.includes(`${name}=`), `${file}: ${name} was inherited`);
    }
    for (const [i, value] of secretValues().entries()) {
      assert.ok(!text.includes(value), `${file}: credential value #${i} was inherited`);
    }
  }

  before(async () => {
    w = await world({
      aws: { "govuk/fastly/api": demoCredentials.exporterTokens.staging.token },
      kubernetes: true,
    });
    h = await w.startRotationEnv({
      environments: ["integration", "staging", "production"],
      verifyTimeout: "15s",
      verifyInterval: "1s",
      stateDir: "state",
      extraReload: (env) =>
        env === "integration" ? [{ type: "exec", command: ["/bin/sh", "-c", "env > reload-env.txt"] }] : [],
      extraVerify: (env) =>
        env === "integration"
          ? [{ type: "exec", command: ["/bin/sh", "-c", "env > verify-env.txt"], timeout: "10s" }]
          : [],
      configure: (doc) => {
        const [, staging, production] = doc.environments;
        staging!.secret = { ...awsStoreConfig(w.aws, "govuk/fastly/api", ""), profile: "dumper" };
        delete staging!.secret.jsonKey;
        production!.secret = kubeSecretStoreConfig(
          "./kubeconfig",
          "monitoring",
          "govuk-fastly-api",
          "fastly-api-token",
        );
      },
    });
    await mkdir(h.stateDir, { recursive: true, mode: 0o700 });
    // An AWS profile whose credentials come from a program, as `aws configure` can set up.
    writeFileSync(
      join(h.dir, "aws-credential-process.sh"),
      `#!/bin/sh\nenv > aws-env.txt\nprintf '%s' '${JSON.stringify({ Version: 1, AccessKeyId: AWS_TEST_CREDENTIALS.accessKeyId, SecretAccessKey: AWS_TEST_CREDENTIALS.secretAccessKey })}'\n`,
      { mode: 0o755 },
    );
    writeFileSync(
      join(h.dir, "aws-config"),
      `[profile dumper]\ncredential_process = /bin/sh ${join(h.dir, "aws-credential-process.sh")}\n`,
    );
    // A kubeconfig whose user token comes from an exec credential plugin, as cloud providers' do.
    writeFileSync(
      join(h.dir, "kube-plugin.sh"),
      `#!/bin/sh\nenv > kube-env.txt\nprintf '%s' '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"plugin-token"}}'\n`,
      { mode: 0o755 },
    );
    writeFileSync(
      join(h.dir, "kubeconfig"),
      [
        "apiVersion: v1",
        "kind: Config",
        "clusters: [{ name: test, cluster: { server: " + JSON.stringify(w.kube.url) + " } }]",
        "users:",
        "  - name: plugin",
        "    user:",
        "      exec:",
        "        apiVersion: client.authentication.k8s.io/v1",
        "        command: /bin/sh",
        `        args: [${JSON.stringify(join(h.dir, "kube-plugin.sh"))}]`,
        "        interactiveMode: Never",
        "contexts: [{ name: test, context: { cluster: test, user: plugin } }]",
        "current-context: test",
        "",
      ].join("\n"),
    );
  });
  after(() => w?.close());

  it("an exec reloader and an exec verifier see neither variable", async () => {
    const result = await h.runCliProcess(
      ["rotate", "--config", h.configPath, "--env", "integration", "--yes", "--force"],
      CONTRACT,
    );
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assertClean("reload-env.txt");
    assertClean("verify-env.txt");
  });

  it("an AWS credential_process and a kubeconfig exec plugin see neither variable", async () => {
    const result = await h.runCliProcess(
      ["plan", "--config", h.configPath, "--env", "staging", "--env", "production"],
      {
        ...CONTRACT,
        AWS_CONFIG_FILE: join(h.dir, "aws-config"),
        AWS_SHARED_CREDENTIALS_FILE: join(h.dir, "no-aws-credentials"),
      },
    );
    // The plan itself is beside the point (the Secret does not exist): the programs ran.
    assertClean("aws-env.txt");
    assertClean("kube-env.txt");
    assert.ok(result.code !== null, result.stderr);
  });
});
