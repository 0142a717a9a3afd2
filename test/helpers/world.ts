/**
 * What an end-to-end test runs against, built by one call and taken down by one `close()`: a
 * temporary directory, and, as asked, the Fastly emulator with an account, the local Secrets
 * Manager holding some secrets, the Kubernetes API fake with a kubeconfig for it in the directory,
 * and the rotation world of rotation-env.ts (its own emulator, exporter stand-ins and demo config).
 * `close()` stops the parts in the reverse order of their start and removes the directory last.
 *
 * Each part is the existing helper (createEmulator, startAwsSecretsManager, startKubernetesApi,
 * startRotationEnv); this file only starts, hands out and closes them, and writes the files of a
 * config whose secrets are files.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createEmulator,
  createEmulatorAdmin,
  demoCredentials,
  demoSeed,
  type EmulatorAdmin,
  type EmulatorOptions,
  type RunningEmulator,
  type Seed,
  type SeedAutomationToken,
  type SeedService,
} from "../../src/emulator/index.ts";
import {
  startAwsSecretsManager,
  type RunningAwsSecretsManager,
} from "../../src/sandbox/aws-secrets-manager-server.ts";
import {
  startKubernetesApi,
  type KubernetesApiOptions,
  type RunningKubernetesApi,
} from "../../src/sandbox/kubernetes-api-server.ts";
import { startRotationEnv, type RotationEnv, type RotationEnvOptions } from "./rotation-env.ts";

/** What {@link world} starts. Leave a part out and it is not started. */
export interface WorldOptions {
  /** Prefix of the temporary directory's name (default `ftr-test-`). */
  readonly dir?: string;
  /** The emulator, serving this account, or started with these options. */
  readonly fastly?: Seed | (EmulatorOptions & { readonly seed: Seed });
  /**
   * The Secrets Manager fake, holding these secrets (id → SecretString), or none (`true`). The
   * rotator needs credentials to reach it: `useAwsTestCredentials()` gives them.
   */
  readonly aws?: true | Readonly<Record<string, string>>;
  /** The Kubernetes API fake, with these options or the defaults (`true`), and `kubeconfig` for it. */
  readonly kubernetes?: true | KubernetesApiOptions;
}

/** Anything a world can close. */
export interface Closable {
  close(): Promise<void>;
}

/** What every world has. */
export interface WorldBase {
  /** The temporary directory (removed by `close()`). */
  readonly dir: string;
  /** Write `yaml` to `name` (default `ftr.yaml`) in the directory; returns its path. */
  writeConfig(yaml: string, name?: string): Promise<string>;
  /** Write `value` as it is to `name` in the directory, readable by its owner only; returns its path. */
  writeSecret(name: string, value: string): Promise<string>;
  /** Start the rotation world of rotation-env.ts, closed with this one. */
  startRotationEnv(options?: RotationEnvOptions): Promise<RotationEnv>;
  /** Close `part` with this world, before everything started earlier; returns it. */
  adopt<T extends Closable>(part: T): T;
  close(): Promise<void>;
}

/** The emulator's part. */
export interface FastlyParts {
  readonly emulator: RunningEmulator;
  readonly admin: EmulatorAdmin;
  /** Write each environment's secret file and a config of them ({@link fileConfig}) to `ftr.yaml`. */
  writeFileConfig(environments: readonly FileEnvironment[], head?: string): Promise<string>;
}

/** The Secrets Manager's part. */
export interface AwsParts {
  readonly aws: RunningAwsSecretsManager;
}

/** The Kubernetes API's part. */
export interface KubernetesParts {
  readonly kube: RunningKubernetesApi;
  /** A kubeconfig for the fake (context `integration`), in the directory. */
  readonly kubeconfig: string;
}

/** A part of a world, named by the option that starts it. */
export type Part = "fastly" | "aws" | "kubernetes";

/** A world with the parts `P` (`World<"aws" | "kubernetes">`), each typed as present. */
export type World<P extends Part = never> = WorldBase &
  ("fastly" extends P ? FastlyParts : unknown) &
  ("aws" extends P ? AwsParts : unknown) &
  ("kubernetes" extends P ? KubernetesParts : unknown);

/** The parts `O` asks for. */
type PartsOf<O extends WorldOptions> =
  | (O extends { readonly fastly: object } ? "fastly" : never)
  | (O extends { readonly aws: object | true } ? "aws" : never)
  | (O extends { readonly kubernetes: object | true } ? "kubernetes" : never);

/** One environment of a config whose secrets are files: `./<name>.txt`, verified by `token-in-use`. */
export interface FileEnvironment {
  readonly name: string;
  /** The managed token's name. */
  readonly token: string;
  /** The `services` selector, as YAML. */
  readonly services: string;
  /** What the secret file holds, written as it is (a trailing newline included or not). */
  readonly value?: string;
}

/**
 * A config of file-secret environments against `endpoint`. `head` holds the top-level YAML that
 * goes between `fastly` and `environments` (`state`, `defaults`, `notify`).
 */
export function fileConfig(endpoint: string, environments: readonly FileEnvironment[], head = ""): string {
  const lines = ["version: 1", `fastly: { endpoint: "${endpoint}" }`];
  if (head !== "") lines.push(head.replace(/\n$/, ""));
  lines.push("environments:");
  for (const env of environments) {
    lines.push(
      `  - name: ${env.name}`,
      `    token: { name: "${env.token}", services: ${env.services} }`,
      `    secret: { type: file, path: ./${env.name}.txt }`,
      "    verify: [{ type: token-in-use }]",
    );
  }
  return lines.join("\n") + "\n";
}

/**
 * Write into `dir` each environment's secret file (those with a `value`) and `ftr.yaml` holding
 * {@link fileConfig}; returns the config's path.
 */
export async function writeFileConfig(
  dir: string,
  endpoint: string,
  environments: readonly FileEnvironment[],
  head?: string,
): Promise<string> {
  for (const env of environments) {
    if (env.value !== undefined) await writeFile(join(dir, `${env.name}.txt`), env.value, { mode: 0o600 });
  }
  const path = join(dir, "ftr.yaml");
  await writeFile(path, fileConfig(endpoint, environments, head));
  return path;
}

/**
 * A demo environment as a file environment: its exporter token's name, its services chosen by
 * name, its token's value with a newline.
 */
export function demoFileEnvironment(
  name: keyof typeof demoCredentials.exporterTokens,
  services = `{ nameMatches: "${name.slice(1)}" }`,
): FileEnvironment {
  const token = demoCredentials.exporterTokens[name];
  return { name, token: token.name, services, value: token.token + "\n" };
}

/** The first environment of an account from `generateSeed`, holding a made-up value. */
export const BENCH_ENVIRONMENT: FileEnvironment = {
  name: "integration",
  token: "bench token 0",
  services: "{ all: true }",
  value: "bench-token-0".padEnd(32, "x"),
};

/** The demo account with more services and automation tokens. */
export function demoSeedWith(extra: {
  readonly services?: readonly SeedService[];
  readonly automationTokens?: readonly SeedAutomationToken[];
}): Seed {
  return {
    ...demoSeed,
    services: [...(demoSeed.services ?? []), ...(extra.services ?? [])],
    automationTokens: [...(demoSeed.automationTokens ?? []), ...(extra.automationTokens ?? [])],
  };
}

/**
 * An automation token the demo superuser made: engineer, `global:read`, every service, expiring in
 * 3 days; `fields` change any of that.
 */
export function seedToken(
  name: string,
  value: string,
  fields: Partial<SeedAutomationToken> = {},
): SeedAutomationToken {
  return {
    name,
    value,
    role: "engineer",
    scope: "global:read",
    services: [],
    expiresAt: "+3d",
    createdBy: demoCredentials.superuser.id,
    ...fields,
  };
}

/** Every token value of the demo account (the superuser's and the exporters'), for leak checks. */
export const DEMO_TOKEN_VALUES: readonly string[] = [
  demoCredentials.superuser.token,
  demoCredentials.exporterTokens.integration.token,
  demoCredentials.exporterTokens.staging.token,
  demoCredentials.exporterTokens.production.token,
];

/**
 * A config of one environment with a state directory, and no Fastly endpoint: enough for what
 * stops before Fastly (the lock, the state directory's checks).
 */
export const STATE_ONLY_CONFIG = [
  "version: 1",
  "state: { dir: ./state }",
  "environments:",
  "  - name: staging",
  "    token: { name: exporter staging, services: { all: true } }",
  "    secret: { type: file, path: ./token }",
].join("\n");

/** Start what `options` asks for. Always `close()` the world (in `after`); a failed start closes itself. */
export async function world<const O extends WorldOptions>(options: O): Promise<World<PartsOf<O>>> {
  const dir = await mkdtemp(join(tmpdir(), options.dir ?? "ftr-test-"));
  const closers: (() => Promise<void>)[] = [() => rm(dir, { recursive: true, force: true })];
  const close = async (): Promise<void> => {
    // Every part is closed even when one fails; the first failure is reported.
    let failure: Error | undefined;
    for (const closeOne of closers.splice(0).reverse()) {
      try {
        await closeOne();
      } catch (error) {
        failure ??= error instanceof Error ? error : new Error(String(error));
      }
    }
    if (failure) throw failure;
  };
  const adopt = <T extends Closable>(part: T): T => {
    closers.push(() => part.close());
    return part;
  };

  const parts: Record<string, unknown> = {};
  try {
    if (options.fastly) {
      const emulator = adopt(
        await createEmulator("seed" in options.fastly ? options.fastly : { seed: options.fastly }),
      );
      Object.assign(parts, {
        emulator,
        admin: createEmulatorAdmin(emulator.url),
        writeFileConfig: (environments: readonly FileEnvironment[], head?: string) =>
          writeFileConfig(dir, emulator.url, environments, head),
      } satisfies FastlyParts);
    }
    if (options.aws) {
      const aws = adopt(await startAwsSecretsManager());
      if (options.aws !== true) {
        for (const [id, text] of Object.entries(options.aws)) aws.createSecret(id, text);
      }
      Object.assign(parts, { aws } satisfies AwsParts);
    }
    if (options.kubernetes) {
      const kube = adopt(await startKubernetesApi(options.kubernetes === true ? {} : options.kubernetes));
      const kubeconfig = await kube.writeKubeconfig(join(dir, "kubeconfig"), "integration");
      Object.assign(parts, { kube, kubeconfig } satisfies KubernetesParts);
    }
  } catch (error) {
    await close();
    throw error;
  }

  const base: WorldBase = {
    dir,
    async writeConfig(yaml, name = "ftr.yaml") {
      const path = join(dir, name);
      await writeFile(path, yaml);
      return path;
    },
    async writeSecret(name, value) {
      const path = join(dir, name);
      await writeFile(path, value, { mode: 0o600 });
      return path;
    },
    startRotationEnv: async (rotationOptions) => adopt(await startRotationEnv(rotationOptions)),
    adopt,
    close,
  };
  return { ...base, ...parts } as World<PartsOf<O>>;
}
