import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";

/** The recorded go-fastly traffic in ../shared/fixtures/go-fastly, beside the repository. */
export const FIXTURES_DIR = fileURLToPath(new URL("../../../shared/fixtures/go-fastly/", import.meta.url));

/**
 * The `skip` option for a test that reads the recordings: `false` when they are there, else a
 * one-line reason. A bare clone has no ../shared beside it and skips; under CI=true the recordings
 * are part of the checkout, so their absence is a broken setup and throws instead of skipping.
 */
export const fixturesSkip: string | false = whyNoFixtures();

function whyNoFixtures(): string | false {
  if (existsSync(FIXTURES_DIR)) return false;
  const reason = `no go-fastly recordings at ${FIXTURES_DIR} (../shared beside the repository)`;
  if (process.env["CI"] === "true") throw new Error(`${reason}; CI=true requires them`);
  return reason;
}

/** One recorded request and its response. */
export interface Interaction {
  readonly request: { method: string; url: string; body: string; headers: Record<string, string[]> };
  readonly response: { code: number; body: string; headers: Record<string, string[]> };
}

/** The interactions of one cassette, e.g. `automation_tokens/create.yaml`. */
export function cassette(name: string): Interaction[] {
  const doc = parse(readFileSync(FIXTURES_DIR + name, "utf8")) as { interactions: Interaction[] };
  return doc.interactions;
}

/** The JSON body of the first response to `method url-prefix` in a cassette. */
export function recordedBody(name: string, method: string, urlIncludes = ""): unknown {
  const hit = cassette(name).find((i) => i.request.method === method && i.request.url.includes(urlIncludes));
  if (!hit) throw new Error(`no ${method} ${urlIncludes} in ${name}`);
  return JSON.parse(hit.response.body) as unknown;
}

/**
 * A fetch that answers from cassettes: each request is matched by method and URL (query order
 * ignored) against the given interactions, and every request must match one.
 */
export function replayFetch(interactions: Interaction[]): typeof fetch & { calls: string[] } {
  const calls: string[] = [];
  const key = (method: string, url: string) => {
    const u = new URL(url);
    u.searchParams.sort();
    return `${method} ${u.toString()}`;
  };
  const replay = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = input instanceof Request ? input.url : input.toString();
    const method = init?.method ?? "GET";
    const wanted = key(method, url);
    calls.push(wanted);
    const hit = interactions.find((i) => key(i.request.method, i.request.url) === wanted);
    if (!hit) throw new Error(`unexpected request ${wanted}`);
    const headers = new Headers();
    for (const [k, values] of Object.entries(hit.response.headers ?? {})) {
      for (const v of values) headers.append(k, v);
    }
    const noBody = hit.response.code === 204;
    return new Response(noBody ? null : hit.response.body, { status: hit.response.code, headers });
  }) as typeof fetch & { calls: string[] };
  replay.calls = calls;
  return replay;
}
