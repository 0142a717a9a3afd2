import sodium from "libsodium-wrappers";
import type { SecretStore } from "../types.ts";
import type { AdapterDeps } from "../support/deps.ts";
import type { OptionsOf } from "../support/config.ts";
import { resolveDeps } from "../support/deps.ts";
import { NothingWrittenError } from "../support/store.ts";
import { explainGitHub, githubClient, githubStatus, GitHubError } from "../support/github.ts";
import type { GitHubActionsConfig } from "./schema.ts";

/** Options of the `github-actions` store (already validated). */
export type GitHubActionsOptions = OptionsOf<GitHubActionsConfig, "tokenEnv" | "apiUrl">;

/** The permission each kind of secret needs, for messages (see docs/permissions.md). */
function permissionFor(options: GitHubActionsOptions): string {
  if (options.organization !== undefined)
    return `the organization permission "Secrets: read and write" on ${options.organization}`;
  return options.environment !== undefined
    ? `the repository permissions "Environments: read and write" and "Metadata: read" on ${options.repository ?? ""}`
    : `the repository permissions "Secrets: read and write" and "Metadata: read" on ${options.repository ?? ""}`;
}

/** Seal `value` for the holder of `publicKey` (base64), as GitHub asks: libsodium's sealed box. */
export async function sealForGitHub(value: string, publicKey: string): Promise<string> {
  await sodium.ready;
  const key = sodium.from_base64(publicKey, sodium.base64_variants.ORIGINAL);
  const sealed = sodium.crypto_box_seal(sodium.from_string(value), key);
  return sodium.to_base64(sealed, sodium.base64_variants.ORIGINAL);
}

/**
 * A GitHub Actions secret: a repository's, one of its deployment environments', or an
 * organization's. GitHub never gives a secret's value back, so this store cannot be read back
 * (`readBack: false`): the plan says what that means, and a failure after the write is left to a
 * person rather than undone. Staging lives in memory; `promote` seals the value with the target's
 * public key (libsodium's `crypto_box_seal`) and writes it with that key's id. An organization
 * secret keeps its visibility and selected repositories.
 */
export function createGitHubActionsStore(options: GitHubActionsOptions, deps: AdapterDeps = {}): SecretStore {
  const tokenEnv = options.tokenEnv ?? "GITHUB_TOKEN";
  const access = { tokenEnv, apiUrl: options.apiUrl ?? "https://api.github.com" };
  const target =
    options.organization !== undefined
      ? `organization ${options.organization}`
      : `repository ${options.repository ?? ""}${options.environment !== undefined ? ` environment ${options.environment}` : ""}`;
  const description = `github-actions secret ${options.name} of ${target}`;
  const client = githubClient(access, deps, description);
  const { clock } = resolveDeps(deps);
  const need = permissionFor(options);
  const [owner = "", repo = ""] = (options.repository ?? "/").split("/");
  const staged = new Map<string, string>();
  /** Runs whose write was answered: what a restore would have to undo. */
  const written = new Set<string>();

  const call = async <T>(what: string, send: () => Promise<T>): Promise<T> => {
    try {
      return await send();
    } catch (error) {
      throw explainGitHub(`${what} (${description})`, error, tokenEnv, need);
    }
  };

  const publicKey = async (): Promise<{ key_id: string; key: string }> => {
    const octokit = client();
    const answer = await call("reading the public key", async () =>
      options.organization !== undefined
        ? (await octokit.rest.actions.getOrgPublicKey({ org: options.organization })).data
        : options.environment !== undefined
          ? (
              await octokit.rest.actions.getEnvironmentPublicKey({
                owner,
                repo,
                environment_name: options.environment,
              })
            ).data
          : (await octokit.rest.actions.getRepoPublicKey({ owner, repo })).data,
    );
    return { key_id: answer.key_id, key: answer.key };
  };

  /** An organization secret's visibility and selected repositories, to write them back unchanged. */
  const orgAccess = async (
    org: string,
  ): Promise<{ visibility: "all" | "private" | "selected"; selected_repository_ids?: number[] }> => {
    const octokit = client();
    let visibility: "all" | "private" | "selected" = "private";
    try {
      visibility = (await octokit.rest.actions.getOrgSecret({ org, secret_name: options.name })).data
        .visibility;
    } catch (error) {
      // A new organization secret is private (visible to private and internal repositories).
      if (githubStatus(error) !== 404)
        throw explainGitHub(`reading the secret (${description})`, error, tokenEnv, need);
      return { visibility };
    }
    if (visibility !== "selected") return { visibility };
    const ids = await call("listing the secret's selected repositories", async () => {
      const out: number[] = [];
      for (let page = 1; ; page++) {
        const { data } = await octokit.rest.actions.listSelectedReposForOrgSecret({
          org,
          secret_name: options.name,
          per_page: 100,
          page,
        });
        out.push(...data.repositories.map((r) => r.id));
        if (data.repositories.length < 100 || out.length >= data.total_count) return out;
      }
    });
    return { visibility, selected_repository_ids: ids };
  };

  const write = async (value: string): Promise<void> => {
    const key = await publicKey();
    const encrypted_value = await sealForGitHub(value, key.key);
    const octokit = client();
    const put = async (): Promise<void> => {
      if (options.organization !== undefined) {
        const keep = await orgAccess(options.organization);
        await octokit.rest.actions.createOrUpdateOrgSecret({
          org: options.organization,
          secret_name: options.name,
          encrypted_value,
          key_id: key.key_id,
          ...keep,
        });
      } else if (options.environment !== undefined) {
        await octokit.rest.actions.createOrUpdateEnvironmentSecret({
          owner,
          repo,
          environment_name: options.environment,
          secret_name: options.name,
          encrypted_value,
          key_id: key.key_id,
        });
      } else {
        await octokit.rest.actions.createOrUpdateRepoSecret({
          owner,
          repo,
          secret_name: options.name,
          encrypted_value,
          key_id: key.key_id,
        });
      }
    };
    // The same sealed value written twice is the same secret: a write whose answer was a 5xx or
    // lost on the way is repeated (twice at most) rather than left unknown.
    for (let attempt = 0; ; attempt++) {
      try {
        await put();
        return;
      } catch (error) {
        const status = githubStatus(error);
        if (status >= 400 && status < 500) {
          // Refused: the secret is as it was.
          throw new NothingWrittenError(
            explainGitHub(`writing the secret (${description})`, error, tokenEnv, need).message,
          );
        }
        if (error instanceof GitHubError || attempt >= 2) {
          throw explainGitHub(`writing the secret (${description})`, error, tokenEnv, need);
        }
        await clock.sleep(1000 * (attempt + 1), deps.signal);
      }
    }
  };

  return {
    description,
    durableStaging: false,
    readBack: false,

    read: () => Promise.resolve(undefined),

    async preflight() {
      try {
        await publicKey();
        if (options.organization !== undefined) await orgAccess(options.organization);
        return [];
      } catch (error) {
        return [error instanceof Error ? error.message : String(error)];
      }
    },

    stage(value, runId) {
      if (/[\r\n]/.test(value))
        return Promise.reject(new GitHubError("refusing to store a value with a line break", 0));
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
      // Never written by this run: the secret holds what it held.
      if (!written.has(runId)) return Promise.resolve();
      return Promise.reject(
        new GitHubError(
          `${description} cannot be read back, so the value before run ${runId} is unknown and cannot be put back`,
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
export { createGitHubActionsStore as create };
