/**
 * Rotation with its state in Kubernetes (a Lease and a journal Secret, in the Kubernetes API fake
 * driven by the real client): two `ftr rotate` processes in separate directories exclude each other
 * through the Lease, and a process killed at each step boundary is finished by `ftr resume` (or
 * `ftr rotate --due`) run from another directory that holds nothing but a copy of the config.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { stringify } from "yaml";
import { writeFile } from "node:fs/promises";
import { parseJournal, type JournalRecord } from "../src/rotation/journal.ts";
import { USER_AGENT } from "../src/version.ts";
import {
  startKubernetesApi,
  writeKubeconfig,
  type RunningKubernetesApi,
} from "../src/sandbox/kubernetes-api-server.ts";
import {
  assertNoSecrets,
  assertSettled,
  sleep,
  startRotationEnv,
  type RotationEnv,
} from "./helpers/rotation-env.ts";

const NAMESPACE = "monitoring";
const NAME = "ftr-state";

describe("rotation with state in Kubernetes", () => {
  let h: RotationEnv;
  let kube: RunningKubernetesApi;
  let otherDir: string;
  let otherConfig: string;

  /** The journal as the cluster holds it. */
  const journal = (): JournalRecord[] => {
    const secret = kube.object("secrets", NAMESPACE, NAME) as { data?: Record<string, string> } | undefined;
    const data = secret?.data?.["journal.jsonl"];
    return data === undefined ? [] : parseJournal(Buffer.from(data, "base64").toString("utf8"));
  };

  beforeEach(async () => {
    kube = await startKubernetesApi();
    h = await startRotationEnv({ environments: ["integration"], verifyTimeout: "60s", verifyInterval: "1s" });
    const kubeconfig = await writeKubeconfig(join(h.dir, "kubeconfig"), kube.url);
    const doc = h.config();
    doc.state = { type: "kubernetes", namespace: NAMESPACE, name: NAME, kubeconfig };
    // Absolute paths: the same config is copied to another directory below.
    for (const env of doc.environments) env.secret = { ...env.secret, path: h.secretPath("integration") };
    await h.writeConfig(doc);
    // Another directory with nothing but the config: no state directory, no journal.
    otherDir = await mkdtemp(join(tmpdir(), "ftr-k8s-state-other-"));
    otherConfig = join(otherDir, "ftr.yaml");
    await writeFile(otherConfig, stringify(doc));
  });
  afterEach(async () => {
    await h?.close();
    await kube?.close();
    if (otherDir) await rm(otherDir, { recursive: true, force: true });
  });

  it("a second rotate from another directory is refused by the Lease while the first plans; one live token remains", async () => {
    const before = (await h.tokenSelf(h.readSecret("integration"))).id;
    const listing = await h.admin.hook({
      method: "GET",
      path: "re:^/service",
      phase: "before",
      userAgent: `${USER_AGENT}*`,
      action: "hold",
    });
    const first = h.spawnCli(["rotate", "--config", h.configPath, "--yes", "--force"]);
    await h.admin.waitForHook(listing.id);

    const second = await h.runCliProcess(["rotate", "--config", otherConfig, "--yes", "--force"]);
    assert.notEqual(second.code, 0, second.stdout + second.stderr);
    assert.match(second.stderr, /another run \([^)]*\) holds the Kubernetes Lease monitoring\/ftr-state/);
    assert.equal(second.stderr.trim().split("\n").length, 1, second.stderr);

    await h.admin.releaseHook(listing.id);
    await h.admin.clearHooks();
    const ended = await first.done;
    assert.equal(ended.code, 0, ended.stdout + ended.stderr);
    const deployed = await assertSettled(h, "integration");
    assert.deepEqual(
      (await h.managedLive("integration")).map((t) => t.id),
      [deployed],
    );
    assert.notEqual(deployed, before);
    assert.equal(journal().find((r) => r.step === "finish")?.outcome, "rotated");
    assert.deepEqual(await h.consumerRefusals(), []);
  });

  const BOUNDARIES = ["mint", "stage", "promote", "reload", "verify", "revoke"] as const;
  for (const [i, step] of BOUNDARIES.entries()) {
    const finisher = i % 2 === 0 ? "resume" : "rotate --due";
    it(`killed once "${step} done" is in the cluster, finished by \`ftr ${finisher}\` from another directory`, async (t) => {
      const previous = (await h.tokenSelf(h.readSecret("integration"))).id;
      const child = h.spawnCli(["rotate", "--config", h.configPath, "--yes", "--force"]);
      const deadline = Date.now() + 120_000;
      while (!journal().some((r) => r.step === step && r.status === "done")) {
        const ended = await Promise.race([child.done, sleep(5).then(() => undefined)]);
        if (ended) assert.fail(`the run ended before "${step} done": ${ended.stdout}${ended.stderr}`);
        assert.ok(Date.now() < deadline, `no "${step} done" after 120 s`);
      }
      child.child.kill("SIGKILL");
      assert.equal((await child.done).signal, "SIGKILL");
      const records = journal();
      const last = records[records.length - 1]!;
      t.diagnostic(`killed after "${last.step} ${last.status}"`);
      assert.ok(!records.some((r) => r.step === "finish"));
      while ((await h.admin.state()).inFlight > 0) await sleep(20);
      await h.reloadsIdle(120_000);

      const argv =
        finisher === "resume"
          ? ["resume", "--config", otherConfig]
          : ["rotate", "--config", otherConfig, "--due", "--yes"];
      const done = await h.runCliProcess(argv);
      assert.equal(done.code, 0, done.stdout + done.stderr);
      const finish = journal().find((r) => r.runId === last.runId && r.step === "finish");
      assert.ok(finish, `run ${last.runId} finished:\n${done.stdout}\n${done.stderr}`);
      const deployed = await assertSettled(h, "integration");
      if (finish.outcome === "rotated") assert.notEqual(deployed, previous);
      else assert.equal(finish.outcome, "rolled-back");
      assert.deepEqual(
        (await h.managedLive("integration")).map((x) => x.id),
        [deployed],
        "exactly one live token named for the environment, the one the store holds",
      );
      assert.deepEqual(await h.consumerRefusals(), []);
      const again = await h.runCliProcess(["resume", "--config", otherConfig]);
      assert.equal(again.code, 0);
      assert.match(again.stderr, /Nothing to resume/);
      assertNoSecrets(
        [...h.collectOutput(), { source: "journal in the cluster", text: JSON.stringify(journal()) }],
        h.knownSecrets(),
      );
    });
  }
});
