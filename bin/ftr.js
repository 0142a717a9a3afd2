#!/usr/bin/env node
// The command line is bundled into dist/ftr by `npm run build` (scripts/bundle-cli.mjs). With
// --debug, stack traces point into src/ through the bundle's source maps.
if (process.argv.includes("--debug") || process.env.FTR_DEBUG) process.setSourceMapsEnabled(true);
await import("../dist/ftr/cli/bin.js");
