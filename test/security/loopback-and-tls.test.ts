/**
 * Trust decided on purpose, not by a name or a switch:
 * - a name is loopback only when every address it resolves to is: `http://fastly.localhost` that
 *   resolves to a routable address is refused before anything is sent, and one that resolves to
 *   127.0.0.1 is connected to there (the address that was checked);
 * - `NODE_TLS_REJECT_UNAUTHORIZED=0` makes ftr refuse (exit 2, one line naming NODE_EXTRA_CA_CERTS
 *   and --insecure-endpoint), or with `--insecure-endpoint` warn once;
 * - a kubeconfig with `insecure-skip-tls-verify: true` is a warning from `validate` and `plan`.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createEmulator, demoCredentials, demoSeed, type RunningEmulator } from "../../src/emulator/index.ts";
import { createFastlyClient, FastlyNotLoopbackError } from "../../src/fastly/index.ts";
import { runCli } from "../helpers/cli.ts";
import { KUBE_TEST_TOKEN } from "../../src/sandbox/kubernetes-api-server.ts";
import { demoFileEnvironment, world, type World } from "../helpers/world.ts";

const { superuser } = demoCredentials;

/**
 * An IPv4 address of this machine that is not loopback, where the emulator below can be reached (so
 * a refusal that failed would show as a request received). A machine without one gets 192.0.2.1
 * (TEST-NET-1, RFC 5737): routable in form and never this machine, so a refusal that failed shows
 * as a connection error instead of `FastlyNotLoopbackError`, and the tests still run.
 */
function outwardAddress(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  }
  return "192.0.2.1";
}

describe("security: loopback by address", () => {
  let remote: RunningEmulator;
  const address = outwardAddress();
  const requests = async (): Promise<unknown[]> =>
    (await (await fetch(`http://127.0.0.1:${remote.port}/__emulator/requests`)).json()) as unknown[];

  before(async () => {
    // Bound to every interface, so it can be reached through a routable address of this machine.
    remote = await createEmulator({ host: "0.0.0.0", seed: demoSeed });
  });
  after(() => remote?.close());

  it("fastly.localhost resolving to a routable address is refused, and nothing is sent", async () => {
    await fetch(`http://127.0.0.1:${remote.port}/__emulator/reset`, { method: "POST" });
    const client = createFastlyClient({
      token: superuser.token,
      endpoint: `http://fastly.localhost:${remote.port}`,
      // The DNS answer a hostile resolver (or /etc/hosts) gives.
      resolve: () => Promise.resolve([{ address, family: 4 }]),
      retry: { retries: 0 },
    });
    const error = await client.getCurrentUser().then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(error instanceof FastlyNotLoopbackError, String(error));
    assert.match(
      error.message,
      new RegExp(
        `fastly\\.localhost resolves to ${address.replaceAll(".", "\\.")}, which is not this machine`,
      ),
    );
    assert.ok(!error.message.includes(superuser.token));
    assert.deepEqual(await requests(), [], "the routable address received nothing");
  });

  it("a name resolving to 127.0.0.1 is connected to at that address", async () => {
    const client = createFastlyClient({
      token: superuser.token,
      endpoint: `http://fastly.localhost:${remote.port}`,
      resolve: () => Promise.resolve([{ address: "127.0.0.1", family: 4 }]),
    });
    const user = await client.getCurrentUser();
    assert.equal(user.login, superuser.login);
  });

  it("a name with one loopback and one routable address is refused too", async () => {
    const client = createFastlyClient({
      token: superuser.token,
      endpoint: `http://fastly.localhost:${remote.port}`,
      resolve: () =>
        Promise.resolve([
          { address: "127.0.0.1", family: 4 },
          { address, family: 4 },
        ]),
      retry: { retries: 0 },
    });
    await assert.rejects(client.getCurrentUser(), FastlyNotLoopbackError);
  });
});

describe("security: certificate checks switched off", () => {
  let w: World<"fastly">;
  before(async () => {
    w = await world({ dir: "ftr-tls-", fastly: demoSeed });
    await w.writeFileConfig([demoFileEnvironment("integration")]);
  });
  after(() => w.close());

  it("NODE_TLS_REJECT_UNAUTHORIZED=0 is refused by plan, status, check and rotate (exit 2, nothing sent)", async () => {
    await w.admin.reset();
    for (const command of ["plan", "status", "check", "rotate"]) {
      const { code, stdout, stderr } = await runCli([command, "--config", "ftr.yaml"], {
        cwd: w.dir,
        env: { FASTLY_API_TOKEN: superuser.token, NODE_TLS_REJECT_UNAUTHORIZED: "0" },
      });
      assert.equal(code, 2, `${command}: ${stdout}${stderr}`);
      assert.match(stderr, /NODE_TLS_REJECT_UNAUTHORIZED=0 turns off certificate checks/);
      assert.match(stderr, /NODE_EXTRA_CA_CERTS/);
      assert.match(stderr, /--insecure-endpoint/);
      assert.equal(stderr.trim().split("\n").length, 1, stderr);
    }
    assert.deepEqual(await w.admin.requests(), []);
  });

  it("with --insecure-endpoint it runs and warns once", async () => {
    const { code, stderr } = await runCli(["status", "--config", "ftr.yaml", "--insecure-endpoint"], {
      cwd: w.dir,
      env: { FASTLY_API_TOKEN: superuser.token, NODE_TLS_REJECT_UNAUTHORIZED: "0" },
    });
    assert.equal(code, 0, stderr);
    assert.equal(stderr.match(/NODE_TLS_REJECT_UNAUTHORIZED=0/g)?.length, 1, stderr);
  });

  it("a kubeconfig with insecure-skip-tls-verify: true is a warning from validate and plan", async () => {
    writeFileSync(
      join(w.dir, "kubeconfig"),
      [
        "apiVersion: v1",
        "kind: Config",
        'clusters: [{ name: prod, cluster: { server: "https://kube.example.com:6443", insecure-skip-tls-verify: true } }]',
        `users: [{ name: prod, user: { token: "${KUBE_TEST_TOKEN}" } }]`,
        "contexts: [{ name: prod, context: { cluster: prod, user: prod } }]",
        "current-context: prod",
        "",
      ].join("\n"),
    );
    const text = `version: 1
fastly: { endpoint: "${w.emulator.url}" }
environments:
  - name: integration
    token: { name: "${demoCredentials.exporterTokens.integration.name}", services: { all: true } }
    secret: { type: file, path: ./integration.txt }
    reload: [{ type: kubernetes-rollout, namespace: monitoring, deployment: exporter, kubeconfig: ./kubeconfig }]
`;
    await w.writeConfig(text, "kube.yaml");
    const validated = await runCli(["validate", "--config", "kube.yaml"], { cwd: w.dir });
    assert.equal(validated.code, 0, validated.stdout + validated.stderr);
    const warning =
      /environments\[0\]\.reload\[0\]: the kubeconfig's cluster "prod" \(https:\/\/kube\.example\.com:6443\) has insecure-skip-tls-verify: true/;
    assert.match(validated.stdout, warning);
    const planned = await runCli(["plan", "--config", "kube.yaml"], {
      cwd: w.dir,
      env: { FASTLY_API_TOKEN: superuser.token },
    });
    assert.match(planned.stderr, warning);
    assert.ok(!(validated.stdout + planned.stdout + planned.stderr).includes(KUBE_TEST_TOKEN));
  });
});
