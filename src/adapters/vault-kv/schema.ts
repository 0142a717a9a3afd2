/** `secret: { type: vault-kv }`: the config as written, and the store's Options. */
import * as z from "zod";
import { defined, duration, type ConfigContext } from "../support/config.ts";

const ENV_VAR = /^[A-Za-z_][A-Za-z0-9_]*$/;
const envVar = (description: string, example: string) =>
  z
    .string()
    .regex(ENV_VAR, { error: `not an environment variable name; e.g. ${example}` })
    .meta({ description, examples: [example] });

/** A KV v2 path segment list: no leading or trailing slash, no `..`. */
const kvPath = (what: string, example: string) =>
  z
    .string()
    .regex(/^[^/\s]+(\/[^/\s]+)*$/, {
      error: `${what} is a path like ${example}, without leading or trailing "/"`,
    })
    .refine((p) => !p.split("/").includes(".."), { error: `${what} must not contain ".."` });

/** How ftr logs in to Vault. */
const auth = z
  .discriminatedUnion("method", [
    z.strictObject({
      method: z.literal("token"),
      tokenEnv: envVar("Environment variable holding the Vault token.", "VAULT_TOKEN").default("VAULT_TOKEN"),
    }),
    z.strictObject({
      method: z.literal("approle"),
      roleIdEnv: envVar("Environment variable holding the AppRole's role_id.", "VAULT_ROLE_ID").default(
        "VAULT_ROLE_ID",
      ),
      secretIdEnv: envVar("Environment variable holding the AppRole's secret_id.", "VAULT_SECRET_ID").default(
        "VAULT_SECRET_ID",
      ),
      mount: kvPath("auth.mount", "approle")
        .meta({
          description: "Where the AppRole auth method is mounted. Default `approle`.",
          examples: ["approle"],
        })
        .default("approle"),
    }),
  ])
  .meta({
    description:
      "How to log in: a token, or an AppRole (role_id and secret_id). Default: token from VAULT_TOKEN.",
  });

/** The `vault-kv` secret entry: one key of a KV v2 secret. */
export function vaultKvSchema(_ctx: ConfigContext) {
  return z
    .strictObject({
      type: z.literal("vault-kv"),
      address: z
        .url({
          protocol: /^https?$/,
          error: "give Vault's address as a URL, e.g. https://vault.example.com:8200",
        })
        .meta({ description: "Vault's address (VAULT_ADDR).", examples: ["https://vault.example.com:8200"] }),
      mount: kvPath("mount", "secret")
        .meta({
          description: "Where the KV v2 secrets engine is mounted. Default `secret`.",
          examples: ["secret"],
        })
        .default("secret"),
      path: kvPath("path", "fastly/exporter").meta({
        description: "The secret's path within the mount.",
        examples: ["govuk/fastly-exporter"],
      }),
      key: z
        .string()
        .min(1, { error: "key is empty; give the key of the secret that holds the token" })
        .meta({
          description: "The key holding the token; the secret's other keys are kept. Default `token`.",
          examples: ["token"],
        })
        .default("token"),
      namespace: kvPath("namespace", "admin/team")
        .meta({
          description: "Vault Enterprise / HCP Vault namespace (X-Vault-Namespace).",
          examples: ["admin"],
        })
        .optional(),
      auth: auth.default({ method: "token", tokenEnv: "VAULT_TOKEN" }),
      timeout: duration("Time limit for each request.", "10s"),
      allowInsecure: z
        .boolean()
        .meta({
          description:
            "Allow plain http:// to a host other than localhost, sending the token unencrypted. Default false.",
        })
        .default(false),
    })
    .meta({
      description:
        "Store the token value in one key of a Vault KV v2 secret, written with check-and-set; a rollback writes the previous version's data back.",
    })
    .transform(({ type, address, mount, path, key, namespace, auth: login, timeout, allowInsecure }) => ({
      type,
      address: address.replace(/\/+$/, ""),
      mount,
      path,
      key,
      ...defined({ namespace }),
      auth: login,
      timeoutMs: timeout,
      allowInsecure,
    }));
}

/** One key of a Vault KV v2 secret. */
export type VaultKvConfig = z.output<ReturnType<typeof vaultKvSchema>>;
