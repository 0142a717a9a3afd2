export * from "./journal.ts";
export * from "./rotate.ts";
export * from "./resume.ts";
