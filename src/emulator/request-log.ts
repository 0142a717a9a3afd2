/**
 * The emulator's request log: the newest `capacity` API requests, kept column by column in arrays
 * made once (times and statuses in typed arrays), so that logging a request allocates nothing the
 * log keeps. Paths and user agents are shared through a small table: the same path or agent,
 * received as a new string with every request, is kept once. A full log costs no more to add to
 * than an empty one, and its entries are not objects for the garbage collector to move and mark.
 * Times are formatted when the log is read.
 */
import type { RequestLogEntry } from "./types.ts";
import { formatTime } from "../util/time.ts";

/** How many distinct paths and user agents are shared before the table starts over. */
const SHARED_STRINGS = 1024;

export class RequestLog {
  private readonly methods: string[];
  private readonly paths: string[];
  private readonly statuses: Uint16Array;
  private readonly tokenIds: (string | null)[];
  private readonly userAgents: (string | null)[];
  private readonly times: Float64Array;
  /** Index of the oldest entry. */
  private start = 0;
  private count = 0;
  private readonly shared = new Map<string, string>();
  /** The two texts shared last (a request's path and agent). */
  private lastShared = "";
  private lastSharedOther = "";

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError("capacity must be a positive integer");
    this.methods = new Array<string>(capacity).fill("");
    this.paths = new Array<string>(capacity).fill("");
    this.statuses = new Uint16Array(capacity);
    this.tokenIds = new Array<string | null>(capacity).fill(null);
    this.userAgents = new Array<string | null>(capacity).fill(null);
    this.times = new Float64Array(capacity);
  }

  /** How many entries it holds. */
  get length(): number {
    return this.count;
  }

  /** Log one request, dropping the oldest entry when full. `atMs`: emulator time, ms since the epoch. */
  push(
    method: string,
    path: string,
    status: number,
    tokenId: string | null,
    userAgent: string | null,
    atMs: number,
  ): void {
    let i: number;
    if (this.count < this.capacity) {
      i = (this.start + this.count) % this.capacity;
      this.count++;
    } else {
      i = this.start;
      this.start = (this.start + 1) % this.capacity;
    }
    this.methods[i] = method;
    this.paths[i] = this.share(path);
    this.statuses[i] = status;
    this.tokenIds[i] = tokenId;
    this.userAgents[i] = userAgent === null ? null : this.share(userAgent);
    this.times[i] = atMs;
  }

  /** The entries, oldest first, as the admin API shows them. */
  entries(): RequestLogEntry[] {
    const out: RequestLogEntry[] = [];
    for (let n = 0; n < this.count; n++) {
      const i = (this.start + n) % this.capacity;
      out.push({
        method: this.methods[i]!,
        path: this.paths[i]!,
        status: this.statuses[i]!,
        tokenId: this.tokenIds[i]!,
        userAgent: this.userAgents[i]!,
        at: formatTime(new Date(this.times[i]!)),
      });
    }
    return out;
  }

  /** Drop every entry. */
  clear(): void {
    this.paths.fill("");
    this.tokenIds.fill(null);
    this.userAgents.fill(null);
    this.shared.clear();
    this.lastShared = "";
    this.lastSharedOther = "";
    this.start = 0;
    this.count = 0;
  }

  /** The copy of `text` already kept, or `text` kept from now on. */
  private share(text: string): string {
    // Most requests repeat the last path or agent: comparing costs less than hashing the text.
    if (text === this.lastShared) return this.lastShared;
    if (text === this.lastSharedOther) return this.lastSharedOther;
    const kept = this.lookUp(text);
    this.lastSharedOther = this.lastShared;
    this.lastShared = kept;
    return kept;
  }

  /** The table's copy of `text`, kept from now on if there is none. */
  private lookUp(text: string): string {
    const kept = this.shared.get(text);
    if (kept !== undefined) return kept;
    if (this.shared.size >= SHARED_STRINGS) this.shared.clear();
    this.shared.set(text, text);
    return text;
  }
}
