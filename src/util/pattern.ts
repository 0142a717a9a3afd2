/**
 * Service-name patterns (`services.nameMatches`), compiled with RE2 semantics (re2js) so matching
 * runs in time linear in the name: a pattern such as `^(\w+\s?)*$` cannot make `plan`, `status` or
 * `serve`'s `/metrics` backtrack for minutes on a hostile service name. RE2 has no backreferences
 * and no lookaround; a pattern using them is refused when the config is validated.
 *
 * A pattern of letters, digits, spaces, `-` and `_` only is a literal in RE2 (none of them is an
 * operator outside a class): it always compiles, and it matches exactly the names that contain it.
 * Such patterns are answered without re2js, which is loaded (synchronously, from node_modules) the
 * first time any other pattern is seen: a config of literal patterns starts without its 190 KB.
 */
import { createRequire } from "node:module";
import type * as RE2 from "re2js";

/** A compiled name pattern; `test` searches anywhere in the name, like `RegExp.prototype.test`. */
export interface NamePattern {
  readonly source: string;
  test(name: string): boolean;
}

/** Characters that stand for themselves in RE2 outside a character class. */
const LITERAL = /^[A-Za-z0-9 _-]*$/;

let re2: typeof RE2.RE2JS | undefined;

/** re2js, loaded on first use. */
function RE2JS(): typeof RE2.RE2JS {
  return (re2 ??= (createRequire(import.meta.url)("re2js") as typeof RE2).RE2JS);
}

/** Why `pattern` cannot be compiled as RE2, in a few words; undefined when it compiles. */
export function namePatternProblem(pattern: string): string | undefined {
  if (LITERAL.test(pattern)) return undefined;
  try {
    RE2JS().compile(pattern);
    return undefined;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return message.replace(/^error parsing regexp: /, "");
  }
}

/** Compile `pattern` (RE2 syntax); throws when it does not compile (validation refuses it first). */
export function compileNamePattern(pattern: string): NamePattern {
  if (LITERAL.test(pattern)) return { source: pattern, test: (name) => name.includes(pattern) };
  const re = RE2JS().compile(pattern);
  return { source: pattern, test: (name) => re.matcher(name).find() };
}
