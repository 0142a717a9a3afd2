export * from "./plan.ts";
export * from "./gather.ts";
export * from "./steps.ts";
