/**
 * `ftr init` end to end against the emulator on port 0: a config for staging and production written
 * from the account's existing automation tokens validates and `ftr plan` works on it; no match,
 * several matches, an existing file, hostile names, the 2026 API's roles and unlimited tokens, and
 * no credential; no secret in any output.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, it } from "node:test";
import { parse } from "yaml";
import { parseConfig } from "../src/config/parse.ts";
import { demoCredentials, demoServiceIds, demoSeed } from "../src/emulator/index.ts";
import { CLI_NODE_ARGS, runCli, runCliProcess, type CliResult } from "./helpers/cli.ts";
import { overlong, runOnPty, skipWithoutPty, terminalLines } from "./helpers/pty.ts";
import { assertNoSecrets } from "./helpers/rotation-env.ts";
import { DEMO_TOKEN_VALUES, demoSeedWith, seedToken, world, type World } from "./helpers/world.ts";

const { superuser, exporterTokens } = demoCredentials;

/** Every secret a case knows: the demo account's values, the password, and the extra tokens'. */
const SECRETS = [...DEMO_TOKEN_VALUES, superuser.password, "init-ci-token-value-0000000001"];

/** What must never reach a terminal raw: C0 (but newline), DEL, C1, bidi embeddings and overrides. */
// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
/** In the file, nothing invisible either: line and paragraph separators, zero-width characters. */
// eslint-disable-next-line no-control-regex
const RAW_IN_FILE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2066-\u2069]/;

describe("ftr init", () => {
  let w: World<"fastly"> | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  const env = (): Record<string, string> => ({
    FASTLY_API_TOKEN: superuser.token,
    FASTLY_API_ENDPOINT: w!.emulator.url,
  });
  const init = (args: string[], options: { env?: Record<string, string> } = {}): Promise<CliResult> =>
    runCli(["init", ...args], { cwd: w!.dir, env: options.env ?? env() });
  const outputs = (...results: CliResult[]) => results.flatMap((r) => [r.stdout, r.stderr]);

  it("writes a config for staging and production from their tokens; it validates and ftr plan works on it", async () => {
    w = await world({ fastly: demoSeed });
    // A process of its own: its redaction registry has seen nothing but this run.
    const made = await runCliProcess(["init", "--env", "staging", "--env", "production"], {
      cwd: w.dir,
      env: env(),
    });
    assert.equal(made.code, 0, made.stderr);
    assert.match(made.stdout, /wrote ftr\.yaml: 2 environments from the account's automation tokens/);
    assert.match(made.stdout, /ftr\.yaml is valid \(2 environments, 2 warning\(s\)\)/);
    assert.match(
      made.stdout,
      /staging: "GOV\.UK prometheus-fastly-exporter token for Staging" \(Cxu32S1exwWtaDKf57ZZPr\)/,
    );

    const text = await readFile(join(w.dir, "ftr.yaml"), "utf8");
    const doc = parse(text) as {
      fastly: { endpoint: string };
      defaults: { token: Record<string, unknown> };
      environments: Record<string, unknown>[];
    };
    assert.equal(doc.fastly.endpoint, w.emulator.url);
    // What both tokens share sits in defaults: role, scope, a lifetime of a year (created 347 and
    // 338 days ago, expiring in 18 and 27 days).
    assert.deepEqual(doc.defaults.token, { role: "engineer", scope: "global:read", expiresIn: "365d" });
    assert.deepEqual(
      doc.environments.map((e) => [e.name, e.token, e.approval]),
      [
        [
          "staging",
          { name: exporterTokens.staging.name, services: { nameMatches: "[Ss]taging" } },
          undefined,
        ],
        [
          "production",
          { name: exporterTokens.production.name, services: { nameMatches: "[Pp]roduction" } },
          "required",
        ],
      ],
    );
    assert.deepEqual(doc.environments[0]!.secret, {
      type: "file",
      path: "./secrets/staging.json",
      jsonKey: "fastly-api-token",
    });
    assert.deepEqual(doc.environments[0]!.verify, [{ type: "token-in-use" }]);
    assert.match(text, /# Matches 2 service\(s\) today: assets Staging, www Staging/);

    const validate = await runCli(["validate", "--config", "ftr.yaml"], { cwd: w.dir, env: env() });
    assert.equal(validate.code, 0, validate.stderr);
    // The endpoint is in the config now: FASTLY_API_TOKEN is all plan needs.
    const planEnv = { FASTLY_API_TOKEN: superuser.token };
    // Before the placeholder store is filled in, plan says what to do about it.
    const early = await runCli(["plan", "--config", "ftr.yaml"], { cwd: w.dir, env: planEnv });
    assert.equal(early.code, 1);
    assert.match(early.stdout, /secrets does not exist; create it or fix secret\.path/);
    // Filled in: the files the consumers read hold the deployed tokens.
    await mkdir(join(w.dir, "secrets"), { mode: 0o700 });
    for (const name of ["staging", "production"] as const) {
      await writeFile(
        join(w.dir, "secrets", `${name}.json`),
        JSON.stringify({ "fastly-api-token": exporterTokens[name].token }),
        { mode: 0o600 },
      );
    }
    const plan = await runCli(["plan", "--config", "ftr.yaml", "--json"], { cwd: w.dir, env: planEnv });
    assert.equal(plan.code, 0, plan.stderr);
    const planned = JSON.parse(plan.stdout) as {
      environments: {
        environment: string;
        decision: string;
        deployed: { tokenId?: string; managed?: boolean };
        services: { id: string }[];
      }[];
    };
    // Each deployed token is the one its environment manages; both expire within rotateBefore.
    assert.deepEqual(
      planned.environments.map((e) => [
        e.environment,
        e.decision,
        e.deployed.tokenId,
        e.deployed.managed,
        e.services.map((s) => s.id).sort(),
      ]),
      [
        [
          "staging",
          "due",
          exporterTokens.staging.id,
          true,
          [demoServiceIds["www Staging"], demoServiceIds["assets Staging"]].sort(),
        ],
        [
          "production",
          "due",
          exporterTokens.production.id,
          true,
          [demoServiceIds["www Production"], demoServiceIds["assets Production"]].sort(),
        ],
      ],
    );
    assertNoSecrets([...outputs(made, validate, early, plan), text], SECRETS);
  });

  it("--json says what it found and the validation; --out - prints the YAML; --store writes its placeholder", async () => {
    w = await world({ fastly: demoSeed });
    const json = await init(["--env", "integration", "--json", "--out", "one.yaml"]);
    assert.equal(json.code, 0, json.stderr);
    const report = JSON.parse(json.stdout) as {
      written: boolean;
      file: string;
      environments: { name: string; token: { id: string }; services: unknown; matchedServices: unknown[] }[];
      validation: { valid: boolean; warnings: { message: string }[] };
    };
    assert.equal(report.written, true);
    assert.equal(report.file, join(w.dir, "one.yaml"));
    assert.equal(report.environments[0]!.token.id, exporterTokens.integration.id);
    assert.deepEqual(report.environments[0]!.services, { nameMatches: "[Ii]ntegration" });
    assert.equal(report.environments[0]!.matchedServices.length, 2);
    assert.equal(report.validation.valid, true);
    assert.ok(report.validation.warnings.some((x) => /no reloaders/.test(x.message)));

    const printed = await init(["--env", "staging", "--out", "-", "--store", "aws-secrets-manager"]);
    assert.equal(printed.code, 0, printed.stderr);
    assert.match(printed.stderr, /the config is valid \(1 environment/);
    const config = parseConfig(printed.stdout, { baseDir: w.dir });
    assert.deepEqual(config.errors, []);
    assert.deepEqual(config.config?.environments[0]?.secret, {
      type: "aws-secrets-manager",
      secretId: "CHANGE-ME/fastly/staging",
      jsonKey: "fastly-api-token",
    });
    assert.deepEqual((await readdir(w.dir)).sort(), ["one.yaml"], "--out - writes no file");

    const k8s = await init(["--env", "staging", "--out", "k.yaml", "--store", "kubernetes-secret"]);
    assert.equal(k8s.code, 0, k8s.stderr);
    assert.match(await readFile(join(w.dir, "k.yaml"), "utf8"), /namespace: change-me/);
    const badStore = await init(["--env", "staging", "--store", "vault"]);
    assert.equal(badStore.code, 2);
    assert.match(
      badStore.stderr,
      /^error: unknown store "vault" for --store: use file, aws-secrets-manager, kubernetes-secret/,
    );
    assertNoSecrets(outputs(json, printed, k8s, badStore), SECRETS);
  });

  it("refuses to overwrite a file without --force, in one line, and leaves it as it was", async () => {
    w = await world({ fastly: demoSeed });
    await writeFile(join(w.dir, "ftr.yaml"), "# mine\n");
    const refused = await init(["--env", "staging"]);
    assert.equal(refused.code, 2);
    assert.equal(
      refused.stderr,
      "error: ftr.yaml already exists: pass --force to overwrite it, or --out another file\n",
    );
    assert.equal(await readFile(join(w.dir, "ftr.yaml"), "utf8"), "# mine\n");
    const forced = await init(["--env", "staging", "--force"]);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(await readFile(join(w.dir, "ftr.yaml"), "utf8"), /token for Staging/);
    // Nothing left beside it: the temporary file is gone.
    assert.deepEqual(await readdir(w.dir), ["ftr.yaml"]);
  });

  it("an environment no token matches: one line saying what to pass, and nothing written", async () => {
    w = await world({ fastly: demoSeed });
    const none = await init(["--env", "staging", "--env", "qa"]);
    assert.equal(none.code, 2);
    assert.equal(
      none.stderr,
      `error: qa: no automation token's name contains "qa" (3 in the account; ftr status lists them); pass --env qa=<token id or name>\n`,
    );
    // --json: the same problems as data on stdout, for a script.
    const asJson = await init(["--env", "qa", "--json"]);
    assert.equal(asJson.code, 2);
    assert.deepEqual(
      (
        JSON.parse(asJson.stdout) as { written: boolean; problems: { environment: string; kind: string }[] }
      ).problems.map((p) => [p.environment, p.kind]),
      [["qa", "no-match"]],
    );
    const wrongId = await init(["--env", "qa=NoSuchTokenId"]);
    assert.equal(wrongId.code, 2);
    assert.match(
      wrongId.stderr,
      /^error: qa: no automation token has the id or name "NoSuchTokenId"; pass --env qa=/,
    );
    assert.deepEqual(await readdir(w.dir), []);
    // Picked by id or by exact name, any environment name will do.
    const byId = await init(["--env", `qa=${exporterTokens.staging.id}`, "--out", "a.yaml"]);
    assert.equal(byId.code, 0, byId.stderr);
    const byName = await init(["--env", `qa=${exporterTokens.staging.name}`, "--out", "b.yaml"]);
    assert.equal(byName.code, 0, byName.stderr);
    const a = await readFile(join(w.dir, "a.yaml"), "utf8");
    assert.match(a, /name: "GOV\.UK prometheus-fastly-exporter token for Staging"/);
    assert.equal(a, await readFile(join(w.dir, "b.yaml"), "utf8"));

    const usage = await init(["--env", "Bad Name"]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /^error: invalid environment name "Bad Name"/);
    const noEnv = await init([]);
    assert.equal(noEnv.code, 2);
    assert.match(noEnv.stderr, /^error: name at least one environment: --env staging/);
  });

  it("several tokens match: lists them and asks to pick one with NAME=ID; tokens of one name are one token", async () => {
    w = await world({
      fastly: demoSeedWith({
        automationTokens: [
          seedToken("CI deploy token (production)", "init-ci-token-value-0000000001", {
            services: [demoServiceIds["www Production"]],
            createdAt: "-20d",
            expiresAt: "+70d",
          }),
          // A rotation in progress: a second token of the staging exporter's name, newer.
          seedToken(exporterTokens.staging.name, "init-staging-new-value-00000002", {
            services: [demoServiceIds["www Staging"], demoServiceIds["assets Staging"]],
            createdAt: "-1d",
            expiresAt: "+364d",
          }),
        ],
      }),
    });
    const several = await init(["--env", "staging", "--env", "production"]);
    assert.equal(several.code, 2);
    const lines = several.stderr.trimEnd().split("\n");
    assert.equal(
      lines[0],
      "error: production: 2 automation tokens match; pick one with --env production=<id>",
    );
    assert.equal(lines.length, 3, several.stderr);
    assert.ok(lines.some((l) => l.includes(exporterTokens.production.id) && l.includes("expires")));
    assert.ok(lines.some((l) => l.includes('"CI deploy token (production)"')));
    assert.deepEqual(await readdir(w.dir), []);

    const picked = await init([
      "--env",
      "staging",
      "--env",
      `production=${exporterTokens.production.id}`,
      "--json",
    ]);
    assert.equal(picked.code, 0, picked.stderr);
    const report = JSON.parse(picked.stdout) as {
      environments: { name: string; tokenIds: string[]; token: { id: string }; warnings: string[] }[];
    };
    const staging = report.environments[0]!;
    assert.equal(staging.tokenIds.length, 2, "both tokens of the staging name");
    assert.notEqual(staging.token.id, exporterTokens.staging.id, "settings from the newest");
    assert.ok(staging.warnings.some((x) => /2 tokens carry this name/.test(x)));
    assert.equal(report.environments[1]!.token.id, exporterTokens.production.id);
    assertNoSecrets(outputs(several, picked), [...SECRETS, "init-staging-new-value-00000002"]);

    const both = await init([
      "--env",
      "staging",
      "--env",
      `prod=${exporterTokens.staging.id}`,
      "--out",
      "other.yaml",
    ]);
    assert.equal(both.code, 2);
    assert.match(
      both.stderr,
      /prod: the token "GOV\.UK prometheus-fastly-exporter token for Staging" is already staging's/,
    );
  });

  it("hostile names from the API: escaped on the terminal, quoted in the YAML, read back as they are", async () => {
    const evilToken = "evil \x1b[2J\x1b]0;owned\x07 token \u202estaging\u2028 x: #y";
    const evilService = "svc \x1b[31mred\x1b[0m staging\r\nforged: line";
    w = await world({
      fastly: {
        ...demoSeed,
        services: [...(demoSeed.services ?? []), { name: evilService }],
        automationTokens: [
          seedToken(evilToken, "init-ci-token-value-0000000001", {
            services: [evilService, demoServiceIds.datagovuk],
            createdAt: "-10d",
            expiresAt: "+80d",
          }),
        ],
      },
    });
    const made = await init(["--env", "staging"]);
    assert.equal(made.code, 0, made.stderr);
    for (const out of outputs(made)) assert.doesNotMatch(out, RAW_CONTROL, JSON.stringify(out));
    assert.match(made.stdout, /evil \\x1b\[2J\\x1b\]0;owned\\x07 token \\u202estaging/);

    const text = await readFile(join(w.dir, "ftr.yaml"), "utf8");
    assert.doesNotMatch(text, RAW_IN_FILE, "no raw control character in the file");
    // Two services no single word picks alone: listed by id, each named (escaped) in a comment.
    assert.match(text, /- 4c7fbWz8ATyqAdPtRiSUr2 # datagovuk/);
    assert.match(text, /# svc \\u001b\[31mred\\u001b\[0m staging\\u000d\\u000aforged: line/);
    const parsed = parseConfig(text, { baseDir: w.dir });
    assert.deepEqual(parsed.errors, []);
    const staging = parsed.config!.environments[0]!;
    assert.equal(staging.token.name, evilToken);
    assert.equal(staging.token.services.kind, "ids");
    assert.equal(staging.token.expiresInMs, 90 * 86_400_000);
    assert.equal(staging.token.rotateBeforeMs, 30 * 86_400_000);
    // And plan finds the account's token by that exact name.
    await mkdir(join(w.dir, "secrets"), { mode: 0o700 });
    const plan = await runCli(["plan", "--config", "ftr.yaml", "--json"], { cwd: w.dir, env: env() });
    assert.equal(plan.code, 0, plan.stderr);
    const planned = JSON.parse(plan.stdout) as {
      environments: { decision: string; managedTokens: { name: string }[] }[];
    };
    assert.equal(planned.environments[0]!.managedTokens[0]!.name, evilToken);
    assertNoSecrets([...outputs(made, plan), text], SECRETS);
  });

  it("the 2026 API: several roles become token.roles (checked against the account); an unlimited token, services all", async () => {
    w = await world({
      fastly: {
        ...demoSeed,
        roles: [{ name: "exporter-reader" }],
        automationTokens: [
          seedToken("metrics staging", "init-ci-token-value-0000000001", {
            roles: ["engineer", "exporter-reader"],
            services: [demoServiceIds["www Staging"]],
            createdAt: "-100d",
            expiresAt: "+265d",
          }),
          seedToken("purger production", "init-purge-token-value-00000003", {
            scope: "purge_all purge_select",
            role: "user",
            limitServices: false,
            createdAt: "-1d",
            expiresAt: "+29d",
            tlsAccess: true,
          }),
        ],
      },
    });
    const made = await init(["--env", "staging", "--env", "production"]);
    assert.equal(made.code, 0, made.stderr);
    const doc = parse(await readFile(join(w.dir, "ftr.yaml"), "utf8")) as {
      defaults?: unknown;
      environments: { token: Record<string, unknown> }[];
    };
    assert.equal(doc.defaults, undefined, "nothing shared");
    // One of two staging services: no word picks it alone, so by id.
    assert.deepEqual(doc.environments[0]!.token, {
      name: "metrics staging",
      services: { ids: [demoServiceIds["www Staging"]] },
      roles: ["engineer", "exporter-reader"],
      scope: "global:read",
      expiresIn: "365d",
    });
    assert.deepEqual(doc.environments[1]!.token, {
      name: "purger production",
      services: { all: true },
      role: "user",
      scope: "purge_all purge_select",
      expiresIn: "30d",
      rotateBefore: "10d",
      tlsAccess: true,
    });
    // The roles were checked against the account's, through FASTLY_API_TOKEN, as validate does.
    assert.match(made.stdout, /ftr\.yaml is valid/);
    assert.doesNotMatch(made.stdout, /token\.roles was not checked/);
    assertNoSecrets(outputs(made), [...SECRETS, "init-purge-token-value-00000003"]);
  });

  it("fits a terminal 80 columns wide; piped, every line is whole", { skip: skipWithoutPty() }, async () => {
    w = await world({ fastly: demoSeed });
    const args = ["init", "--env", "staging", "--env", "production", "--no-color"];
    const shown = await runOnPty([...args, "--out", "tty.yaml"], { columns: 80, cwd: w.dir, env: env() });
    assert.equal(shown.code, 0, shown.output);
    assert.deepEqual(overlong(shown.output, 80), [], shown.output);
    assert.ok(
      terminalLines(shown.output).some((l) => l.includes("tty.yaml is valid")),
      shown.output,
    );
    const piped = await init([...args.slice(1), "--out", "piped.yaml"]);
    assert.equal(piped.code, 0, piped.stderr);
    assert.ok(
      piped.stdout.split("\n").some((l) => l.length > 80 && l.includes("no reloaders")),
      "piped: the warning whole on one line",
    );
  });

  it("no credential, or a refused one: one line, and nothing written", async () => {
    w = await world({ fastly: demoSeed });
    const none = await init(["--env", "staging"], { env: { FASTLY_API_ENDPOINT: w.emulator.url } });
    assert.equal(none.code, 2);
    assert.equal(
      none.stderr,
      "error: FASTLY_API_TOKEN is not set: export the user token of a Fastly superuser (it is never read from the command line)\n",
    );
    const refused = await init(["--env", "staging"], {
      env: { FASTLY_API_TOKEN: "not-a-token-of-this-account-0001", FASTLY_API_ENDPOINT: w.emulator.url },
    });
    assert.equal(refused.code, 1);
    assert.equal(refused.stderr.trimEnd().split("\n").length, 1, refused.stderr);
    // Certificate checks turned off would hand the token to whoever intercepts it: refused, as for plan.
    const insecure = await init(["--env", "staging"], {
      env: { ...env(), NODE_TLS_REJECT_UNAUTHORIZED: "0" },
    });
    assert.equal(insecure.code, 2);
    assert.match(insecure.stderr, /^error: NODE_TLS_REJECT_UNAUTHORIZED=0 turns off certificate checks/);
    assert.deepEqual(await readdir(w.dir), []);
    assertNoSecrets(outputs(none, refused, insecure), [...SECRETS, "not-a-token-of-this-account-0001"]);
  });
});

const bashMissing = spawnSync("bash", ["--version"]).status === 0 ? false : "bash is not installed";
if (bashMissing && process.env.CI === "true") throw new Error(`CI=true: ${bashMissing}`);

describe("ftr init: help and completion", () => {
  it(
    "--help shows examples; bash completes init, its flags and --store's values",
    { skip: bashMissing },
    async () => {
      const help = await runCli(["init", "--help"]);
      assert.equal(help.code, 0);
      assert.match(help.stdout, /Usage: ftr init \[options\]/);
      assert.match(help.stdout, /\$ ftr init --env staging --env production\n/);
      const top = await runCli(["--help"]);
      assert.match(top.stdout, /^ {2}init \[options\] +write a config for the environments you name/m);

      const dir = await mkdtemp(join(tmpdir(), "ftr-init-completion-"));
      try {
        await mkdir(join(dir, "bin"));
        const quote = (x: string) => `'${x.replace(/'/g, `'\\''`)}'`;
        await writeFile(
          join(dir, "bin", "ftr"),
          `#!/bin/sh\nexec ${[process.execPath, ...CLI_NODE_ARGS].map(quote).join(" ")} "$@"\n`,
        );
        await chmod(join(dir, "bin", "ftr"), 0o755);
        const complete = (line: string[]): string[] => {
          const words = line.map((x) => `'${x}'`).join(" ");
          const script = `source <(ftr completion bash) && COMP_WORDS=(${words}) && COMP_CWORD=${line.length - 1} && _ftr && printf '%s\\n' "\${COMPREPLY[@]}"`;
          const result = spawnSync("bash", ["-c", script], {
            cwd: dir,
            env: { PATH: `${join(dir, "bin")}:${process.env.PATH ?? ""}`, HOME: dir },
            encoding: "utf8",
          });
          assert.equal(result.status, 0, result.stderr);
          return result.stdout.split("\n").filter((l) => l !== "");
        };
        assert.deepEqual(complete(["ftr", "ini"]), ["init"]);
        assert.deepEqual(complete(["ftr", "init", "--st"]), ["--store"]);
        assert.deepEqual(complete(["ftr", "init", "--env", "staging", "--store", "k"]), [
          "kubernetes-secret",
        ]);
        const fish = await runCli(["completion", "fish"]);
        assert.match(
          fish.stdout,
          /__fish_seen_subcommand_from init' -l store -x -a 'file aws-secrets-manager kubernetes-secret'/,
        );
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  );
});
