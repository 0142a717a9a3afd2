#!/usr/bin/env node
// The command line is bundled into dist/ftr by `npm run build` (scripts/bundle-cli.mjs). With
// --debug, stack traces point into src/ through the bundle's source maps.
const args = process.argv.slice(2);
// `validate` and `check` end within a fraction of a second: they run in V8's interpreter alone,
// since compiling their code further costs more CPU than it saves in a process that short. Every
// other command (serve, status at scale, rotate, the emulator) keeps the compilers.
if (args[0] === "validate" || args[0] === "check") {
  const { setFlagsFromString } = await import("node:v8");
  for (const flag of ["--no-opt", "--no-maglev", "--no-sparkplug"]) setFlagsFromString(flag);
}
if (args.includes("--debug") || process.env.FTR_DEBUG) process.setSourceMapsEnabled(true);
await import("../dist/ftr/cli/bin.js");
