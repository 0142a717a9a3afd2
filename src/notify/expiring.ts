/**
 * `ftr serve`'s memory of which tokens it has warned about: one `token-expiring` notification per
 * token per warning window, kept in memory and in `<state dir>/notifications.json`, so a serve
 * restarted every day (a rollout, a node drain) does not warn again. A window is a token's expiry:
 * a token with another expiry (a new token, or Fastly's expiry changed) is warned about afresh.
 */
import { randomUUID } from "node:crypto";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ensureStateDir } from "../rotation/state-dir.ts";
import type { Logger } from "../util/log.ts";
import type { ExpiringToken } from "./events.ts";

/** The file, in the state directory. */
export const NOTICES_FILE = "notifications.json";

/** Notices of tokens that expired longer ago than this are forgotten, so the file stays small. */
const FORGET_AFTER_MS = 30 * 86_400_000;

interface Notice {
  readonly environment: string;
  readonly expiresAt: string;
  readonly notifiedAt: string;
}

interface NoticesFile {
  readonly version: 1;
  readonly tokenExpiring: Record<string, Notice>;
}

function parseNotices(text: string): Record<string, Notice> {
  const data: unknown = JSON.parse(text);
  const out: Record<string, Notice> = {};
  if (typeof data !== "object" || data === null || !("tokenExpiring" in data)) return out;
  const entries: unknown = data.tokenExpiring;
  if (typeof entries !== "object" || entries === null) return out;
  for (const [id, value] of Object.entries(entries)) {
    if (typeof value !== "object" || value === null) continue;
    const { environment, expiresAt, notifiedAt } = value as Record<string, unknown>;
    if (typeof environment === "string" && typeof expiresAt === "string" && typeof notifiedAt === "string") {
      out[id] = { environment, expiresAt, notifiedAt };
    }
  }
  return out;
}

/** Which expiring tokens have been notified about. */
export class ExpiryNotices {
  private readonly path: string;
  private readonly notices: Record<string, Notice>;

  /** Reads the file in `stateDir`; a missing or unreadable one starts empty (with a warning). */
  constructor(
    private readonly stateDir: string,
    private readonly log: Logger,
  ) {
    this.path = join(stateDir, NOTICES_FILE);
    let notices: Record<string, Notice> = {};
    try {
      notices = parseNotices(readFileSync(this.path, "utf8"));
    } catch (error) {
      if (!(error instanceof Error && "code" in error && error.code === "ENOENT")) {
        log.warn(
          `${this.path} cannot be read (${error instanceof Error ? error.message : String(error)}); expiring tokens may be notified again`,
        );
      }
    }
    this.notices = notices;
  }

  /** The tokens in `tokens` not yet notified for their current expiry. */
  pending(tokens: readonly ExpiringToken[]): ExpiringToken[] {
    return tokens.filter((t) => this.notices[t.tokenId]?.expiresAt !== t.expiresAt);
  }

  /** Remember that `token` was notified at `at`, and write the file (a failure is a warning). */
  remember(token: ExpiringToken, at: Date): void {
    this.notices[token.tokenId] = {
      environment: token.environment,
      expiresAt: token.expiresAt,
      notifiedAt: at.toISOString(),
    };
    for (const [id, notice] of Object.entries(this.notices)) {
      if (Date.parse(notice.expiresAt) < at.getTime() - FORGET_AFTER_MS) delete this.notices[id];
    }
    const file: NoticesFile = { version: 1, tokenExpiring: this.notices };
    try {
      // The journal's rules: created 0700, refused when unsafe.
      ensureStateDir(this.stateDir);
      // Written whole to a new file (never through a link planted there) and renamed into place, so
      // a crash mid-write never leaves half a file.
      const temp = `${this.path}.${randomUUID().slice(0, 8)}.tmp`;
      writeFileSync(temp, JSON.stringify(file, null, 2) + "\n", { mode: 0o600, flag: "wx" });
      renameSync(temp, this.path);
    } catch (error) {
      this.log.warn(
        `cannot write ${this.path} (${error instanceof Error ? error.message : String(error)}); after a restart expiring tokens may be notified again`,
      );
    }
  }
}
