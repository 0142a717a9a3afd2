// Writes man/ftr.1, the manual page, from the command line's own help: `ftr --help` and each
// command's `--help`, run from the built CLI (bin/ftr.js), so the page never says other than the
// help does. Run by `npm run build`; package.json's "man" points at the result.
//
// Usage: node scripts/write-man.mjs [outfile]   (default man/ftr.1)
import { execFileSync } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const out = process.argv[2] ?? `${root}man/ftr.1`;
const { version } = JSON.parse(await readFile(`${root}package.json`, "utf8"));

/** The help of `args`, as a user sees it (no colours, a fixed width). */
function help(args) {
  return execFileSync(process.execPath, [`${root}bin/ftr.js`, ...args, "--help"], {
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", COLUMNS: "80", FTR_CONFIG: "" },
  });
}

/** Text safe in roff: backslashes doubled, a leading dot or quote escaped. */
function roff(text) {
  return text
    .replace(/\\/g, "\\e")
    .split("\n")
    .map((line) => (/^[.']/.test(line) ? `\\&${line}` : line))
    .join("\n");
}

const top = help([]);
const commands = [...top.matchAll(/^ {2}([a-z][a-z-]*)\b/gm)]
  .map((m) => m[1])
  .filter((name, i, all) => name !== "help" && all.indexOf(name) === i);
const date = new Date().toISOString().slice(0, 10);
const page = [
  `.TH FTR 1 "${date}" "fastly-token-rotator ${version}" "User Commands"`,
  ".SH NAME",
  "ftr \\- rotate Fastly automation tokens end to end, and warn before any token expires",
  ".SH SYNOPSIS",
  ".B ftr",
  ".I command",
  "[\\fIoptions\\fR]",
  ".SH DESCRIPTION",
  ".nf",
  roff(top.trimEnd()),
  ".fi",
  ".SH COMMANDS",
  ...commands.flatMap((name) => [`.SS ftr ${name}`, ".nf", roff(help([name]).trimEnd()), ".fi"]),
  ".SH SEE ALSO",
  "The documentation in the package's docs/ directory: architecture.md, configuration.md,",
  "operations.md, plan.md, runbook.md, security.md.",
  "",
].join("\n");
await mkdir(dirname(out), { recursive: true });
await writeFile(out, page);
process.stdout.write(`wrote ${out} (${commands.length} commands)\n`);
