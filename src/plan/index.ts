export * from "./plan.ts";
export * from "./gather.ts";
