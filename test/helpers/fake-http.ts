/**
 * What the GitHub, Vault and HCP Terraform fakes share: a local HTTP server that routes requests by
 * method and path template to an operation, checks the caller's credential, keeps a request log,
 * and plays planned faults (an error answer with its headers, a call held before or after it is
 * carried out, for the crash suites). Each fake brings its own routes and rules, written from the
 * service's API documentation.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createHolds } from "../../src/sandbox/holds.ts";

/** One request as a route sees it. */
export interface FakeRequest {
  readonly method: string;
  readonly path: string;
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  readonly headers: IncomingMessage["headers"];
  /** The JSON body, parsed (undefined when there was none). */
  readonly body: unknown;
}

/** What a route answers. */
export interface FakeAnswer {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

/** A route: `pattern` with `{name}` segments, e.g. `/v1/{mount}/data/{path+}` (`+`: the rest). */
export interface FakeRoute {
  readonly method: string;
  readonly pattern: string;
  readonly operation: string;
  handle(request: FakeRequest): FakeAnswer | Promise<FakeAnswer>;
}

/** A planned failure of the next `times` calls of `operation` (after `skip` of them). */
export interface FakeFault {
  readonly operation: string;
  /** Answer this instead of carrying the call out. */
  readonly status?: number;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  readonly times?: number;
  readonly skip?: number;
  /** Hold the call, unprocessed, until `release()`; a caller that goes away meanwhile drops it. */
  readonly hold?: boolean;
  /** Carry the call out, then hold its answer until `release()` or the caller goes away. */
  readonly holdAfter?: boolean;
}

/** One logged request. */
export interface FakeLogEntry {
  readonly operation: string;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly body: unknown;
}

/** Options of {@link startFakeHttp}. */
export interface FakeHttpOptions {
  readonly routes: readonly FakeRoute[];
  /** A path prefix every route sits under (GitHub Enterprise Server's `/api/v3`). */
  readonly prefix?: string;
  /** The answer refusing a caller, or undefined to let it in. */
  authorize(request: FakeRequest, operation: string): FakeAnswer | undefined;
  /** The answer for a path no route knows. */
  notFound(request: FakeRequest): FakeAnswer;
  /** Told of every exchange (for contract checks). */
  observe?(operation: string, request: FakeRequest, answer: FakeAnswer): void;
}

/** A running fake. */
export interface RunningFakeHttp {
  readonly url: string;
  readonly requests: FakeLogEntry[];
  fail(fault: FakeFault): void;
  /** Let held calls go on, and drop hold faults no call has met. */
  release(): void;
  /** Resolves once a call is held. */
  held(timeoutMs?: number): Promise<void>;
  /** Resolves once no request is being handled. */
  idle(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

interface PlannedFault extends FakeFault {
  times: number;
  skip: number;
}

function compile(pattern: string): (path: string) => Record<string, string> | undefined {
  const names: string[] = [];
  const source = pattern.replace(/\{([a-z_]+)(\+?)\}/gi, (_, name: string, rest: string) => {
    names.push(name);
    return rest ? "(.+?)" : "([^/]+)";
  });
  const re = new RegExp(`^${source}$`);
  return (path) => {
    const m = re.exec(path);
    if (!m) return undefined;
    return Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(m[i + 1] ?? "")]));
  };
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  if (text === "") return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function send(res: ServerResponse, answer: FakeAnswer, contentType: string): void {
  const body = answer.body === undefined ? "" : JSON.stringify(answer.body);
  res.writeHead(answer.status, {
    ...(answer.body === undefined ? {} : { "Content-Type": contentType }),
    ...answer.headers,
  });
  res.end(body);
}

/** Start a fake on 127.0.0.1, port 0. */
export async function startFakeHttp(
  options: FakeHttpOptions & { readonly contentType?: string },
): Promise<RunningFakeHttp> {
  const routes = options.routes.map((r) => ({ ...r, match: compile(`${options.prefix ?? ""}${r.pattern}`) }));
  const requests: FakeLogEntry[] = [];
  const faults: PlannedFault[] = [];
  const holds = createHolds();
  const contentType = options.contentType ?? "application/json; charset=utf-8";
  let inFlight = 0;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://fake");
    const body = await readBody(req);
    const method = req.method ?? "GET";
    let route: (typeof routes)[number] | undefined;
    let params: Record<string, string> | undefined;
    for (const r of routes) {
      if (r.method !== method) continue;
      params = r.match(url.pathname);
      if (params) {
        route = r;
        break;
      }
    }
    const request: FakeRequest = {
      method,
      path: url.pathname,
      params: params ?? {},
      query: url.searchParams,
      headers: req.headers,
      body,
    };
    const operation = route?.operation ?? "unknown";
    let answer: FakeAnswer | undefined;
    let status = 0;
    try {
      if (!route) {
        answer = options.notFound(request);
        return;
      }
      answer = options.authorize(request, operation);
      if (answer) return;
      const fault = faults.find((f) => f.operation === operation && f.times > 0);
      if (fault && fault.skip > 0) fault.skip -= 1;
      else if (fault) {
        fault.times -= 1;
        if (fault.hold && !(await holds.hold(res))) return; // dropped unprocessed
        if (fault.holdAfter) {
          const done = await route.handle(request);
          if (!(await holds.hold(res))) return; // carried out, the answer never sent
          answer = done;
          return;
        }
        if (fault.status !== undefined) {
          answer = {
            status: fault.status,
            ...(fault.body === undefined ? {} : { body: fault.body }),
            ...(fault.headers ? { headers: fault.headers } : {}),
          };
          return;
        }
      }
      answer = await route.handle(request);
    } finally {
      if (answer) {
        status = answer.status;
        options.observe?.(operation, request, answer);
        if (!res.destroyed) send(res, answer, contentType);
      } else if (!res.headersSent) res.destroy();
      requests.push({ operation, method, path: url.pathname, status, body });
    }
  };

  const server = createServer((req, res) => {
    inFlight += 1;
    handle(req, res)
      .catch((error: unknown) => {
        if (!res.headersSent) {
          res.writeHead(500, { "Content-Type": "application/json" });
          res.end(JSON.stringify({ message: String(error) }));
        }
      })
      .finally(() => (inFlight -= 1));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    fail: (fault) => faults.push({ ...fault, times: fault.times ?? 1, skip: fault.skip ?? 0 }),
    release() {
      for (let i = faults.length - 1; i >= 0; i--) {
        if (faults[i]!.hold || faults[i]!.holdAfter) faults.splice(i, 1);
      }
      holds.release();
    },
    async held(timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      while (holds.holding === 0) {
        if (Date.now() > deadline) throw new Error("no call reached a held fault");
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    },
    async idle(timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      while (inFlight > 0) {
        if (Date.now() > deadline) throw new Error(`the fake still handles ${inFlight} request(s)`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        holds.release();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
