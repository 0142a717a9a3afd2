/**
 * Inputs have caps, checked before anything is parsed: a config file over 1 MiB is refused in a
 * line naming the file and its size (it used to run minutes into an out-of-memory), and a secret
 * store holding more than a token's worth (64 KiB value, 1 MiB document) is refused naming the store.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createSecretStore } from "../../src/adapters/registry.ts";
import { runCli } from "../helpers/cli.ts";

describe("security: size limits", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ftr-limits-"));
    // Valid YAML all the way (a comment block), so only the size can refuse it.
    await writeFile(join(dir, "big.yaml"), `version: 1\n${"# padding\n".repeat(120_000)}`);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  for (const command of ["validate", "plan", "status"]) {
    it(`${command} refuses a config over 1 MiB, naming the file and its size`, async () => {
      const { code, stderr } = await runCli([command, "--config", "big.yaml"], {
        cwd: dir,
        env: { FASTLY_API_TOKEN: "limits-test-token-value-00000001" },
      });
      assert.equal(code, 2, stderr);
      assert.match(stderr, /big\.yaml: the file is 1,200,011 bytes, over the 1 MiB limit/);
    });
  }

  it("a file store whose value is over 64 KiB is refused, naming the store", async () => {
    const path = join(dir, "huge-token.txt");
    await writeFile(path, "x".repeat(100 * 1024), { mode: 0o600 });
    const store = await createSecretStore({ type: "file", path });
    await assert.rejects(
      store.read(),
      /the value in file .*huge-token\.txt.* is 100 KiB, over the 64 KiB limit/,
    );
  });

  it("a file store whose document is over 1 MiB is refused before it is parsed", async () => {
    const path = join(dir, "huge.json");
    await writeFile(path, JSON.stringify({ token: "t".repeat(32), padding: "p".repeat(2 * 1024 * 1024) }), {
      mode: 0o600,
    });
    const store = await createSecretStore({ type: "file", path, jsonKey: "token" });
    await assert.rejects(store.read(), /huge\.json: it is 2,097,209 bytes, over the 1 MiB limit/);
  });
});
