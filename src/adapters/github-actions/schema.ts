/** `secret: { type: github-actions }`: the config as written, and the store's Options. */
import * as z from "zod";
import { defined, type ConfigContext } from "../support/config.ts";
import { githubApiUrlField, githubTokenEnvField, repositoryField } from "../support/github-config.ts";

/** GitHub's rule for secret names. */
const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The `github-actions` secret entry: a repository, environment or organization Actions secret. */
export function githubActionsSchema(_ctx: ConfigContext) {
  return z
    .strictObject({
      type: z.literal("github-actions"),
      repository: repositoryField.optional(),
      organization: z
        .string()
        .regex(/^[A-Za-z0-9-]+$/, { error: "not a GitHub organization name" })
        .meta({
          description:
            "An organization secret instead of a repository one (its visibility and selected repositories are kept).",
          examples: ["alphagov"],
        })
        .optional(),
      environment: z
        .string()
        .min(1, {
          error: "environment is empty; give the deployment environment's name or remove environment",
        })
        .meta({
          description: "The repository's deployment environment holding the secret.",
          examples: ["production"],
        })
        .optional(),
      name: z
        .string()
        .regex(SECRET_NAME, {
          error: "a secret name has only letters, digits and _, and does not start with a digit",
        })
        .refine((name) => !/^GITHUB_/i.test(name), {
          error: "secret names starting with GITHUB_ are reserved by GitHub",
        })
        .meta({ description: "The secret's name.", examples: ["FASTLY_API_TOKEN"] }),
      tokenEnv: githubTokenEnvField,
      apiUrl: githubApiUrlField,
    })
    .superRefine((entry, issues) => {
      if ((entry.repository === undefined) === (entry.organization === undefined)) {
        issues.addIssue({
          code: "custom",
          path: ["repository"],
          message: "give exactly one of repository (owner/name) and organization",
        });
      }
      if (entry.environment !== undefined && entry.repository === undefined) {
        issues.addIssue({
          code: "custom",
          path: ["environment"],
          message: "an environment secret belongs to a repository: give repository too",
        });
      }
    })
    .meta({
      description:
        "Store the token value in a GitHub Actions secret (repository, environment or organization), sealed with the target's public key. GitHub secrets cannot be read back.",
    })
    .transform(({ type, name, tokenEnv, apiUrl, ...rest }) => ({
      type,
      name,
      tokenEnv,
      apiUrl: apiUrl.replace(/\/+$/, ""),
      ...defined(rest),
    }));
}

/** A GitHub Actions secret. */
export type GitHubActionsConfig = z.output<ReturnType<typeof githubActionsSchema>>;
