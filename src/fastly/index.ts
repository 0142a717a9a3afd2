export { createFastlyClient, DEFAULT_ENDPOINT, formatTime, nextLink } from "./client.ts";
export type { FastlyClientOptions, RetryOptions } from "./client.ts";
export * from "./errors.ts";
export * from "./schemas.ts";
export type * from "./types.ts";
