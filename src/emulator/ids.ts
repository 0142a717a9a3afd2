import * as crypto from "node:crypto";
import { createHash, randomBytes, randomInt } from "node:crypto";

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** A 22-character base62 id, the shape of every Fastly id (customer, user, token, service). */
export function newId(): string {
  let id = "";
  for (let i = 0; i < 22; i += 1) id += BASE62[randomInt(62)];
  return id;
}

/** A 32-character token value from `[A-Za-z0-9_-]`, like the API's `access_token`. */
export function newTokenValue(): string {
  // 24 random bytes are exactly 32 base64url characters.
  return randomBytes(24).toString("base64url");
}

/**
 * The digest the emulator keeps instead of a token value, so that neither its state nor a heap
 * snapshot holds a usable credential once the seed has been read.
 */
export function digest(value: string): string {
  return sha256Hex(value);
}

// Every request's key is digested, and the one-shot `crypto.hash` (Node 20.12 and later) costs a
// quarter of a Hash object; `engines` allows older Node 20 releases, which lack it.
const sha256Hex: (value: string) => string =
  typeof crypto.hash === "function"
    ? (value) => crypto.hash("sha256", value, "hex")
    : (value) => createHash("sha256").update(value).digest("hex");
