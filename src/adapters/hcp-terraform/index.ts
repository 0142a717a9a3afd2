import type { SecretStore } from "../types.ts";
import type { OptionsOf } from "../support/config.ts";
import { resolveDeps, type AdapterDeps } from "../support/deps.ts";
import { NothingWrittenError } from "../support/store.ts";
import { nextPage, resources, terraformApi, TerraformError, type Resource } from "../support/terraform.ts";
import type { HcpTerraformConfig } from "./schema.ts";

/** Options of the `hcp-terraform` store (already validated). */
export type HcpTerraformOptions = OptionsOf<HcpTerraformConfig, "category" | "tokenEnv" | "address">;

/**
 * A variable of an HCP Terraform (or Terraform Enterprise) workspace or variable set, over its
 * JSON:API: found by key and category, updated in place (`PATCH`) when it exists, created
 * otherwise, always `sensitive: true`. A sensitive variable's value is never given back, so this
 * store cannot be read back (`readBack: false`): the plan says so, and a failure after the write
 * is left to a person. Staging lives in memory.
 */
export function createHcpTerraformStore(options: HcpTerraformOptions, deps: AdapterDeps = {}): SecretStore {
  const category = options.category ?? "env";
  const where =
    options.workspace !== undefined
      ? `workspace ${options.organization}/${options.workspace}`
      : `variable set "${options.variableSet ?? ""}" of ${options.organization}`;
  const description = `hcp-terraform ${category} variable ${options.key} of ${where}`;
  const need =
    options.workspace !== undefined
      ? `"Read variables" and "Read and write variables" on workspace ${options.workspace}`
      : 'the organization permission "Manage all workspaces" (or "Manage workspaces") to edit variable sets';
  const api = terraformApi(
    { address: options.address ?? "https://app.terraform.io", tokenEnv: options.tokenEnv ?? "TFE_TOKEN" },
    deps,
    description,
    need,
  );
  const { clock } = resolveDeps(deps);
  const org = encodeURIComponent(options.organization);
  const staged = new Map<string, string>();
  const written = new Set<string>();
  let varsPath: string | undefined;

  /** `/workspaces/<id>/vars` or `/varsets/<id>/relationships/vars`. */
  const collection = async (): Promise<string> => {
    if (varsPath) return varsPath;
    if (options.workspace !== undefined) {
      const answer = await api.request(
        "GET",
        `/organizations/${org}/workspaces/${encodeURIComponent(options.workspace)}`,
      );
      const ws = answer.status === 200 ? resources(answer)[0] : undefined;
      if (!ws) throw api.failure(`finding workspace ${options.workspace}`, answer);
      varsPath = `/workspaces/${encodeURIComponent(ws.id)}/vars`;
      return varsPath;
    }
    for (let page: number | undefined = 1; page !== undefined;) {
      const answer = await api.request(
        "GET",
        `/organizations/${org}/varsets?page%5Bnumber%5D=${page}&page%5Bsize%5D=100&q=${encodeURIComponent(options.variableSet ?? "")}`,
      );
      if (answer.status !== 200) throw api.failure(`listing variable sets`, answer);
      const found = resources(answer).find((v) => v.attributes.name === options.variableSet);
      if (found) {
        varsPath = `/varsets/${encodeURIComponent(found.id)}/relationships/vars`;
        return varsPath;
      }
      page = nextPage(answer);
    }
    throw new TerraformError(
      `${description}: organization ${options.organization} has no variable set named "${options.variableSet ?? ""}"; create it first`,
      404,
    );
  };

  const findVariable = async (): Promise<Resource | undefined> => {
    const path = await collection();
    const answer = await api.request("GET", path);
    if (answer.status !== 200) throw api.failure("listing variables", answer);
    return resources(answer).find(
      (v) => v.attributes.key === options.key && v.attributes.category === category,
    );
  };

  const write = async (value: string): Promise<void> => {
    for (let attempt = 0; ; attempt++) {
      const path = await collection();
      const existing = await findVariable();
      const answer = existing
        ? await api.request("PATCH", `${path}/${encodeURIComponent(existing.id)}`, {
            data: { id: existing.id, type: "vars", attributes: { value, sensitive: true } },
          })
        : await api.request("POST", path, {
            data: {
              type: "vars",
              attributes: { key: options.key, value, category, hcl: false, sensitive: true },
            },
          });
      if (answer.status === 200 || answer.status === 201) return;
      if (answer.status >= 400 && answer.status < 500) {
        throw new NothingWrittenError(
          api.failure(existing ? "updating the variable" : "creating the variable", answer).message,
        );
      }
      // A 5xx: the write may or may not have happened; writing the same value again is harmless.
      if (attempt >= 2) throw api.failure("writing the variable", answer);
      await clock.sleep(1000 * (attempt + 1), deps.signal);
    }
  };

  return {
    description,
    durableStaging: false,
    readBack: false,

    read: () => Promise.resolve(undefined),

    async preflight() {
      try {
        const existing = await findVariable();
        if (existing && existing.attributes.hcl === true) {
          return [
            `${description} is an HCL variable; the token is written as a plain string: make it a string variable first`,
          ];
        }
        return [];
      } catch (error) {
        return [error instanceof Error ? error.message : String(error)];
      }
    },

    stage(value, runId) {
      if (/[\r\n]/.test(value))
        return Promise.reject(new TerraformError("refusing to store a value with a line break", 0));
      staged.set(runId, value);
      return Promise.resolve();
    },

    readStaged: (runId) => Promise.resolve(staged.get(runId)),

    async promote(runId) {
      if (written.has(runId)) return;
      const value = staged.get(runId);
      if (value === undefined) {
        throw new NothingWrittenError(
          `nothing staged for run ${runId} in ${description}: the value was held in memory only, and this process does not have it`,
        );
      }
      await write(value);
      written.add(runId);
      staged.delete(runId);
    },

    readPrevious: () => Promise.resolve(undefined),

    restorePrevious(runId) {
      if (!written.has(runId)) return Promise.resolve();
      return Promise.reject(
        new TerraformError(
          `${description} is sensitive and cannot be read back, so the value before run ${runId} is unknown and cannot be put back`,
          0,
        ),
      );
    },

    discardStaged(runId) {
      staged.delete(runId);
      return Promise.resolve();
    },
  };
}

/** The registry's entry point (see `../registry.ts`). */
export { createHcpTerraformStore as create };
