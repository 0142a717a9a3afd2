/**
 * The bundled command line (scripts/bundle-cli.mjs → dist/ftr/, what bin/ftr.js runs), built afresh
 * into a temporary directory: the other suites run src/ through tsx, so this one proves the shipped
 * form works: every chunk loads, the heavy dependencies come from node_modules, zod's locales and
 * the zod modules it never calls are left out, and the commands (validate, status, the whole demo with its exporter children) run.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { after, before, describe, it } from "node:test";
import { createEmulator, generateSeed, type RunningEmulator } from "../src/emulator/index.ts";
import { VERSION } from "../src/version.ts";
import { BENCH_ENVIRONMENT, writeFileConfig } from "./helpers/world.ts";

const root = fileURLToPath(new URL("..", import.meta.url));

interface Metafile {
  readonly inputs: Readonly<Record<string, unknown>>;
}
const { bundleCli, EXTERNAL, exportedNames, ZOD_STUBBED } = (await import(
  pathToFileURL(join(root, "scripts/bundle-cli.mjs")).href
)) as {
  bundleCli: (outdir: string) => Promise<Metafile>;
  EXTERNAL: readonly string[];
  exportedNames: (source: string, path: string) => string[];
  ZOD_STUBBED: Readonly<Record<string, readonly string[]>>;
};

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function run(args: readonly string[], cwd: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      args,
      { cwd, env: { PATH: process.env.PATH ?? "", HOME: cwd, NO_COLOR: "1" }, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : null;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe("the bundled CLI (dist/ftr)", () => {
  let dir: string;
  let bin: string;
  let metafile: Metafile;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ftr-bundle-"));
    // The external dependencies resolve from here, as they do from the package's own dist/ftr.
    await symlink(join(root, "node_modules"), join(dir, "node_modules"), "dir");
    metafile = await bundleCli(join(dir, "ftr"));
    bin = join(dir, "ftr/cli/bin.js");
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("bundles no external dependency and none of zod's locales but English", () => {
    // Paths relative to the checkout; a node_modules reached through a symlink shows its real path,
    // so packages are compared from their last "node_modules/" on.
    const inputs = Object.keys(metafile.inputs).map((input) =>
      input.includes("node_modules/") ? input.slice(input.lastIndexOf("node_modules/")) : input,
    );
    const packages = EXTERNAL.map((pattern) => "node_modules/" + pattern.replace("/*", "/"));
    assert.deepEqual(
      inputs.filter((input) => packages.some((prefix) => input.includes(prefix))),
      [],
    );
    const locales = inputs.filter((input) => input.includes("node_modules/zod/v4/locales/"));
    assert.deepEqual(locales, ["node_modules/zod/v4/locales/en.js"]);
    assert.ok(inputs.includes("src/cli/bin.ts"));
  });

  it("leaves out zod's schema compiler and its JSON Schema code: stubs that throw, with the same exports", async () => {
    const chunks = (await readdir(join(dir, "ftr/chunks"))).filter((name) => name.endsWith(".js"));
    const text = (
      await Promise.all(chunks.map((name) => readFile(join(dir, "ftr/chunks", name), "utf8")))
    ).join("\n");
    // A message of some modules left out (core/compile.js, classic/from-json-schema.js,
    // core/json-schema-processors.js).
    assert.doesNotMatch(text, /a schema whose subtree contains a reference cycle/);
    assert.doesNotMatch(text, /never equal to anything/);
    assert.doesNotMatch(text, /Symbols cannot be represented in JSON Schema/);
    // The stubs the schemas still reach (zod's JSON Schema output, held by every schema); the ones
    // nothing reaches, such as fromJSONSchema, are left out whole.
    assert.match(text, /zod's createToJSONSchemaMethod is not part of the ftr command line/);
    // The stubs list what each module exports today: a zod that exports more fails the build.
    for (const [path, names] of Object.entries(ZOD_STUBBED)) {
      const source = await readFile(join(root, "node_modules/zod/v4", path), "utf8");
      const exported = exportedNames(source, path);
      assert.deepEqual(exported.sort(), [...names].sort(), path);
    }
  });

  it("loads every chunk, each dependency resolving from node_modules", async () => {
    const chunks = (await readdir(join(dir, "ftr/chunks"))).filter((name) => name.endsWith(".js"));
    assert.ok(chunks.length > 5, `only ${chunks.length} chunks`);
    const urls = chunks.map((name) => pathToFileURL(join(dir, "ftr/chunks", name)).href);
    const script = `for (const url of ${JSON.stringify(urls)}) await import(url); console.log("loaded");`;
    const result = await run(["--input-type=module", "-e", script], dir);
    assert.equal(result.stderr, "");
    assert.equal(result.stdout, "loaded\n");
  });

  it("prints its version and help", async () => {
    assert.deepEqual(await run([bin, "--version"], dir), { code: 0, stdout: `${VERSION}\n`, stderr: "" });
    const help = await run([bin, "status", "--help"], dir);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Examples:/);
  });

  it("validates the GOV.UK example", async () => {
    const result = await run([bin, "validate", "--config", join(root, "examples/govuk.yaml")], dir);
    assert.equal(result.stderr, "");
    assert.equal(result.code, 0);
    assert.match(result.stdout, /is valid \(3 environments\)/);
  });

  it("words a broken config's schema errors, with the fields' descriptions, as the source does", async () => {
    const config = join(dir, "broken.yaml");
    await writeFile(
      config,
      [
        "version: 1",
        "environments:",
        "  - name: Bad_Name",
        '    token: { name: "x", services: { nameMatches: "(a" } }',
        "    secret: { type: aws-secrets-manager, secretId: s, region: 5 }",
        "    verify: [{ type: prometheus, url: http://127.0.0.1:9090, timeout: 0s }, { type: nope }]",
        "",
      ].join("\n"),
    );
    const result = await run([bin, "validate", "--config", config], dir);
    assert.equal(result.code, 2, result.stderr);
    for (const line of [
      /environments\[0\]\.name: invalid environment name "Bad_Name"/,
      /nameMatches: not a valid regular expression \(missing closing \)/,
      /region: expected a string, got the number 5: quote it, e\.g\. "5"\. AWS region\./,
      /verify\[0\]\.timeout: must be longer than zero/,
      /verify\[1\]\.type: unknown type "nope"/,
    ]) {
      assert.match(result.stdout, line);
    }
  });

  it("reports a config error in one line with exit 2", async () => {
    const result = await run([bin, "validate", "--config", join(dir, "missing.yaml")], dir);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /missing\.yaml/);
    assert.doesNotMatch(result.stderr, /\n\s+at /);
  });

  describe("against the emulator", () => {
    let emulator: RunningEmulator;
    before(async () => {
      emulator = await createEmulator({ seed: generateSeed({ services: 20, automationTokens: 30 }) });
      await writeFileConfig(dir, emulator.url, [BENCH_ENVIRONMENT], "state: { dir: ./state }");
    });
    after(async () => {
      await emulator.close();
    });

    it("draws the status table (cli-table3 from node_modules) and its JSON", async () => {
      const table = await run([bin, "status", "--config", "ftr.yaml"], dir);
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, /integration/);
      const json = await run([bin, "status", "--config", "ftr.yaml", "--json"], dir);
      assert.equal(json.code, 0);
      const parsed = JSON.parse(json.stdout) as { environments: unknown[] };
      assert.equal(parsed.environments.length, 1);
    });
  });

  it("runs the whole demo, exporters and all", async () => {
    const result = await run([bin, "demo"], dir);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout + result.stderr, /Requests the consumers had refused during the rotation: 0/);
  });
});
