/** The body of `validate`, loaded when it runs. */
import { dirname, resolve } from "node:path";
import { formatIssues, parseConfig, readConfigText } from "../../config/parse.ts";
import type { ConfigIssue, ConfigResult } from "../../config/types.ts";
import type { Role } from "../../fastly/types.ts";
import { escapeControl } from "../../util/escape.ts";
import { widthOf } from "../../util/width.ts";
import { kubeconfigWarnings } from "../../adapters/support/kubeconfig-warnings.ts";
import { TooLargeError } from "../../util/limits.ts";
import type { ValidateOpts } from "../commands/validate.ts";
import { colours, OsError, printJson, println, UsageError, type CliIO } from "../io.ts";

/**
 * `token.roles` names exist only in the account: with FASTLY_API_TOKEN they are looked up through
 * `GET /roles` (an unknown name is an error listing the roles there are); without it, a warning
 * says they were not checked (`ftr plan` checks them). The Fastly client and the planner are loaded
 * only then: a config without `token.roles` is validated without them.
 */
async function checkRolesAgainstAccount(
  io: CliIO,
  result: ConfigResult,
  path: string,
): Promise<ConfigResult> {
  const config = result.config;
  if (!config) return result;
  const withRoles = config.environments.filter((env) => env.token.roles !== undefined);
  if (withRoles.length === 0) return result;
  const [{ optionalClient }, { FastlyApiError }, { resolveRoles }] = await Promise.all([
    import("../setup.ts"),
    import("../../fastly/errors.ts"),
    import("../../plan/plan.ts"),
  ]);
  const client = optionalClient(io, { config, warnings: result.warnings, path });
  if (!client) {
    return {
      ...result,
      warnings: [
        ...result.warnings,
        {
          path: "",
          message:
            "token.roles was not checked against the account's roles: set FASTLY_API_TOKEN to check it here (ftr plan checks it too)",
        },
      ],
    };
  }
  let roles: Role[];
  try {
    roles = await client.listRoles();
  } catch (error) {
    if (!(error instanceof FastlyApiError)) throw error;
    return {
      ...result,
      warnings: [
        ...result.warnings,
        { path: "", message: `token.roles could not be checked against the account: ${error.message}` },
      ],
    };
  }
  const errors: ConfigIssue[] = [];
  for (const env of withRoles) {
    const resolved = resolveRoles(env.token.roles, roles);
    if (resolved.error)
      errors.push({ path: `environments[${env.index}].token.roles`, message: resolved.error });
  }
  if (errors.length === 0) return result;
  return { errors: [...result.errors, ...errors], warnings: result.warnings };
}

/**
 * Everything `ftr validate` checks in a config's text: the config pipeline, its roles against the
 * account (with FASTLY_API_TOKEN), and the kubeconfigs it names. `ftr init` checks what it wrote
 * through this too.
 */
export async function checkConfigText(
  io: CliIO,
  text: string,
  where: { readonly path: string; readonly sourceName: string },
): Promise<ConfigResult> {
  const parsed = parseConfig(text, { baseDir: dirname(where.path), sourceName: where.sourceName });
  const checked = await checkRolesAgainstAccount(io, parsed, where.path);
  // What the kubeconfigs the config names do with their clusters' certificates (read, not used).
  const kubeWarnings = checked.config ? await kubeconfigWarnings(checked.config.environments) : [];
  return { ...checked, warnings: [...checked.warnings, ...kubeWarnings] };
}

/**
 * `ftr validate`'s lines for `result`: every issue, then `<name> is valid (…)` when it is. On a
 * terminal, long lines wrap at word boundaries with a hanging indent (util/fit.ts, loaded only
 * then); to a file or a pipe, lines are whole.
 */
export async function printValidation(
  io: CliIO,
  result: ConfigResult,
  sourceName: string,
  stream: CliIO["stdout"] = io.stdout,
): Promise<void> {
  const c = colours(stream, io.env);
  const width = widthOf(stream);
  const wrap =
    width === undefined ? (text: string): string => text : (await import("../../util/fit.ts")).wrap;
  for (const raw of formatIssues(result, sourceName)) {
    const line = escapeControl(raw);
    println(stream, wrap(line.startsWith("error") ? c.red(line) : c.yellow(line), width, 4));
  }
  if (result.errors.length === 0) {
    println(
      stream,
      wrap(
        c.green(`${sourceName} is valid`) +
          ` (${plural(result.config?.environments.length ?? 0, "environment")}${result.warnings.length ? `, ${result.warnings.length} warning(s)` : ""})`,
        width,
        4,
      ),
    );
  }
}

/** `ftr validate`. */
export async function validate(io: CliIO, opts: ValidateOpts): Promise<number> {
  const path = resolve(io.cwd, opts.config);
  let text: string;
  try {
    text = await readConfigText(path);
  } catch (error) {
    if (error instanceof TooLargeError) throw new UsageError(`${opts.config}: ${error.message}`);
    const os = OsError.from(error, `cannot read the config ${opts.config}`);
    // Exit 2 like every other config problem, in the same words as the OS errors.
    throw new UsageError(os?.message ?? `cannot read the config ${opts.config}: ${String(error)}`);
  }
  const result = await checkConfigText(io, text, { path, sourceName: opts.config });
  if (opts.json) {
    printJson(io, {
      valid: result.errors.length === 0,
      errors: result.errors,
      warnings: result.warnings,
    });
  } else {
    await printValidation(io, result, opts.config);
  }
  if (result.errors.length > 0) {
    if (!opts.json)
      println(
        io.stderr,
        `error: ${result.errors.length} problem(s) in ${opts.config}; fix them and run again`,
      );
    return 2;
  }
  return 0;
}

/** "1 environment", "3 environments". */
function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
