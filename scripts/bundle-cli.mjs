// Bundles the command line (src/cli/bin.ts) into dist/ftr/, which bin/ftr.js runs.
//
// Why: Node 20 loads ES modules one file at a time, and `ftr validate` needs zod (about 100 files),
// yaml (about 70) and commander. One file per entry and a few shared chunks cut its start-up by about
// a quarter (bench/README.md, "start-up"). The library (dist/index.js) stays tsc's unbundled output.
//
// - Each command's body and each adapter stays a separate chunk, loaded on first use, as in the
//   source: `import()` becomes a chunk boundary (splitting).
// - The heavy dependencies that only some commands need (AWS SDK, Kubernetes client, Octokit,
//   libsodium, prom-client, cli-table3, selfsigned for the sandbox, re2js) stay in node_modules and are loaded from there when a
//   command asks for them.
// - zod's 60-odd locale modules are left out: every zod entry point re-exports them as `locales`,
//   the tool never reads that namespace, and its messages are English (zod's default, `en`, is
//   imported separately by zod itself and is kept).
// - zod's modules the command line never calls (its schema compiler, JSON Schema to zod, the JSON
//   Schema generator class; about 130 KB of source, compiled at every start) become stubs with the
//   same exports, each throwing if called. Every zod entry point re-exports them, so they cannot be
//   shaken out. The build fails if one of them exports anything else (a new zod).
// - commander's `require('node:child_process')`, run when it loads, becomes a lookup on first use:
//   only executable subcommands (which ftr has none of) spawn, and child_process brings net, dgram
//   and the stream machinery with it.
// - A linked source map (without sources) lets `node --enable-source-maps` show src/ positions.
//
// Usage: node scripts/bundle-cli.mjs [outdir]   (default dist/ftr)
import { readFile, rm } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));

/** Dependencies loaded from node_modules at run time instead of being bundled. */
export const EXTERNAL = [
  "@aws-sdk/*",
  "@smithy/*",
  "@kubernetes/client-node",
  "@octokit/*",
  "libsodium-wrappers",
  "prom-client",
  "cli-table3",
  "selfsigned",
  // Required on first use by util/pattern.ts (synchronously, its CommonJS build): a config whose
  // patterns are literals never loads it.
  "re2js",
];

/** Replaces zod's locale index (`export * as locales from "../locales/index.js"`) with an empty module. */
const withoutZodLocales = {
  name: "without-zod-locales",
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[\\/]node_modules[\\/]zod[\\/]/.test(args.importer)
        ? { path: "zod-locales", namespace: "ftr-empty" }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "ftr-empty" }, () => ({ contents: "export {};", loader: "js" }));
  },
};

/** zod's modules left out of the command line (path under node_modules/zod/v4/) and their exports. */
export const ZOD_STUBBED = {
  "core/compile.js": [
    "INVALID",
    "ZodCompileAsyncError",
    "ZodCompileUnsupportedError",
    "compile",
    "withParser",
    "compileFn",
  ],
  "classic/from-json-schema.js": ["fromJSONSchema"],
  "core/json-schema-generator.js": ["JSONSchemaGenerator"],
  // zod's JSON Schema output: every schema holds closures that call into these, run only when a
  // JSON Schema is written (scripts/write-schema.ts, with the real zod) or a derived property such
  // as `minLength` is read, which the command line never does.
  "core/to-json-schema.js": [
    "initializeContext",
    "handleUnrepresentable",
    "processSchema",
    "process",
    "extractDefs",
    "finalize",
    "createToJSONSchemaMethod",
    "createStandardJSONSchemaMethod",
  ],
  "core/json-schema-processors.js": [
    "aggregateChecks",
    "allProcessors",
    "anyProcessor",
    "arrayProcessor",
    "bigintProcessor",
    "booleanProcessor",
    "catchProcessor",
    "customProcessor",
    "dateProcessor",
    "defaultProcessor",
    "enumProcessor",
    "fileProcessor",
    "functionProcessor",
    "intersectionProcessor",
    "lazyProcessor",
    "literalProcessor",
    "mapProcessor",
    "nanProcessor",
    "neverProcessor",
    "nonoptionalProcessor",
    "nullProcessor",
    "nullableProcessor",
    "numberProcessor",
    "objectProcessor",
    "optionalProcessor",
    "pipeProcessor",
    "prefaultProcessor",
    "promiseProcessor",
    "readonlyProcessor",
    "recordProcessor",
    "setProcessor",
    "stringProcessor",
    "successProcessor",
    "symbolProcessor",
    "templateLiteralProcessor",
    "toJSONSchema",
    "transformProcessor",
    "tupleProcessor",
    "undefinedProcessor",
    "unionProcessor",
    "unknownProcessor",
    "voidProcessor",
  ],
};

/** The names a module exports, from its `export` declarations; throws on a form it does not read. */
export function exportedNames(source, path) {
  const names = [];
  for (const line of source.split("\n")) {
    if (!line.startsWith("export ")) continue;
    const renamed = /^export \{ ([A-Za-z_$][\w$]*) as ([A-Za-z_$][\w$]*) \};$/.exec(line);
    if (renamed) {
      names.push(renamed[2]);
      continue;
    }
    const declared = /^export (?:async )?(?:function\*?|const|let|var|class) ([A-Za-z_$][\w$]*)/.exec(line);
    if (!declared)
      throw new Error(
        `${path}: cannot read the export in ${JSON.stringify(line)}: update scripts/bundle-cli.mjs`,
      );
    names.push(declared[1]);
  }
  return names.sort();
}

/** Replaces the modules of {@link ZOD_STUBBED} with stubs exporting the same names. */
const zodStubs = {
  name: "zod-stubs",
  setup(b) {
    b.onLoad(
      { filter: /[\\/]node_modules[\\/]zod[\\/]v4[\\/](core|classic)[\\/][a-z-]+\.js$/ },
      async (args) => {
        const relative = args.path.replace(/\\/g, "/").replace(/^.*\/node_modules\/zod\/v4\//, "");
        const expected = ZOD_STUBBED[relative];
        if (expected === undefined) return undefined;
        const actual = exportedNames(await readFile(args.path, "utf8"), args.path);
        if (actual.join(",") !== [...expected].sort().join(",")) {
          throw new Error(
            `${args.path} exports ${actual.join(", ")}, not ${expected.join(", ")}: update ZOD_STUBBED in scripts/bundle-cli.mjs`,
          );
        }
        const stub = (name) =>
          `export function ${name}() { throw new Error("zod's ${name} is not part of the ftr command line"); }`;
        return { contents: expected.map(stub).join("\n"), loader: "js" };
      },
    );
  },
};

/** The statement in commander's lib/command.js that loads child_process when commander loads. */
const COMMANDER_CHILD_PROCESS = "const childProcess = require('node:child_process');";

/** Makes commander load child_process on first use (`childProcess.spawn`) instead of at start. */
const lazyCommanderChildProcess = {
  name: "lazy-commander-child-process",
  setup(b) {
    b.onLoad({ filter: /[\\/]node_modules[\\/]commander[\\/]lib[\\/]command\.js$/ }, async (args) => {
      const source = await readFile(args.path, "utf8");
      // A commander that changed this line would be bundled as it is: fail loudly instead.
      if (!source.includes(COMMANDER_CHILD_PROCESS)) {
        throw new Error(
          `${args.path} no longer has ${COMMANDER_CHILD_PROCESS}: update scripts/bundle-cli.mjs`,
        );
      }
      return {
        contents: source.replace(
          COMMANDER_CHILD_PROCESS,
          "const childProcess = { spawn: (...args) => require('node:child_process').spawn(...args) };",
        ),
        loader: "js",
      };
    });
  },
};

/**
 * Bundle src/cli/bin.ts into `outdir` (entry `cli/bin.js`, shared code in `chunks/`: both one
 * level below `outdir`, so `new URL("../cli/bin.js", import.meta.url)` finds the entry from either).
 * Resolves to esbuild's metafile.
 */
export async function bundleCli(outdir = `${root}dist/ftr`) {
  await rm(outdir, { recursive: true, force: true });
  const result = await build({
    absWorkingDir: root,
    entryPoints: ["src/cli/bin.ts"],
    outbase: "src",
    outdir,
    entryNames: "[dir]/[name]",
    chunkNames: "chunks/[name]-[hash]",
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    external: EXTERNAL,
    plugins: [withoutZodLocales, zodStubs, lazyCommanderChildProcess],
    // Bundled CommonJS (commander) calls require() for Node's built-ins; give it the real one.
    banner: {
      js: 'import { createRequire as __ftrCreateRequire } from "node:module";\nconst require = __ftrCreateRequire(import.meta.url);',
    },
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: "linked",
    sourcesContent: false,
    metafile: true,
    logLevel: "warning",
  });
  return result.metafile;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await bundleCli(process.argv[2]);
}
