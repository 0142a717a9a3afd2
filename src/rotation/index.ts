export * from "./journal.ts";
export * from "./rotate.ts";
export * from "./resume.ts";
export * from "./steps.ts";
export * from "./state/index.ts";
