import type { Command } from "commander";
import type { CommandContext } from "../context.ts";

/** `ftr sandbox` options. */
export interface SandboxOpts {
  dir: string;
  json?: boolean;
  portBase?: string;
  prometheus: boolean;
}

/** `ftr sandbox break` and `ftr sandbox repair` options. */
export interface SandboxControlOpts {
  dir: string;
  env?: string;
  times?: string;
}

/** Registers `sandbox`, `sandbox break` and `sandbox repair`. */
export function register(program: Command, { io, run }: CommandContext): void {
  const sandbox = program
    .command("sandbox")
    .description(
      "run the GOV.UK setup on local stand-ins (Fastly, AWS Secrets Manager, Kubernetes) to rehearse on",
    )
    .option("-d, --dir <dir>", "where to write the config, credentials and kubeconfig", "ftr-sandbox")
    .option("--json", "print the endpoints, files and commands as one JSON object")
    .option("--port-base <port>", "listen on 11 consecutive ports from this one (default: any free ports)")
    .option("--no-prometheus", "do not start Prometheus even when it is on PATH")
    .addHelpText(
      "after",
      `
Starts the Fastly API emulator (a GOV.UK-shaped demo account) and, per environment (integration,
staging, production), an AWS Secrets Manager stand-in, a Kubernetes API stand-in with the
ExternalSecret, its Secret and the exporter Deployment, and a fastly-exporter stand-in; Prometheus
too when a binary is on PATH. Writes DIR/ftr.yaml (the shape of examples/govuk.yaml),
DIR/sandbox.env (credentials: source it) and DIR/kubeconfig, prints the commands to rotate, break
and resume, and runs until Ctrl-C. Everything listens on 127.0.0.1. See docs/sandbox.md.

Examples:
  $ ftr sandbox --dir /tmp/rehearsal
  $ cd /tmp/rehearsal && . ./sandbox.env && ftr rotate --config ftr.yaml --yes
  $ ftr sandbox --json --dir /tmp/rehearsal | jq .commands`,
    )
    .action((opts: SandboxOpts) =>
      run(async () => (await import("../actions/sandbox.ts")).sandbox(io, opts)),
    );

  sandbox
    .command("break")
    .description("make the running sandbox fail an environment's next rollout or sync, or stall its rollouts")
    .argument("<fault>", "rollout (the new pod crashes), sync (the ExternalSecret sync fails) or stall")
    .requiredOption("-e, --env <name>", "integration, staging or production")
    .option("-d, --dir <dir>", "the sandbox's directory", "ftr-sandbox")
    .option("--times <n>", "how many rollouts or syncs fail", "1")
    .addHelpText(
      "after",
      `
Examples:
  $ ftr sandbox break rollout --env staging      # then: ftr rotate ... rolls staging back
  $ ftr sandbox break stall --env integration    # then kill a rotate mid-run, repair, resume`,
    )
    .action((fault: string, opts: SandboxControlOpts) =>
      run(async () => (await import("../actions/sandbox.ts")).sandboxBreak(io, fault, opts)),
    );

  sandbox
    .command("repair")
    .description("undo the running sandbox's faults (a stalled rollout goes on)")
    .option("-e, --env <name>", "only this environment")
    .option("-d, --dir <dir>", "the sandbox's directory", "ftr-sandbox")
    .addHelpText(
      "after",
      `
Examples:
  $ ftr sandbox repair
  $ ftr sandbox repair --env integration --dir /tmp/rehearsal`,
    )
    .action((opts: SandboxControlOpts) =>
      run(async () => (await import("../actions/sandbox.ts")).sandboxRepair(io, opts)),
    );
}
