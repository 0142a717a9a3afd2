/** `verify: - { type: hcp-terraform-run }`: the config as written, and the verifier's Options. */
import * as z from "zod";
import { checkInterval, duration, type ConfigContext } from "../support/config.ts";
import { terraformAddressField, terraformName, terraformTokenEnvField } from "../support/terraform-config.ts";

/** The `hcp-terraform-run` verify step: a plan-only run of the workspace plans. */
export function hcpTerraformRunSchema(_ctx: ConfigContext) {
  return z
    .strictObject({
      type: z.literal("hcp-terraform-run"),
      organization: terraformName("organization", "govuk"),
      workspace: terraformName("workspace", "govuk-fastly-production"),
      message: z
        .string()
        .min(1)
        .max(200)
        .meta({ description: "The run's message. Default: says it checks the new Fastly token." })
        .default("fastly-token-rotator: plan-only run checking the new Fastly token"),
      timeout: duration("Give up when the run has not finished planning after this long.", "30m"),
      interval: duration("Look at the run this often.", "10s"),
      tokenEnv: terraformTokenEnvField,
      address: terraformAddressField,
    })
    .meta({
      description:
        "Queue a plan-only run in an HCP Terraform workspace and pass when it plans (planned_and_finished).",
    })
    .transform(({ type, organization, workspace, message, timeout, interval, tokenEnv, address }, issues) => {
      const step = { timeoutMs: timeout, intervalMs: interval };
      checkInterval(issues, step);
      return {
        type,
        organization,
        workspace,
        message,
        ...step,
        tokenEnv,
        address: address.replace(/\/+$/, ""),
      };
    });
}

/** Queues a plan-only run and waits for it to plan. */
export type HcpTerraformRunConfig = z.output<ReturnType<typeof hcpTerraformRunSchema>>;
