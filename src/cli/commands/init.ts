import type { Command } from "commander";
import { INIT_STORES } from "../../init/stores.ts";
import type { CommandContext } from "../context.ts";

/** `ftr init` options. */
export interface InitOpts {
  env?: string[];
  out: string;
  force?: boolean;
  store: string;
  json?: boolean;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Registers `init`. */
export function register(program: Command, { io, run }: CommandContext): void {
  program
    .command("init")
    .description("write a config for the environments you name from the account's existing automation tokens")
    .option(
      "-e, --env <name[=token]>",
      "an environment, and the token it manages by id or name (default: the token whose name holds the environment's name); repeatable",
      collect,
    )
    .option("-o, --out <file>", 'where to write the config ("-": stdout)', "ftr.yaml")
    .option("--force", "overwrite the file when it exists")
    .option(
      "--store <type>",
      `the secret store to write a placeholder for: ${INIT_STORES.join(", ")}`,
      "file",
    )
    .option("--json", "print what was found and the validation as JSON")
    .addHelpText(
      "after",
      `
Reads the account's automation tokens and services with FASTLY_API_TOKEN (listing them needs a
superuser's token, not sudo), finds each environment's token, and writes per environment: the
token's name, its role(s), scope and lifetime, its services as a selector (a name pattern when
one picks exactly its services today, else their ids), a placeholder secret store to fill in,
and a token-in-use verifier. Settings all environments share go under defaults.token. Then the
file is checked as ftr validate checks it. Token values are never read or written.

Without "=TOKEN", an environment's token is the one whose name holds the environment's name as a
word ("… token for Staging" for staging); tokens sharing a name are one token (a rotation leaves
two for a while). When none or several match, nothing is written and the tokens are named: pass
--env NAME=ID. An existing file is never overwritten without --force.

Examples:
  $ export FASTLY_API_TOKEN=...                 # a superuser's user token
  $ ftr init --env staging --env production
  $ ftr init --env staging --env production=fwbTvFRxkWewH8LXGl4qrz --store aws-secrets-manager
  $ ftr init --env integration="GOV.UK prometheus-fastly-exporter token for Integration" --out -
  $ ftr init --env staging --out ftr.yaml --force --json | jq '.validation'`,
    )
    .action((opts: InitOpts) => run(async () => (await import("../actions/init.ts")).init(io, opts)));
}
