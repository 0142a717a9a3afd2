import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
  type SecretsManagerClientConfig,
} from "@aws-sdk/client-secrets-manager";
import { NodeHttpHandler, type NodeHttpHandlerOptions } from "@smithy/node-http-handler";
import type { Agent as HttpsAgent } from "node:https";
import { proxyAgentFor } from "../../util/net.ts";
import { createHash } from "node:crypto";
import { pipeline, Transform, type Readable } from "node:stream";
import { BodyTooLargeError } from "../../util/http.ts";
import { formatBytes, MAX_AWS_RESPONSE_BYTES } from "../../util/limits.ts";
import { redact } from "../../util/redact.ts";
import type { SecretStore } from "../types.ts";
import type { AwsSecretConfig } from "./schema.ts";
import type { OptionsOf } from "../support/config.ts";
import type { AdapterDeps } from "../support/deps.ts";

/** Options of the `aws-secrets-manager` secret store (already validated). */
export type AwsSecretsManagerStoreOptions = OptionsOf<AwsSecretConfig> & {
  /** Client settings for tests (credentials, retries); merged last. */
  readonly clientConfig?: SecretsManagerClientConfig;
};

const CURRENT = "AWSCURRENT";
const PENDING = "AWSPENDING";
const PREVIOUS = "AWSPREVIOUS";
// Version texts a store keeps in memory (a rotation needs four at most).
const REMEMBERED_VERSIONS = 8;

/** The permissions a rotation needs on the secret, for the hint on AccessDenied. */
const PERMISSIONS =
  "secretsmanager:GetSecretValue, secretsmanager:PutSecretValue, secretsmanager:UpdateSecretVersionStage and secretsmanager:DescribeSecret";

/** An AWS Secrets Manager call failed; the message names the call, the secret and what to do. */
export class AwsSecretsManagerError extends Error {
  override readonly name = "AwsSecretsManagerError";
  /** The AWS error code (`ResourceNotFoundException`...), when AWS sent one. */
  readonly code: string | undefined;
  constructor(message: string, code?: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** How the versions written by a rollback begin. */
const RESTORE_PREFIX = "fastly-token-rotator-restore-";

/**
 * The version id (`ClientRequestToken`) of what run `runId` writes: readable in the console, within
 * the 32–64 characters AWS accepts, and the same on every retry, so a repeated write is idempotent.
 */
export function versionIdFor(runId: string, purpose: "stage" | "restore" = "stage"): string {
  const prefix = purpose === "stage" ? "fastly-token-rotator-" : RESTORE_PREFIX;
  const id = `${prefix}${runId}`;
  if (id.length >= 32 && id.length <= 64 && /^[A-Za-z0-9._-]+$/.test(id)) return id;
  return `${prefix}${createHash("sha256").update(runId).digest("hex")}`.slice(0, 64);
}

/** The region written in an ARN (`arn:aws:secretsmanager:eu-west-2:...`), if `secretId` is one. */
function regionOfArn(secretId: string): string | undefined {
  const parts = secretId.split(":");
  return parts[0] === "arn" && parts.length >= 7 && parts[3] ? parts[3] : undefined;
}

type Versions = Readonly<Record<string, readonly string[]>>;

/**
 * The SDK's Node.js handler with a cap on every answer: a Content-Length over `limit` fails before
 * the body is read, and a body passing `limit` as it is read is abandoned there (its connection
 * closed), either way with BodyTooLargeError, which the SDK does not retry.
 */
class CappedHttpHandler extends NodeHttpHandler {
  readonly #limit: number;

  constructor(options: NodeHttpHandlerOptions | (() => Promise<NodeHttpHandlerOptions>), limit: number) {
    super(options);
    this.#limit = limit;
  }

  override async handle(
    ...args: Parameters<NodeHttpHandler["handle"]>
  ): ReturnType<NodeHttpHandler["handle"]> {
    const out = await super.handle(...args);
    const limit = this.#limit;
    // The handler's body is the IncomingMessage (a Readable); HttpResponse types it loosely.
    const body = out.response.body as Readable;
    const declared = Number(out.response.headers["content-length"]);
    if (Number.isFinite(declared) && declared > limit) {
      body.destroy();
      throw new BodyTooLargeError(limit);
    }
    let total = 0;
    const counted = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        total += chunk.byteLength;
        if (total > limit) callback(new BodyTooLargeError(limit));
        else callback(null, chunk);
      },
    });
    // A failure on either side destroys both: past the cap the connection is closed, and the
    // error reaches the SDK through `counted`, the body it reads.
    pipeline(body, counted, () => undefined);
    out.response.body = counted;
    return out;
  }
}

/**
 * A secret in AWS Secrets Manager, rotated the way Secrets Manager's own rotation does it: the new
 * value is written as a version labelled `AWSPENDING` (invisible to readers of `AWSCURRENT`, such as
 * External Secrets), promoted by moving `AWSCURRENT` to it in one call (AWS moves `AWSPREVIOUS` to
 * the old version), and restored by writing the previous value back as a new current version. Every
 * write carries a version id derived from the run id, so a retry after a crash repeats nothing.
 *
 * A rotation costs six calls: GetSecretValue (the plan's read), GetSecretValue (the document the new
 * value is merged into, with `jsonKey`), PutSecretValue, DescribeSecret, UpdateSecretVersionStage,
 * GetSecretValue (the previous value, to prove the old token dead). A version's content never
 * changes, so the store remembers every string it has read or written by version id and reads none
 * twice: the promote's check that no other key changed since staging costs no call when the current
 * version is still the one the value was merged into.
 */
export function createAwsSecretsManagerStore(
  options: AwsSecretsManagerStoreOptions,
  deps: AdapterDeps = {},
): SecretStore {
  const region = options.region ?? regionOfArn(options.secretId);
  // On Node.js 20 the SDK prints a multi-line notice that its future releases need Node.js 22; the
  // version this package locks works on 20, and the notice would land in every command's output.
  // Whoever sets the variable themselves keeps their choice.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const client = new SecretsManagerClient({
    ...(region ? { region } : {}),
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.profile ? { profile: options.profile } : {}),
    requestHandler: new CappedHttpHandler(async () => {
      // The SDK honours no proxy variable itself: the agent does, decided as for every client.
      const endpoint =
        options.endpoint ??
        `https://secretsmanager.${region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? "us-east-1"}.amazonaws.com`;
      const agent = await proxyAgentFor(endpoint);
      const agents =
        agent === undefined
          ? {}
          : new URL(endpoint).protocol === "https:"
            ? { httpsAgent: agent as HttpsAgent }
            : { httpAgent: agent };
      return { connectionTimeout: 5_000, requestTimeout: 30_000, ...agents };
    }, MAX_AWS_RESPONSE_BYTES),
    ...options.clientConfig,
  });
  const secretId = options.secretId;
  // The run's signal ends a call in flight (and its retries) on SIGINT/SIGTERM.
  const sendOptions = deps.signal ? { abortSignal: deps.signal } : {};
  const where = `AWS Secrets Manager secret ${secretId}${options.jsonKey ? `#${options.jsonKey}` : ""}`;

  /** Sends one command, turning any failure into a one-line error with a fix. */
  const call = async <T>(
    operation: string,
    send: () => Promise<T>,
    secrets: readonly string[] = [],
  ): Promise<T> => {
    try {
      return await send();
    } catch (error) {
      throw explain(operation, error, secrets);
    }
  };

  /** `secrets`: what the request carried, kept out of the message whatever the service echoes. */
  const explain = (
    operation: string,
    error: unknown,
    secrets: readonly string[] = [],
  ): AwsSecretsManagerError => {
    if (error instanceof BodyTooLargeError) {
      // Not error.message: the SDK appends a line to an error met while reading the body.
      const check = options.endpoint
        ? "check that secret.endpoint points at Secrets Manager"
        : "check what answers for Secrets Manager on this network (a proxy?)";
      return new AwsSecretsManagerError(
        `${operation} on ${where} failed: the endpoint answered with more than ${formatBytes(error.limit)}, so the read was stopped (a Secrets Manager answer is a few KiB); ${check}`,
        undefined,
        { cause: error },
      );
    }
    const code = errorCode(error);
    const message = redact(error instanceof Error ? error.message : String(error), secrets);
    const fix = fixFor(code, message);
    return new AwsSecretsManagerError(
      `${operation} on ${where} failed: ${code ? `${code}: ` : ""}${oneLine(message)}${fix ? `; ${fix}` : ""}`,
      code,
      { cause: error },
    );
  };

  const fixFor = (code: string | undefined, message: string): string | undefined => {
    switch (code) {
      case "ResourceNotFoundException":
        return `check secretId and region; the secret must exist (aws secretsmanager create-secret --name ${secretId})`;
      case "AccessDeniedException":
        return `grant ${PERMISSIONS} on the secret (and kms:Decrypt/kms:GenerateDataKey for a customer-managed key)`;
      case "UnrecognizedClientException":
      case "InvalidSignatureException":
      case "ExpiredTokenException":
      case "CredentialsProviderError":
        return options.profile
          ? `check the AWS credentials of profile ${options.profile} (aws sts get-caller-identity --profile ${options.profile})`
          : "check the AWS credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or the pod's IAM role)";
      case "DecryptionFailure":
      case "KMSAccessDeniedException":
        return "allow the caller to use the secret's KMS key";
      case "ThrottlingException":
        return "AWS is throttling the account; try again in a minute";
      default:
        return /region is missing/i.test(message)
          ? "set secret.region in the config, use the secret's ARN, or set AWS_REGION"
          : undefined;
    }
  };

  /**
   * Version id → secret string, of the versions this store read or wrote last. Secrets Manager
   * never changes a version's content (a new value is a new version), so what is here stays true.
   * A rotation touches at most four versions (current, previous, pending, one rolled back to); the
   * oldest is forgotten beyond that, so a store kept for a long time holds few secrets in memory.
   */
  const texts = new Map<string, string>();
  const remember = (id: string, text: string): void => {
    texts.delete(id);
    texts.set(id, text);
    if (texts.size > REMEMBERED_VERSIONS) texts.delete(texts.keys().next().value as string);
  };

  const describeVersions = async (): Promise<Versions> => {
    const out = await call("DescribeSecret", () =>
      client.send(new DescribeSecretCommand({ SecretId: secretId }), sendOptions),
    );
    return out.VersionIdsToStages ?? {};
  };

  const versionWith = (versions: Versions, stage: string): string | undefined =>
    Object.entries(versions).find(([, stages]) => stages.includes(stage))?.[0];

  /** The secret string of one version, or undefined when there is no such version. */
  const getString = async (
    selector: { VersionStage: string } | { VersionId: string },
  ): Promise<{ text: string; stages: readonly string[] } | undefined> => {
    try {
      const out = await client.send(
        new GetSecretValueCommand({ SecretId: secretId, ...selector }),
        sendOptions,
      );
      if (out.SecretString === undefined) {
        throw new AwsSecretsManagerError(
          `GetSecretValue on ${where}: the version holds binary data, not a string; store the token as SecretString`,
        );
      }
      if (out.VersionId !== undefined) remember(out.VersionId, out.SecretString);
      return { text: out.SecretString, stages: out.VersionStages ?? [] };
    } catch (error) {
      if (error instanceof AwsSecretsManagerError) throw error;
      if (errorCode(error) === "ResourceNotFoundException") {
        // Either the secret does not exist (an error) or it has no such version (no value).
        await describeVersions();
        return undefined;
      }
      throw explain("GetSecretValue", error);
    }
  };

  /** The string of version `id`: remembered, else read; undefined when there is no such version. */
  const textOf = async (id: string): Promise<string | undefined> =>
    texts.get(id) ?? (await getString({ VersionId: id }))?.text;

  /** The token inside a secret string. */
  const extract = (text: string): string | undefined => {
    if (options.jsonKey === undefined) return text === "" ? undefined : text;
    const object = parseObject(text, "read");
    const value = object[options.jsonKey];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== "string") {
      throw new AwsSecretsManagerError(
        `${where} holds a ${typeof value}, not a string, at key ${options.jsonKey}; fix the secret by hand`,
      );
    }
    return value === "" ? undefined : value;
  };

  const parseObject = (text: string, purpose: "read" | "write"): Record<string, unknown> => {
    if (text.trim() === "") return {};
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new AwsSecretsManagerError(
        `${where}: the secret string is not valid JSON${purpose === "write" ? ", refusing to overwrite it" : ""}; fix the secret, or remove jsonKey to store the bare token`,
      );
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw new AwsSecretsManagerError(
        `${where}: the secret string is not a JSON object${purpose === "write" ? ", refusing to overwrite it" : ""}; fix the secret, or remove jsonKey to store the bare token`,
      );
    }
    return parsed as Record<string, unknown>;
  };

  const moveLabel = async (
    stage: string,
    to: string | undefined,
    from: string | undefined,
  ): Promise<void> => {
    try {
      await call(`UpdateSecretVersionStage (${stage})`, () =>
        client.send(
          new UpdateSecretVersionStageCommand({
            SecretId: secretId,
            VersionStage: stage,
            ...(to ? { MoveToVersionId: to } : {}),
            ...(from ? { RemoveFromVersionId: from } : {}),
          }),
          sendOptions,
        ),
      );
    } catch (error) {
      // A retry of a move whose answer was lost meets the label already moved, and AWS refuses
      // the stale RemoveFromVersionId. What counts is where the label is now.
      if (!(error instanceof AwsSecretsManagerError) || error.code !== "InvalidParameterException")
        throw error;
      const versions = await describeVersions();
      const done = to ? versions[to]?.includes(stage) : !(from && versions[from]?.includes(stage));
      if (!done) throw error;
    }
  };

  const put = async (versionId: string, text: string, stages: string[]): Promise<void> => {
    // The document and every string in it (other keys may be other credentials).
    const secrets = [text];
    const collect = (value: unknown): void => {
      if (typeof value === "string") secrets.push(value);
      else if (typeof value === "object" && value !== null) Object.values(value).forEach(collect);
    };
    try {
      collect(JSON.parse(text));
    } catch {
      // A bare token: the text itself.
    }
    const out = await call(
      "PutSecretValue",
      () =>
        client.send(
          new PutSecretValueCommand({
            SecretId: secretId,
            ClientRequestToken: versionId,
            SecretString: text,
            VersionStages: stages,
          }),
          sendOptions,
        ),
      secrets,
    );
    // AWS names the version it wrote, or found already written with this content: ours, by the
    // ClientRequestToken. Any other answer means the value is not where later steps will look.
    if (out.VersionId !== versionId) {
      throw new AwsSecretsManagerError(
        `PutSecretValue on ${where} answered with version ${out.VersionId ?? "(none)"}, not ${versionId}; check that secret.endpoint points at Secrets Manager`,
      );
    }
    remember(versionId, text);
  };

  /**
   * Refuses to promote a JSON document staged before another of its keys changed: making it
   * current would silently put the other key's old value back.
   */
  const checkOtherKeys = async (
    ours: string,
    currentId: string | undefined,
    runId: string,
  ): Promise<void> => {
    const key = options.jsonKey as string;
    const [staged, current] = await Promise.all([
      textOf(ours),
      currentId === undefined ? undefined : textOf(currentId),
    ]);
    const others = (text: string | undefined): string => {
      const { [key]: _, ...rest } = parseObject(text ?? "", "read");
      return JSON.stringify(Object.entries(rest).sort(([a], [b]) => a.localeCompare(b)));
    };
    if (others(staged) !== others(current)) {
      throw new AwsSecretsManagerError(
        `other keys of ${where} changed after run ${runId} staged its value; nothing was switched, run the rotation again`,
      );
    }
  };

  return {
    description: `aws-secrets-manager ${secretId}${options.jsonKey ? `#${options.jsonKey}` : ""}`,
    durableStaging: true,

    async read() {
      const current = await getString({ VersionStage: CURRENT });
      return current === undefined ? undefined : extract(current.text);
    },

    async stage(value, runId) {
      if (/[\r\n]/.test(value))
        throw new AwsSecretsManagerError("refusing to store a value with a line break");
      const versionId = versionIdFor(runId);
      let text = value;
      if (options.jsonKey !== undefined) {
        const current = await getString({ VersionStage: CURRENT });
        const object = parseObject(current?.text ?? "", "write");
        text = JSON.stringify({ ...object, [options.jsonKey]: value });
      }
      try {
        await put(versionId, text, [PENDING]);
      } catch (error) {
        // The same version id with other content: a retry after other keys changed. Fine if it
        // holds this value already.
        if (error instanceof AwsSecretsManagerError && error.code === "ResourceExistsException") {
          const existing = await textOf(versionId);
          if (existing !== undefined && extract(existing) === value) return;
        }
        throw error;
      }
    },

    async readStaged(runId) {
      const staged = await getString({ VersionId: versionIdFor(runId) });
      if (staged === undefined || !staged.stages.includes(PENDING)) return undefined;
      return extract(staged.text);
    },

    async promote(runId) {
      const ours = versionIdFor(runId);
      // Where every labelled version is, in one call: a resumed run finds what it staged here.
      const versions = await describeVersions();
      // DescribeSecret lists labelled versions only; an unlabelled one was staged and then dropped.
      const stages = versions[ours] ?? [];
      // Promoted already. AWSPENDING may stay on the current version, as at the end of AWS's own
      // rotation: harmless, and the next stage moves it.
      if (stages.includes(CURRENT)) return;
      if (!stages.includes(PENDING)) {
        if ((await textOf(ours)) === undefined) {
          throw new AwsSecretsManagerError(`nothing staged for run ${runId} in ${where}`);
        }
        const pending = versionWith(versions, PENDING);
        throw new AwsSecretsManagerError(
          `run ${runId}'s version of ${where} is no longer pending${pending ? ` (AWSPENDING is on ${pending})` : ""}; another rotation has run, so this one stops`,
        );
      }
      const currentId = versionWith(versions, CURRENT);
      if (options.jsonKey !== undefined) await checkOtherKeys(ours, currentId, runId);
      // One move: AWS puts AWSPREVIOUS on the version AWSCURRENT leaves, and AWSCURRENT moves only
      // from `currentId`, so a change since DescribeSecret is refused rather than overwritten.
      await moveLabel(CURRENT, ours, currentId);
    },

    async readPrevious() {
      const previous = await getString({ VersionStage: PREVIOUS });
      return previous === undefined ? undefined : extract(previous.text);
    },

    async restorePrevious(runId) {
      const restoreId = versionIdFor(runId, "restore");
      const versions = await describeVersions();
      if (versions[restoreId]?.includes(CURRENT)) return; // done already
      const oursId = versionIdFor(runId);
      const ours = versions[oursId];
      // AWS's rule for the end of a rotation: no AWSPENDING left on a version that is not current.
      if (ours?.includes(PENDING)) await moveLabel(PENDING, undefined, oursId);
      if (ours !== undefined && !ours.includes(CURRENT)) return; // never promoted: nothing to undo
      if (ours === undefined) {
        // An unlabelled version of this run: staged, never promoted, its AWSPENDING dropped already.
        if ((await textOf(oursId)) !== undefined) return;
        // A rollback of an earlier run (`ftr rollback`): refuse to undo a rollback.
        const currentId = versionWith(versions, CURRENT);
        if (currentId?.startsWith(RESTORE_PREFIX)) {
          throw new AwsSecretsManagerError(
            `the current value of ${where} was put back by an earlier rollback (version ${currentId}); there is nothing to undo`,
          );
        }
      }
      const previousId = versionWith(versions, PREVIOUS);
      if (previousId === undefined) {
        throw new AwsSecretsManagerError(`${where} has no previous version (AWSPREVIOUS) to restore`);
      }
      const previous = await textOf(previousId);
      if (previous === undefined) {
        throw new AwsSecretsManagerError(`${where}: the previous version ${previousId} is gone`);
      }
      // A new version with the old content, rather than moving labels back: a retry finds it by id.
      await put(restoreId, previous, [CURRENT]);
    },

    async discardStaged(runId) {
      const ours = versionIdFor(runId);
      const versions = await describeVersions();
      const stages = versions[ours];
      if (stages?.includes(PENDING) && !stages.includes(CURRENT)) await moveLabel(PENDING, undefined, ours);
    },
  };
}

function errorCode(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const named = error as { name?: unknown; Code?: unknown; code?: unknown };
  for (const candidate of [named.name, named.Code, named.code]) {
    if (typeof candidate === "string" && candidate !== "Error" && candidate !== "") return candidate;
  }
  return undefined;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

/** The registry's entry point (see `../registry.ts`). */
export { createAwsSecretsManagerStore as create };
