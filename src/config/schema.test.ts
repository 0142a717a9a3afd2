import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFile, readdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { configJsonSchema, formatIssues, parseConfig, CONFIG_SCHEMA_ID } from "./index.ts";

const root = (path: string): string => fileURLToPath(new URL(`../../${path}`, import.meta.url));

describe("JSON Schema", () => {
  it("the committed schema/config.schema.json equals the one generated from the runtime schema", async () => {
    const committed: unknown = JSON.parse(await readFile(root("schema/config.schema.json"), "utf8"));
    assert.deepEqual(
      committed,
      configJsonSchema(),
      "schema/config.schema.json is stale: run `npm run schema` and commit the result",
    );
  });

  it("identifies itself and describes the fields", () => {
    const schema = configJsonSchema();
    assert.equal(schema.$schema, "https://json-schema.org/draft/2020-12/schema");
    assert.equal(schema.$id, CONFIG_SCHEMA_ID);
    assert.equal(schema.title, "fastly-token-rotator configuration");
    assert.equal(schema.additionalProperties, false);
    const text = JSON.stringify(schema);
    for (const key of ["rotateBefore", "tokenIdLabel", "jsonKey", "approval", "nameMatches"]) {
      assert.match(text, new RegExp(`"${key}":\\{[^}]*"description"|"${key}":\\{"type":"[a-z]+"`), key);
    }
  });
});

describe("examples", () => {
  it("every examples/*.yaml is valid", async () => {
    const dir = root("examples");
    const files = (await readdir(dir)).filter((f) => f.endsWith(".yaml"));
    assert.ok(files.length >= 2, "examples/ has the minimal and GOV.UK configs");
    for (const file of files) {
      const result = parseConfig(await readFile(`${dir}/${file}`, "utf8"), {
        baseDir: dir,
        sourceName: file,
      });
      assert.deepEqual(result.errors, [], file);
      assert.deepEqual(result.warnings, [], file);
    }
  });

  it("every full config in docs/configuration.md is valid", async () => {
    const markdown = await readFile(root("docs/configuration.md"), "utf8");
    // Fenced YAML blocks that start with `version:` (or the schema comment) are complete configs; the
    // others are fragments of one.
    const blocks = [...markdown.matchAll(/```yaml\n([\s\S]*?)```/g)]
      .map((m) => m[1] ?? "")
      .filter((b) => /^(# yaml-language-server:[^\n]*\n)?version:/.test(b));
    assert.ok(blocks.length >= 2, "docs/configuration.md has full examples");
    for (const block of blocks) {
      const result = parseConfig(block, { baseDir: "/docs" });
      assert.deepEqual(result.errors, [], block.slice(0, 200));
    }
  });

  it("the GOV.UK example in the docs is the one in examples/govuk.yaml", async () => {
    const markdown = await readFile(root("docs/configuration.md"), "utf8");
    const block = [...markdown.matchAll(/```yaml\n([\s\S]*?)```/g)]
      .map((m) => m[1] ?? "")
      .find((b) => b.includes("GOV.UK prometheus-fastly-exporter token for Production"));
    assert.ok(block, "docs/configuration.md has the GOV.UK example");
    const file = await readFile(root("examples/govuk.yaml"), "utf8");
    const options = { baseDir: "/same" };
    assert.deepEqual(parseConfig(block, options).config, parseConfig(file, options).config);
  });

  it("the validation output shown in the docs is what validation prints", async () => {
    const markdown = await readFile(root("docs/configuration.md"), "utf8");
    const blocks = [...markdown.matchAll(/```text\n([\s\S]*?)```/g)].map((m) => m[1] ?? "");
    const input = blocks.find((b) => b.startsWith("version: 2\n"));
    const output = blocks.find((b) => b.startsWith("$ ftr validate"));
    assert.ok(input && output, "docs/configuration.md shows a config and its validation output");
    const shown = output.trim().split("\n").slice(1);
    assert.deepEqual(formatIssues(parseConfig(input, { baseDir: "/docs" }), "ftr.yaml"), shown);
  });
});
