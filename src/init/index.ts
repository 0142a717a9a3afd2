/**
 * `ftr init`: a config for the environments the user names, from the account's existing automation
 * tokens. Reads the account (tokens and services, read-only) and hands it to the pure generator.
 */
import type { FastlyClient } from "../fastly/types.ts";
import {
  renderConfig,
  resolveEnvironments,
  type EnvRequest,
  type InitEnvironment,
  type InitProblem,
  type InitStore,
} from "./generate.ts";

export {
  INIT_STORES,
  PLACEHOLDER,
  holdsWord,
  matchToken,
  parseEnvRequests,
  quoteYaml,
  renderConfig,
  resolveEnvironments,
  servicesSelector,
  tokenSettings,
  type EnvRequest,
  type InitEnvironment,
  type InitProblem,
  type InitStore,
  type ServicesSelector,
  type TokenMatch,
  type TokenSettings,
} from "./generate.ts";

/** Options of {@link initConfig}. */
export interface InitOptions {
  readonly client: FastlyClient;
  readonly requests: readonly EnvRequest[];
  readonly store: InitStore;
  /** Written as `fastly.endpoint`. */
  readonly endpoint?: string;
  /** Written as `fastly.allowInsecure: true`. */
  readonly allowInsecure?: boolean;
  /** Default: the API's now. */
  readonly now?: Date;
}

/** What {@link initConfig} found: the config text when every environment resolved, else the problems. */
export interface InitResult {
  readonly environments: readonly InitEnvironment[];
  readonly problems: readonly InitProblem[];
  /** The YAML; absent when there are problems (nothing should be written then). */
  readonly text?: string;
  /** How many automation tokens and services the account has. */
  readonly counts: { readonly tokens: number; readonly services: number };
}

/** Read the account's automation tokens and services, and write the config for `requests`. */
export async function initConfig(options: InitOptions): Promise<InitResult> {
  const { client } = options;
  const [tokens, services] = await Promise.all([client.listAutomationTokens(), client.listServices()]);
  const { environments, problems } = resolveEnvironments(options.requests, tokens, services);
  const counts = { tokens: tokens.length, services: services.length };
  if (problems.length > 0) return { environments, problems, counts };
  const text = renderConfig(environments, {
    store: options.store,
    now: options.now ?? client.apiNow(),
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    ...(options.allowInsecure === true ? { allowInsecure: true } : {}),
  });
  return { environments, problems, text, counts };
}
