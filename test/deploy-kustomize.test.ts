/**
 * `kubectl kustomize deploy/kubernetes` renders (Debian's kubectl, with its built-in kustomize), and
 * every container in the result runs the image the Containerfile's header says to build. Skips when
 * kubectl is missing, except under CI=true.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { parseAllDocuments } from "yaml";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const run = promisify(execFile);

const hasKubectl = await run("kubectl", ["version", "--client"]).then(
  () => true,
  () => false,
);
const skip =
  hasKubectl || process.env.CI === "true" ? false : "kubectl is not installed (apt-get install kubectl)";

describe("kubectl kustomize deploy/kubernetes", { skip }, () => {
  it("renders, naming the image the Containerfile documents", async () => {
    const { stdout } = await run("kubectl", ["kustomize", "deploy/kubernetes"], {
      cwd: ROOT,
      timeout: 60_000,
    });
    const docs = parseAllDocuments(stdout).map((d) => {
      assert.deepEqual(d.errors, []);
      return d.toJS() as { kind: string; metadata: { name: string } };
    });
    assert.deepEqual(docs.map((d) => d.kind).sort(), [
      "ConfigMap",
      "CronJob",
      "Deployment",
      "PrometheusRule",
      "Secret",
      "Service",
      "ServiceMonitor",
    ]);

    // The build command in the Containerfile's header: the name deploy/ must use.
    const containerfile = readFileSync(`${ROOT}Containerfile`, "utf8");
    const documented = /^#\s+buildah bud -f Containerfile -t (\S+) \.$/m.exec(containerfile)?.[1];
    assert.ok(documented, "the Containerfile's header names no image");
    const images = [...stdout.matchAll(/^\s+image: (\S+)$/gm)].map((m) => m[1]);
    assert.deepEqual(images, [documented, documented], "the Deployment's and the CronJob's image");
  });
});
