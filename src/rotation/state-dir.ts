/**
 * The state directory holds the journal and the lock. Whoever can write into it can forge journal
 * records (and so steer `resume`), plant symbolic links where the journal or the lock will be
 * opened, or remove the lock under a live run. So it is created 0700 and refused when another user
 * owns it or when it is writable by group or others, the way ssh refuses a loose `~/.ssh`.
 */
import { chmodSync, mkdirSync, statSync } from "node:fs";

/** The state directory may not be trusted: another user could change what it holds. */
export class UnsafeStateDirError extends Error {
  override readonly name = "UnsafeStateDirError";
  /** The directory concerned. */
  readonly path: string;
  constructor(path: string, problem: string) {
    super(`state directory ${path} ${problem}`);
    this.path = path;
  }
}

/**
 * Creates `stateDir` (mode 0700) when it does not exist, then checks that only the current user
 * can change it. Throws `UnsafeStateDirError` with the fix when it is group- or world-writable or
 * owned by another user.
 */
export function ensureStateDir(stateDir: string): void {
  const created = mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  // The umask can only remove bits; set the mode explicitly on what this call created.
  if (created !== undefined) chmodSync(stateDir, 0o700);
  checkStateDir(stateDir);
}

/**
 * Checks an existing state directory (see `ensureStateDir`); does nothing when it does not exist
 * yet, since a read of a missing journal changes nothing.
 */
export function checkStateDir(stateDir: string): void {
  let st;
  try {
    st = statSync(stateDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw error;
  }
  if (!st.isDirectory()) throw new UnsafeStateDirError(stateDir, "is not a directory");
  // Windows has no POSIX owner and mode bits to judge by.
  if (process.platform === "win32") return;
  const uid = process.geteuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw new UnsafeStateDirError(
      stateDir,
      `is owned by uid ${st.uid}, not by the user running ftr (uid ${uid}); use a directory of your own (state.dir in the config)`,
    );
  }
  if ((st.mode & 0o022) !== 0) {
    const mode = (st.mode & 0o777).toString(8).padStart(4, "0");
    throw new UnsafeStateDirError(
      stateDir,
      `is writable by ${st.mode & 0o002 ? "every user" : "its group"} (mode ${mode}); run chmod 700 ${stateDir}`,
    );
  }
}
