/**
 * What the GitHub adapters (the `github-actions` store, the `github-workflow` verifier) share: the
 * config fields naming the API and its token, an Octokit client that never follows a redirect, and
 * one line for each of GitHub's refusals. Loaded only by their `index.ts` (it imports Octokit).
 */
import { Octokit } from "@octokit/rest";
import { redact, registerSecret } from "../../util/redact.ts";
import { isSecureOrLoopback, redirectHost } from "../../util/http.ts";
import { USER_AGENT } from "../../version.ts";
import { AdapterSetupError, resolveDeps, type AdapterDeps } from "./deps.ts";

/** What a GitHub adapter is told about the API. */
export interface GitHubAccess {
  /** Environment variable holding the token. */
  readonly tokenEnv: string;
  /** REST API base URL (`https://api.github.com`, or a GitHub Enterprise Server's `/api/v3`). */
  readonly apiUrl: string;
}

/** A request to GitHub failed; `status` is GitHub's HTTP status (0 when no answer came). */
export class GitHubError extends Error {
  override readonly name: string = "GitHubError";
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/**
 * An Octokit for `access`, made on first use (so a missing token fails the call that needs it,
 * not the reading of a config). Redirects are never followed: the token would go with them.
 */
export function githubClient(access: GitHubAccess, deps: AdapterDeps, who: string): () => Octokit {
  const { fetch: fetchImpl, env } = resolveDeps(deps);
  let client: Octokit | undefined;
  return () => {
    if (client) return client;
    const token = env[access.tokenEnv]?.trim() ?? "";
    if (token === "") {
      throw new AdapterSetupError(
        `${who}: ${access.tokenEnv} is not set; set it to a GitHub token allowed to do this (docs/permissions.md)`,
      );
    }
    registerSecret(token);
    if (!isSecureOrLoopback(access.apiUrl)) {
      throw new AdapterSetupError(
        `${who}: plain http to ${new URL(access.apiUrl).host} would send the token unencrypted; use https://`,
      );
    }
    const noRedirects: typeof fetch = async (input, init) => {
      const response = await fetchImpl(input, {
        ...init,
        redirect: "manual",
        ...(deps.signal
          ? { signal: init?.signal ? AbortSignal.any([init.signal, deps.signal]) : deps.signal }
          : {}),
      });
      if (response.status >= 300 && response.status < 400 && response.status !== 304) {
        await response.body?.cancel().catch(() => undefined);
        throw new GitHubError(
          `GitHub answered HTTP ${response.status} redirecting to ${redirectHost(response.headers.get("location"), String(input instanceof Request ? input.url : input))}; redirects are not followed, so the token stays with ${new URL(access.apiUrl).host}: set apiUrl to the API's own address`,
          response.status,
        );
      }
      return response;
    };
    client = new Octokit({
      auth: token,
      baseUrl: access.apiUrl.replace(/\/+$/, ""),
      userAgent: USER_AGENT,
      request: { fetch: noRedirects, timeout: 30_000 },
      log: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
    });
    return client;
  };
}

/** GitHub's HTTP status of an Octokit failure (0 for a network failure). */
export function githubStatus(error: unknown): number {
  if (error instanceof GitHubError) return error.status;
  const status = (error as { status?: unknown } | null)?.status;
  return typeof status === "number" ? status : 0;
}

/**
 * One line for a failed GitHub call: `what` was being done, what GitHub said, what to do. `need`
 * names the permission the call needs, for a 403/404.
 */
export function explainGitHub(what: string, error: unknown, tokenEnv: string, need: string): GitHubError {
  if (error instanceof GitHubError) return error;
  const status = githubStatus(error);
  const response = (error as { response?: { data?: unknown; headers?: Record<string, string> } } | null)
    ?.response;
  const data = response?.data as { message?: unknown } | undefined;
  const said =
    typeof data?.message === "string" ? data.message : error instanceof Error ? error.message : String(error);
  const headers = response?.headers ?? {};
  const reset = headers["x-ratelimit-reset"];
  const retryAfter = headers["retry-after"];
  let fix: string;
  if (status === 401)
    fix = `the token in ${tokenEnv} is invalid or expired: make a new one and set ${tokenEnv}`;
  else if (
    (status === 403 || status === 429) &&
    (retryAfter !== undefined || headers["x-ratelimit-remaining"] === "0")
  )
    fix = `GitHub's rate limit was hit; try again ${retryAfter !== undefined ? `in ${retryAfter} s` : reset ? `after ${new Date(Number(reset) * 1000).toISOString()}` : "later"}`;
  else if (status === 403) fix = `the token in ${tokenEnv} lacks permission: it needs ${need}`;
  else if (status === 404)
    fix = `not found, or the token in ${tokenEnv} cannot see it: check the names, and that the token has ${need}`;
  else if (status === 422) fix = "GitHub refused the request as invalid";
  else if (status === 0) fix = "GitHub could not be reached; check apiUrl and the network";
  else if (status >= 500) fix = "GitHub failed; try again later";
  else fix = "see GitHub's message";
  const oneLine = redact(said).replace(/\s+/g, " ").trim().slice(0, 300);
  return new GitHubError(`${what} failed: ${status ? `HTTP ${status}: ` : ""}${oneLine}; ${fix}`, status);
}
