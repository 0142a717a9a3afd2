/** `verify: - { type: github-workflow }`: the config as written, and the verifier's Options. */
import * as z from "zod";
import { checkInterval, defined, duration, type ConfigContext } from "../support/config.ts";
import { githubApiUrlField, githubTokenEnvField, repositoryField } from "../support/github-config.ts";

/** The `github-workflow` verify step: a dispatched workflow that uses the secret concludes `success`. */
export function githubWorkflowSchema(_ctx: ConfigContext) {
  return z
    .strictObject({
      type: z.literal("github-workflow"),
      repository: repositoryField,
      workflow: z
        .string()
        .min(1, { error: "workflow is empty; give the workflow's file name (deploy.yml) or id" })
        .meta({
          description: "The workflow's file name or id; it must have a workflow_dispatch trigger.",
          examples: ["deploy.yml"],
        }),
      ref: z
        .string()
        .min(1, { error: "ref is empty; give a branch or tag" })
        .meta({
          description: "The branch or tag to run the workflow on. Default `main`.",
          examples: ["main"],
        })
        .default("main"),
      inputs: z
        .record(z.string(), z.string())
        .meta({ description: "The workflow's inputs.", examples: [{ dry_run: "true" }] })
        .optional(),
      timeout: duration("Give up when the run has not concluded after this long.", "10m"),
      interval: duration("Look at the run this often.", "10s"),
      tokenEnv: githubTokenEnvField,
      apiUrl: githubApiUrlField,
    })
    .meta({
      description:
        "Dispatch a GitHub Actions workflow that uses the secret, wait for its run, and pass when it concludes success.",
    })
    .transform(({ type, repository, workflow, ref, inputs, timeout, interval, tokenEnv, apiUrl }, issues) => {
      const step = { timeoutMs: timeout, intervalMs: interval };
      checkInterval(issues, step);
      return {
        type,
        repository,
        workflow,
        ref,
        ...defined({ inputs }),
        ...step,
        tokenEnv,
        apiUrl: apiUrl.replace(/\/+$/, ""),
      };
    });
}

/** Dispatches a workflow and waits for its run to succeed. */
export type GitHubWorkflowConfig = z.output<ReturnType<typeof githubWorkflowSchema>>;
