/**
 * `ftr sandbox` end to end, as a user runs it: the sandbox as a process (`--json`), then the
 * commands it prints, each in its own shell after sourcing its `sandbox.env` (`ftr` on PATH runs
 * this checkout). The rotations go through the real AWS SDK and `@kubernetes/client-node` to the
 * sandbox's stand-ins; this test reads the outcome back through the AWS SDK, kubectl and the
 * emulator. Then a broken rollout rolls back, a run killed mid-rollout resumes, and SIGTERM stops
 * the sandbox with exit 0. Nothing printed anywhere holds a secret.
 *
 * kubectl is Debian's package: without it the kubectl checks skip saying so, except under CI=true,
 * where they fail.
 */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parse } from "yaml";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { demoCredentials } from "../src/emulator/index.ts";
import { AWS_TEST_CREDENTIALS } from "../src/sandbox/aws-secrets-manager-server.ts";
import { GOVUK, type SandboxEnvironment, type SandboxInfo } from "../src/sandbox/index.ts";
import { CLI_BIN, spawnCli, TSX_LOADER, type CliProcess } from "./helpers/cli.ts";
import { assertNoSecrets } from "./helpers/rotation-env.ts";
import { whenInDir } from "./helpers/wait.ts";

const KUBECTL = (process.env.PATH ?? "")
  .split(delimiter)
  .map((dir) => join(dir, "kubectl"))
  .find((path) => existsSync(path));
const kubectlSkip =
  !KUBECTL && process.env.CI !== "true"
    ? "kubectl is not installed (Debian package kubectl); the sandbox's kubeconfig is not tried with it"
    : false;

interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

describe("ftr sandbox and the commands it prints", () => {
  let root: string;
  let dir: string;
  let bin: string;
  let sandbox: CliProcess;
  let info: SandboxInfo;
  const outputs: { source: string; text: string }[] = [];

  /** Runs `command` as printed, in a shell in the sandbox's directory after its setup line. */
  const shell = (command: string): { pid: Promise<number>; done: Promise<Ran> } => {
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${bin}${delimiter}${process.env.PATH ?? ""}` };
    for (const name of Object.keys(env)) {
      if (/^(FASTLY_|AWS_|KUBECONFIG$|FTR_)/.test(name)) delete env[name];
    }
    env.NO_COLOR = "1";
    // kubectl's cache, and anything else a command keeps at home, stays in the test's directory.
    env.HOME = root;
    // `exec`: the shell becomes the command, so a signal reaches it.
    const child = spawn("sh", ["-c", `${info.commands.setup} && exec ${command}`], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    const done = new Promise<Ran>((resolve, reject) => {
      child.once("error", reject);
      child.once("close", (code) => {
        outputs.push({ source: `$ ${command}`, text: stdout + stderr });
        resolve({ code, stdout, stderr });
      });
    });
    return { pid: Promise.resolve(child.pid ?? -1), done };
  };
  const run = (command: string | undefined): Promise<Ran> => {
    assert.ok(command, "the sandbox printed the command");
    return shell(command).done;
  };

  /** The token at the key in an environment's AWSCURRENT, read with the real AWS SDK. */
  const awsCurrent = async (env: SandboxEnvironment): Promise<string> => {
    const client = new SecretsManagerClient({
      endpoint: info.environments[env].awsSecretsManager,
      region: GOVUK.region,
      credentials: AWS_TEST_CREDENTIALS,
    });
    try {
      const out = await client.send(new GetSecretValueCommand({ SecretId: GOVUK.secretId }));
      return (JSON.parse(out.SecretString ?? "{}") as Record<string, string>)[GOVUK.jsonKey] ?? "";
    } finally {
      client.destroy();
    }
  };

  /** The Kubernetes Secret's token in an environment's cluster, read with @kubernetes/client-node. */
  const kubeSecret = async (env: SandboxEnvironment): Promise<string> => {
    const { KubeConfig, CoreV1Api } = await import("@kubernetes/client-node");
    const kc = new KubeConfig();
    kc.loadFromFile(info.kubeconfig);
    kc.setCurrentContext(env);
    const secret = await kc
      .makeApiClient(CoreV1Api)
      .readNamespacedSecret({ name: GOVUK.externalSecret, namespace: GOVUK.namespace });
    return Buffer.from(secret.data?.[GOVUK.jsonKey] ?? "", "base64").toString("utf8");
  };

  /** `GET /tokens/self` on the emulator: the token's id, or the refusal's status. */
  const tokenSelf = async (value: string): Promise<{ status: number; id?: string }> => {
    const response = await fetch(`${info.fastly}/tokens/self`, { headers: { "Fastly-Key": value } });
    const body = (await response.json()) as { id?: string };
    return response.ok && body.id ? { status: response.status, id: body.id } : { status: response.status };
  };

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "ftr-sandbox-test-"));
    dir = join(root, "rehearsal");
    // `ftr` on PATH, as a user has it: this checkout's CLI.
    bin = join(root, "bin");
    await mkdir(bin);
    await writeFile(
      join(bin, "ftr"),
      `#!/bin/sh\nexec "${process.execPath}" --import "${TSX_LOADER}" "${CLI_BIN}" "$@"\n`,
    );
    await chmod(join(bin, "ftr"), 0o755);

    sandbox = spawnCli(["sandbox", "--json", "--dir", dir, "--no-prometheus"], { cwd: root });
    // One JSON object on stdout once everything listens; the sandbox keeps running.
    info = await new Promise<SandboxInfo>((resolve, reject) => {
      const look = (): void => {
        try {
          resolve(JSON.parse(sandbox.output().stdout) as SandboxInfo);
          sandbox.child.stdout?.off("data", look);
        } catch {
          // not all of it yet
        }
      };
      sandbox.child.stdout?.on("data", look);
      void sandbox.done.then((r) => reject(new Error(`the sandbox exited ${r.code}: ${r.stderr}`)));
    });
  });

  after(async () => {
    if (sandbox && sandbox.child.exitCode === null) sandbox.child.kill("SIGKILL");
    await sandbox?.done.catch(() => undefined);
    if (root) await rm(root, { recursive: true, force: true });
  });

  it("prints its endpoints, files and commands, and writes the config of examples/govuk.yaml's shape", () => {
    assert.equal(info.dir, dir);
    assert.equal(info.config, join(dir, "ftr.yaml"));
    for (const name of [
      "plan",
      "rotate",
      "status",
      "breakRollout",
      "stall",
      "kill",
      "repair",
      "resume",
      "rollback",
    ]) {
      assert.ok(info.commands[name], `command ${name}`);
    }
    for (const env of ["integration", "staging", "production"] as const) {
      assert.match(info.environments[env].awsSecretsManager, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.match(info.environments[env].kubernetes, /^https:\/\/127\.0\.0\.1:\d+$/);
    }
    const config = readFileSync(info.config, "utf8");
    for (const piece of [
      "type: aws-secrets-manager",
      "secretId: govuk/fastly/api",
      "jsonKey: fastly-api-token",
      "profile: govuk-staging",
      "type: external-secret",
      "type: kubernetes-rollout",
      "deployment: fastly-exporter-prometheus-fastly-exporter",
      "type: token-in-use",
      "approval: required",
    ]) {
      assert.ok(config.includes(piece), `the config has ${piece}`);
    }
  });

  it("refuses a second sandbox in the same directory, and a fault it does not know, in one line with exit 2", async () => {
    const second = await run(`ftr sandbox --dir ${dir}`);
    assert.equal(second.code, 2, second.stderr);
    assert.match(
      second.stderr,
      /^error: a sandbox already runs in .* \(pid \d+\); stop it, or give another --dir\n$/,
    );
    const unknown = await run(`ftr sandbox break melt --env staging --dir ${dir}`);
    assert.equal(unknown.code, 2, unknown.stderr);
    assert.match(unknown.stderr, /the fault must be one of rollout, sync, stall, got "melt"/);
  });

  it("the printed plan and rotate commands rotate all three environments through AWS and Kubernetes", async () => {
    const plan = await run(info.commands.plan);
    assert.equal(plan.code, 0, plan.stdout + plan.stderr);
    assert.match(plan.stdout, /govuk\/fastly\/api/);

    const rotated = await run(info.commands.rotate);
    assert.equal(rotated.code, 0, rotated.stdout + rotated.stderr);
    for (const env of ["integration", "staging", "production"] as const) {
      assert.match(rotated.stdout, new RegExp(`${env}\\s+rotated`));
      const value = await awsCurrent(env);
      const old = demoCredentials.exporterTokens[env];
      assert.notEqual(value, old.token, `${env}: a new token in AWS`);
      assert.equal(await kubeSecret(env), value, `${env}: the Kubernetes Secret holds AWSCURRENT's token`);
      const self = await tokenSelf(value);
      assert.equal(self.status, 200, `${env}: the new token works`);
      assert.notEqual(self.id, old.id);
      assert.equal((await tokenSelf(old.token)).status, 401, `${env}: the old token is revoked`);
    }
    const status = await run(info.commands.status);
    assert.equal(status.code, 0, status.stdout + status.stderr);
  });

  it("kubectl reads the Secret through the sandbox's kubeconfig", { skip: kubectlSkip }, async () => {
    assert.ok(KUBECTL, "kubectl is installed (Debian package kubectl); CI installs it");
    const ran = await run(info.commands.kubectl);
    assert.equal(ran.code, 0, ran.stderr);
    assert.match(ran.stdout, new RegExp(`^${GOVUK.externalSecret}\\s`, "m"));
    const data = await new Promise<string>((resolve, reject) =>
      execFile(
        KUBECTL,
        [
          "--kubeconfig",
          info.kubeconfig,
          "--context",
          "staging",
          "-n",
          GOVUK.namespace,
          "get",
          "secret",
          GOVUK.externalSecret,
          "-o",
          `jsonpath={.data.${GOVUK.jsonKey}}`,
        ],
        { env: { ...process.env, HOME: root } },
        (error, stdout) => (error ? reject(new Error(`kubectl failed: ${error.message}`)) : resolve(stdout)),
      ),
    );
    assert.ok(Buffer.from(data, "base64").toString("utf8") === (await awsCurrent("staging")), "same token");
  });

  it("after the printed break command, a rotation of staging fails and rolls back", async () => {
    const before = await awsCurrent("staging");
    const broke = await run(info.commands.breakRollout);
    assert.equal(broke.code, 0, broke.stderr);
    assert.match(broke.stdout, /staging: the next rollout will fail/);

    const failed = await run(`${info.commands.rotate} --force --env staging`);
    assert.equal(failed.code, 1, failed.stdout + failed.stderr);
    assert.match(failed.stdout, /staging\s+rolled-back/);
    assert.match(failed.stdout + failed.stderr, /progress deadline/);
    assert.equal(await awsCurrent("staging"), before, "AWSCURRENT restored");
    assert.equal(await kubeSecret("staging"), before, "the Secret synced back");
    assert.equal((await tokenSelf(before)).status, 200, "the previous token still works");
  });

  it("a run killed while its rollout stalls resumes to the end after the repair", async () => {
    const before = await awsCurrent("integration");
    const stalled = await run(info.commands.stall);
    assert.equal(stalled.code, 0, stalled.stderr);

    // The kill line as printed, its `&` and `kill -9` done here once the run waits on the rollout.
    const rotating = shell((info.commands.kill ?? "").replace(/\s*&$/, ""));
    const journal = join(dir, "state", "journal.jsonl");
    const runs = (): string[] => readFileSync(journal, "utf8").split("\n");
    const lines = runs().length;
    await whenInDir(join(dir, "state"), () =>
      runs()
        .slice(lines - 1)
        .some(
          (l) => l.includes('"environment":"integration"') && l.includes('"step":"reload","status":"begin"'),
        ),
    );
    process.kill(await rotating.pid, "SIGKILL");
    const killed = await rotating.done;
    assert.equal(killed.code, null, "killed");

    const repaired = await run(info.commands.repair);
    assert.equal(repaired.code, 0, repaired.stderr);
    const resumed = await run(info.commands.resume);
    assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
    assert.match(resumed.stdout, /integration\s+rotated/);
    const value = await awsCurrent("integration");
    assert.notEqual(value, before);
    assert.equal(await kubeSecret("integration"), value);
    assert.equal((await tokenSelf(before)).status, 401, "the token before the run is revoked");
  });

  it("stops on SIGTERM with exit 0, and printed no secret anywhere", async () => {
    const newTokens = await Promise.all(
      (["integration", "staging", "production"] as const).map(async (env) => ({
        label: `${env}'s new token`,
        value: await awsCurrent(env),
      })),
    );
    sandbox.child.kill("SIGTERM");
    const stopped = await sandbox.done;
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.equal(existsSync(join(dir, "sandbox.json")), false, "no sandbox runs there any more");
    const stopped2 = await run(info.commands.repair);
    assert.equal(stopped2.code, 2, "break and repair say no sandbox runs");
    assert.match(stopped2.stderr, /no sandbox runs in/);

    const kubeconfig = parse(readFileSync(info.kubeconfig, "utf8")) as {
      users: { user: { token: string } }[];
    };
    const kubeToken = kubeconfig.users[0]?.user.token ?? "";
    assert.ok(kubeToken.length > 16);
    assertNoSecrets(
      [{ source: "ftr sandbox", text: stopped.stdout + stopped.stderr }, ...outputs],
      [
        { label: "superuser token", value: demoCredentials.superuser.token },
        { label: "sudo password", value: demoCredentials.superuser.password },
        ...Object.values(demoCredentials.exporterTokens).map((t) => ({ label: t.name, value: t.token })),
        { label: "AWS secret key", value: AWS_TEST_CREDENTIALS.secretAccessKey },
        { label: "Kubernetes token", value: kubeToken },
        ...newTokens,
      ],
    );
  });
});
