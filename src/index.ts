export type * from "./fastly/types.ts";
