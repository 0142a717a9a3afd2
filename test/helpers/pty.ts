/**
 * `ftr` on a pseudo-terminal of a given width: util-linux `script` allocates the terminal, `stty`
 * sets its columns, and the CLI runs as a child process seeing a real TTY on stdin, stdout and
 * stderr. What it printed comes back as the terminal received it (both streams, in order).
 */
import { spawn, spawnSync } from "node:child_process";
import stringWidth from "string-width";
import { CLI_NODE_ARGS } from "./cli.ts";

/** Why a pseudo-terminal cannot be had here, or undefined when it can. */
export function ptyUnavailable(): string | undefined {
  const probe = spawnSync("script", ["--version"], { encoding: "utf8" });
  if (probe.error || probe.status !== 0)
    return "util-linux `script` is not installed (apt-get install bsdutils)";
  return undefined;
}

/** The `skip` option of a test that needs a pseudo-terminal: never under CI=true, where it fails. */
export function skipWithoutPty(): string | false {
  const why = ptyUnavailable();
  if (why === undefined) return false;
  if (process.env.CI === "true") throw new Error(`CI=true: ${why}`);
  return why;
}

const quote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;

/** Run `ftr argv` on a terminal `columns` wide; resolves with its exit code and what it printed. */
export function runOnPty(
  argv: readonly string[],
  options: { columns: number; cwd: string; env?: Readonly<Record<string, string>>; stdin?: string },
): Promise<{ code: number | null; output: string }> {
  const command = [
    `stty cols ${options.columns} rows 60 2>/dev/null;`,
    "exec",
    quote(process.execPath),
    ...CLI_NODE_ARGS.map(quote),
    ...argv.map(quote),
  ].join(" ");
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env, TERM: "xterm-256color" };
  for (const name of [
    "FASTLY_API_TOKEN",
    "FASTLY_SUDO_PASSWORD",
    "FASTLY_API_ENDPOINT",
    "NO_COLOR",
    "COLUMNS",
  ]) {
    if (options.env?.[name] === undefined) delete env[name];
  }
  const child = spawn("script", ["-qfec", command, "/dev/null"], {
    cwd: options.cwd,
    env,
    stdio: ["pipe", "pipe", "pipe"],
  });
  if (options.stdin !== undefined) child.stdin.write(options.stdin);
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => {
      child.stdin.destroy();
      resolve({ code, output });
    });
  });
}

/**
 * The lines a terminal shows for `output`: split at newlines and carriage returns (a line redrawn
 * in place counts each time), colour and cursor codes removed.
 */
export function terminalLines(output: string): string[] {
  return (
    output
      // eslint-disable-next-line no-control-regex
      .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "")
      // eslint-disable-next-line no-control-regex
      .replace(/\x1b\][^\x07]*\x07/g, "")
      .split(/\r\n|\r|\n/)
  );
}

/** Lines of `output` wider than `columns`, with their widths, for an assertion's message. */
export function overlong(output: string, columns: number): string[] {
  return terminalLines(output)
    .filter((line) => stringWidth(line) > columns)
    .map((line) => `${stringWidth(line)}: ${line}`);
}
