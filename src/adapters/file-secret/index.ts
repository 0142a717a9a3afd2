import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { open, readFile, rename, stat, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { SecretStore } from "../types.ts";
import type { FileSecretConfig } from "./schema.ts";
import type { OptionsOf } from "../support/config.ts";

/** Options of the `file` secret store (already validated; `path` is absolute). */
export type FileSecretStoreOptions = OptionsOf<FileSecretConfig>;

/** Thrown when the file's contents cannot be used; the message never quotes the contents. */
export class FileSecretError extends Error {
  override readonly name = "FileSecretError";
  /** The file concerned. */
  readonly path: string;
  constructor(path: string, problem: string, options?: ErrorOptions) {
    super(`${path}: ${problem}`, options);
    this.path = path;
  }
}

// What `<path>.pending` holds: which run staged it and the complete document it would make current.
interface PendingFile {
  readonly runId: string;
  readonly document: string;
}

const FILE_MODE = 0o600;

/**
 * A secret kept in a local file, written atomically (temp file in the same directory, fsync,
 * rename, fsync of the directory) with mode 0600. The pending version lives in `<path>.pending`
 * (run id + whole new document) and the value before the last promote in `<path>.previous`, in the
 * same format as the file itself so an operator can restore it by hand.
 */
export function createFileSecretStore(options: FileSecretStoreOptions): SecretStore {
  const { path, jsonKey } = options;
  const pendingPath = `${path}.pending`;
  const previousPath = `${path}.previous`;

  /** The value a document holds (undefined when the key is absent or the document empty). */
  const extract = (document: string, from: string): string | undefined => {
    if (jsonKey === undefined) {
      const value = document.replace(/\r?\n$/, "");
      return value === "" ? undefined : value;
    }
    // An empty file is treated like a missing one: stage fills it with a new object.
    if (document.trim() === "") return undefined;
    const object = parseObject(document, from);
    if (!Object.hasOwn(object, jsonKey)) return undefined;
    const value = object[jsonKey];
    if (typeof value !== "string") {
      throw new FileSecretError(from, `key ${JSON.stringify(jsonKey)} is not a string`);
    }
    return value;
  };

  /** The document that results from setting the value in `current` (undefined: no file yet). */
  const apply = (current: string | undefined, value: string): string => {
    if (jsonKey === undefined) return `${value}\n`;
    if (current === undefined || current.trim() === "") {
      return `${JSON.stringify({ [jsonKey]: value }, null, 2)}\n`;
    }
    const object = parseObject(current, path);
    object[jsonKey] = value;
    return `${JSON.stringify(object, null, detectIndent(current))}\n`;
  };

  const readPending = async (): Promise<PendingFile | undefined> => {
    const text = await readIfExists(pendingPath);
    if (text === undefined) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new FileSecretError(pendingPath, "is not a pending version written by this tool (invalid JSON)");
    }
    if (
      typeof parsed !== "object" ||
      parsed === null ||
      !("runId" in parsed) ||
      !("document" in parsed) ||
      typeof parsed.runId !== "string" ||
      typeof parsed.document !== "string"
    ) {
      throw new FileSecretError(pendingPath, "is not a pending version written by this tool");
    }
    return { runId: parsed.runId, document: parsed.document };
  };

  const describe = jsonKey === undefined ? path : `${path}#${jsonKey}`;

  return {
    description: `file ${describe}`,
    durableStaging: true,

    async read() {
      const current = await readIfExists(path);
      if (current === undefined) {
        // A missing file means "no token stored yet"; a missing directory means a wrong path, and
        // a rotation would only fail later, at stage, after minting.
        const dir = dirname(path);
        if (!(await exists(dir))) {
          throw new FileSecretError(
            path,
            `its directory ${dir} does not exist; create it or fix secret.path`,
          );
        }
        return undefined;
      }
      return extract(current, path);
    },

    async stage(value, runId) {
      // The file is the value plus one newline; a line break inside the value would not read back.
      if (value === "" || (jsonKey === undefined && /[\r\n]/.test(value))) {
        throw new FileSecretError(path, "refusing to stage an empty value or one containing a line break");
      }
      // Built from the current document now so a file we must not overwrite is refused at stage,
      // before anything is promised.
      const document = apply(await readIfExists(path), value);
      await atomicWrite(pendingPath, `${JSON.stringify({ runId, document } satisfies PendingFile)}\n`);
    },

    async readStaged(runId) {
      const pending = await readPending();
      if (pending?.runId !== runId) return undefined;
      return extract(pending.document, pendingPath);
    },

    async promote(runId) {
      const pending = await readPending();
      const current = await readIfExists(path);
      if (pending === undefined) {
        // Either a previous call finished (the pending file is removed last) or nothing was staged.
        if (current !== undefined) return;
        throw new FileSecretError(path, `nothing staged for run ${runId} and no current value`);
      }
      if (pending.runId !== runId) {
        throw new FileSecretError(
          pendingPath,
          `holds the pending version of run ${pending.runId}, not ${runId}`,
        );
      }
      const staged = extract(pending.document, pendingPath);
      if (staged === undefined) throw new FileSecretError(pendingPath, "holds no value");
      const currentValue = current === undefined ? undefined : extract(current, path);
      if (currentValue !== staged) {
        // Step 1: keep the current document as previous. Skipped once the staged value is in place
        // (a crash after step 2), since `current` would then be the new value.
        if (current === undefined) await unlinkIfExists(previousPath);
        else await atomicWrite(previousPath, current);
        // Step 2: the new document, re-applied to the current one so concurrent edits of other
        // keys since stage survive.
        await atomicWrite(path, apply(current, staged));
      }
      // Step 3: the pending version is consumed.
      await unlinkIfExists(pendingPath);
    },

    async readPrevious() {
      const previous = await readIfExists(previousPath);
      return previous === undefined ? undefined : extract(previous, previousPath);
    },

    async restorePrevious(runId) {
      const pending = await readPending();
      if (pending?.runId === runId) {
        const current = await readIfExists(path);
        const currentValue = current === undefined ? undefined : extract(current, path);
        // Promote of this run has not replaced the value yet, so the current value is the one to
        // keep; `.previous` may be left over from an older rotation and must not come back.
        if (currentValue !== extract(pending.document, pendingPath)) return;
      }
      const previous = await readIfExists(previousPath);
      if (previous === undefined) {
        throw new FileSecretError(previousPath, "does not exist: no previous version to restore");
      }
      const current = await readIfExists(path);
      if (current === previous) return;
      await atomicWrite(path, previous);
    },

    async discardStaged(runId) {
      const pending = await readPending();
      if (pending?.runId === runId) await unlinkIfExists(pendingPath);
    },
  };
}

/** Parses a document that must be a JSON object; the error never quotes the contents. */
function parseObject(document: string, path: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(document);
  } catch {
    // JSON.parse's message quotes the input, which may be a token: say what, not where.
    throw new FileSecretError(path, "is not valid JSON; refusing to overwrite it (jsonKey is set)");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new FileSecretError(path, "is not a JSON object; refusing to overwrite it (jsonKey is set)");
  }
  return parsed as Record<string, unknown>;
}

/** The indentation a JSON document uses, so a rewrite keeps its look: a number of spaces, or tab. */
function detectIndent(document: string): number | string {
  const match = /^[{[]\s*\r?\n([ \t]+)\S/.exec(document);
  if (!match?.[1]) return 0;
  return match[1].startsWith("\t") ? "\t" : match[1].length;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

async function unlinkIfExists(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (error) {
    if (isNotFound(error)) return;
    throw error;
  }
  await fsyncDir(dirname(path));
}

/**
 * Replaces `path` with `contents` so that a reader or a crash sees either the old or the new file:
 * temp file in the same directory (rename is atomic only within a filesystem), fsync, rename, fsync
 * of the directory so the rename itself is durable.
 */
export async function atomicWrite(path: string, contents: string): Promise<void> {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  const handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, FILE_MODE);
  try {
    try {
      // The umask may only remove bits, but be explicit in case the file system ignores the mode.
      await handle.chmod(FILE_MODE);
      await handle.writeFile(contents, "utf8");
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
  await fsyncDir(dir);
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function isNotFound(error: unknown): boolean {
  return error instanceof Error && "code" in error && error.code === "ENOENT";
}

/** The registry's entry point (see `../registry.ts`). */
export { createFileSecretStore as create };
