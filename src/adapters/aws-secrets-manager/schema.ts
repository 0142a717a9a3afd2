/** `secret: { type: aws-secrets-manager }`: the config as written, and the store's Options. */
import * as z from "zod";
import type { AdapterTarget } from "../support/describe.ts";
import { defined, type ConfigContext } from "../support/config.ts";

/** The `aws-secrets-manager` secret entry. It needs nothing from the context: no paths, no defaults. */
export function awsSecretSchema(_ctx: ConfigContext) {
  return z
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
          description:
            "The secret string is a JSON object: read and write only this key, keeping the others.",
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
    })
    .transform(({ type, secretId, ...rest }) => ({ type, secretId, ...defined(rest) }));
}

/** A secret in AWS Secrets Manager: the whole secret string, or one key of a JSON object in it. */
export type AwsSecretConfig = z.output<ReturnType<typeof awsSecretSchema>>;

/** The secret (and key) the token is written to, staged as AWSPENDING and promoted to AWSCURRENT. */
export function describeAwsSecret(spec: AwsSecretConfig): AdapterTarget {
  return {
    type: "aws-secrets-manager",
    summary: `AWS Secrets Manager ${spec.secretId}${spec.jsonKey !== undefined ? `, key ${spec.jsonKey}` : ""}${spec.region !== undefined ? ` (${spec.region})` : ""}`,
    target: {
      secretId: spec.secretId,
      ...defined({
        jsonKey: spec.jsonKey,
        region: spec.region,
        endpoint: spec.endpoint,
        profile: spec.profile,
      }),
    },
  };
}
