/**
 * The runtime schema of the YAML config as users write it. It is the single source of truth: the
 * JSON Schema for editors is generated from it (`json-schema.ts`), and validation messages take their
 * field descriptions and examples from its metadata. Objects are strict so a misspelt key is an error
 * rather than a silently ignored setting.
 */
import { z } from "zod";
import { DURATION_PATTERN, durationProblem } from "./duration.ts";

/** Environment names appear in file names and metric labels, so they are kept to a safe alphabet. */
export const ENV_NAME_PATTERN = /^[a-z0-9][a-z0-9-_]*$/;

/** Scopes an automation token can carry. */
export const TOKEN_SCOPES = ["global", "global:read", "purge_select", "purge_all"] as const;

/** Roles an automation token can carry. */
export const TOKEN_ROLES = ["billing", "engineer", "user"] as const;

/** Metric and label name grammars from the Prometheus data model. */
const METRIC_NAME_PATTERN = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME_PATTERN = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

const SCOPE_WORD = `(?:${TOKEN_SCOPES.join("|")})`;
const SCOPE_PATTERN = new RegExp(`^${SCOPE_WORD}(?: +${SCOPE_WORD})*$`);

/** Duration schemas, so messages about them can explain the grammar. */
export const durationSchemas = new WeakSet<z.ZodType>();

function duration(description: string, example: string): z.ZodString {
  const schema = z
    .string()
    .regex(new RegExp(DURATION_PATTERN), {
      error: (issue) =>
        `invalid duration ${JSON.stringify(issue.input)}: ${durationProblem(String(issue.input))}`,
    })
    .meta({ description, examples: [example] });
  durationSchemas.add(schema);
  return schema;
}

function argv(description: string, example: string[]) {
  return z
    .array(z.string().min(1, { error: "an empty string is not a valid argument; remove it" }))
    .min(1, {
      error: 'the command is empty; give the program and its arguments, e.g. ["./restart.sh", "prod"]',
    })
    .meta({ description, examples: [example] });
}

const cwdField = z
  .string()
  .min(1)
  .meta({
    description: "Working directory, relative to the config file's directory. Default: that directory.",
    examples: ["./scripts"],
  });

const envField = z.record(z.string(), z.string()).meta({
  description: "Extra environment variables for the command, added to the inherited environment.",
  examples: [{ AWS_REGION: "eu-west-1" }],
});

function compiles(pattern: string): boolean {
  try {
    new RegExp(pattern);
    return true;
  } catch {
    return false;
  }
}

function regexProblem(input: unknown): string {
  let reason = "";
  try {
    new RegExp(String(input));
  } catch (err) {
    reason = ` (${(err as Error).message.replace(/^Invalid regular expression: /, "")})`;
  }
  return `not a valid regular expression${reason}; fix it, or escape special characters with \\, e.g. "[Ii]ntegration"`;
}

function scopeProblem(input: unknown): string {
  if (typeof input !== "string") return `scope must be a string such as "global:read"`;
  const words = input.trim().split(/\s+/);
  const bad = words.filter((w) => !(TOKEN_SCOPES as readonly string[]).includes(w));
  if (bad.length === 0) return `separate scopes with single spaces, e.g. "global:read purge_select"`;
  return `unknown scope ${bad.map((w) => JSON.stringify(w)).join(", ")}: use one or more of ${TOKEN_SCOPES.join(", ")}, separated by spaces`;
}

const roleField = z.enum(TOKEN_ROLES).meta({
  description: "Role of the token. Default `engineer`.",
  examples: ["engineer"],
});

const scopeField = z
  .string()
  .regex(SCOPE_PATTERN, { error: (issue) => scopeProblem(issue.input) })
  .meta({
    description:
      "Scopes of the token, space-separated: global, global:read, purge_select, purge_all. Default `global:read`, which is all an exporter needs.",
    examples: ["global:read"],
  });

const expiresInField = duration("Lifetime of a new token. Default `365d`.", "365d");
const rotateBeforeField = duration(
  "Rotate a token when it expires within this long; must be shorter than expiresIn. Default `30d`.",
  "30d",
);
const tlsAccessField = z.boolean().meta({
  description: "Whether the token may use TLS management endpoints. Default false.",
  examples: [false],
});

/** The overridable token settings: in `defaults.token` and in each environment's `token`. */
const tokenDefaultsShape = {
  role: roleField.optional(),
  scope: scopeField.optional(),
  expiresIn: expiresInField.optional(),
  rotateBefore: rotateBeforeField.optional(),
  tlsAccess: tlsAccessField.optional(),
};

const servicesSchema = z
  .strictObject({
    nameMatches: z
      .string()
      .min(1, { error: 'the pattern is empty; give a regular expression such as "[Ii]ntegration"' })
      .refine(compiles, { error: (issue) => regexProblem(issue.input) })
      .meta({
        description:
          "Every service whose name matches this JavaScript regular expression (searched anywhere in the name, like the exporter's service allowlist).",
        examples: ["[Ii]ntegration"],
      })
      .optional(),
    ids: z
      .array(z.string().min(1, { error: "an empty service id; remove it" }))
      .min(1, {
        error: "the list of service ids is empty; add at least one id, or use nameMatches or all: true",
      })
      .meta({ description: "Exactly these service ids.", examples: [["SU1Z0isxPaozGVKXdv0eY"]] })
      .optional(),
    all: z
      .literal(true, { error: "all can only be true; to limit the token, use nameMatches or ids instead" })
      .meta({ description: "Every service in the account.", examples: [true] })
      .optional(),
  })
  .refine((s) => [s.nameMatches, s.ids, s.all].filter((v) => v !== undefined).length === 1, {
    error: (issue) => {
      const input = issue.input as Record<string, unknown>;
      const given = ["nameMatches", "ids", "all"].filter((k) => input[k] !== undefined);
      return given.length === 0
        ? 'choose the services: { nameMatches: "<regex>" }, { ids: ["<id>", ...] } or { all: true }'
        : `give exactly one of nameMatches, ids, all (found ${given.join(" and ")}); remove the others`;
    },
  })
  .meta({
    description: "Which services the token may access: exactly one of nameMatches, ids, all.",
    minProperties: 1,
    maxProperties: 1,
    examples: [{ nameMatches: "[Ii]ntegration" }],
  });

const environmentTokenSchema = z
  .strictObject({
    name: z
      .string()
      .trim()
      .min(1, { error: "the token name is empty; give the name the token has in Fastly" })
      .meta({
        description:
          "The token's name in Fastly. It identifies this environment's tokens, so it must be unique across environments.",
        examples: ["GOV.UK prometheus-fastly-exporter token for Integration"],
      }),
    services: servicesSchema,
    ...tokenDefaultsShape,
  })
  .meta({ description: "The automation token this environment's consumer holds; overrides defaults.token." });

const fileSecretSchema = z
  .strictObject({
    type: z.literal("file"),
    path: z
      .string()
      .min(1, { error: "the path is empty; give the file that holds the token value" })
      .meta({
        description:
          "File holding the token value, relative to the config file's directory. Written atomically with mode 0600; the previous value is kept in `<path>.previous`.",
        examples: ["./secrets/integration.json"],
      }),
    jsonKey: z
      .string()
      .min(1, { error: "jsonKey is empty; give the key to update, or remove jsonKey to use the whole file" })
      .meta({
        description: "The file is a JSON object: read and write only this key, keeping the others.",
        examples: ["fastly-api-token"],
      })
      .optional(),
  })
  .meta({ description: "Store the token value in a local file." });

const execSecretSchema = z
  .strictObject({
    type: z.literal("exec"),
    write: argv("Command that stores the value it receives on stdin.", [
      "sh",
      "-c",
      "aws secretsmanager put-secret-value --secret-id my/secret --secret-string file:///dev/stdin",
    ]),
    read: argv("Command that prints the current value on stdout. Without it the deployed token is unknown.", [
      "sh",
      "-c",
      "aws secretsmanager get-secret-value --secret-id my/secret --query SecretString --output text",
    ]).optional(),
    timeout: duration("Time limit for each command. Default `30s`.", "30s").optional(),
    cwd: cwdField.optional(),
    env: envField.optional(),
  })
  .meta({ description: "Store the token value with commands (the value travels on stdin/stdout only)." });

const K8S_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const k8sName = (what: string, example: string) =>
  z
    .string()
    .max(253, { error: `a Kubernetes ${what} has at most 253 characters` })
    .regex(K8S_NAME, {
      error: `not a Kubernetes ${what}: use lower-case letters, digits, "-" and ".", starting and ending with a letter or digit`,
    })
    .meta({ description: `The ${what}.`, examples: [example] });

const kubernetesAccessShape = {
  kubeconfig: z
    .string()
    .min(1, { error: "kubeconfig is empty; give a path or remove kubeconfig" })
    .meta({
      description:
        "Kubeconfig file, relative to the config file's directory. Default: KUBECONFIG, then ~/.kube/config, then the pod's service account.",
      examples: ["./kubeconfig.yaml"],
    })
    .optional(),
  context: z
    .string()
    .min(1, { error: "context is empty; give a kubeconfig context or remove context" })
    .meta({ description: "Kubeconfig context. Default: the current context.", examples: ["integration"] })
    .optional(),
};

const awsSecretSchema = z
  .strictObject({
    type: z.literal("aws-secrets-manager"),
    secretId: z
      .string()
      .min(1, { error: "secretId is empty; give the secret's name or ARN" })
      .meta({
        description:
          "The secret's name or ARN. It must exist; new values are written as versions labelled AWSPENDING, then promoted to AWSCURRENT.",
        examples: ["govuk/integration/fastly-exporter"],
      }),
    jsonKey: z
      .string()
      .min(1, {
        error: "jsonKey is empty; give the key to update, or remove jsonKey to use the whole secret string",
      })
      .meta({
        description: "The secret string is a JSON object: read and write only this key, keeping the others.",
        examples: ["fastly-api-token"],
      })
      .optional(),
    region: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, { error: "not an AWS region name; use one like eu-west-2" })
      .meta({
        description:
          "AWS region. Default: the region in an ARN secretId, else the SDK's (AWS_REGION, profile).",
        examples: ["eu-west-2"],
      })
      .optional(),
    endpoint: z
      .url({
        protocol: /^https?$/,
        error:
          "give the endpoint as a URL with http:// or https://, e.g. https://secretsmanager.eu-west-2.amazonaws.com",
      })
      .meta({
        description:
          "Endpoint URL, for a VPC endpoint or a local server. Default: the region's public endpoint.",
        examples: ["https://vpce-0abc.secretsmanager.eu-west-2.vpce.amazonaws.com"],
      })
      .optional(),
    profile: z
      .string()
      .min(1, { error: "profile is empty; give a profile name or remove profile" })
      .meta({
        description:
          "Named profile of the shared AWS config files. Default: the SDK's credential chain (environment, AWS_PROFILE, web identity, instance role).",
        examples: ["govuk-integration"],
      })
      .optional(),
  })
  .meta({
    description: "Store the token value in AWS Secrets Manager, staged and promoted by version labels.",
  });

const kubernetesSecretSchema = z
  .strictObject({
    type: z.literal("kubernetes-secret"),
    namespace: k8sName("namespace", "monitoring"),
    name: k8sName("Secret name", "govuk-fastly-api"),
    key: z
      .string()
      .regex(/^[-._a-zA-Z0-9]+$/, { error: 'not a Secret data key: use letters, digits, "-", "_" and "."' })
      .meta({
        description: "The key of the Secret's data holding the token.",
        examples: ["fastly-api-token"],
      }),
    ...kubernetesAccessShape,
  })
  .meta({
    description:
      "Store the token value in one key of a Kubernetes Secret; pending and previous values go to a companion Secret `<name>-ftr`.",
  });

const secretSchema = z
  .discriminatedUnion("type", [fileSecretSchema, execSecretSchema, awsSecretSchema, kubernetesSecretSchema])
  .meta({
    description:
      "Where this environment's token value is stored: `type: file`, `type: aws-secrets-manager`, `type: kubernetes-secret` or `type: exec`.",
    examples: [{ type: "file", path: "./secrets/integration.json", jsonKey: "fastly-api-token" }],
  });

const execReloadSchema = z
  .strictObject({
    type: z.literal("exec"),
    command: argv('Command to run, without a shell; use ["sh", "-c", "..."] when a shell is needed.', [
      "./restart-exporter.sh",
      "integration",
    ]),
    timeout: duration("Time limit. Default `60s`.", "60s").optional(),
    cwd: cwdField.optional(),
    env: envField.optional(),
  })
  .meta({ description: "Run a command and wait for it to exit 0." });

const externalSecretReloadSchema = z
  .strictObject({
    type: z.literal("external-secret"),
    namespace: k8sName("namespace", "monitoring"),
    name: k8sName("ExternalSecret name", "govuk-fastly-api"),
    apiVersion: z
      .string()
      .regex(/^[a-z0-9.-]+\/v[0-9a-z]+$/, { error: "give group/version, e.g. external-secrets.io/v1" })
      .meta({
        description: "The ExternalSecret's group/version. Default `external-secrets.io/v1`.",
        examples: ["external-secrets.io/v1beta1"],
      })
      .optional(),
    ...kubernetesAccessShape,
    timeout: duration("How long the sync may take. Default `2m`.", "2m").optional(),
    interval: duration("How often its status is read. Default `2s`.", "2s").optional(),
  })
  .meta({
    description:
      "Force an External Secrets sync (the `force-sync` annotation) and wait until the operator has synced and reports Ready.",
  });

const kubernetesRolloutReloadSchema = z
  .strictObject({
    type: z.literal("kubernetes-rollout"),
    namespace: k8sName("namespace", "monitoring"),
    deployment: k8sName("Deployment name", "fastly-exporter-prometheus-fastly-exporter").optional(),
    statefulSet: k8sName("StatefulSet name (instead of deployment)", "fastly-exporter").optional(),
    daemonSet: k8sName("DaemonSet name (instead of deployment)", "fastly-exporter").optional(),
    ...kubernetesAccessShape,
    timeout: duration("How long the rollout may take. Default `5m`.", "5m").optional(),
    interval: duration("How often its status is read. Default `2s`.", "2s").optional(),
  })
  .meta({
    description:
      "Restart a Deployment (or `statefulSet`, `daemonSet`) as `kubectl rollout restart` does and wait as `kubectl rollout status` does.",
  });

const reloadSchema = z
  .discriminatedUnion("type", [execReloadSchema, externalSecretReloadSchema, kubernetesRolloutReloadSchema])
  .meta({
    description:
      "A step that makes the consumer pick up the new secret: `exec`, `external-secret` or `kubernetes-rollout`.",
  });

const timeoutField = (dflt: string) =>
  duration(`Give up after this long. Default \`${dflt}\`.`, dflt).optional();
const intervalField = () => duration("Poll this often. Default `2s`.", "2s").optional();

const tokenInUseVerifySchema = z
  .strictObject({
    type: z.literal("token-in-use"),
    timeout: timeoutField("2m"),
    interval: intervalField(),
  })
  .meta({
    description: "Wait until Fastly reports the new token used after the switch-over (last_used_at).",
  });

const prometheusVerifySchema = z
  .strictObject({
    type: z.literal("prometheus"),
    url: z
      .url({
        protocol: /^https?$/,
        error: "give the Prometheus base URL with http:// or https://, e.g. http://127.0.0.1:9090",
      })
      .meta({ description: "Prometheus base URL.", examples: ["http://127.0.0.1:9090"] }),
    metric: z
      .string()
      .regex(METRIC_NAME_PATTERN, { error: "not a Prometheus metric name; use letters, digits, _ and :" })
      .meta({
        description: "Metric carrying the token id. Default `fastly_rt_token_expiration`.",
        examples: ["fastly_rt_token_expiration"],
      })
      .optional(),
    tokenIdLabel: z
      .string()
      .regex(LABEL_NAME_PATTERN, { error: "not a Prometheus label name; use letters, digits and _" })
      .meta({
        description: "Label of the metric holding the token id. Default `token_id`.",
        examples: ["token_id"],
      })
      .optional(),
    query: z
      .string()
      .min(1, { error: "the query is empty; give a PromQL expression or remove query" })
      .meta({
        description: "PromQL that must return a non-empty result for the consumer to count as healthy.",
        examples: ['up{job="fastly-exporter"} == 1'],
      })
      .optional(),
    requireOthersAbsent: z
      .boolean()
      .meta({
        description:
          "Also require the old tokens' ids to be gone from the metric (otherwise they are only reported). Default false.",
        examples: [true],
      })
      .optional(),
    headers: z
      .record(z.string(), z.string())
      .meta({
        description: "Extra HTTP headers for Prometheus queries, e.g. Authorization for a protected server.",
        examples: [{ "X-Scope-OrgID": "monitoring" }],
      })
      .optional(),
    timeout: timeoutField("2m"),
    interval: intervalField(),
  })
  .meta({
    description: "Wait until Prometheus shows the exporter using the new token (and `query`, if set, holds).",
  });

const execVerifySchema = z
  .strictObject({
    type: z.literal("exec"),
    command: argv("Command that exits 0 when the consumer is healthy; retried until the timeout.", [
      "./check-exporter.sh",
    ]),
    timeout: timeoutField("30s"),
    interval: intervalField(),
    cwd: cwdField.optional(),
    env: envField.optional(),
  })
  .meta({ description: "Retry a command until it exits 0." });

const verifySchema = z
  .discriminatedUnion("type", [tokenInUseVerifySchema, prometheusVerifySchema, execVerifySchema])
  .meta({
    description: "A check that the consumer uses the new token: `token-in-use`, `prometheus` or `exec`.",
  });

const environmentSchema = z
  .strictObject({
    name: z
      .string()
      .regex(ENV_NAME_PATTERN, {
        error: (issue) =>
          `invalid environment name ${JSON.stringify(issue.input)}: use lower-case letters, digits, - and _, starting with a letter or digit, e.g. "integration"`,
      })
      .meta({
        description: "Unique environment name, used in file names and metric labels.",
        examples: ["integration"],
      }),
    token: environmentTokenSchema,
    secret: secretSchema,
    reload: z
      .array(reloadSchema)
      .meta({ description: "Steps run in order after the new secret is stored. Default none." })
      .optional(),
    verify: z
      .array(verifySchema)
      .meta({ description: "Checks that must all pass before old tokens are revoked." })
      .optional(),
    approval: z
      .enum(["required", "none"])
      .meta({
        description:
          "`required`: ask before rotating this environment unless --yes is given. Default `none`.",
        examples: ["required"],
      })
      .optional(),
  })
  .meta({ description: "One environment; environments are rotated in list order." });

/** The config document as written. */
export const configSchema = z
  .strictObject({
    version: z
      .literal(1, {
        error: (issue) =>
          issue.input === undefined
            ? "version is required: add `version: 1` at the top of the file"
            : `version ${JSON.stringify(issue.input)} is not supported: this release reads \`version: 1\` configs`,
      })
      .meta({ description: "Config format version; must be 1." }),
    fastly: z
      .strictObject({
        endpoint: z
          .url({
            protocol: /^https?$/,
            error: "give the API base URL with https://, e.g. https://api.fastly.com",
          })
          .meta({
            description:
              "Fastly API base URL. Default https://api.fastly.com; FASTLY_API_ENDPOINT overrides it at run time.",
            examples: ["https://api.fastly.com"],
          })
          .optional(),
        allowInsecure: z
          .boolean()
          .meta({
            description:
              "Allow a plain http endpoint that is not loopback (127.0.0.0/8, ::1, localhost). The user token and sudo password then cross the network unencrypted; only for a trusted network. Default false.",
          })
          .optional(),
      })
      .meta({ description: "Fastly API settings." })
      .optional(),
    state: z
      .strictObject({
        dir: z
          .string()
          .min(1, { error: "state.dir is empty; give a directory or remove the key" })
          .meta({
            description: "Journal directory, relative to the config file's directory. Default `.ftr-state`.",
            examples: [".ftr-state"],
          })
          .optional(),
      })
      .meta({ description: "Where rotation runs are journaled." })
      .optional(),
    defaults: z
      .strictObject({
        token: z
          .strictObject(tokenDefaultsShape)
          .meta({ description: "Token settings every environment inherits unless it overrides them." })
          .optional(),
      })
      .meta({ description: "Settings shared by all environments." })
      .optional(),
    environments: z
      .array(environmentSchema)
      .min(1, { error: "no environments: add at least one under `environments:`" })
      .meta({ description: "The environments to manage, in rotation order." }),
  })
  .meta({
    title: "fastly-token-rotator configuration",
    description:
      "Which Fastly automation tokens to rotate, where their values live, and how to roll them out.",
  });

/** The config document as written (before normalisation). */
export type ConfigInput = z.input<typeof configSchema>;
/** The config document after schema validation (before normalisation). */
export type ParsedConfig = z.output<typeof configSchema>;
/** One environment after schema validation. */
export type ParsedEnvironment = z.output<typeof environmentSchema>;
/** `defaults.token` after schema validation. */
export type ParsedTokenDefaults = NonNullable<NonNullable<ParsedConfig["defaults"]>["token"]>;

/** One environment's schema: validation checks each on its own so one broken entry hides nothing. */
export const environmentEntrySchema = environmentSchema;
/** Each `defaults.token` field's schema, so the valid ones still apply when another is broken. */
export const tokenDefaultFields = {
  role: roleField,
  scope: scopeField,
  expiresIn: expiresInField,
  rotateBefore: rotateBeforeField,
  tlsAccess: tlsAccessField,
};
