/** Request and response plumbing shared by the API and admin handlers. */
import type { IncomingMessage } from "node:http";

/** A handler's answer. `body` undefined means no body (204). */
export interface Reply {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

/** Thrown by handlers to answer with an error; the router turns it into a {@link Reply}. */
export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(`HTTP ${status}`);
  }
}

/** `{"msg":...,"detail":...}`, the legacy error shape most of api.fastly.com uses. */
export function apiError(status: number, msg: string, detail?: string): ApiError {
  return new ApiError(status, detail === undefined ? { msg } : { msg, detail });
}

/** 400 with the detail saying what is wrong. */
export function badRequest(detail: string): ApiError {
  return apiError(400, "Bad request", detail);
}

/** A parsed request body: form fields or a JSON object, read through the helpers below. */
export type Fields = Readonly<Record<string, unknown>>;

const MAX_BODY = 1024 * 1024;

/** The raw body, at most 1 MiB. */
export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw apiError(413, "Request entity too large");
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * Form bodies become an object whose `key[]` fields are arrays under `key`; JSON bodies must be
 * objects. An empty body is an empty object.
 */
export function parseFields(text: string, contentType: string | undefined): Fields {
  if (text.trim() === "") return {};
  const type = (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  if (type === "application/x-www-form-urlencoded" || (type === "" && !/^\s*[{[]/.test(text))) {
    const out: Record<string, unknown> = {};
    for (const [key, value] of new URLSearchParams(text)) {
      if (key.endsWith("[]")) {
        const name = key.slice(0, -2);
        const list = Array.isArray(out[name]) ? (out[name] as unknown[]) : [];
        list.push(value);
        out[name] = list;
      } else {
        out[key] = value;
      }
    }
    return out;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw badRequest("The request body is not valid JSON");
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw badRequest("The request body must be a JSON object");
  }
  return json as Fields;
}

/** A string field; numbers are accepted as their text. */
export function stringField(fields: Fields, key: string): string | undefined {
  const value = fields[key];
  if (typeof value === "string") return value;
  if (typeof value === "number") return String(value);
  if (value === undefined || value === null) return undefined;
  throw badRequest(`'${key}' must be a string`);
}

/** A list of strings (`services[]` in a form, an array or null in JSON). */
export function stringListField(fields: Fields, key: string): string[] | undefined {
  const value = fields[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value === "string") return value === "" ? [] : [value];
  if (Array.isArray(value) && value.every((v) => typeof v === "string")) return value;
  throw badRequest(`'${key}' must be a list of strings`);
}

/** A boolean field (`true`/`false` text in forms). */
export function booleanField(fields: Fields, key: string): boolean | undefined {
  const value = fields[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value === "boolean") return value;
  if (value === "true" || value === "1") return true;
  if (value === "false" || value === "0") return false;
  throw badRequest(`'${key}' must be a boolean`);
}

/** A positive integer query parameter within bounds, or the default. */
export function intParam(
  query: URLSearchParams,
  key: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const text = query.get(key);
  if (text === null || text === "") return fallback;
  if (!/^\d+$/.test(text)) throw badRequest(`'${key}' must be a whole number`);
  const value = Number(text);
  if (value < min || value > max) throw badRequest(`'${key}' must be between ${min} and ${max}`);
  return value;
}
