/**
 * The config pipeline's entry points: YAML text → plain data → `validateConfig`. `loadConfig` is the
 * only function here that touches the file system; every command (and `ftr validate`) goes through it.
 */
import { open } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { CST, LineCounter, Parser, isMap, isScalar, isSeq, parseDocument, type Node as YamlNode } from "yaml";
import { MAX_CONFIG_BYTES, readCapped, TooLargeError } from "../util/limits.ts";
import { validateConfig } from "./validate.ts";
import type { Config, ConfigIssue, ConfigResult, LoadedConfig } from "./types.ts";

/** Options of `parseConfig`. */
export interface ParseOptions {
  /** Directory relative paths resolve against: the config file's directory. */
  readonly baseDir: string;
  /** Name of the source in messages, e.g. the path as the user typed it. */
  readonly sourceName?: string;
  /** Path of the config file (absolute, or relative to `baseDir`), when the text came from a file. */
  readonly configPath?: string;
}

/** Thrown by `loadConfig` when the config has errors; `issues` lists every one. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  /** Every error found (warnings are not included). */
  readonly issues: readonly ConfigIssue[];
  /** Where the config came from, as named in the message. */
  readonly source: string;
  constructor(source: string, issues: readonly ConfigIssue[]) {
    const count = issues.length === 1 ? "1 error" : `${issues.length} errors`;
    super(`${source} is not a valid config (${count}): ${issues.map((i) => formatIssue(i)).join("; ")}`);
    this.source = source;
    this.issues = issues;
  }
}

/** `12:7 environments[0].token.scope: message`, or without the position when unknown. */
export function formatIssue(issue: ConfigIssue, sourceName?: string): string {
  const position = issue.line === undefined ? "" : `${issue.line}:${issue.column ?? 1}`;
  const where = [sourceName, position].filter((s) => s !== undefined && s !== "").join(":");
  const field = issue.path === "" ? "" : `${issue.path}: `;
  return `${where === "" ? "" : `${where} `}${field}${issue.message}`;
}

/** One line per issue, errors first, each prefixed with `error` or `warning`; for `ftr validate`. */
export function formatIssues(
  result: Pick<ConfigResult, "errors" | "warnings">,
  sourceName?: string,
): string[] {
  return [
    ...result.errors.map((i) => `error ${formatIssue(i, sourceName)}`),
    ...result.warnings.map((i) => `warning ${formatIssue(i, sourceName)}`),
  ];
}

/** `environments[1].secret.path` → `["environments", 1, "secret", "path"]`. */
function splitPath(path: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const m of path.matchAll(/\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]|\.?([^.[\]]+)/g)) {
    if (m[1] !== undefined) out.push(Number(m[1]));
    else if (m[2] !== undefined) out.push(JSON.parse(m[2]) as string);
    else if (m[3] !== undefined) out.push(m[3]);
  }
  return out;
}

/** Source offset of the deepest node on `path`: the key itself when it exists, else its parent. */
function offsetOf(root: unknown, path: readonly (string | number)[]): number | undefined {
  let node = root as YamlNode | null | undefined;
  let offset = node?.range?.[0];
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find(
        (p) => (isScalar(p.key) ? String(p.key.value) : p.key) === String(segment),
      );
      if (pair === undefined) return offset;
      offset = (isScalar(pair.key) ? pair.key.range?.[0] : undefined) ?? offset;
      node = pair.value as YamlNode | null;
    } else if (isSeq(node) && typeof segment === "number") {
      const item = node.items[segment] as YamlNode | undefined;
      if (item === undefined) return offset;
      node = item;
      offset = item.range?.[0] ?? offset;
    } else return offset;
  }
  return offset;
}

const YAML_HINTS: Record<string, string> = {
  DUPLICATE_KEY: "the key appears twice in the same mapping; keep one",
  TAB_AS_INDENT: "indent with spaces, not tabs",
  BAD_INDENT: "check the indentation of this line against its siblings",
  MISSING_CHAR: "a closing quote or bracket is missing",
  BLOCK_AS_IMPLICIT_KEY: "a key is missing its colon, or a value needs quoting",
  MULTILINE_IMPLICIT_KEY: "a key is missing its colon, or a value needs quoting",
  UNEXPECTED_TOKEN: "quote values containing `: `, `#`, `{`, `[` or starting with `*`, `&`, `!`, `@`",
};

/**
 * Where each `{` or `[` that is never closed opens. The parser notices a missing `}` only where it
 * gives up, often lines later ("check the indentation"), so the opening is the place to point at.
 */
function unclosedFlowCollections(text: string): { offset: number; open: string; close: string }[] {
  const found: { offset: number; open: string; close: string }[] = [];
  const check = (node: CST.Token | undefined): void => {
    if (node?.type !== "flow-collection") return;
    const close = node.start.source === "{" ? "}" : "]";
    if (!node.end.some((t) => t.type === "flow-map-end" || t.type === "flow-seq-end")) {
      found.push({ offset: node.start.offset, open: node.start.source, close });
    }
  };
  for (const token of new Parser().parse(text)) {
    if (token.type !== "document") continue;
    check(token.value);
    CST.visit(token, (item) => {
      check(item.key ?? undefined);
      check(item.value);
    });
  }
  return found.sort((a, b) => a.offset - b.offset);
}

/** Issues in file order, so a report reads top to bottom; issues without a position keep their order, last. */
function byPosition(issues: ConfigIssue[]): ConfigIssue[] {
  const key = (i: ConfigIssue): number =>
    i.line === undefined ? Number.MAX_SAFE_INTEGER : i.line * 100_000 + (i.column ?? 0);
  return issues
    .map((issue, n) => ({ issue, n }))
    .sort((a, b) => key(a.issue) - key(b.issue) || a.n - b.n)
    .map((e) => e.issue);
}

/**
 * Parses and validates config text. Pure (no I/O) and the same code path as `loadConfig`.
 * YAML syntax errors come back as issues with line and column; `config` is present exactly when
 * `errors` is empty.
 */
export function parseConfig(text: string, options: ParseOptions): ConfigResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, strict: true });
  const position = (offset: number | undefined): Pick<ConfigIssue, "line" | "column"> => {
    if (offset === undefined) return {};
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };

  if (doc.errors.length > 0) {
    const unclosed = unclosedFlowCollections(text);
    if (unclosed.length > 0) {
      const first = doc.errors[0];
      const gaveUp = first === undefined ? undefined : position(first.pos[0]);
      const where =
        gaveUp?.line === undefined
          ? ""
          : ` (the parser stopped at line ${gaveUp.line}, column ${gaveUp.column ?? 1})`;
      return {
        errors: unclosed.map((u) => ({
          path: "",
          message: `YAML syntax error: this \`${u.open}\` is never closed; add the \`${u.close}\` where the ${u.open === "{" ? "mapping" : "list"} ends${where}`,
          ...position(u.offset),
        })),
        warnings: [],
      };
    }
    return {
      errors: doc.errors.map((e) => {
        const firstLine = e.message.split("\n")[0] ?? e.message;
        const hint = YAML_HINTS[e.code];
        return {
          path: "",
          message: `YAML syntax error: ${firstLine.replace(/ at line \d+, column \d+:?$/, "")}${hint === undefined ? "" : `; ${hint}`}`,
          ...position(e.pos[0]),
        };
      }),
      warnings: [],
    };
  }

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // Alias bombs and similar: the document is well-formed but cannot be expanded.
    return {
      errors: [
        {
          path: "",
          message: `YAML cannot be read: ${(err as Error).message}; remove or simplify the aliases (*name)`,
        },
      ],
      warnings: [],
    };
  }
  if (data === null || data === undefined) {
    return {
      errors: [
        { path: "", message: "the config is empty; start with `version: 1` and an `environments:` list" },
      ],
      warnings: [],
    };
  }

  const result = validateConfig(
    data,
    options.configPath === undefined
      ? { baseDir: options.baseDir }
      : { baseDir: options.baseDir, configPath: options.configPath },
  );
  const locate = (issue: ConfigIssue): ConfigIssue =>
    issue.line !== undefined
      ? issue
      : { ...issue, ...position(offsetOf(doc.contents, splitPath(issue.path))) };
  const yamlWarnings = doc.warnings.map((w) => ({
    path: "",
    message: `YAML: ${w.message.split("\n")[0] ?? w.message}`,
    ...position(w.pos[0]),
  }));
  const errors = byPosition(result.errors.map(locate));
  const warnings = byPosition([...yamlWarnings, ...result.warnings.map(locate)]);
  return result.config === undefined ? { errors, warnings } : { config: result.config, errors, warnings };
}

/**
 * Reads, parses and validates the config file at `path` (relative paths in it resolve against its
 * directory).
 * @throws ConfigError listing every error; a missing or unreadable file is a ConfigError too.
 */
export async function loadConfig(path: string): Promise<LoadedConfig> {
  const absolute = resolve(path);
  let text: string;
  try {
    text = await readConfigText(absolute);
  } catch (err) {
    if (err instanceof TooLargeError) throw new ConfigError(path, [{ path: "", message: err.message }]);
    const code = (err as NodeJS.ErrnoException).code;
    const message =
      code === "ENOENT"
        ? `the file does not exist; create it (see docs/configuration.md) or pass the right path with --config`
        : `the file cannot be read (${code ?? String(err)}); check the path and its permissions`;
    throw new ConfigError(path, [{ path: "", message }]);
  }
  const result = parseConfig(text, { baseDir: dirname(absolute), sourceName: path, configPath: absolute });
  if (result.config === undefined) throw new ConfigError(path, result.errors);
  return { config: result.config satisfies Config, warnings: result.warnings, path: absolute };
}

/**
 * The text of the config file at `absolute`, refused with a TooLargeError (before any parsing) when
 * it is over MAX_CONFIG_BYTES; OS errors (missing, unreadable) are thrown as they are.
 */
export async function readConfigText(absolute: string): Promise<string> {
  const handle = await open(absolute, "r");
  try {
    return await readCapped(
      handle,
      MAX_CONFIG_BYTES,
      "the file",
      "a config is a few KiB: check that --config names the right file",
    );
  } finally {
    await handle.close();
  }
}
