/** Config fields the HCP Terraform adapters share (zod only: read when any config is parsed). */
import * as z from "zod";

/** An organization or workspace name as HCP Terraform allows them. */
export const terraformName = (what: string, example: string) =>
  z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, { error: `not a ${what} name: letters, digits, "-" and "_"` })
    .meta({ description: `The ${what}'s name.`, examples: [example] });

/** The environment variable holding the API token. */
export const terraformTokenEnvField = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: "not an environment variable name; e.g. TFE_TOKEN" })
  .meta({
    description: "Environment variable holding the API token (a team token: see docs/permissions.md).",
    examples: ["TFE_TOKEN"],
  })
  .default("TFE_TOKEN");

/** HCP Terraform's or a Terraform Enterprise's address. */
export const terraformAddressField = z
  .url({
    protocol: /^https?$/,
    error: "give the address as a URL with https://, e.g. https://tfe.example.com",
  })
  .meta({
    description: "HCP Terraform's address, or your Terraform Enterprise's. Default https://app.terraform.io.",
    examples: ["https://tfe.example.com"],
  })
  .default("https://app.terraform.io");
