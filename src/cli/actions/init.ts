/** The body of `ftr init`, loaded when it runs. */
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { copyFile, link, lstat, open, rename, rm } from "node:fs/promises";
import { basename, dirname, resolve } from "node:path";
import type { AutomationToken } from "../../fastly/types.ts";
import {
  INIT_STORES,
  initConfig,
  parseEnvRequests,
  type InitEnvironment,
  type InitProblem,
  type InitStore,
} from "../../init/index.ts";
import { escapeControl } from "../../util/escape.ts";
import { widthOf, wrap } from "../../util/fit.ts";
import type { InitOpts } from "../commands/init.ts";
import { colours, OsError, printJson, println, UsageError, type CliIO } from "../io.ts";
import { isSecureOrLoopback } from "../../util/http.ts";
import { endpointFor, insecureAllowed, requireClient } from "../setup.ts";
import { checkConfigText, printValidation } from "./validate.ts";

/** `ftr init`. */
export async function init(io: CliIO, opts: InitOpts): Promise<number> {
  const { requests, error } = parseEnvRequests(opts.env ?? []);
  if (error !== undefined) throw new UsageError(error);
  if (!(INIT_STORES as readonly string[]).includes(opts.store)) {
    throw new UsageError(
      `unknown store ${JSON.stringify(opts.store)} for --store: use ${INIT_STORES.join(", ")} (any other store can be written in by hand, docs/configuration.md)`,
    );
  }
  const toStdout = opts.out === "-";
  if (toStdout && opts.json) {
    throw new UsageError("--json and --out - both print to stdout: give --out a file with --json");
  }
  const path = toStdout ? resolve(io.cwd, "ftr.yaml") : resolve(io.cwd, opts.out);
  // Before anything is asked of Fastly; the write itself refuses again, atomically.
  if (!toStdout && opts.force !== true && (await exists(path))) throw alreadyExists(opts.out);
  const client = requireClient(io);
  const endpoint = endpointFor(io);

  const result = await initConfig({
    client,
    requests,
    store: opts.store as InitStore,
    ...(endpoint ? { endpoint } : {}),
    // The config must say what --insecure-endpoint allowed, or it would not validate.
    ...(endpoint !== undefined && !isSecureOrLoopback(endpoint) && insecureAllowed(io)
      ? { allowInsecure: true }
      : {}),
  });
  if (result.text === undefined) {
    if (opts.json) printJson(io, { written: false, problems: result.problems.map(problemJson) });
    printProblems(io, result.problems);
    return 2;
  }

  if (toStdout) io.stdout.write(result.text);
  else await writeConfigFile(path, result.text, opts.force === true, opts.out);

  const sourceName = toStdout ? "the config" : opts.out;
  const validation = await checkConfigText(io, result.text, { path, sourceName });
  const valid = validation.errors.length === 0;
  if (opts.json) {
    printJson(io, {
      written: true,
      file: path,
      environments: result.environments.map(environmentJson),
      validation: { valid, errors: validation.errors, warnings: validation.warnings },
    });
    return valid ? 0 : 2;
  }
  const out = toStdout ? io.stderr : io.stdout;
  const c = colours(out, io.env);
  const width = widthOf(out);
  const say = (text: string, indent = 2) => println(out, wrap(escapeControl(text), width, indent));
  say(
    `${toStdout ? "printed" : `wrote ${opts.out}:`} ${result.environments.length} environment${result.environments.length === 1 ? "" : "s"} from the account's automation tokens`,
  );
  for (const env of result.environments) {
    println(
      out,
      wrap(
        `${c.bold(env.name)}: ${escapeControl(`"${env.token.name}" (${env.tokenIds.join(", ")})`)}`,
        width,
        2,
      ),
    );
    say(`  ${servicesLine(env)}; ${settingsLine(env)}`, 4);
    for (const warning of env.warnings) say(`  ${c.yellow("note")} ${warning}`, 4);
  }
  await printValidation(io, validation, sourceName, out);
  if (!valid) {
    println(
      io.stderr,
      `error: ${validation.errors.length} problem(s) in ${sourceName}${toStdout ? "" : " (written)"}; fix them and run ftr validate`,
    );
    return 2;
  }
  say(
    `next: fill in each secret: and add reload: steps${toStdout ? "" : ` in ${opts.out}`}, then ftr plan${toStdout || opts.out === "ftr.yaml" ? "" : ` --config ${opts.out}`}`,
  );
  return 0;
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

function alreadyExists(out: string): UsageError {
  return new UsageError(`${out} already exists: pass --force to overwrite it, or --out another file`);
}

/**
 * Write `text` to `path` whole or not at all: a temporary file beside it, synced, then linked into
 * place (which fails when the file exists: no race with a file created meanwhile), or renamed over
 * it with `force`.
 */
async function writeConfigFile(path: string, text: string, force: boolean, shown: string): Promise<void> {
  const tmp = resolve(
    dirname(path),
    `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`,
  );
  try {
    const file = await open(tmp, "wx", 0o644);
    try {
      await file.writeFile(text);
      await file.sync();
    } finally {
      await file.close();
    }
    if (force) {
      await rename(tmp, path);
      return;
    }
    try {
      await link(tmp, path);
    } catch (error) {
      // A file system without hard links: an exclusive copy, still never over an existing file.
      if (!hasCode(error, "EPERM") && !hasCode(error, "ENOTSUP") && !hasCode(error, "EXDEV")) throw error;
      await copyFile(tmp, path, constants.COPYFILE_EXCL);
    }
  } catch (error) {
    if (hasCode(error, "EEXIST") && !force) throw alreadyExists(shown);
    throw OsError.from(error, `cannot write ${shown}`) ?? error;
  } finally {
    await rm(tmp, { force: true });
  }
}

function hasCode(error: unknown, code: string): boolean {
  return error instanceof Error && "code" in error && error.code === code;
}

function servicesLine(env: InitEnvironment): string {
  if ("all" in env.services) return "services: all";
  const names = env.matchedServices.map((s) => s.name).join(", ");
  return "nameMatches" in env.services
    ? `services: nameMatches ${env.services.nameMatches} (${names})`
    : `services: ${env.services.ids.length} by id (${names})`;
}

function settingsLine(env: InitEnvironment): string {
  const s = env.settings;
  return [
    "roles" in s.access ? `roles ${s.access.roles.join(", ")}` : `role ${s.access.role}`,
    `scope ${s.scope ?? "global:read"}`,
    `expiresIn ${s.expiresIn ?? "365d"}`,
    ...(s.rotateBefore ? [`rotateBefore ${s.rotateBefore}`] : []),
    ...(env.approval === "required" ? ["approval: required"] : []),
  ].join(", ");
}

/** A token as a candidate line: id, name, expiry, last use. */
function candidateLine(t: AutomationToken): string {
  const day = (d: Date | undefined) => d?.toISOString().slice(0, 10);
  return [
    t.id,
    `"${t.name}"`,
    t.expiresAt ? `expires ${day(t.expiresAt)}` : "never expires",
    t.lastUsedAt ? `last used ${day(t.lastUsedAt)}` : "never used",
  ].join("  ");
}

function printProblems(io: CliIO, problems: readonly InitProblem[]): void {
  const c = colours(io.stderr, io.env);
  for (const problem of problems) {
    println(io.stderr, `${c.red("error:")} ${escapeControl(problem.message)}`);
    for (const t of problem.candidates ?? []) println(io.stderr, `  ${escapeControl(candidateLine(t))}`);
  }
}

function tokenJson(t: AutomationToken) {
  return {
    id: t.id,
    name: t.name,
    ...(t.expiresAt ? { expiresAt: t.expiresAt.toISOString() } : {}),
    ...(t.lastUsedAt ? { lastUsedAt: t.lastUsedAt.toISOString() } : {}),
  };
}

function problemJson(p: InitProblem) {
  return {
    environment: p.environment,
    kind: p.kind,
    message: p.message,
    ...(p.candidates ? { candidates: p.candidates.map(tokenJson) } : {}),
  };
}

function environmentJson(env: InitEnvironment) {
  return {
    name: env.name,
    token: tokenJson(env.token),
    tokenIds: env.tokenIds,
    services: env.services,
    matchedServices: env.matchedServices.map((s) => ({ id: s.id, name: s.name })),
    missingServices: env.missingServices,
    settings: env.settings,
    approval: env.approval,
    warnings: env.warnings,
  };
}
