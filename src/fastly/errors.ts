import { redact } from "../util/redact.ts";

/** Why Fastly refused a request with 403, recognised once here so callers switch on a field. */
export type ForbiddenReason =
  "sudo-required" | "superuser-required" | "mfa-or-sso" | "read-only" | "wrong-password" | "other";

/** What every Fastly API error carries. */
export interface FastlyErrorInit {
  readonly status: number;
  readonly method: string;
  readonly path: string;
  /** The API's `msg` / `title`. */
  readonly apiMessage?: string | undefined;
  /** The API's `detail`. */
  readonly apiDetail?: string | undefined;
  /** Secrets known to the caller (the token in use, a password) that must not appear in the message. */
  readonly secrets?: readonly (string | undefined)[];
  readonly cause?: unknown;
}

/**
 * Base of every error the client throws. The message names the method and path, what the API said,
 * and what to do; secrets are removed when the error is built, so no later log line can leak them.
 */
export class FastlyApiError extends Error {
  override readonly name: string = "FastlyApiError";
  readonly status: number;
  readonly method: string;
  readonly path: string;
  readonly apiMessage: string | undefined;
  readonly apiDetail: string | undefined;

  constructor(init: FastlyErrorInit, summary: string, advice?: string) {
    const secrets = init.secrets ?? [];
    // Without its closing full stop: "(… not correct.). Advice" read badly.
    const said = [init.apiMessage, init.apiDetail]
      .filter((s) => s !== undefined && s !== "")
      .join(": ")
      .replace(/\.+$/, "");
    const text = `${init.method} ${stripQuery(init.path)}: ${summary}${said ? ` (${said})` : ""}${advice ? `. ${advice}` : ""}`;
    super(redact(text, secrets), init.cause === undefined ? undefined : { cause: init.cause });
    this.status = init.status;
    this.method = init.method;
    this.path = redact(stripQuery(init.path), secrets);
    this.apiMessage = init.apiMessage === undefined ? undefined : redact(init.apiMessage, secrets);
    this.apiDetail = init.apiDetail === undefined ? undefined : redact(init.apiDetail, secrets);
  }
}

/** 401: the token is missing, unknown, revoked or expired. */
export class FastlyAuthError extends FastlyApiError {
  override readonly name = "FastlyAuthError";
  /** True when the API said the token expired. */
  readonly expired: boolean;
  constructor(init: FastlyErrorInit) {
    const expired = /expired/i.test(init.apiMessage ?? "");
    super(
      init,
      expired ? "the token has expired" : "the token was refused",
      "Check FASTLY_API_TOKEN (or the deployed token) and create a new one if it was revoked or expired",
    );
    this.expired = expired;
  }
}

/** 403: authenticated, but not allowed. `reason` tells the cases apart. */
export class FastlyForbiddenError extends FastlyApiError {
  override readonly name = "FastlyForbiddenError";
  readonly reason: ForbiddenReason;
  constructor(init: FastlyErrorInit) {
    const reason = forbiddenReason(init.apiMessage, init.apiDetail, init.path);
    super(init, "forbidden", FORBIDDEN_ADVICE[reason]);
    this.reason = reason;
  }
}

/** What to do about each kind of 403, for error messages and run results. */
export const FORBIDDEN_ADVICE: Readonly<Record<ForbiddenReason, string>> = {
  "sudo-required": "Sudo mode is needed: supply the password (FASTLY_SUDO_PASSWORD or --password-stdin)",
  "superuser-required": "Use the user token of a superuser (automation tokens cannot create tokens)",
  "mfa-or-sso":
    "Fastly refuses automation token creation for accounts with forced SSO or MFA; ask an account admin",
  "read-only": "This token's scope does not allow writes; use a token with the global scope",
  "wrong-password":
    "The sudo password is not correct for the user that owns FASTLY_API_TOKEN; supply that user's password (prompt, --password-stdin or FASTLY_SUDO_PASSWORD) and run again",
  other: "The token lacks the permission; check its role, scope and services",
};

/** Recognise the 403 cases from what Fastly says; Fastly sends no machine-readable code for them. */
function forbiddenReason(message = "", detail = "", path = ""): ForbiddenReason {
  const text = `${message} ${detail}`;
  if (/POST \/sudo|sudo mode/i.test(text)) return "sudo-required";
  if (/username\/password|password.*(not correct|incorrect|invalid)/i.test(text)) return "wrong-password";
  if (path.startsWith("/sudo")) return "wrong-password";
  if (/\b(SSO|MFA|two.factor|2fa)\b/i.test(text)) return "mfa-or-sso";
  if (/superuser|automation tokens? cannot|user token/i.test(text)) return "superuser-required";
  if (/read.only|global:read|scope/i.test(text)) return "read-only";
  return "other";
}

/** 404. */
export class FastlyNotFoundError extends FastlyApiError {
  override readonly name = "FastlyNotFoundError";
  constructor(init: FastlyErrorInit) {
    super(init, "not found");
  }
}

/** 429: the hourly limit of non-read requests is spent. */
export class FastlyRateLimitError extends FastlyApiError {
  override readonly name = "FastlyRateLimitError";
  /** When the window resets, from `Fastly-RateLimit-Reset`. */
  readonly resetAt: Date | undefined;
  constructor(init: FastlyErrorInit & { resetAt?: Date | undefined }) {
    super(
      init,
      "rate limited (1,000 non-read requests per user per hour)",
      init.resetAt ? `Try again after ${init.resetAt.toISOString()}` : "Try again after the top of the hour",
    );
    this.resetAt = init.resetAt;
  }
}

/** 5xx after the retries. */
export class FastlyServerError extends FastlyApiError {
  override readonly name = "FastlyServerError";
  constructor(init: FastlyErrorInit) {
    super(init, `the Fastly API failed with ${init.status}`, "Fastly had a problem; try again later");
  }
}

/** The request never got an HTTP answer (connection refused, reset, timeout), after the retries. */
export class FastlyNetworkError extends FastlyApiError {
  override readonly name = "FastlyNetworkError";
  constructor(init: Omit<FastlyErrorInit, "status"> & { reason: string }) {
    super({ ...init, status: 0 }, `no answer from the Fastly API (${init.reason})`, "Check the network");
  }
}

/** The codes of a TLS handshake that failed because the server's certificate was not trusted. */
export const UNTRUSTED_CERTIFICATE_CODES: ReadonlySet<string> = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_UNTRUSTED",
  "CERT_REVOKED",
  "CERT_SIGNATURE_FAILURE",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/**
 * The server's certificate was not trusted: an intercepting proxy, a private CA, or an attacker.
 * Not retried: the next attempt meets the same certificate.
 */
export class FastlyTlsError extends FastlyApiError {
  override readonly name = "FastlyTlsError";
  /** The TLS error code, e.g. SELF_SIGNED_CERT_IN_CHAIN. */
  readonly code: string;
  constructor(init: Omit<FastlyErrorInit, "status"> & { code: string; host: string }) {
    super(
      { ...init, status: 0 },
      `the certificate of ${init.host} is not trusted (${init.code})`,
      "If a proxy or a private CA of your network signs it, give that CA's certificate with NODE_EXTRA_CA_CERTS=/path/to/ca.pem; otherwise the connection may be intercepted: do not send credentials through it",
    );
    this.code = init.code;
  }
}

/** The endpoint's name says loopback but resolves elsewhere: refused before connecting. */
export class FastlyNotLoopbackError extends FastlyApiError {
  override readonly name = "FastlyNotLoopbackError";
  constructor(init: Omit<FastlyErrorInit, "status"> & { reason: string }) {
    super({ ...init, status: 0 }, `refused to connect: ${init.reason}`);
  }
}

/**
 * A write that may or may not have happened: the request was sent and then the answer was lost.
 * It is never repeated blindly; the caller must look for its effect (for a create: list tokens by name).
 */
export class FastlyUnknownOutcomeError extends FastlyApiError {
  override readonly name = "FastlyUnknownOutcomeError";
  constructor(init: FastlyErrorInit & { reason: string }) {
    super(
      init,
      `the outcome is unknown (${init.reason})`,
      "The request may have taken effect; look for its result before trying again",
    );
  }
}

/**
 * A 3xx: never followed, because the redirect would carry `Fastly-Key` (and a password or a new
 * token's value) to whatever host the Location names.
 */
export class FastlyRedirectError extends FastlyApiError {
  override readonly name = "FastlyRedirectError";
  /** The host (and port) the Location header names; never its path or query. */
  readonly locationHost: string;
  constructor(init: FastlyErrorInit & { locationHost: string }) {
    super(
      init,
      `the API answered ${init.status}, redirecting to ${init.locationHost}; ftr does not follow redirects (they would carry the credentials to that host)`,
      "Check FASTLY_API_ENDPOINT or fastly.endpoint: it must name the API itself",
    );
    this.locationHost = init.locationHost;
  }
}

/** A 2xx whose body is not what the API documents. */
export class FastlyResponseError extends FastlyApiError {
  override readonly name = "FastlyResponseError";
  constructor(init: FastlyErrorInit & { problem: string }) {
    super(init, `unexpected response from the Fastly API: ${init.problem}`);
  }
}

/** Any other 4xx. */
export class FastlyRequestError extends FastlyApiError {
  override readonly name = "FastlyRequestError";
  constructor(init: FastlyErrorInit) {
    super(init, `the Fastly API refused the request with ${init.status}`);
  }
}

/** Query strings can hold values that should not be shown; paths in messages never carry them. */
function stripQuery(path: string): string {
  const at = path.indexOf("?");
  return at === -1 ? path : path.slice(0, at);
}

/** Build the right error class for an HTTP status. */
export function errorForStatus(init: FastlyErrorInit & { resetAt?: Date | undefined }): FastlyApiError {
  if (init.status === 401) return new FastlyAuthError(init);
  if (init.status === 403) return new FastlyForbiddenError(init);
  if (init.status === 404) return new FastlyNotFoundError(init);
  if (init.status === 429) return new FastlyRateLimitError(init);
  if (init.status >= 500) return new FastlyServerError(init);
  return new FastlyRequestError(init);
}
