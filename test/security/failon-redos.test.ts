/**
 * A `kubernetes-logs` `failOn` pattern cannot be made to backtrack by a log line: patterns are RE2
 * (linear time), like `nameMatches`. `err="(\w+\s?)*"$` against `err="aaaa…a!` backtracks
 * exponentially in a JavaScript RegExp (the event loop blocked, SIGTERM waiting); as RE2 it is
 * linear. Patterns RE2 cannot run are refused by `validate`, naming the field.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { runCli, TSX_LOADER } from "../helpers/cli.ts";
import { world, type World } from "../helpers/world.ts";

const NS = "monitoring";
// Not a budget: a backtracking engine would never finish, so this only stops a hang (with RE2 the
// verify takes well under a second; the time is printed).
const BOUND_MS = 300_000;
const PATTERN = 'err="(\\w+\\s?)*"$';
const VERIFIER = fileURLToPath(new URL("../../src/adapters/kubernetes-logs/index.ts", import.meta.url));

/** Runs the verifier in a child process, so a backtracking pattern is killed at the bound. */
function verifyInChild(
  kubeconfig: string,
  deployment: string,
): Promise<{ code: number | null; out: string }> {
  const script = `
    const { createKubernetesLogsVerifier } = await import(${JSON.stringify(VERIFIER)});
    const verifier = createKubernetesLogsVerifier({
      namespace: ${JSON.stringify(NS)}, deployment: ${JSON.stringify(deployment)},
      failOn: [${JSON.stringify(PATTERN)}], quietForMs: 200, timeoutMs: 20000, intervalMs: 50,
      kubeconfig: ${JSON.stringify(kubeconfig)},
    });
    const result = await verifier.verify({
      environment: "integration", runId: "r", tokenId: "t", otherTokenIds: [], client: {},
      ownUserAgent: "ftr/test", since: new Date(Date.now() - 60000),
      log: { debug() {}, info() {}, warn() {}, error() {} },
    });
    process.stdout.write(JSON.stringify(result));`;
  const child = spawn(process.execPath, ["--import", TSX_LOADER, "--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")));
  const timer = setTimeout(() => child.kill("SIGKILL"), BOUND_MS);
  return new Promise((resolve) => {
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

describe("security: ReDoS in kubernetes-logs failOn", () => {
  let w: World<"kubernetes">;
  before(async () => {
    w = await world({ dir: "ftr-failon-", kubernetes: { controllerDelayMs: 10 } });
  });
  after(() => w.close());

  it(`a crafted log line does not block the verifier; a matching line still fails it`, async () => {
    w.kube.addDeployment(NS, "exporter", 1);
    const [pod] = w.kube.currentPods(NS, "exporter");
    w.kube.appendLog(NS, pod!.name, `level=error err="${"a".repeat(40)}!`);
    w.kube.appendLog(NS, pod!.name, 'level=error err="refused"');
    const started = Date.now();
    const { code, out } = await verifyInChild(w.kubeconfig, "exporter");
    const took = Date.now() - started;
    process.stdout.write(`# the verify took ${took} ms\n`);
    assert.equal(code, 0, `the verifier was killed at the ${BOUND_MS} ms bound (took ${took} ms)`);
    const result = JSON.parse(out) as { ok: boolean; detail: string };
    assert.equal(result.ok, false);
    assert.match(result.detail, /logged a line matching .*err="refused"/);
  });

  for (const [what, pattern] of [
    ["a backreference", "(err) \\1"],
    ["a lookahead", "error(?!: retrying)"],
  ] as const) {
    it(`validate refuses ${what} in failOn, naming the field`, async () => {
      await w.writeConfig(
        `version: 1
environments:
  - name: integration
    token: { name: t, services: { all: true } }
    secret: { type: file, path: ./token.txt }
    verify:
      - type: kubernetes-logs
        namespace: ${NS}
        deployment: exporter
        failOn: [${JSON.stringify(pattern)}]
`,
        "bad.yaml",
      );
      const { code, stdout } = await runCli(["validate", "--config", "bad.yaml"], { cwd: w.dir });
      assert.equal(code, 2, stdout);
      assert.match(
        stdout,
        /environments\[0\]\.verify\[0\]\.failOn\[0\]: not a valid regular expression \(.*\): failOn patterns use RE2 syntax/,
      );
    });
  }
});
