import type { Verifier, VerifyContext, VerifyResult } from "../types.ts";
import type { OptionsOf } from "../support/config.ts";
import { errorMessage, resolveDeps, type AdapterDeps } from "../support/deps.ts";
import { pollUntil, PollTimeoutError, type Probe } from "../support/poll.ts";
import { resources, terraformApi } from "../support/terraform.ts";
import { escapeControl } from "../../util/escape.ts";
import { formatDuration } from "../../util/time.ts";
import type { HcpTerraformRunConfig } from "./schema.ts";

/** Options of the `hcp-terraform-run` verifier (already validated; durations in ms). */
export type HcpTerraformRunOptions = OptionsOf<
  HcpTerraformRunConfig,
  "message" | "intervalMs" | "tokenEnv" | "address"
>;

/** Run statuses after which nothing more happens, and whether they pass. */
const FINAL: Readonly<Record<string, boolean>> = {
  planned_and_finished: true,
  errored: false,
  canceled: false,
  force_canceled: false,
  discarded: false,
};

/**
 * Queues a plan-only run (`POST /runs` with `plan-only: true`) in the workspace, waits for it to
 * end, and passes when it planned (`planned_and_finished`): the plan ran with the workspace's
 * variables, the new token among them. Reports the run's URL.
 */
export function createHcpTerraformRunVerifier(
  options: HcpTerraformRunOptions,
  deps: AdapterDeps = {},
): Verifier {
  const { clock } = resolveDeps(deps);
  const description = `hcp-terraform-run ${options.organization}/${options.workspace}`;
  const api = terraformApi(
    { address: options.address ?? "https://app.terraform.io", tokenEnv: options.tokenEnv ?? "TFE_TOKEN" },
    deps,
    description,
    `"Queue plans" on workspace ${options.workspace}`,
  );
  const interval = options.intervalMs ?? 10_000;
  return {
    description: `${description} (timeout ${formatDuration(options.timeoutMs)})`,
    async verify(ctx: VerifyContext): Promise<VerifyResult> {
      let url: string | undefined;
      try {
        const wsAnswer = await api.request(
          "GET",
          `/organizations/${encodeURIComponent(options.organization)}/workspaces/${encodeURIComponent(options.workspace)}`,
        );
        const ws = wsAnswer.status === 200 ? resources(wsAnswer)[0] : undefined;
        if (!ws)
          return {
            ok: false,
            detail: api.failure(`finding workspace ${options.workspace}`, wsAnswer).message,
          };
        const created = await api.request("POST", "/runs", {
          data: {
            type: "runs",
            attributes: {
              "plan-only": true,
              message: options.message ?? "fastly-token-rotator: plan-only run",
            },
            relationships: { workspace: { data: { type: "workspaces", id: ws.id } } },
          },
        });
        const run = created.status === 201 ? resources(created)[0] : undefined;
        if (!run) return { ok: false, detail: api.failure("queueing a plan-only run", created).message };
        url = `${api.address}/app/${options.organization}/workspaces/${options.workspace}/runs/${run.id}`;
        const status = await pollUntil(
          { deadline: clock.now() + options.timeoutMs, interval, signal: ctx.signal, clock, waitFirst: true },
          async (): Promise<Probe<string>> => {
            const answer = await api.request("GET", `/runs/${encodeURIComponent(run.id)}`);
            const now = answer.status === 200 ? resources(answer)[0] : undefined;
            if (!now) throw api.failure(`reading run ${run.id}`, answer);
            const s = typeof now.attributes.status === "string" ? now.attributes.status : "unknown";
            return s in FINAL
              ? { done: true, value: s }
              : { done: false, reason: `run ${url ?? run.id} is ${escapeControl(s)}` };
          },
        );
        return FINAL[status]
          ? { ok: true, detail: `run ${url} planned` }
          : { ok: false, detail: `run ${url} ended ${escapeControl(status)}; see its log` };
      } catch (error) {
        if (error instanceof PollTimeoutError) {
          return {
            ok: false,
            detail: `no result within ${formatDuration(options.timeoutMs)}: ${error.reason}`,
          };
        }
        if (ctx.signal?.aborted)
          return { ok: false, detail: `interrupted${url ? ` while waiting for ${url}` : ""}` };
        return { ok: false, detail: errorMessage(error) };
      }
    },
  };
}

/** The registry's entry point (see `../registry.ts`). */
export { createHcpTerraformRunVerifier as create };
