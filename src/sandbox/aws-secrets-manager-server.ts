/**
 * A local server speaking AWS Secrets Manager's wire protocol (AWS JSON 1.1: `POST /` with
 * `X-Amz-Target: secretsmanager.<Operation>`), built from the API reference, so the real
 * `@aws-sdk/client-secrets-manager` can be driven against it. It keeps versions and staging labels
 * as the service does: one version per label, `AWSPREVIOUS` following `AWSCURRENT` (and, as in moto,
 * `AWSPENDING` leaving the version `UpdateSecretVersionStage` makes current), a
 * `ClientRequestToken` that makes `PutSecretValue` idempotent, unlabelled versions deprecated (not
 * listed by `DescribeSecret` or by `ListSecretVersionIds` without `IncludeDeprecated`, still
 * readable by id). Requests must be SigV4-signed by a known access key.
 *
 * The request log keeps each request's input as sent, `SecretString` included, as AWS itself
 * receives it: tests search it to prove a value reached AWS. It is never searched for leaks; the
 * rotator's own output and journal are.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createHolds } from "./holds.ts";

export const AWS_TEST_CREDENTIALS = {
  accessKeyId: "AKIAFTRTESTEXAMPLE01",
  secretAccessKey: "ftr-test-secret-access-key-0123456789abcd",
} as const;

export const AWS_TEST_REGION = "eu-west-2";
const ACCOUNT = "123456789012";

interface Version {
  readonly id: string;
  readonly text: string;
  readonly created: number;
  readonly stages: Set<string>;
}

interface Secret {
  readonly name: string;
  readonly arn: string;
  readonly created: number;
  lastChanged: number;
  readonly versions: Map<string, Version>;
}

/** One request, as logged: its input as sent, secret strings included. */
export interface AwsRequestLogEntry {
  readonly operation: string;
  readonly secretId: string | undefined;
  readonly accessKeyId: string | undefined;
  readonly status: number;
  /** The request's JSON body, parsed (empty when it was not JSON). */
  readonly input: Readonly<Record<string, unknown>>;
}

/**
 * A planned failure: the next `times` calls of `operation` wait `delayMs`, then answer `code` with
 * `status` (or normally, without `code`).
 */
export interface AwsFault {
  readonly operation: string;
  readonly code?: string;
  readonly delayMs?: number;
  /**
   * Hold the call, unprocessed, until {@link RunningAwsSecretsManager.release} (after any delay). If
   * the caller's connection dies meanwhile (a killed client), the call is dropped without effect.
   */
  readonly hold?: boolean;
  /**
   * Carry the operation out, then hold the answer until {@link RunningAwsSecretsManager.release} or
   * until the caller's connection dies: the effect happened, the caller may never learn it.
   */
  readonly holdAfter?: boolean;
  /** Echo the request's SecretString in the error message (a careless service). */
  readonly echo?: boolean;
  /** Let this many matching calls through first. */
  readonly skip?: number;
  /** Carry the operation out, then drop the connection without answering. */
  readonly afterApply?: boolean;
  /**
   * Answer 200 with a body of {@link OVERSIZED_BODY_BYTES}: `declared` in its Content-Length, or
   * `chunked` without one. Writing stops as soon as the caller goes away.
   */
  readonly oversized?: "declared" | "chunked";
  readonly status?: number;
  readonly times?: number;
  readonly message?: string;
}

/** The size of an `oversized` answer: far past any cap, small enough for a test without one. */
export const OVERSIZED_BODY_BYTES = 64 * 1024 * 1024;

/** What one `oversized` answer wrote before it ended or its caller went away. */
export interface OversizedAnswer {
  /** Bytes of body written. */
  readonly written: number;
  /** True when the whole body was written; false when the caller hung up first. */
  readonly finished: boolean;
}

export interface RunningAwsSecretsManager {
  readonly url: string;
  readonly requests: AwsRequestLogEntry[];
  /** One entry per `oversized` answer, once it has ended. */
  readonly oversizedAnswers: OversizedAnswer[];
  /** Create a secret, optionally with a current value. */
  createSecret(name: string, text?: string): void;
  /** Version id → labels, for labelled versions (what DescribeSecret shows). */
  labels(name: string): Record<string, string[]>;
  /** The string of the version carrying `stage` (default AWSCURRENT). */
  valueAt(name: string, stage?: string): string | undefined;
  /** Every version's string, labelled or not. */
  allValues(name: string): string[];
  fail(fault: AwsFault): void;
  /** Let every call held by a `hold` fault go on, and drop `hold` faults no call has met yet. */
  release(): void;
  /**
   * Resolves once a call is held by a `hold` or `holdAfter` fault (it reached the service); rejects
   * after `timeoutMs`, a bound on a hang.
   */
  held(timeoutMs?: number): Promise<void>;
  /** Resolves once no request is being handled (one held by a fault's delay included). */
  idle(timeoutMs?: number): Promise<void>;
  /** Refuse every call of `operation` with AccessDeniedException, or allow it again. */
  deny(operation: string, denied?: boolean): void;
  close(): Promise<void>;
}

class AwsError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const seconds = (ms: number): number => ms / 1000;

/** Filler for `oversized` answers: the inside of a JSON string, in writes of 64 KiB. */
const FILLER = Buffer.alloc(64 * 1024, "oversized-answer-");

/**
 * Writes an answer of OVERSIZED_BODY_BYTES (`{"SecretString":"…"}`, valid JSON), with or without a
 * Content-Length, following back-pressure; resolves when it is written or the caller has gone.
 */
function writeOversized(res: ServerResponse, declared: boolean): Promise<OversizedAnswer> {
  const head = Buffer.from('{"SecretString":"');
  const tail = Buffer.from('"}');
  res.writeHead(200, {
    "content-type": "application/x-amz-json-1.1",
    "x-amzn-requestid": randomBytes(16).toString("hex"),
    ...(declared ? { "content-length": OVERSIZED_BODY_BYTES } : {}),
  });
  let written = 0;
  const write = (chunk: Buffer): boolean => {
    written += chunk.byteLength;
    return res.write(chunk);
  };
  return new Promise((resolve) => {
    res.once("close", () => {
      res.removeAllListeners("drain");
      resolve({ written, finished: res.writableFinished });
    });
    const more = (): void => {
      while (!res.destroyed) {
        const left = OVERSIZED_BODY_BYTES - tail.byteLength - written;
        if (left <= 0) {
          written += tail.byteLength;
          res.end(tail);
          return;
        }
        if (!write(left >= FILLER.byteLength ? FILLER : FILLER.subarray(0, left))) {
          res.once("drain", more);
          return;
        }
      }
    };
    write(head);
    more();
  });
}

/** Starts the server on 127.0.0.1, port `port` (default 0: any free port). */
export async function startAwsSecretsManager(
  options: { readonly port?: number } = {},
): Promise<RunningAwsSecretsManager> {
  const secrets = new Map<string, Secret>();
  const requests: AwsRequestLogEntry[] = [];
  const oversizedAnswers: OversizedAnswer[] = [];
  // Every field of a fault filled in, but `oversized`, which has no "none" value.
  const faults: ({ -readonly [K in Exclude<keyof AwsFault, "oversized">]-?: AwsFault[K] & {} } & Pick<
    AwsFault,
    "oversized"
  >)[] = [];
  const denied = new Set<string>();
  let inFlight = 0;
  // Calls held by a `hold` or `holdAfter` fault, until release() or their connection closes.
  const holds = createHolds();

  const find = (secretId: unknown): Secret => {
    if (typeof secretId !== "string" || secretId === "") {
      throw new AwsError("InvalidParameterException", "You must provide a value for SecretId.");
    }
    for (const secret of secrets.values()) {
      // A partial ARN (without the six-character suffix) names the secret too.
      if (secret.name === secretId || secret.arn === secretId || secret.arn.startsWith(`${secretId}-`)) {
        return secret;
      }
    }
    throw new AwsError("ResourceNotFoundException", "Secrets Manager can't find the specified secret.");
  };

  const holder = (secret: Secret, stage: string): Version | undefined =>
    [...secret.versions.values()].find((v) => v.stages.has(stage));

  /** Attach `stage` to `version` alone; moving AWSCURRENT drags AWSPREVIOUS to the old current. */
  const attach = (secret: Secret, stage: string, version: Version): void => {
    const old = holder(secret, stage);
    if (old === version) return;
    old?.stages.delete(stage);
    version.stages.add(stage);
    if (stage === "AWSCURRENT" && old) {
      holder(secret, "AWSPREVIOUS")?.stages.delete("AWSPREVIOUS");
      old.stages.add("AWSPREVIOUS");
    }
  };

  const checkToken = (token: unknown): string => {
    if (token === undefined) return randomBytes(16).toString("hex");
    if (typeof token !== "string" || token.length < 32 || token.length > 64) {
      throw new AwsError(
        "ValidationException",
        "1 validation error detected: Value at 'clientRequestToken' failed to satisfy constraint: Member must have length between 32 and 64",
      );
    }
    return token;
  };

  const addVersion = (secret: Secret, id: string, text: string, stages: readonly string[]): Version => {
    const version: Version = { id, text, created: Date.now(), stages: new Set() };
    secret.versions.set(id, version);
    for (const stage of stages) attach(secret, stage, version);
    secret.lastChanged = Date.now();
    return version;
  };

  const describe = (secret: Secret): Record<string, unknown> => ({
    ARN: secret.arn,
    Name: secret.name,
    CreatedDate: seconds(secret.created),
    LastChangedDate: seconds(secret.lastChanged),
    VersionIdsToStages: Object.fromEntries(
      [...secret.versions.values()].filter((v) => v.stages.size > 0).map((v) => [v.id, [...v.stages]]),
    ),
  });

  const createSecret = (name: string, text?: string, token?: string): Secret => {
    if ([...secrets.values()].some((s) => s.name === name)) {
      throw new AwsError(
        "ResourceExistsException",
        `The operation failed because the secret ${name} already exists.`,
      );
    }
    const arn = `arn:aws:secretsmanager:${AWS_TEST_REGION}:${ACCOUNT}:secret:${name}-${randomBytes(3).toString("hex")}`;
    const secret: Secret = { name, arn, created: Date.now(), lastChanged: Date.now(), versions: new Map() };
    secrets.set(name, secret);
    if (text !== undefined) addVersion(secret, checkToken(token), text, ["AWSCURRENT"]);
    return secret;
  };

  const operations: Record<string, (input: Record<string, unknown>) => Record<string, unknown>> = {
    CreateSecret(input) {
      const name = input.Name;
      if (typeof name !== "string") throw new AwsError("InvalidParameterException", "Name is required.");
      const secret = createSecret(
        name,
        typeof input.SecretString === "string" ? input.SecretString : undefined,
        input.ClientRequestToken as string | undefined,
      );
      const current = holder(secret, "AWSCURRENT");
      return { ARN: secret.arn, Name: secret.name, ...(current ? { VersionId: current.id } : {}) };
    },

    DescribeSecret(input) {
      return describe(find(input.SecretId));
    },

    ListSecretVersionIds(input) {
      const secret = find(input.SecretId);
      // As AWS: unlabelled (deprecated) versions only when asked for. One page: tests keep few.
      const versions = [...secret.versions.values()].filter(
        (v) => v.stages.size > 0 || input.IncludeDeprecated === true,
      );
      return {
        ARN: secret.arn,
        Name: secret.name,
        Versions: versions.map((v) => ({
          VersionId: v.id,
          VersionStages: [...v.stages],
          CreatedDate: seconds(v.created),
        })),
      };
    },

    GetSecretValue(input) {
      const secret = find(input.SecretId);
      const { VersionId: id, VersionStage: stage } = input;
      let version: Version | undefined;
      if (typeof id === "string") {
        version = secret.versions.get(id);
        if (version && typeof stage === "string" && !version.stages.has(stage)) version = undefined;
      } else {
        version = holder(secret, typeof stage === "string" ? stage : "AWSCURRENT");
      }
      if (!version) {
        throw new AwsError(
          "ResourceNotFoundException",
          typeof id === "string"
            ? `Secrets Manager can't find the specified secret value for VersionId: ${id}`
            : `Secrets Manager can't find the specified secret value for staging label: ${typeof stage === "string" ? stage : "AWSCURRENT"}`,
        );
      }
      return {
        ARN: secret.arn,
        Name: secret.name,
        VersionId: version.id,
        SecretString: version.text,
        VersionStages: [...version.stages],
        CreatedDate: seconds(version.created),
      };
    },

    PutSecretValue(input) {
      const secret = find(input.SecretId);
      const token = checkToken(input.ClientRequestToken);
      if (typeof input.SecretString !== "string") {
        throw new AwsError(
          "InvalidParameterException",
          "You must provide either SecretString or SecretBinary.",
        );
      }
      const stages = Array.isArray(input.VersionStages) ? (input.VersionStages as string[]) : ["AWSCURRENT"];
      const existing = secret.versions.get(token);
      if (existing) {
        if (existing.text !== input.SecretString) {
          throw new AwsError(
            "ResourceExistsException",
            "You can't modify an existing version, you can only create a new version.",
          );
        }
        return {
          ARN: secret.arn,
          Name: secret.name,
          VersionId: existing.id,
          VersionStages: [...existing.stages],
        };
      }
      const version = addVersion(secret, token, input.SecretString, stages);
      return {
        ARN: secret.arn,
        Name: secret.name,
        VersionId: version.id,
        VersionStages: [...version.stages],
      };
    },

    UpdateSecretVersionStage(input) {
      const secret = find(input.SecretId);
      const stage = input.VersionStage;
      if (typeof stage !== "string")
        throw new AwsError("InvalidParameterException", "VersionStage is required.");
      const to = input.MoveToVersionId;
      const from = input.RemoveFromVersionId;
      const current = holder(secret, stage);
      if (typeof from === "string" && current?.id !== from) {
        throw new AwsError(
          "InvalidParameterException",
          `The staging label ${stage} is not attached to version ${from}.`,
        );
      }
      if (typeof to === "string") {
        const target = secret.versions.get(to);
        if (!target) {
          throw new AwsError(
            "ResourceNotFoundException",
            `Secrets Manager can't find the specified secret version: ${to}`,
          );
        }
        if (current && current !== target && typeof from !== "string") {
          throw new AwsError(
            "InvalidParameterException",
            `The parameter RemoveFromVersionId can't be empty. Staging label ${stage} is currently attached to version ${current.id}, so you must explicitly reference that version in RemoveFromVersionId.`,
          );
        }
        attach(secret, stage, target);
        // As moto does, and as AWS's own rotation ends: the version made current is pending no more.
        if (stage === "AWSCURRENT") target.stages.delete("AWSPENDING");
      } else if (current) {
        if (stage === "AWSCURRENT") {
          throw new AwsError(
            "InvalidParameterException",
            "You can't remove the staging label AWSCURRENT from the only version it is on.",
          );
        }
        current.stages.delete(stage);
      }
      secret.lastChanged = Date.now();
      return { ARN: secret.arn, Name: secret.name };
    },
  };

  const respond = (
    res: ServerResponse,
    status: number,
    body: Record<string, unknown>,
    code?: string,
  ): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      "content-type": "application/x-amz-json-1.1",
      "content-length": Buffer.byteLength(text),
      "x-amzn-requestid": randomBytes(16).toString("hex"),
      ...(code ? { "x-amzn-errortype": `${code}:` } : {}),
    });
    res.end(text);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const target = String(req.headers["x-amz-target"] ?? "");
    const operation = target.startsWith("secretsmanager.") ? target.slice("secretsmanager.".length) : "";
    const credential = /Credential=([^/,\s]+)\//.exec(String(req.headers.authorization ?? ""))?.[1];
    let input: Record<string, unknown> = {};
    let status = 200;
    try {
      if (req.method !== "POST" || !operations[operation]) {
        throw new AwsError("UnknownOperationException", `Unknown operation ${target}`);
      }
      try {
        input = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as Record<string, unknown>;
      } catch {
        throw new AwsError("SerializationException", "Malformed request body");
      }
      if (!String(req.headers.authorization ?? "").startsWith("AWS4-HMAC-SHA256 ") || !credential) {
        throw new AwsError(
          "MissingAuthenticationTokenException",
          "Request is missing Authentication Token",
          400,
        );
      }
      if (credential !== AWS_TEST_CREDENTIALS.accessKeyId) {
        throw new AwsError(
          "UnrecognizedClientException",
          "The security token included in the request is invalid.",
        );
      }
      if (denied.has(operation)) {
        throw new AwsError(
          "AccessDeniedException",
          `User: arn:aws:iam::${ACCOUNT}:user/ftr is not authorized to perform: secretsmanager:${operation} because no identity-based policy allows the secretsmanager:${operation} action`,
        );
      }
      const fault = faults.find((f) => f.operation === operation && f.times > 0);
      if (fault && fault.skip > 0) {
        fault.skip -= 1;
      } else if (fault?.afterApply) {
        // Done, but the answer is lost: the caller cannot tell.
        fault.times -= 1;
        operations[operation](input);
        status = 0;
        res.destroy();
        return;
      } else if (fault) {
        fault.times -= 1;
        if (fault.echo && typeof input.SecretString === "string") {
          throw new AwsError(
            fault.code || "ValidationException",
            `Value '${input.SecretString}' at 'secretString' failed to satisfy constraint`,
          );
        }
        if (fault.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
        if (fault.hold && !(await holds.hold(res))) {
          status = 0; // the caller went away: dropped unprocessed
          return;
        }
        if (fault.holdAfter) {
          const output = operations[operation](input);
          if (!(await holds.hold(res))) {
            status = 0; // applied, the answer never sent
            return;
          }
          respond(res, 200, output);
          return;
        }
        if (fault.oversized) {
          oversizedAnswers.push(await writeOversized(res, fault.oversized === "declared"));
          return;
        }
        if (fault.code !== "") throw new AwsError(fault.code, fault.message, fault.status);
      }
      respond(res, 200, operations[operation](input));
    } catch (error) {
      const e = error instanceof AwsError ? error : new AwsError("InternalServiceError", String(error), 500);
      status = e.status;
      respond(res, e.status, { __type: e.code, message: e.message }, e.code);
    } finally {
      requests.push({
        operation,
        secretId:
          typeof input.SecretId === "string"
            ? input.SecretId
            : typeof input.Name === "string"
              ? input.Name
              : undefined,
        accessKeyId: credential,
        status,
        input,
      });
    }
  };

  const server = createServer((req, res) => {
    inFlight += 1;
    handle(req, res)
      .catch(() => res.destroy())
      .finally(() => {
        inFlight -= 1;
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;

  const byName = (name: string): Secret => {
    const secret = secrets.get(name);
    if (!secret) throw new Error(`no secret ${name}`);
    return secret;
  };

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    oversizedAnswers,
    createSecret: (name, text) => void createSecret(name, text),
    labels: (name) => describe(byName(name)).VersionIdsToStages as Record<string, string[]>,
    valueAt: (name, stage = "AWSCURRENT") => holder(byName(name), stage)?.text,
    allValues: (name) => [...byName(name).versions.values()].map((v) => v.text),
    fail: (fault) =>
      faults.push({
        operation: fault.operation,
        code: fault.code ?? "",
        status: fault.status ?? 400,
        times: fault.times ?? 1,
        delayMs: fault.delayMs ?? 0,
        hold: fault.hold ?? false,
        holdAfter: fault.holdAfter ?? false,
        echo: fault.echo ?? false,
        skip: fault.skip ?? 0,
        afterApply: fault.afterApply ?? false,
        ...(fault.oversized ? { oversized: fault.oversized } : {}),
        message: fault.message ?? `injected ${fault.code ?? ""}`,
      }),
    release: () => {
      for (let i = faults.length - 1; i >= 0; i--) {
        if (faults[i]!.hold || faults[i]!.holdAfter) faults.splice(i, 1);
      }
      holds.release();
    },
    held: async (timeoutMs = 120_000) => {
      const deadline = Date.now() + timeoutMs;
      while (holds.holding === 0) {
        if (Date.now() > deadline) throw new Error("no call reached a held fault of the AWS fake");
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    },
    idle: async (timeoutMs = 120_000) => {
      const deadline = Date.now() + timeoutMs;
      while (inFlight > 0) {
        if (Date.now() > deadline) throw new Error(`the AWS fake still handles ${inFlight} request(s)`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    deny: (operation, isDenied = true) => void (isDenied ? denied.add(operation) : denied.delete(operation)),
    close: () =>
      new Promise<void>((resolve) => {
        holds.release();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// ---- the rotation world's side of it -----------------------------------------------------------

/** Give this process (and the `ftr` children it starts) the test credentials, as the SDK finds them. */
export function useAwsTestCredentials(): void {
  process.env.AWS_ACCESS_KEY_ID = AWS_TEST_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = AWS_TEST_CREDENTIALS.secretAccessKey;
  delete process.env.AWS_PROFILE;
}

/** The config of an `aws-secrets-manager` store for `secretId` on this server. */
export function awsStoreConfig(
  aws: RunningAwsSecretsManager,
  secretId: string,
  jsonKey: string,
): Record<string, unknown> {
  return { type: "aws-secrets-manager", secretId, jsonKey, region: AWS_TEST_REGION, endpoint: aws.url };
}

/**
 * The `jsonKey` values the rotator sent to AWS in `PutSecretValue` for `secretId`, from the request
 * log: proof that a value reached AWS (the log keeps what AWS receives).
 */
export function sentValues(aws: RunningAwsSecretsManager, secretId: string, jsonKey: string): string[] {
  return aws.requests
    .filter((r) => r.operation === "PutSecretValue" && r.secretId === secretId && r.status === 200)
    .map((r) => r.input.SecretString)
    .filter((text): text is string => typeof text === "string")
    .map((text) => (JSON.parse(text) as Record<string, string>)[jsonKey] ?? "");
}

/** For the secrets check: the token at `jsonKey` in every version of `secretId`, and the AWS key. */
export function awsSecrets(
  aws: RunningAwsSecretsManager,
  secretId: string,
  jsonKey: string,
): { label: string; value: string }[] {
  return [
    ...aws.allValues(secretId).map((text, i) => ({
      label: `token in AWS version #${i}`,
      value: (JSON.parse(text) as Record<string, string>)[jsonKey] ?? "",
    })),
    { label: "AWS secret access key", value: AWS_TEST_CREDENTIALS.secretAccessKey },
  ];
}
