/**
 * What the HCP Terraform adapters (the `hcp-terraform` store, the `hcp-terraform-run` verifier)
 * share: one JSON:API client over the injected fetch (bearer token from the environment, read on
 * first use; redirects never followed; 429 waited out by Retry-After or X-RateLimit-Reset), and
 * HCP Terraform's error documents turned into one line with a fix.
 */
import { isRedirect, isSecureOrLoopback, readTextCapped, redirectHost } from "../../util/http.ts";
import { redact, registerSecret } from "../../util/redact.ts";
import { USER_AGENT } from "../../version.ts";
import { AdapterSetupError, resolveDeps, type AdapterDeps } from "./deps.ts";

/** A request to HCP Terraform failed; `status` is its HTTP status (0 when no answer came). */
export class TerraformError extends Error {
  override readonly name: string = "TerraformError";
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** One JSON:API resource. */
export interface Resource {
  readonly id: string;
  readonly type: string;
  readonly attributes: Record<string, unknown>;
}

/** An answer: status and document. */
export interface TerraformAnswer {
  readonly status: number;
  readonly document: { data?: unknown; meta?: unknown; errors?: unknown } | undefined;
}

/** The client. */
export interface TerraformApi {
  /** Sends one request; answers of any status come back, 429 is waited out (three times at most). */
  request(method: string, path: string, body?: unknown): Promise<TerraformAnswer>;
  /** One line for an answer that is not what was wanted. */
  failure(what: string, answer: TerraformAnswer): TerraformError;
  readonly address: string;
}

/** A client for `address` with the token in `tokenEnv`; `who` names the adapter in messages. */
export function terraformApi(
  access: { readonly address: string; readonly tokenEnv: string },
  deps: AdapterDeps,
  who: string,
  need: string,
): TerraformApi {
  const { fetch: fetchImpl, clock, env } = resolveDeps(deps);
  const address = access.address.replace(/\/+$/, "");
  const host = new URL(address).host;
  let token: string | undefined;

  const bearer = (): string => {
    if (token !== undefined) return token;
    const value = env[access.tokenEnv]?.trim() ?? "";
    if (value === "") {
      throw new AdapterSetupError(
        `${who}: ${access.tokenEnv} is not set; set it to an HCP Terraform team token (docs/permissions.md)`,
      );
    }
    if (!isSecureOrLoopback(address)) {
      throw new AdapterSetupError(
        `${who}: plain http to ${host} would send the token unencrypted; use https://`,
      );
    }
    registerSecret(value);
    token = value;
    return value;
  };

  const once = async (
    method: string,
    path: string,
    body: unknown,
  ): Promise<TerraformAnswer & { wait?: number }> => {
    const url = new URL(`${address}/api/v2${path}`);
    const timeout = AbortSignal.timeout(30_000);
    let response: Response;
    try {
      response = await fetchImpl(url, {
        method,
        headers: {
          Authorization: `Bearer ${bearer()}`,
          Accept: "application/vnd.api+json",
          "User-Agent": USER_AGENT,
          ...(body === undefined ? {} : { "Content-Type": "application/vnd.api+json" }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        redirect: "manual",
        signal: deps.signal ? AbortSignal.any([deps.signal, timeout]) : timeout,
      });
    } catch (error) {
      if (error instanceof AdapterSetupError) throw error;
      throw new TerraformError(
        `${method} ${url.pathname} (${who}) failed: ${redact(error instanceof Error ? error.message : String(error))}; check address and the network`,
        0,
      );
    }
    if (isRedirect(response.status)) {
      await response.body?.cancel().catch(() => undefined);
      throw new TerraformError(
        `${method} ${url.pathname} (${who}) answered HTTP ${response.status} redirecting to ${redirectHost(response.headers.get("location"), url)}; redirects are not followed, so the token stays with ${host}: set address to the API's own address`,
        response.status,
      );
    }
    const text = await readTextCapped(response, 8 * 1024 * 1024);
    let document: TerraformAnswer["document"];
    try {
      document = text === "" ? undefined : (JSON.parse(text) as TerraformAnswer["document"]);
    } catch {
      document = undefined;
    }
    let wait: number | undefined;
    if (response.status === 429) {
      const retryAfter = Number(response.headers.get("retry-after"));
      const reset = Number(response.headers.get("x-ratelimit-reset"));
      wait =
        Number.isFinite(retryAfter) && retryAfter > 0
          ? retryAfter * 1000
          : Number.isFinite(reset) && reset > 0
            ? reset * 1000
            : 1000;
    }
    return { status: response.status, document, ...(wait === undefined ? {} : { wait }) };
  };

  return {
    address,
    async request(method, path, body) {
      for (let attempt = 0; ; attempt++) {
        const answer = await once(method, path, body);
        if (answer.wait === undefined || attempt >= 3) return answer;
        await clock.sleep(Math.min(answer.wait, 60_000), deps.signal);
      }
    },
    failure(what, answer) {
      const errors = Array.isArray(answer.document?.errors) ? (answer.document.errors as unknown[]) : [];
      const said = errors
        .map((e) => {
          if (typeof e === "string") return e;
          const { title, detail } = (e ?? {}) as { title?: unknown; detail?: unknown };
          return [title, detail].filter((x) => typeof x === "string" && x !== "").join(": ");
        })
        .filter((x) => x !== "")
        .join("; ");
      const fix =
        answer.status === 401
          ? `the token in ${access.tokenEnv} is invalid or expired: make a new team token and set ${access.tokenEnv}`
          : answer.status === 403
            ? `the token's team lacks permission: it needs ${need}`
            : answer.status === 404
              ? `not found, or the token cannot see it (HCP Terraform answers 404 for both): check the names, and that the team has ${need}`
              : answer.status === 422
                ? "HCP Terraform refused the request as invalid"
                : answer.status === 429
                  ? "HCP Terraform's rate limit was hit; try again in a minute"
                  : answer.status >= 500
                    ? "HCP Terraform failed; try again later"
                    : "see HCP Terraform's message";
      const line = redact(said).replace(/\s+/g, " ").trim().slice(0, 300) || `HTTP ${answer.status}`;
      return new TerraformError(
        `${what} (${who}) failed: HTTP ${answer.status}: ${line}; ${fix}`,
        answer.status,
      );
    },
  };
}

/** The JSON:API resources of a document's `data` (one or a list). */
export function resources(answer: TerraformAnswer): Resource[] {
  const data = answer.document?.data;
  const list = Array.isArray(data) ? data : data === undefined || data === null ? [] : [data];
  return list.filter(
    (r): r is Resource =>
      typeof r === "object" &&
      r !== null &&
      typeof (r as Resource).id === "string" &&
      typeof (r as Resource).attributes === "object",
  );
}

/** The next page number from JSON:API pagination `meta`, if any. */
export function nextPage(answer: TerraformAnswer): number | undefined {
  const pagination = (answer.document?.meta as { pagination?: { "next-page"?: unknown } } | undefined)
    ?.pagination;
  const next = pagination?.["next-page"];
  return typeof next === "number" ? next : undefined;
}
