/** The config: YAML → schema → normalise → cross-field rules → `Config` or every error at once. */
export {
  loadConfig,
  parseConfig,
  formatIssue,
  formatIssues,
  ConfigError,
  type ParseOptions,
} from "./parse.ts";
export {
  validateConfig,
  BUILTIN_TOKEN_DEFAULTS,
  DEFAULT_STATE_DIR,
  type ValidateOptions,
} from "./validate.ts";
export {
  parseDuration,
  formatDuration,
  DurationError,
  DURATION_PATTERN,
  DURATION_HINT,
} from "../util/time.ts";
export { configJsonSchema, CONFIG_SCHEMA_ID } from "./json-schema.ts";
export { configSchema, ENV_NAME_PATTERN, TOKEN_ROLES, TOKEN_SCOPES, type ConfigInput } from "./schema.ts";
export type * from "./types.ts";
