/** `secret: { type: hcp-terraform }`: the config as written, and the store's Options. */
import * as z from "zod";
import { defined, type ConfigContext } from "../support/config.ts";
import { terraformAddressField, terraformName, terraformTokenEnvField } from "../support/terraform-config.ts";

/** The `hcp-terraform` secret entry: a sensitive variable of a workspace or a variable set. */
export function hcpTerraformSchema(_ctx: ConfigContext) {
  return z
    .strictObject({
      type: z.literal("hcp-terraform"),
      organization: terraformName("organization", "govuk"),
      workspace: terraformName("workspace", "govuk-fastly-production").optional(),
      variableSet: z
        .string()
        .min(1, { error: "variableSet is empty; give the variable set's name" })
        .meta({
          description: "A variable set's name, instead of a workspace.",
          examples: ["fastly credentials"],
        })
        .optional(),
      key: z
        .string()
        .min(1, { error: "key is empty; give the variable's name" })
        .max(128, { error: "a variable's key has at most 128 characters" })
        .meta({ description: "The variable's key.", examples: ["FASTLY_API_KEY"] }),
      category: z
        .enum(["env", "terraform"], {
          error: 'category is "env" (an environment variable) or "terraform" (a Terraform variable)',
        })
        .meta({
          description:
            "An environment variable (`env`) or a Terraform variable (`terraform`). Default `env`.",
        })
        .default("env"),
      tokenEnv: terraformTokenEnvField,
      address: terraformAddressField,
    })
    .superRefine((entry, issues) => {
      if ((entry.workspace === undefined) === (entry.variableSet === undefined)) {
        issues.addIssue({
          code: "custom",
          path: ["workspace"],
          message: "give exactly one of workspace and variableSet",
        });
      }
      if (entry.category === "env" && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(entry.key)) {
        issues.addIssue({
          code: "custom",
          path: ["key"],
          message:
            "an environment variable's key has only letters, digits and _, and does not start with a digit",
        });
      }
    })
    .meta({
      description:
        "Store the token value in an HCP Terraform / Terraform Enterprise variable (of a workspace or a variable set), written sensitive: it cannot be read back.",
    })
    .transform(({ type, organization, key, category, tokenEnv, address, ...rest }) => ({
      type,
      organization,
      key,
      category,
      tokenEnv,
      address: address.replace(/\/+$/, ""),
      ...defined(rest),
    }));
}

/** A sensitive HCP Terraform variable. */
export type HcpTerraformConfig = z.output<ReturnType<typeof hcpTerraformSchema>>;
