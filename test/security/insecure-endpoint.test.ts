/**
 * Plain http to the Fastly API would carry the user token and the sudo password in clear text. It
 * is refused (exit 2, one line with the fix, nothing sent) unless the host is loopback (no word
 * then) or the user opted in with `--insecure-endpoint` or `fastly.allowInsecure: true` (one note a
 * run). The emulator listens on 127.0.0.1, so a non-loopback name for it is needed: a server bound
 * to every interface, reached through this machine's own non-loopback address.
 */
import assert from "node:assert/strict";
import { networkInterfaces } from "node:os";
import { after, before, describe, it } from "node:test";
import { createEmulator, type RunningEmulator } from "../../src/emulator/index.ts";
import { loadConfig } from "../../src/config/index.ts";
import { createFastlyClient } from "../../src/fastly/client.ts";
import { startRotationEnv, type RotationEnv } from "../helpers/rotation-env.ts";

/** An IPv4 address of this machine that is not loopback, if it has one. */
function outwardAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  }
  return undefined;
}

const address = outwardAddress();
/**
 * Why the tests that need a non-loopback address skip, or false. A machine without one (a container
 * with only loopback) skips them saying so; under CI=true that is a broken setup and fails instead.
 */
const noAddress: string | false = address
  ? false
  : "this machine has no non-loopback IPv4 address, so no plain-http endpoint other than loopback can be reached";
if (noAddress && process.env["CI"] === "true") throw new Error(`${noAddress}; CI=true requires one`);

describe("plain http endpoints", () => {
  let h: RotationEnv;
  let remote: RunningEmulator;
  let remoteUrl: string;

  before(async () => {
    h = await startRotationEnv({ environments: ["integration"], exporters: false });
    remote = await createEmulator({ host: "0.0.0.0" });
    remoteUrl = `http://${address ?? "192.0.2.1"}:${remote.port}`;
  });
  after(async () => {
    await remote?.close();
    await h?.close();
  });

  const sent = async () => (await fetch(`http://127.0.0.1:${remote.port}/__emulator/requests`)).json();

  it("FASTLY_API_ENDPOINT=http://<not loopback>: exit 2, one line with the fix, nothing sent", async () => {
    for (const command of ["plan", "status", "check"]) {
      const result = await h.runCli([command, "--config", h.configPath], { FASTLY_API_ENDPOINT: remoteUrl });
      assert.equal(result.code, 2, `${command}: ${result.stderr}`);
      const lines = result.stderr.trim().split("\n");
      assert.equal(lines.length, 1, result.stderr);
      assert.match(lines[0]!, /plain http .*--insecure-endpoint/);
    }
    assert.deepEqual(await sent(), [], "nothing reached the endpoint");
  });

  it("loopback http needs no opt-in and prints no note", async () => {
    const result = await h.runCli(["plan", "--config", h.configPath]);
    assert.equal(result.code, 0, result.stderr);
    assert.doesNotMatch(result.stderr, /plain http|not https|insecure/i);
  });

  it(
    "--insecure-endpoint (before or after the command) allows it with one note",
    { skip: noAddress },
    async () => {
      for (const argv of [
        ["--insecure-endpoint", "plan", "--config", h.configPath],
        ["plan", "--config", h.configPath, "--insecure-endpoint"],
      ]) {
        const result = await h.runCli(argv, { FASTLY_API_ENDPOINT: remoteUrl });
        assert.equal(result.code, 0, result.stderr);
        assert.equal(result.stderr.match(/plain http/g)?.length, 1, result.stderr);
      }
    },
  );

  it(
    "with --insecure-endpoint, every command's own clients (the deployed tokens' too) reach it",
    { skip: noAddress },
    async () => {
      for (const command of ["plan", "status", "check"]) {
        const result = await h.runCli(["--insecure-endpoint", command, "--config", h.configPath], {
          FASTLY_API_ENDPOINT: remoteUrl,
        });
        assert.doesNotMatch(
          result.stderr,
          /allowInsecure|unexpected failure/,
          `${command}: ${result.stderr}`,
        );
        assert.ok(
          result.code === 0 || result.code === 1,
          `${command} exited ${result.code}: ${result.stderr}`,
        );
      }
      const paths = ((await sent()) as { path: string }[]).map((r) => r.path);
      assert.ok(paths.includes("/tokens/self"), `the deployed token was asked about: ${paths.join(", ")}`);
    },
  );

  it("the library's createFastlyClient refuses plain http off loopback unless allowInsecure", () => {
    const token = "library-token-value-0123456789";
    assert.throws(
      () => createFastlyClient({ token, endpoint: "http://192.0.2.1:8080" }),
      (error: unknown) =>
        error instanceof TypeError &&
        /http:\/\/192\.0\.2\.1:8080 is plain http .*allowInsecure: true/.test(error.message) &&
        !error.message.includes(token),
    );
    assert.throws(() => createFastlyClient({ token, endpoint: "ftp://api.fastly.com" }), /https:\/\//);
    assert.throws(() => createFastlyClient({ token, endpoint: "api.fastly.com" }), /not a URL/);
    const opted = createFastlyClient({ token, endpoint: "http://192.0.2.1:8080", allowInsecure: true });
    assert.equal(opted.allowInsecure, true);
    for (const endpoint of [
      "https://api.fastly.com",
      "http://127.0.0.1:9",
      "http://[::1]:9",
      "http://localhost:9",
    ]) {
      assert.equal(createFastlyClient({ token, endpoint }).allowInsecure, false, endpoint);
    }
  });

  it("config fastly.endpoint http://<not loopback>: a config error unless fastly.allowInsecure", async () => {
    const original = h.config();
    const doc = { ...original, fastly: { endpoint: remoteUrl } };
    await h.writeConfig(doc);
    try {
      const refused = await h.runCli(["validate", "--config", h.configPath], { FASTLY_API_ENDPOINT: "" });
      assert.equal(refused.code, 2, refused.stderr);
      assert.match(refused.stdout + refused.stderr, /fastly\.endpoint.*plain http.*allowInsecure/s);

      await h.writeConfig({ ...doc, fastly: { endpoint: remoteUrl, allowInsecure: true } });
      const { config, warnings } = await loadConfig(h.configPath);
      assert.equal(config.fastly.allowInsecure, true);
      assert.equal(warnings.filter((w) => /plain http/.test(w.message)).length, 1);

      await h.writeConfig({ ...doc, fastly: { endpoint: "http://127.0.0.5:9" } });
      const loopback = await loadConfig(h.configPath);
      assert.deepEqual(
        loopback.warnings.filter((w) => /http/.test(w.message)),
        [],
        "no warning for loopback",
      );
    } finally {
      await h.writeConfig(original);
    }
  });

  it("a prometheus verifier sending headers over non-loopback http is warned about", async () => {
    const original = h.config();
    const env = original.environments[0]!;
    await h.writeConfig({
      ...original,
      environments: [
        {
          ...env,
          verify: [
            { type: "token-in-use" },
            { type: "prometheus", url: remoteUrl, headers: { Authorization: "Bearer x" } },
          ],
        },
      ],
    });
    try {
      const { warnings } = await loadConfig(h.configPath);
      assert.equal(warnings.filter((w) => /headers are sent over plain http/.test(w.message)).length, 1);
    } finally {
      await h.writeConfig(original);
    }
  });
});
