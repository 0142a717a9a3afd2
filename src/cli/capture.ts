/**
 * Imported first by the entry point for its side effect: the credential variables leave
 * `process.env` before any other module is evaluated (see `credentials.ts`).
 */
import { captureCredentials } from "./credentials.ts";

/** The credentials this process started with, now only here. */
export const startCredentials: Readonly<Record<string, string>> = captureCredentials();
