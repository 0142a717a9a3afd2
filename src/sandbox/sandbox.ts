/**
 * `ftr sandbox`: a local rehearsal of the GOV.UK path (examples/govuk.yaml). It starts, on
 * 127.0.0.1, the Fastly API emulator with the demo account, and per environment (each its own AWS
 * account and cluster, as GOV.UK runs them) a Secrets Manager stand-in holding the exporter's token,
 * a Kubernetes stand-in (over TLS, so kubectl sends its credentials) with the ExternalSecret, its
 * Secret and the exporter Deployment, whose External Secrets operator copies `AWSCURRENT` into the
 * Secret through the AWS SDK and whose Deployment controller restarts a fastly-exporter stand-in
 * with the Secret's token. It writes a config of the example's shape pointing at them, the
 * credentials the commands need, and serves a control endpoint that breaks a rollout or a sync.
 */
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { stringify } from "yaml";
import { generate } from "selfsigned";
import { createEmulator, demoCredentials, demoSeed, type RunningEmulator } from "../emulator/index.ts";
import { startExporter, type Exporter } from "../emulator/exporter.ts";
import { environmentSelector } from "../emulator/exporter-supervisor.ts";
import { findPrometheus, startPrometheus, type RunningPrometheus } from "../util/prometheus-server.ts";
import { registerSecret } from "../util/redact.ts";
import { readAwsCurrent } from "./aws-external-secret-sync.ts";
import {
  AWS_TEST_CREDENTIALS,
  startAwsSecretsManager,
  type RunningAwsSecretsManager,
} from "./aws-secrets-manager-server.ts";
import { startKubernetesApi, type RunningKubernetesApi } from "./kubernetes-api-server.ts";

/** The environments, in rotation order, as in examples/govuk.yaml. */
export const SANDBOX_ENVIRONMENTS = ["integration", "staging", "production"] as const;
export type SandboxEnvironment = (typeof SANDBOX_ENVIRONMENTS)[number];

/** What `ftr sandbox break` can do to an environment. */
export const SANDBOX_FAULTS = ["rollout", "sync", "stall"] as const;
/**
 * `rollout`: the next rollout of the exporter fails (its new pod crashes: ProgressDeadlineExceeded);
 * `sync`: the next ExternalSecret sync fails (AccessDenied from Secrets Manager); `stall`: every
 * rollout hangs, its new pod never ready, until repaired.
 */
export type SandboxFault = (typeof SANDBOX_FAULTS)[number];

/** The names GOV.UK's setup uses (examples/govuk.yaml). */
export const GOVUK = {
  secretId: "govuk/fastly/api",
  jsonKey: "fastly-api-token",
  region: "eu-west-1",
  namespace: "monitoring",
  externalSecret: "govuk-fastly-api",
  deployment: "fastly-exporter-prometheus-fastly-exporter",
} as const;

/** The file in the sandbox's directory that says a sandbox runs there and how to reach its control. */
export const SANDBOX_STATE_FILE = "sandbox.json";

/** Options of {@link startSandbox}. */
export interface SandboxOptions {
  /** The directory to write the config, credentials and kubeconfig to (created if missing). */
  readonly dir: string;
  /**
   * Listen on consecutive ports from here: the emulator, the control endpoint, then per environment
   * its Secrets Manager, Kubernetes API and exporter. Default: any free ports.
   */
  readonly portBase?: number;
  /** Start Prometheus when a binary is on PATH (default true). */
  readonly prometheus?: boolean;
  /** How long each Kubernetes controller step takes (default 500 ms). */
  readonly controllerDelayMs?: number;
  /** Progress lines for people. */
  readonly say?: (line: string) => void;
}

/** One environment's servers. */
export interface SandboxEnvironmentInfo {
  readonly awsSecretsManager: string;
  readonly kubernetes: string;
  readonly exporter: string;
}

/** What the sandbox prints with `--json`: endpoints, files and commands, never a secret. */
export interface SandboxInfo {
  readonly dir: string;
  readonly config: string;
  /** Source it (`. ./sandbox.env`) before the commands: the Fastly and AWS credentials they need. */
  readonly envFile: string;
  readonly kubeconfig: string;
  readonly fastly: string;
  readonly control: string;
  readonly prometheus?: string;
  readonly environments: Readonly<Record<SandboxEnvironment, SandboxEnvironmentInfo>>;
  /** Shell commands, to run in `dir` after sourcing `envFile`. */
  readonly commands: Readonly<Record<string, string>>;
}

/** A running sandbox. */
export interface RunningSandbox {
  readonly info: SandboxInfo;
  /** Break `env` as `fault` says (`times` rollouts or syncs; `stall` until repaired). */
  break(env: SandboxEnvironment, fault: SandboxFault, times?: number): void;
  /** Undo every fault of `env` (all environments without it); a stalled rollout goes on. */
  repair(env?: SandboxEnvironment): void;
  /** Stop every server; the files stay. */
  close(): Promise<void>;
}

/** The `sandbox.json` of a running sandbox. */
interface SandboxState {
  readonly pid: number;
  readonly control: string;
  readonly controlToken: string;
}

/** Thrown when the directory cannot take a sandbox; the CLI turns it into exit 2. */
export class SandboxDirError extends Error {
  override readonly name = "SandboxDirError";
}

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
};

/** The running sandbox's state in `dir`, or undefined when none runs there. */
export function runningSandboxIn(dir: string): SandboxState | undefined {
  const path = join(dir, SANDBOX_STATE_FILE);
  if (!existsSync(path)) return undefined;
  try {
    const state = JSON.parse(readFileSync(path, "utf8")) as SandboxState;
    return typeof state.pid === "number" && isAlive(state.pid) ? state : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Ask the sandbox running in `dir` to break or repair an environment; resolves to its one-line
 * answer. Throws a SandboxDirError when no sandbox runs there.
 */
export async function controlSandbox(
  dir: string,
  request:
    | {
        readonly action: "break";
        readonly env: SandboxEnvironment;
        readonly fault: SandboxFault;
        readonly times?: number;
      }
    | { readonly action: "repair"; readonly env?: SandboxEnvironment },
): Promise<string> {
  const state = runningSandboxIn(dir);
  if (!state) {
    throw new SandboxDirError(`no sandbox runs in ${dir}; start one with: ftr sandbox --dir ${dir}`);
  }
  const response = await fetch(`${state.control}/${request.action}`, {
    method: "POST",
    headers: { authorization: `Bearer ${state.controlToken}`, "content-type": "application/json" },
    body: JSON.stringify(request),
  });
  const text = (await response.text()).trim();
  if (!response.ok) throw new SandboxDirError(text);
  return text;
}

const title = (env: string): string => `${env[0]?.toUpperCase() ?? ""}${env.slice(1)}`;

/**
 * A self-signed certificate for 127.0.0.1, its own CA: the kubeconfig names it as the clusters'
 * certificate authority, so clients verify the connection as they would a real cluster's.
 */
async function loopbackCertificate(): Promise<{ key: string; cert: string }> {
  const now = Date.now();
  const pems = await generate([{ name: "commonName", value: "ftr-sandbox" }], {
    keyType: "ec",
    curve: "P-256",
    algorithm: "sha256",
    notBeforeDate: new Date(now - 60_000),
    notAfterDate: new Date(now + 30 * 86_400_000),
    extensions: [
      {
        name: "subjectAltName",
        altNames: [
          { type: 7, ip: "127.0.0.1" },
          { type: 2, value: "localhost" },
        ],
      },
    ],
  });
  return { key: pems.private, cert: pems.cert };
}

/** The config: examples/govuk.yaml's shape, each environment's AWS and cluster pointing here. */
export function sandboxConfig(
  fastly: string,
  aws: Readonly<Record<SandboxEnvironment, string>>,
  prometheusUrl?: string,
): string {
  const head = [
    "# Written by `ftr sandbox`: the shape of examples/govuk.yaml, pointing at local stand-ins.",
    "# Each environment has its own Secrets Manager (endpoint) and cluster (kubeconfig context), as",
    "# GOV.UK's accounts and clusters are separate. Source ./sandbox.env before running ftr.",
    "",
  ].join("\n");
  const doc = {
    version: 1,
    fastly: { endpoint: fastly },
    defaults: { token: { role: "engineer", scope: "global:read", expiresIn: "365d", rotateBefore: "30d" } },
    state: { dir: "./state" },
    environments: SANDBOX_ENVIRONMENTS.map((env) => {
      const access = { context: env, kubeconfig: "./kubeconfig", interval: "1s" };
      return {
        name: env,
        token: {
          name: `GOV.UK prometheus-fastly-exporter token for ${title(env)}`,
          services: { nameMatches: environmentSelector(env) },
        },
        secret: {
          type: "aws-secrets-manager",
          secretId: GOVUK.secretId,
          jsonKey: GOVUK.jsonKey,
          region: GOVUK.region,
          profile: `govuk-${env}`,
          endpoint: aws[env],
        },
        reload: [
          {
            type: "external-secret",
            namespace: GOVUK.namespace,
            name: GOVUK.externalSecret,
            timeout: "1m",
            ...access,
          },
          {
            type: "kubernetes-rollout",
            namespace: GOVUK.namespace,
            deployment: GOVUK.deployment,
            timeout: "1m",
            ...access,
          },
        ],
        verify: [
          { type: "token-in-use", timeout: "1m", interval: "1s" },
          ...(prometheusUrl
            ? [
                {
                  type: "prometheus",
                  url: prometheusUrl,
                  tokenIdLabel: "token_id",
                  query: 'up{job="fastly-exporter"} == 1',
                  timeout: "1m",
                  interval: "1s",
                },
              ]
            : []),
        ],
        ...(env === "production" ? { approval: "required" } : {}),
      };
    }),
  };
  return head + stringify(doc);
}

/** A kubeconfig with one context (and cluster and user) per environment. */
function kubeconfigText(
  servers: Readonly<Record<SandboxEnvironment, string>>,
  token: string,
  ca: string,
): string {
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: SANDBOX_ENVIRONMENTS.map((env) => ({
      name: env,
      cluster: { server: servers[env], "certificate-authority-data": Buffer.from(ca).toString("base64") },
    })),
    users: SANDBOX_ENVIRONMENTS.map((env) => ({ name: env, user: { token } })),
    contexts: SANDBOX_ENVIRONMENTS.map((env) => ({
      name: env,
      context: { cluster: env, user: env, namespace: GOVUK.namespace },
    })),
    "current-context": "integration",
  });
}

const shellQuote = (text: string): string =>
  /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;

/** The commands to rehearse with, in `dir` after `. ./sandbox.env`. */
function sandboxCommands(dir: string): Record<string, string> {
  const d = shellQuote(dir);
  return {
    setup: `cd ${d} && . ./sandbox.env`,
    validate: "ftr validate --config ftr.yaml",
    plan: "ftr plan --config ftr.yaml",
    rotate: "ftr rotate --config ftr.yaml --yes",
    status: "ftr status --config ftr.yaml",
    kubectl: `kubectl --kubeconfig kubeconfig --context integration -n ${GOVUK.namespace} get secret ${GOVUK.externalSecret}`,
    breakRollout: `ftr sandbox break --dir ${d} --env staging rollout`,
    breakSync: `ftr sandbox break --dir ${d} --env staging sync`,
    stall: `ftr sandbox break --dir ${d} --env integration stall`,
    kill: "ftr rotate --config ftr.yaml --yes --force --env integration &",
    killNow: "kill -9 $!",
    repair: `ftr sandbox repair --dir ${d}`,
    resume: "ftr resume --config ftr.yaml",
    rollback: "ftr rollback --config ftr.yaml --env integration",
  };
}

/** Start the sandbox in `options.dir`. Close it (SIGINT/SIGTERM in the CLI) to stop its servers. */
export async function startSandbox(options: SandboxOptions): Promise<RunningSandbox> {
  const say = options.say ?? (() => {});
  const dir = options.dir;
  const already = runningSandboxIn(dir);
  if (already) {
    throw new SandboxDirError(
      `a sandbox already runs in ${dir} (pid ${already.pid}); stop it, or give another --dir`,
    );
  }
  if (existsSync(join(dir, "ftr.yaml")) && !existsSync(join(dir, SANDBOX_STATE_FILE))) {
    throw new SandboxDirError(
      `${join(dir, "ftr.yaml")} exists and was not written by ftr sandbox; give another --dir`,
    );
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // A previous sandbox's journal names tokens of an account that is gone.
  await rm(join(dir, "state"), { recursive: true, force: true });

  const { superuser, exporterTokens } = demoCredentials;
  registerSecret(superuser.token);
  registerSecret(superuser.password);
  for (const t of Object.values(exporterTokens)) registerSecret(t.token);
  const kubeToken = randomBytes(24).toString("base64url");
  registerSecret(kubeToken);
  const controlToken = randomBytes(24).toString("base64url");
  registerSecret(controlToken);
  const port = (offset: number): number | undefined =>
    options.portBase === undefined ? undefined : options.portBase + offset;

  const closers: (() => Promise<void>)[] = [];
  const close = async (): Promise<void> => {
    for (const closeOne of closers.splice(0).reverse()) await closeOne().catch(() => undefined);
  };

  try {
    const emulatorPort = port(0);
    const emulator: RunningEmulator = await createEmulator({
      seed: demoSeed,
      ...(emulatorPort === undefined ? {} : { port: emulatorPort }),
    });
    closers.push(() => emulator.close());
    say(`Fastly API emulator (a GOV.UK-shaped demo account) on ${emulator.url}`);

    const tls = await loopbackCertificate();
    const faults = new Map<SandboxEnvironment, { rollout: number; sync: number; stall: boolean }>();
    const stalls = new Map<SandboxEnvironment, (() => void)[]>();
    const awsUrls = {} as Record<SandboxEnvironment, string>;
    const kubeUrls = {} as Record<SandboxEnvironment, string>;
    const environments = {} as Record<SandboxEnvironment, SandboxEnvironmentInfo>;
    const exporters = new Map<SandboxEnvironment, Exporter>();
    const exporterPorts = new Map<SandboxEnvironment, number>();

    const startEnvExporter = async (env: SandboxEnvironment, token: string): Promise<Exporter> => {
      const exporter = await startExporter({
        endpoint: emulator.url,
        token,
        listen: {
          host: "127.0.0.1",
          port: exporterPorts.get(env) ?? port(4 + 3 * SANDBOX_ENVIRONMENTS.indexOf(env)) ?? 0,
        },
        serviceAllowlist: [new RegExp(environmentSelector(env))],
        pollIntervalMs: 1000,
        authBackoffMs: 2000,
      });
      exporterPorts.set(env, Number(new URL(exporter.url).port));
      exporters.set(env, exporter);
      return exporter;
    };
    closers.push(async () => {
      for (const exporter of exporters.values()) await exporter.close();
    });

    for (const [i, env] of SANDBOX_ENVIRONMENTS.entries()) {
      faults.set(env, { rollout: 0, sync: 0, stall: false });
      const token = exporterTokens[env].token;
      const awsPort = port(2 + 3 * i);
      const aws: RunningAwsSecretsManager = await startAwsSecretsManager(
        awsPort === undefined ? {} : { port: awsPort },
      );
      closers.push(() => aws.close());
      aws.createSecret(GOVUK.secretId, JSON.stringify({ [GOVUK.jsonKey]: token }));
      awsUrls[env] = aws.url;

      const kubePort = port(3 + 3 * i);
      const secretToken = (): string =>
        kube.secretValues(GOVUK.namespace, GOVUK.externalSecret)?.[GOVUK.jsonKey] ?? "";
      const kube: RunningKubernetesApi = await startKubernetesApi({
        tls,
        token: kubeToken,
        controllerDelayMs: options.controllerDelayMs ?? 500,
        ...(kubePort === undefined ? {} : { port: kubePort }),
        // The External Secrets operator: AWSCURRENT's key, through the AWS SDK, into the Secret.
        onSync: async (namespace, name) => {
          const f = faults.get(env);
          if (f && f.sync > 0) {
            f.sync -= 1;
            throw new Error(
              "AccessDeniedException: not authorized to perform secretsmanager:GetSecretValue (ftr sandbox break)",
            );
          }
          const { value } = await readAwsCurrent({
            endpoint: aws.url,
            region: GOVUK.region,
            secretId: GOVUK.secretId,
            jsonKey: GOVUK.jsonKey,
            credentials: AWS_TEST_CREDENTIALS,
          });
          kube.addSecret(namespace, name, { [GOVUK.jsonKey]: value });
        },
        // The Deployment controller's new pod: an exporter reading the Secret's token at start.
        onRollout: async () => {
          const f = faults.get(env);
          if (f?.stall) {
            await new Promise<void>((resolve) => stalls.set(env, [...(stalls.get(env) ?? []), resolve]));
          }
          if (f && f.rollout > 0) {
            f.rollout -= 1;
            throw new Error("the new pod crashed (ftr sandbox break)");
          }
          await exporters.get(env)?.close();
          await startEnvExporter(env, secretToken());
        },
      });
      closers.push(() => kube.close());
      kube.addSecret(GOVUK.namespace, GOVUK.externalSecret, { [GOVUK.jsonKey]: token });
      kube.addExternalSecret(GOVUK.namespace, GOVUK.externalSecret, {
        secretStoreRef: { name: "aws-secretsmanager", kind: "ClusterSecretStore" },
        target: { name: GOVUK.externalSecret, creationPolicy: "Owner" },
        data: [
          {
            secretKey: GOVUK.jsonKey,
            remoteRef: { key: GOVUK.secretId, property: GOVUK.jsonKey },
          },
        ],
      });
      kube.addDeployment(GOVUK.namespace, GOVUK.deployment, 1, { secret: GOVUK.externalSecret });
      kubeUrls[env] = kube.url;
      const exporter = await startEnvExporter(env, token);
      environments[env] = { awsSecretsManager: aws.url, kubernetes: kube.url, exporter: exporter.url };
      say(`${env}: Secrets Manager ${aws.url}, Kubernetes ${kube.url}, exporter ${exporter.url}`);
    }

    let prometheus: RunningPrometheus | undefined;
    const binary = options.prometheus === false ? undefined : findPrometheus();
    if (binary) {
      prometheus = await startPrometheus({
        binary,
        scrapeTargets: SANDBOX_ENVIRONMENTS.map((env) => `127.0.0.1:${exporterPorts.get(env) ?? 0}`),
        scrapeIntervalMs: 1000,
      });
      const p = prometheus;
      closers.push(() => p.close());
      say(`Prometheus scraping the exporters on ${prometheus.url}`);
    }

    const repair = (env?: SandboxEnvironment): void => {
      for (const e of env ? [env] : SANDBOX_ENVIRONMENTS) {
        faults.set(e, { rollout: 0, sync: 0, stall: false });
        for (const resume of stalls.get(e) ?? []) resume();
        stalls.delete(e);
      }
    };
    const breakEnv = (env: SandboxEnvironment, fault: SandboxFault, times = 1): void => {
      const f = faults.get(env) ?? { rollout: 0, sync: 0, stall: false };
      if (fault === "stall") f.stall = true;
      else f[fault] += times;
      faults.set(env, f);
    };

    // The control endpoint `ftr sandbox break` and `repair` talk to.
    const control = createServer((req: IncomingMessage, res: ServerResponse) => {
      const answer = (status: number, text: string): void => {
        res.writeHead(status, { "content-type": "text/plain; charset=utf-8" });
        res.end(`${text}\n`);
      };
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        if (req.headers.authorization !== `Bearer ${controlToken}`) return answer(401, "not authorized");
        let body: { env?: unknown; fault?: unknown; times?: unknown };
        try {
          body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as typeof body;
        } catch {
          return answer(400, "the request is not JSON");
        }
        const env = SANDBOX_ENVIRONMENTS.find((e) => e === body.env);
        if (body.env !== undefined && !env) {
          return answer(
            400,
            `no environment ${JSON.stringify(body.env)}; use ${SANDBOX_ENVIRONMENTS.join(", ")}`,
          );
        }
        if (req.method === "POST" && req.url === "/repair") {
          repair(env);
          return answer(200, `repaired ${env ?? "every environment"}`);
        }
        if (req.method === "POST" && req.url === "/break") {
          const fault = SANDBOX_FAULTS.find((f) => f === body.fault);
          if (!env || !fault)
            return answer(400, `give an environment and one of ${SANDBOX_FAULTS.join(", ")}`);
          const times = typeof body.times === "number" && body.times > 0 ? Math.floor(body.times) : 1;
          breakEnv(env, fault, times);
          return answer(
            200,
            fault === "stall"
              ? `${env}: rollouts hang until \`ftr sandbox repair\``
              : `${env}: the next ${times === 1 ? "" : `${times} `}${fault === "rollout" ? "rollout" : "ExternalSecret sync"}${times === 1 ? "" : "s"} will fail`,
          );
        }
        return answer(404, "POST /break or /repair");
      });
    });
    await new Promise<void>((resolve, reject) => {
      control.once("error", reject);
      control.listen(port(1) ?? 0, "127.0.0.1", resolve);
    });
    closers.push(
      () =>
        new Promise<void>((resolve) => {
          control.closeAllConnections();
          control.close(() => resolve());
        }),
    );
    const controlUrl = `http://127.0.0.1:${(control.address() as AddressInfo).port}`;

    // The files the commands need.
    const configPath = join(dir, "ftr.yaml");
    const kubeconfig = join(dir, "kubeconfig");
    const envFile = join(dir, "sandbox.env");
    const awsDir = join(dir, "aws");
    await mkdir(awsDir, { recursive: true, mode: 0o700 });
    await writeFile(
      join(awsDir, "credentials"),
      SANDBOX_ENVIRONMENTS.map((env) =>
        [
          `[govuk-${env}]`,
          `aws_access_key_id = ${AWS_TEST_CREDENTIALS.accessKeyId}`,
          `aws_secret_access_key = ${AWS_TEST_CREDENTIALS.secretAccessKey}`,
          "",
        ].join("\n"),
      ).join("\n"),
      { mode: 0o600 },
    );
    await writeFile(
      join(awsDir, "config"),
      SANDBOX_ENVIRONMENTS.map((env) => `[profile govuk-${env}]\nregion = ${GOVUK.region}\n`).join("\n"),
      { mode: 0o600 },
    );
    await writeFile(kubeconfig, kubeconfigText(kubeUrls, kubeToken, tls.cert), { mode: 0o600 });
    await writeFile(
      envFile,
      [
        "# Credentials for rehearsing against `ftr sandbox`: `. ./sandbox.env`. Only the sandbox accepts them.",
        `export FASTLY_API_TOKEN=${shellQuote(superuser.token)}`,
        `export FASTLY_SUDO_PASSWORD=${shellQuote(superuser.password)}`,
        `export AWS_SHARED_CREDENTIALS_FILE=${shellQuote(join(awsDir, "credentials"))}`,
        `export AWS_CONFIG_FILE=${shellQuote(join(awsDir, "config"))}`,
        "unset AWS_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN",
        "",
      ].join("\n"),
      { mode: 0o600 },
    );
    await writeFile(configPath, sandboxConfig(emulator.url, awsUrls, prometheus?.url), { mode: 0o600 });
    const statePath = join(dir, SANDBOX_STATE_FILE);
    await writeFile(
      statePath,
      JSON.stringify({ pid: process.pid, control: controlUrl, controlToken } satisfies SandboxState),
      { mode: 0o600 },
    );
    closers.unshift(() => rm(statePath, { force: true }));

    const info: SandboxInfo = {
      dir,
      config: configPath,
      envFile,
      kubeconfig,
      fastly: emulator.url,
      control: controlUrl,
      ...(prometheus ? { prometheus: prometheus.url } : {}),
      environments,
      commands: sandboxCommands(dir),
    };
    return { info, break: breakEnv, repair, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** The sandbox's instructions for people: files, then the commands to rotate, break and resume. */
export function renderSandbox(info: SandboxInfo): string {
  const c = info.commands;
  const line = (cmd: string | undefined, note = ""): string =>
    `  $ ${cmd ?? ""}${note === "" ? "" : `\n      ${note}`}`;
  return [
    `Sandbox running: the GOV.UK setup (examples/govuk.yaml) on local stand-ins, in ${info.dir}`,
    `  ftr.yaml     the config: AWS Secrets Manager, External Secrets, a Deployment rollout, verify`,
    `  sandbox.env  the Fastly and AWS credentials the commands need (source it; never printed)`,
    `  kubeconfig   one context per environment: integration, staging, production`,
    "",
    "Rehearse:",
    line(c.setup),
    line(c.plan),
    line(c.rotate),
    line(c.status),
    line(c.kubectl),
    "",
    "Break it (each fault once; the run rolls back and exits 1):",
    line(c.breakRollout, "the next rollout of staging's exporter fails"),
    line(c.breakSync, "the next ExternalSecret sync of staging fails"),
    line(`${c.rotate} --force`),
    "",
    "Kill it mid-run, then resume or roll back:",
    line(c.stall, "integration's rollouts hang until repaired"),
    line(c.kill),
    line(c.killNow, 'once it shows "integration: reload started"'),
    line(c.repair),
    line(c.resume),
    line(c.rollback, "instead of resume: put the old token back"),
    "",
    "Stop the sandbox with Ctrl-C (its files stay).",
  ].join("\n");
}
