/**
 * The runtime schema of the YAML config as users write it. It is the single source of truth: the
 * JSON Schema for editors is generated from it (`json-schema.ts`), and validation messages take their
 * field descriptions and examples from its metadata. Objects are strict so a misspelt key is an error
 * rather than a silently ignored setting.
 */
import * as z from "zod";
import { notifiers, reloaders, secretStores, unionOf, verifiers } from "../adapters/registry.ts";
import { namePatternProblem } from "../util/pattern.ts";
import { describingContext, durationWithoutDefault, type ConfigContext } from "../adapters/support/config.ts";

/** Environment names appear in file names and metric labels, so they are kept to a safe alphabet. */
export const ENV_NAME_PATTERN = /^[a-z0-9][a-z0-9-_]*$/;

/** Scopes an automation token can carry. */
export const TOKEN_SCOPES = ["global", "global:read", "purge_select", "purge_all"] as const;

/** Roles an automation token can carry. */
export const TOKEN_ROLES = ["billing", "engineer", "user"] as const;

const SCOPE_WORD = `(?:${TOKEN_SCOPES.join("|")})`;
const SCOPE_PATTERN = new RegExp(`^${SCOPE_WORD}(?: +${SCOPE_WORD})*$`);

function regexProblem(input: unknown): string {
  const reason = namePatternProblem(String(input));
  return `not a valid regular expression${reason === undefined ? "" : ` (${reason})`}: service patterns use RE2 syntax, which has no backreferences or lookaround, so matching cannot hang; fix it, or escape special characters with \\, e.g. "[Ii]ntegration"`;
}

function scopeProblem(input: unknown): string {
  if (typeof input !== "string") return `scope must be a string such as "global:read"`;
  const words = input.trim().split(/\s+/);
  const bad = words.filter((w) => !(TOKEN_SCOPES as readonly string[]).includes(w));
  if (bad.length === 0) return `separate scopes with single spaces, e.g. "global:read purge_select"`;
  return `unknown scope ${bad.map((w) => JSON.stringify(w)).join(", ")}: use one or more of ${TOKEN_SCOPES.join(", ")}, separated by spaces`;
}

/** Token settings that apply when neither the environment nor `defaults.token` sets them. */
export const BUILTIN_TOKEN_DEFAULTS = {
  role: "engineer",
  scope: "global:read",
  expiresIn: "365d",
  rotateBefore: "30d",
  tlsAccess: false,
} as const satisfies {
  role: (typeof TOKEN_ROLES)[number];
  scope: string;
  expiresIn: string;
  rotateBefore: string;
  tlsAccess: boolean;
};

/** A Kubernetes namespace name. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** A Kubernetes object name. */
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** The hygiene policy when `policy:` does not say. */
export const BUILTIN_POLICY = { unusedAfter: "90d", maxLifetime: "400d" } as const;

/** The default journal directory, beside the config file. */
export const DEFAULT_STATE_DIR = ".ftr-state";

const roleField = z.enum(TOKEN_ROLES).meta({
  description: `Role of the token. Default \`${BUILTIN_TOKEN_DEFAULTS.role}\`.`,
  examples: ["engineer"],
});

const rolesField = z
  .array(z.string().trim().min(1, { error: "an empty role name; remove it" }))
  .min(1, { error: "the list of roles is empty; name at least one role, or use role" })
  .meta({
    description:
      "Roles of the token, by name as `GET /roles` lists them (the 2026 API's several roles); resolved to ids when the plan is made, and an unknown name stops the environment. Takes precedence over `role`.",
    examples: [["engineer"]],
  });

const workspacesField = z
  .array(z.string().min(1, { error: "an empty workspace id; remove it" }))
  .min(1, { error: "the list of workspaces is empty; remove the key" })
  .meta({
    description:
      "Next-Gen WAF workspace ids the token is limited to (sent with `limit_workspaces: true`); only roles that take workspaces use them.",
    examples: [["wsA1b2C3d4E5f6G7h8I9j0"]],
  });

const scopeField = z
  .string()
  .regex(SCOPE_PATTERN, { error: (issue) => scopeProblem(issue.input) })
  .meta({
    description: `Scopes of the token, space-separated: ${TOKEN_SCOPES.join(", ")}. Default \`${BUILTIN_TOKEN_DEFAULTS.scope}\`, which is all an exporter needs.`,
    examples: ["global:read"],
  });

const expiresInField = durationWithoutDefault(
  `Lifetime of a new token. Default \`${BUILTIN_TOKEN_DEFAULTS.expiresIn}\`.`,
  BUILTIN_TOKEN_DEFAULTS.expiresIn,
);
const rotateBeforeField = durationWithoutDefault(
  `Rotate a token when it expires within this long; must be shorter than expiresIn. Default \`${BUILTIN_TOKEN_DEFAULTS.rotateBefore}\`.`,
  BUILTIN_TOKEN_DEFAULTS.rotateBefore,
);
const tlsAccessField = z.boolean().meta({
  description: `Whether the token may use TLS management endpoints. Default ${String(BUILTIN_TOKEN_DEFAULTS.tlsAccess)}.`,
  examples: [false],
});

/** The overridable token settings: in `defaults.token` and in each environment's `token`. */
const tokenDefaultsShape = {
  role: roleField.optional(),
  roles: rolesField.optional(),
  workspaces: workspacesField.optional(),
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
      .refine((p) => namePatternProblem(p) === undefined, { error: (issue) => regexProblem(issue.input) })
      .meta({
        description:
          "Every service whose name matches this regular expression, in RE2 syntax like the exporter's service allowlist (searched anywhere in the name; no backreferences or lookaround, so matching takes time linear in the name).",
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

/**
 * The adapter types a config document names, by kind, so that only their schemas are built
 * ({@link adapterSelection}). A kind left undefined gets every type: all of its entries' types must
 * be known for a selection, so a document with an unknown or missing type is checked against the
 * whole union, and its message lists every type as before.
 */
export interface AdapterSelection {
  readonly secret?: ReadonlySet<string>;
  readonly reload?: ReadonlySet<string>;
  readonly verify?: ReadonlySet<string>;
  readonly notify?: ReadonlySet<string>;
}

function recordOf(value: unknown): Readonly<Record<string, unknown>> | undefined {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** The types `entries` name, when each is an object whose `type` is one of `table`'s; else undefined. */
function typesNamed(table: object, entries: readonly unknown[]): ReadonlySet<string> | undefined {
  const names = new Set<string>();
  for (const entry of entries) {
    const type = recordOf(entry)?.["type"];
    if (typeof type !== "string" || !Object.hasOwn(table, type)) return undefined;
    names.add(type);
  }
  return names;
}

/** The entries of a list that defaults to empty; undefined when the value is not a list. */
function listEntries(value: unknown): readonly unknown[] | undefined {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : undefined;
}

/** The adapter types `data` (a config document as read) names: see {@link AdapterSelection}. */
export function adapterSelection(data: unknown): AdapterSelection {
  const doc = recordOf(data);
  const environments = Array.isArray(doc?.["environments"]) ? (doc["environments"] as unknown[]) : [];
  const secrets: unknown[] = [];
  const reloads: unknown[] = [];
  const verifies: unknown[] = [];
  let reloadList = true;
  let verifyList = true;
  for (const raw of environments) {
    const env = recordOf(raw);
    if (env === undefined) continue;
    secrets.push(env["secret"]);
    const reload = listEntries(env["reload"]);
    const verify = listEntries(env["verify"]);
    if (reload === undefined) reloadList = false;
    else reloads.push(...reload);
    if (verify === undefined) verifyList = false;
    else verifies.push(...verify);
  }
  const notify = listEntries(doc?.["notify"]);
  const selection: {
    secret?: ReadonlySet<string>;
    reload?: ReadonlySet<string>;
    verify?: ReadonlySet<string>;
    notify?: ReadonlySet<string>;
  } = {};
  const secret = typesNamed(secretStores, secrets);
  if (secret) selection.secret = secret;
  const reload = reloadList ? typesNamed(reloaders, reloads) : undefined;
  if (reload) selection.reload = reload;
  const verify = verifyList ? typesNamed(verifiers, verifies) : undefined;
  if (verify) selection.verify = verify;
  const notifyTypes = notify ? typesNamed(notifiers, notify) : undefined;
  if (notifyTypes) selection.notify = notifyTypes;
  return selection;
}

/** The `secret`, `reload` and `verify` entries, built from the adapters' registry for `ctx`. */
function adapterSchemas(ctx: ConfigContext, only: AdapterSelection) {
  return {
    secret: unionOf(secretStores, ctx, only.secret).meta({
      description:
        "Where this environment's token value is stored: `type: file`, `type: aws-secrets-manager`, `type: kubernetes-secret` or `type: exec`.",
    }),
    reload: unionOf(reloaders, ctx, only.reload).meta({
      description:
        "A step that makes the consumer pick up the new secret: `exec`, `external-secret` or `kubernetes-rollout`.",
    }),
    verify: unionOf(verifiers, ctx, only.verify).meta({
      description: "A check that the consumer uses the new token: `token-in-use`, `prometheus` or `exec`.",
    }),
  };
}

/**
 * One environment, built for `ctx`: its adapters' entries normalise against the config's directory.
 * `only`: the adapter types to build (default every one).
 */
function environmentSchemaFor(ctx: ConfigContext, only: AdapterSelection = {}) {
  const adapters = adapterSchemas(ctx, only);
  return z
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
      secret: adapters.secret,
      reload: z
        .array(adapters.reload)
        .meta({ description: "Steps run in order after the new secret is stored." })
        .default([]),
      verify: z
        .array(adapters.verify)
        .meta({ description: "Checks that must all pass before old tokens are revoked." })
        .default([]),
      approval: z
        .enum(["required", "none"])
        .meta({
          description: "`required`: ask before rotating this environment unless --yes is given.",
          examples: ["required"],
        })
        .default("none"),
    })
    .meta({ description: "One environment; environments are rotated in list order." });
}

/**
 * The config document, built for `ctx`: the config file's directory and a sink for warnings, which
 * the adapters' entries use while normalising. `only`: the adapter types to build (default every
 * one; {@link adapterSelection} of the document to validate builds just those it names).
 * `environment`: the schema of one environment, when the caller has built it already.
 */
export function configSchemaFor(
  ctx: ConfigContext,
  only: AdapterSelection = {},
  environment: ReturnType<typeof environmentSchemaFor> = environmentSchemaFor(ctx, only),
) {
  return z
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
          type: z
            .enum(["directory", "kubernetes"])
            .meta({
              description:
                "Where the lock and the journal live: `directory` (default, `dir` on this machine) or `kubernetes` (a Lease and a Secret or ConfigMap, for rotation run as a Job).",
              examples: ["kubernetes"],
            })
            .optional(),
          dir: z
            .string()
            .min(1, { error: "state.dir is empty; give a directory or remove the key" })
            .meta({
              description: `Journal directory, relative to the config file's directory. Default \`${DEFAULT_STATE_DIR}\`. With \`type: kubernetes\` it keeps only \`serve\`'s remembered notices.`,
              examples: [".ftr-state"],
            })
            .optional(),
          namespace: z
            .string()
            .regex(DNS_LABEL, { error: "state.namespace must be a Kubernetes namespace name (DNS label)" })
            .meta({
              description: "With `type: kubernetes`: the namespace of the Lease and the journal.",
              examples: ["monitoring"],
            })
            .optional(),
          name: z
            .string()
            .regex(DNS_SUBDOMAIN, {
              error: "state.name must be a Kubernetes object name (lower-case DNS subdomain)",
            })
            .meta({
              description:
                "With `type: kubernetes`: the name of the Lease (the lock) and of the Secret or ConfigMap (the journal).",
              examples: ["ftr-state"],
            })
            .optional(),
          resource: z
            .enum(["secret", "configmap"])
            .meta({
              description:
                "With `type: kubernetes`: keep the journal in a `secret` (default) or a `configmap`. It never holds a token value.",
            })
            .optional(),
          kubeconfig: z
            .string()
            .min(1)
            .meta({
              description:
                "With `type: kubernetes`: a kubeconfig file; default `KUBECONFIG`, `~/.kube/config`, then the pod's service account.",
            })
            .optional(),
          context: z
            .string()
            .min(1)
            .meta({
              description: "With `type: kubernetes`: the kubeconfig context; default its current one.",
            })
            .optional(),
          leaseDuration: durationWithoutDefault(
            "With `type: kubernetes`: how long the Lease stays held without renewal (renewed every third of it while the run lives). Default `60s`.",
            "60s",
          ).optional(),
        })
        .meta({ description: "Where rotation runs are locked and journaled." })
        .optional(),
      schedule: z
        .strictObject({
          window: z
            .union([z.string(), z.array(z.string()).min(1)])
            .meta({
              description:
                "When `ftr rotate --due` may start an environment: days and a time range, e.g. `Mon-Thu 09:30-16:00`; a list for several. A run in progress finishes the environment it is in.",
              examples: ["Mon-Thu 09:30-16:00"],
            })
            .optional(),
          timeZone: z
            .string()
            .min(1)
            .meta({ description: "IANA time zone of the window. Default UTC.", examples: ["Europe/London"] })
            .optional(),
        })
        .meta({ description: "When unattended rotation (`ftr rotate --due`) may start." })
        .optional(),
      policy: z
        .strictObject({
          unusedAfter: durationWithoutDefault(
            `A token nobody has used for this long (or never used and older than this) is a finding. Default \`${BUILTIN_POLICY.unusedAfter}\`.`,
            BUILTIN_POLICY.unusedAfter,
          ).optional(),
          maxLifetime: durationWithoutDefault(
            `A token whose lifetime (creation to expiry) is longer than this is a finding, as is one that never expires. Default \`${BUILTIN_POLICY.maxLifetime}\`.`,
            BUILTIN_POLICY.maxLifetime,
          ).optional(),
        })
        .meta({
          description:
            "Hygiene rules `status`, `check --all` and `serve` judge every automation token in the account by.",
        })
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
      notify: z
        .array(
          unionOf(notifiers, ctx, only.notify).meta({
            description: "Where to send rotation events: `type: webhook` or `type: slack`.",
          }),
        )
        .meta({
          description:
            "Notifiers told about every rotation (start, each environment's outcome, the end) and, from `ftr serve`, tokens entering their rotateBefore window. A failed notification is a warning; it never changes a rotation's outcome.",
        })
        .default([]),
      environments: z
        .array(environment)
        .min(1, { error: "no environments: add at least one under `environments:`" })
        .meta({ description: "The environments to manage, in rotation order." }),
    })
    .meta({
      title: "fastly-token-rotator configuration",
      description:
        "Which Fastly automation tokens to rotate, where their values live, and how to roll them out.",
    });
}

/** The config document as written; describes it for the JSON Schema and messages. */
// Pure: a bundle that never reads it (the command line) does not build it.
export const configSchema = /* @__PURE__ */ configSchemaFor(describingContext);

/** The config document as written (before normalisation). */
export type ConfigInput = z.input<typeof configSchema>;
/** The config document after schema validation (before normalisation). */
export type ParsedConfig = z.output<typeof configSchema>;
/** One environment after schema validation. */
export type ParsedEnvironment = z.output<ReturnType<typeof environmentSchemaFor>>;
/** `defaults.token` after schema validation. */
export type ParsedTokenDefaults = NonNullable<NonNullable<ParsedConfig["defaults"]>["token"]>;

/** One environment's schema: validation checks each on its own so one broken entry hides nothing. */
export const environmentEntrySchema = environmentSchemaFor;
/** Each `defaults.token` field's schema, so the valid ones still apply when another is broken. */
export const tokenDefaultFields = {
  role: roleField,
  roles: rolesField,
  workspaces: workspacesField,
  scope: scopeField,
  expiresIn: expiresInField,
  rotateBefore: rotateBeforeField,
  tlsAccess: tlsAccessField,
};
