import { randomBytes } from "node:crypto";
import { constants, type Stats } from "node:fs";
import { access, lstat, open, readdir, readlink, realpath, rename, stat, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { MAX_SECRET_DOCUMENT_BYTES, readCapped, TooLargeError } from "../../util/limits.ts";
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

/** Seams for tests; nothing a config sets. */
export interface FileSecretStoreInternals {
  /**
   * Called when the new file is written, fsynced and has its owner and mode, just before it is
   * renamed over the target: the point where a crash must leave the old file whole.
   */
  readonly beforeRename?: (temp: string, target: string) => Promise<void>;
}

// What `<path>.pending` holds: which run staged it and the complete document it would make current.
interface PendingFile {
  readonly runId: string;
  readonly document: string;
}

const FILE_MODE = 0o600;

/**
 * A secret kept in a local file, written atomically (temp file in the same directory, fsync,
 * rename, fsync of the directory). The new file keeps the owner, group and mode of the one it
 * replaces (a new file is 0600), so the consumer can still read it; when ftr cannot give it that
 * owner, `preflight` says so at plan time and a write refuses before the rename. A symbolic link at
 * `path` is written through: the target is replaced atomically in its own directory and the link
 * stays. The pending version lives in `<path>.pending` (run id + whole new document) and the value
 * before the last promote in `<path>.previous`, in the same format as the file itself so an operator
 * can restore it by hand; these two are ftr's own and never followed when they are links.
 */
export function createFileSecretStore(
  options: FileSecretStoreOptions,
  internals: FileSecretStoreInternals = {},
): SecretStore {
  const { path, jsonKey } = options;
  /** Writes the file the consumer reads: through a link, keeping owner and mode. */
  const writeSecret = (contents: string) =>
    atomicWrite(path, contents, {
      followSymlink: true,
      keepOwnership: true,
      ...(internals.beforeRename ? { beforeRename: internals.beforeRename } : {}),
    });
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
    const text = await readOwnIfExists(pendingPath);
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

    async preflight() {
      const problems: string[] = [];
      for (const own of [pendingPath, previousPath]) {
        if ((await lstatIfExists(own))?.isSymbolicLink()) {
          problems.push(`${own} is a symbolic link; ftr never follows links for its own files: remove it`);
        }
      }
      let target: string;
      try {
        target = await writeTarget(path, true);
      } catch (error) {
        if (error instanceof FileSecretError) return [...problems, error.message];
        throw error;
      }
      const current = await statIfExists(target);
      const refusal = current && ownershipProblem(target, current);
      if (refusal) problems.push(refusal);
      for (const dir of new Set([dirname(target), dirname(path)])) {
        try {
          await access(dir, constants.W_OK);
        } catch (error) {
          // A missing directory is reported by `read`, with its fix.
          if (isNotFound(error)) continue;
          problems.push(
            `ftr (uid ${process.geteuid?.() ?? "?"}) cannot write in ${dir}, where the new file is written and renamed into place`,
          );
        }
      }
      return problems;
    },

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
        await writeSecret(apply(current, staged));
      }
      // Step 3: the pending version is consumed.
      await unlinkIfExists(pendingPath);
    },

    async readPrevious() {
      const previous = await readOwnIfExists(previousPath);
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
      const previous = await readOwnIfExists(previousPath);
      if (previous === undefined) {
        throw new FileSecretError(previousPath, "does not exist: no previous version to restore");
      }
      const current = await readIfExists(path);
      if (current === previous) return;
      await writeSecret(previous);
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

/** The file at `path` (following a symbolic link: the consumer's file may be one). */
async function readIfExists(path: string): Promise<string | undefined> {
  return readWith(path, constants.O_RDONLY);
}

/**
 * One of ftr's own files (`.pending`, `.previous`), never through a symbolic link: a link planted
 * there could make a restore copy another file (say, one only root may read) into the secret.
 */
async function readOwnIfExists(path: string): Promise<string | undefined> {
  return readWith(path, constants.O_RDONLY | constants.O_NOFOLLOW);
}

async function readWith(path: string, flags: number): Promise<string | undefined> {
  let handle;
  try {
    handle = await open(path, flags);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    if (hasCode(error, "ELOOP")) {
      throw new FileSecretError(
        path,
        "is a symbolic link; ftr never follows links for its own files: remove it",
        {
          cause: error,
        },
      );
    }
    throw error;
  }
  try {
    return await readCapped(
      handle,
      MAX_SECRET_DOCUMENT_BYTES,
      "it",
      "a token or a small JSON document is expected: check the path",
    );
  } catch (error) {
    if (error instanceof TooLargeError) throw new FileSecretError(path, error.message, { cause: error });
    throw error;
  } finally {
    await handle.close();
  }
}

async function lstatIfExists(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

async function statIfExists(path: string): Promise<Stats | undefined> {
  try {
    return await stat(path);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/**
 * The file a write of `path` replaces: `path` itself, or the target of the symbolic link at `path`
 * when `followSymlink` (refused otherwise, and when the link leads nowhere).
 */
async function writeTarget(path: string, followSymlink: boolean): Promise<string> {
  const link = await lstatIfExists(path);
  if (!link?.isSymbolicLink()) return path;
  if (!followSymlink) {
    throw new FileSecretError(
      path,
      "is a symbolic link; ftr never follows links for its own files: remove it",
    );
  }
  try {
    return await realpath(path);
  } catch (error) {
    if (!isNotFound(error)) throw error;
    throw new FileSecretError(
      path,
      `is a symbolic link to ${await readlink(path)}, which does not exist; fix the link or secret.path`,
    );
  }
}

/**
 * Why the file replacing `target` could not keep its owner and group, or undefined when it can:
 * root can give any; another user only its own uid and groups it belongs to.
 */
function ownershipProblem(target: string, current: Stats): string | undefined {
  const uid = process.geteuid?.();
  if (uid === undefined || uid === 0) return undefined;
  if (current.uid !== uid) {
    return `${target} is owned by uid ${current.uid} and ftr runs as uid ${uid}: the new file could not keep that owner (and the consumer could lose access); run ftr as uid ${current.uid} or as root`;
  }
  const groups = new Set([process.getegid?.(), ...(process.getgroups?.() ?? [])]);
  if (!groups.has(current.gid)) {
    return `${target} belongs to group ${current.gid}, which uid ${uid} is not a member of: the new file could not keep that group; run ftr in that group or as root`;
  }
  return undefined;
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

/** Options of `atomicWrite`. */
export interface AtomicWriteOptions {
  /**
   * Write through a symbolic link at `path` to its target (replaced in the target's directory; the
   * link stays). When false, a link at `path` is refused.
   */
  readonly followSymlink?: boolean;
  /** Give the new file the owner, group and mode of the one it replaces (else: ours, 0600). */
  readonly keepOwnership?: boolean;
  /** Called between the durable temp file and the rename (tests). */
  readonly beforeRename?: (temp: string, target: string) => Promise<void>;
}

/**
 * Replaces `path` with `contents` so that a reader or a crash sees either the old or the new file:
 * temp file in the same directory (rename is atomic only within a filesystem), given the old file's
 * owner, group and mode (0600 for a new file), fsync, rename, fsync of the directory so the rename
 * itself is durable. Writing in place instead (truncate, write) would leave an empty or half-written
 * file to a crash at any moment of the write.
 */
export async function atomicWrite(
  path: string,
  contents: string,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const target = await writeTarget(path, options.followSymlink ?? false);
  const current = options.keepOwnership ? await statIfExists(target) : undefined;
  const dir = dirname(target);
  const temp = join(dir, `.${basename(target)}.${randomBytes(6).toString("hex")}.tmp`);
  const handle = await open(
    temp,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    FILE_MODE,
  );
  try {
    try {
      // Written while still 0600 and ours; given the old file's metadata before it can be seen.
      await handle.chmod(FILE_MODE);
      await handle.writeFile(contents, "utf8");
      if (current) {
        try {
          // Owner first: a chown clears set-id bits, which the chmod then restores.
          await handle.chown(current.uid, current.gid);
        } catch (error) {
          if (!hasCode(error, "EPERM")) throw error;
          throw new FileSecretError(
            target,
            `${ownershipProblem(target, current) ?? `could not keep its owner (uid ${current.uid}, gid ${current.gid})`}; the file was left unchanged`,
            { cause: error },
          );
        }
        await handle.chmod(current.mode & 0o7777);
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    await options.beforeRename?.(temp, target);
    await rename(temp, target);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
  await removeLeftoverTemps(target);
  await fsyncDir(dir);
}

/**
 * Removes temp files of `target` left by a process that died before its rename: they hold a token.
 * Only one run writes a store at a time (the state directory's lock), so none is in use.
 */
async function removeLeftoverTemps(target: string): Promise<void> {
  const prefix = `.${basename(target)}.`;
  const names = await readdir(dirname(target)).catch(() => []);
  for (const name of names) {
    if (name.startsWith(prefix) && /^[0-9a-f]{12}\.tmp$/.test(name.slice(prefix.length))) {
      await unlink(join(dirname(target), name)).catch(() => {});
    }
  }
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
  return hasCode(error, "ENOENT");
}

function hasCode(error: unknown, code: string): boolean {
  return error instanceof Error && "code" in error && error.code === code;
}

/** The registry's entry point (see `../registry.ts`). */
/** The registry's factory: configs never reach the test-only internals. */
export function create(options: FileSecretStoreOptions): SecretStore {
  return createFileSecretStore(options);
}
