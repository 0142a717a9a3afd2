/**
 * Turns zod's issues into `ConfigIssue`s that name the field as written in the config and say how to
 * fix it. Field descriptions and examples come from the schema's metadata, so the message, the JSON
 * Schema and the docs say the same thing.
 */
import * as z from "zod";
import { DURATION_HINT } from "../util/time.ts";
import { durationSchemas } from "../adapters/support/config.ts";
import type { ConfigIssue } from "./types.ts";

/** A path into the config document, as zod reports it. */
export type IssuePath = readonly PropertyKey[];

/**
 * Passed as the per-parse error map: zod then produces this text exactly for issues the schema did not
 * word itself, and those are the ones this module words.
 */
export const UNWORDED = "\u0000unworded";

/** `environments[1].secret.path` from `["environments", 1, "secret", "path"]`. */
export function formatPath(path: IssuePath): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (typeof segment === "string" && /^[A-Za-z_$][\w$-]*$/.test(segment)) {
      out += out === "" ? segment : `.${segment}`;
    } else out += `[${JSON.stringify(String(segment))}]`;
  }
  return out;
}

/** The value at `path` in plain data, or undefined. */
export function valueAt(data: unknown, path: IssuePath): unknown {
  let current: unknown = data;
  for (const segment of path) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<PropertyKey, unknown>)[segment];
  }
  return current;
}

/** Edit distance counting a swap of neighbours as one edit (`nmae` → `name`), the commonest typo. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number): number => d[i]?.[j] ?? Infinity;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, at(i - 2, j - 2) + 1);
      const row = d[i];
      if (row) row[j] = best;
    }
  }
  return at(a.length, b.length);
}

const squash = (s: string): string => s.toLowerCase().replace(/[-_\s]/g, "");

/**
 * The candidate `word` was most likely meant to be, when one is obviously close: the same ignoring case,
 * `-` and `_` (`expires_in` → `expiresIn`), or within a small edit distance. Undefined otherwise.
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const exact = candidates.find((c) => squash(c) === squash(word));
  if (exact !== undefined) return exact;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(squash(word), squash(candidate));
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  // Short words get fewer edits, so `url` does not "correct" to `cwd`.
  const allowed = Math.max(1, Math.min(3, Math.floor(word.length / 3)));
  return bestDistance <= allowed ? best : undefined;
}

/** A zod schema's internal definition, enough to walk it. */
interface Def {
  readonly type: string;
  readonly shape?: Record<string, z.ZodType>;
  readonly element?: z.ZodType;
  readonly innerType?: z.ZodType;
  readonly in?: z.ZodType;
  readonly options?: readonly z.ZodType[];
  readonly discriminator?: string;
  readonly valueType?: z.ZodType;
}

const defOf = (schema: z.ZodType): Def => schema._zod.def;

/** Strips optional/default/pipe wrappers; keeps the first schema that carries metadata. */
function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (;;) {
    const def = defOf(current);
    const inner =
      def.type === "optional" || def.type === "default" || def.type === "nullable" || def.type === "prefault"
        ? def.innerType
        : def.type === "pipe"
          ? def.in
          : undefined;
    if (inner === undefined || z.globalRegistry.get(current) !== undefined) return current;
    current = inner;
  }
}

/** For a discriminated union, the option selected by the input's discriminator, if any. */
function unionOption(schema: z.ZodType, input: unknown): z.ZodType | undefined {
  const def = defOf(schema);
  if (def.type !== "union" || def.discriminator === undefined || def.options === undefined) return undefined;
  const tag = valueAt(input, [def.discriminator]);
  return def.options.find((option) => {
    const typeSchema = defOf(unwrap(option)).shape?.[def.discriminator ?? ""];
    return typeSchema !== undefined && z.safeParse(typeSchema, tag).success;
  });
}

/** The schema describing the value at `path`, following the input through arrays and unions. */
export function schemaAt(root: z.ZodType, path: IssuePath, input: unknown): z.ZodType | undefined {
  let schema: z.ZodType | undefined = unwrap(root);
  let value = input;
  for (const segment of path) {
    if (schema === undefined) return undefined;
    schema = unwrap(unionOption(schema, value) ?? schema);
    const def = defOf(schema);
    if (def.type === "object" && typeof segment === "string") schema = def.shape?.[segment];
    else if (def.type === "array" && typeof segment === "number") schema = def.element;
    else if (def.type === "record") schema = def.valueType;
    else return undefined;
    if (schema !== undefined) schema = unwrap(schema);
    value = valueAt(value, [segment]);
  }
  return schema === undefined ? undefined : unwrap(unionOption(schema, value) ?? schema);
}

/** The keys an object schema (or the union option the input selects) accepts. */
function keysAt(root: z.ZodType, path: IssuePath, input: unknown): string[] {
  const schema = schemaAt(root, path, input);
  const shape = schema === undefined ? undefined : defOf(schema).shape;
  return shape === undefined ? [] : Object.keys(shape);
}

interface FieldMeta {
  readonly description?: string;
  readonly examples?: readonly unknown[];
}

function metaAt(root: z.ZodType, path: IssuePath, input: unknown): FieldMeta {
  const schema = schemaAt(root, path, input);
  return (schema === undefined ? undefined : (z.globalRegistry.get(schema) as FieldMeta | undefined)) ?? {};
}

/** A value as it would be written in flow-style YAML, for examples in messages. */
function inlineYaml(value: unknown): string {
  if (typeof value === "string")
    return /^[\w./:-]+$/.test(value) && !/^\d+$/.test(value) ? value : JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(inlineYaml).join(", ")}]`;
  if (value !== null && typeof value === "object") {
    return `{ ${Object.entries(value)
      .map(([k, v]) => `${k}: ${inlineYaml(v)}`)
      .join(", ")} }`;
  }
  return String(value);
}

function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "string")
    return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === "number") return `the number ${value}`;
  if (typeof value === "boolean") return `the boolean ${value}`;
  return typeof value;
}

const EXPECTED: Record<string, string> = {
  string: "a string",
  number: "a number",
  boolean: "true or false",
  object: "a mapping (key: value pairs)",
  array: "a list",
  record: "a mapping (key: value pairs)",
};

function withHelp(message: string, key: PropertyKey | undefined, meta: FieldMeta): string {
  let out = message;
  if (meta.description !== undefined) out += `. ${meta.description.replace(/\.$/, "")}`;
  const example = meta.examples?.[0];
  if (example !== undefined && typeof key === "string")
    out += `. For example: ${key}: ${inlineYaml(example)}`;
  return out;
}

type ZodIssue = z.core.$ZodIssue;

/** Words one zod issue (possibly as several config issues: one per unknown key). */
function wordIssue(issue: ZodIssue, root: z.ZodType, input: unknown): ConfigIssue[] {
  const path = issue.path;
  const key = path.at(-1);
  const value = valueAt(input, path);
  if (issue.code === "unrecognized_keys") {
    const valid = keysAt(root, path, input);
    return issue.keys.map((unknownKey) => {
      const suggestion = closest(unknownKey, valid);
      const hint =
        suggestion !== undefined
          ? `did you mean "${suggestion}"?`
          : valid.length > 0
            ? `valid keys here: ${valid.join(", ")}`
            : "remove it";
      return { path: formatPath([...path, unknownKey]), message: `unknown key "${unknownKey}": ${hint}` };
    });
  }
  if (issue.message !== UNWORDED) return [{ path: formatPath(path), message: issue.message }];
  const meta = metaAt(root, path, input);
  const where = formatPath(path);
  switch (issue.code) {
    case "invalid_type": {
      if (value === undefined) {
        return [{ path: where, message: withHelp(`${String(key ?? "value")} is required`, key, meta) }];
      }
      const schema = schemaAt(root, path, input);
      if (schema !== undefined && durationSchemas.has(schema) && typeof value === "number") {
        return [
          { path: where, message: `${value} has no unit (milliseconds are not assumed): ${DURATION_HINT}` },
        ];
      }
      const expected = EXPECTED[issue.expected] ?? issue.expected;
      let message = `expected ${expected}, got ${describeValue(value)}`;
      // YAML reads unquoted 123 and true as numbers and booleans, and (1.2) yes/no as strings.
      if (issue.expected === "string" && (typeof value === "number" || typeof value === "boolean")) {
        message += `: quote it, e.g. "${String(value)}"`;
      } else if (issue.expected === "boolean" && typeof value === "string") {
        message += ": write true or false without quotes";
      } else if (path.length === 0) {
        message += ": a config is a mapping that starts with `version: 1`";
        return [{ path: where, message }];
      }
      return [{ path: where, message: withHelp(message, key, meta) }];
    }
    case "invalid_value": {
      const values = issue.values.map(String);
      const suggestion = typeof value === "string" ? closest(value, values) : undefined;
      const message =
        values.length === 1
          ? `must be ${JSON.stringify(issue.values[0])}, got ${describeValue(value)}`
          : `${describeValue(value)} is not allowed: use one of ${values.join(", ")}` +
            (suggestion !== undefined ? ` (did you mean "${suggestion}"?)` : "");
      return [{ path: where, message }];
    }
    case "invalid_union": {
      const discriminator = "discriminator" in issue ? issue.discriminator : undefined;
      const options = "options" in issue && Array.isArray(issue.options) ? issue.options.map(String) : [];
      if (typeof discriminator === "string" && options.length > 0) {
        if (value === undefined) {
          return [{ path: where, message: `${discriminator} is required: one of ${options.join(", ")}` }];
        }
        const suggestion = typeof value === "string" ? closest(value, options) : undefined;
        return [
          {
            path: where,
            message:
              `unknown ${discriminator} ${JSON.stringify(value)}: use one of ${options.join(", ")}` +
              (suggestion !== undefined ? ` (did you mean "${suggestion}"?)` : ""),
          },
        ];
      }
      return [
        {
          path: where,
          message: withHelp(`${describeValue(value)} does not fit any allowed form`, key, meta),
        },
      ];
    }
    default:
      return [{ path: where, message: withHelp(`${describeValue(value)} is not valid`, key, meta) }];
  }
}

/** Config issues for every problem zod found. */
export function wordZodIssues(issues: readonly ZodIssue[], root: z.ZodType, input: unknown): ConfigIssue[] {
  return issues.flatMap((issue) => wordIssue(issue, root, input));
}
