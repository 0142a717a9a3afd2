/**
 * Service-name patterns (`services.nameMatches`), compiled with RE2 semantics (re2js) so matching
 * runs in time linear in the name: a pattern such as `^(\w+\s?)*$` cannot make `plan`, `status` or
 * `serve`'s `/metrics` backtrack for minutes on a hostile service name. RE2 has no backreferences
 * and no lookaround; a pattern using them is refused when the config is validated.
 */
import { RE2JS } from "re2js";

/** A compiled name pattern; `test` searches anywhere in the name, like `RegExp.prototype.test`. */
export interface NamePattern {
  readonly source: string;
  test(name: string): boolean;
}

/** Why `pattern` cannot be compiled as RE2, in a few words; undefined when it compiles. */
export function namePatternProblem(pattern: string): string | undefined {
  try {
    RE2JS.compile(pattern);
    return undefined;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return message.replace(/^error parsing regexp: /, "");
  }
}

/** Compile `pattern` (RE2 syntax); throws when it does not compile (validation refuses it first). */
export function compileNamePattern(pattern: string): NamePattern {
  const re = RE2JS.compile(pattern);
  return { source: pattern, test: (name) => re.matcher(name).find() };
}
