/** Config fields the GitHub adapters share (zod only: read when any config is parsed). */
import * as z from "zod";

/** `owner/repo`. */
export const repositoryField = z
  .string()
  .regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, {
    error: "give the repository as owner/name, e.g. alphagov/govuk-fastly",
  })
  .meta({ description: "The repository, as owner/name.", examples: ["alphagov/govuk-fastly"] });

/** The environment variable holding the GitHub token. */
export const githubTokenEnvField = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: "not an environment variable name; e.g. GITHUB_TOKEN" })
  .meta({
    description:
      "Environment variable holding the GitHub token (a fine-grained token: see docs/permissions.md).",
    examples: ["GITHUB_TOKEN"],
  })
  .default("GITHUB_TOKEN");

/** The REST API's base URL. */
export const githubApiUrlField = z
  .url({
    protocol: /^https?$/,
    error: "give the API's URL with https://, e.g. https://github.example.com/api/v3",
  })
  .meta({
    description:
      "REST API base URL: GitHub Enterprise Server's is https://HOST/api/v3. Default https://api.github.com.",
    examples: ["https://github.example.com/api/v3"],
  })
  .default("https://api.github.com");
