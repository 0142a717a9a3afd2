import type { Verifier, VerifyContext, VerifyResult } from "../types.ts";
import type { OptionsOf } from "../support/config.ts";
import { errorMessage, resolveDeps, type AdapterDeps } from "../support/deps.ts";
import { explainGitHub, githubClient } from "../support/github.ts";
import { pollUntil, PollTimeoutError, type Probe } from "../support/poll.ts";
import { escapeControl } from "../../util/escape.ts";
import { formatDuration } from "../../util/time.ts";
import type { GitHubWorkflowConfig } from "./schema.ts";

/** Options of the `github-workflow` verifier (already validated; durations in ms). */
export type GitHubWorkflowOptions = OptionsOf<
  GitHubWorkflowConfig,
  "tokenEnv" | "apiUrl" | "ref" | "intervalMs"
>;

const NEED = 'the repository permission "Actions: read and write"';

/**
 * Dispatches the workflow (`POST .../dispatches` asking for the run's details), waits for that run to
 * complete, and passes when it concludes `success`, reporting the run's URL. A server that does not
 * return the run (an older GitHub Enterprise Server answers 204) is asked for the workflow's
 * dispatched runs on `ref`, and the first one created after the dispatch is taken.
 */
export function createGitHubWorkflowVerifier(
  options: GitHubWorkflowOptions,
  deps: AdapterDeps = {},
): Verifier {
  const { clock } = resolveDeps(deps);
  const tokenEnv = options.tokenEnv ?? "GITHUB_TOKEN";
  const description = `github-workflow ${options.repository} ${options.workflow}`;
  const client = githubClient(
    { tokenEnv, apiUrl: options.apiUrl ?? "https://api.github.com" },
    deps,
    description,
  );
  const [owner = "", repo = ""] = options.repository.split("/");
  const ref = options.ref ?? "main";
  const interval = options.intervalMs ?? 10_000;

  return {
    description: `${description} (timeout ${formatDuration(options.timeoutMs)})`,
    async verify(ctx: VerifyContext): Promise<VerifyResult> {
      const octokit = client();
      const deadline = clock.now() + options.timeoutMs;
      let runId: number | undefined;
      let url: string | undefined;
      try {
        const before = new Set(
          (
            await octokit.rest.actions.listWorkflowRuns({
              owner,
              repo,
              workflow_id: options.workflow,
              event: "workflow_dispatch",
              branch: ref,
              per_page: 20,
            })
          ).data.workflow_runs.map((r) => r.id),
        );
        const dispatched = await octokit.request(
          "POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches",
          {
            owner,
            repo,
            workflow_id: options.workflow,
            ref,
            ...(options.inputs ? { inputs: options.inputs } : {}),
            return_run_details: true,
          },
        );
        const details =
          (dispatched.status as number) === 200
            ? (dispatched.data as { workflow_run_id?: number; html_url?: string } | undefined)
            : undefined;
        runId = details?.workflow_run_id;
        url = details?.html_url;
        const run = await pollUntil(
          { deadline, interval, signal: ctx.signal, clock },
          async (): Promise<Probe<{ conclusion: string | null; html_url: string }>> => {
            if (runId === undefined) {
              const { data } = await octokit.rest.actions.listWorkflowRuns({
                owner,
                repo,
                workflow_id: options.workflow,
                event: "workflow_dispatch",
                branch: ref,
                per_page: 20,
              });
              const fresh = data.workflow_runs
                .filter((r) => !before.has(r.id))
                .sort((a, b) => a.id - b.id)[0];
              if (!fresh) return { done: false, reason: "the dispatched run has not appeared yet" };
              runId = fresh.id;
              url = fresh.html_url;
            }
            const { data } = await octokit.rest.actions.getWorkflowRun({ owner, repo, run_id: runId });
            url = data.html_url;
            if (data.status !== "completed")
              return { done: false, reason: `run ${data.html_url} is ${data.status ?? "queued"}` };
            return { done: true, value: { conclusion: data.conclusion, html_url: data.html_url } };
          },
        );
        if (run.conclusion === "success")
          return { ok: true, detail: `run ${run.html_url} concluded success` };
        return {
          ok: false,
          detail: `run ${run.html_url} concluded ${escapeControl(run.conclusion ?? "without a conclusion")}; see its log`,
        };
      } catch (error) {
        if (error instanceof PollTimeoutError) {
          return {
            ok: false,
            detail: `no conclusion within ${formatDuration(options.timeoutMs)}: ${error.reason}`,
          };
        }
        if (ctx.signal?.aborted)
          return { ok: false, detail: `interrupted${url ? ` while waiting for ${url}` : ""}` };
        return {
          ok: false,
          detail: errorMessage(
            explainGitHub(`dispatching or following ${options.workflow}`, error, tokenEnv, NEED),
          ),
        };
      }
    },
  };
}

/** The registry's entry point (see `../registry.ts`). */
export { createGitHubWorkflowVerifier as create };
