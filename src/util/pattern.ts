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
 *
 * So are the simple patterns most configs use (`[Ss]taging`, `^www-`, `prod$`, `a|b`): literal
 * characters, escaped punctuation and character classes of letters, digits, space and `_` (ranges
 * allowed), with `^` and `$` only at either end of an alternative. That syntax means the same in
 * RE2 and in a JavaScript RegExp with the `u` flag, and without repetition a RegExp cannot
 * backtrack more than the pattern's length at each position: such a pattern runs as a RegExp.
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

/** One item of a simple pattern: a literal character, an escaped punctuation character, a class. */
const SIMPLE_ITEM = String.raw`(?:[A-Za-z0-9 _-]|\\[.*+?()[\]{}|^$\\/]|\[\^?(?:[A-Za-z0-9 _](?:-[A-Za-z0-9 _])?)+\])`;

/** An alternative of a simple pattern: items, anchored at either end or not. */
const SIMPLE_ALTERNATIVE = String.raw`\^?${SIMPLE_ITEM}*\$?`;

/** A simple pattern: alternatives separated by `|` (see the module's comment). */
const SIMPLE = new RegExp(String.raw`^${SIMPLE_ALTERNATIVE}(?:\|${SIMPLE_ALTERNATIVE})*$`);

/**
 * `pattern` as a RegExp when it is simple (same matches as RE2, linear time); undefined when it
 * is not, or when it does not compile (a range out of order: RE2 refuses it too, and words why).
 */
function simpleRegExp(pattern: string): RegExp | undefined {
  if (!SIMPLE.test(pattern)) return undefined;
  try {
    return new RegExp(pattern, "u");
  } catch {
    return undefined;
  }
}

let re2: typeof RE2.RE2JS | undefined;

/** re2js, loaded on first use. */
function RE2JS(): typeof RE2.RE2JS {
  return (re2 ??= (createRequire(import.meta.url)("re2js") as typeof RE2).RE2JS);
}

/** Why `pattern` cannot be compiled as RE2, in a few words; undefined when it compiles. */
export function namePatternProblem(pattern: string): string | undefined {
  if (LITERAL.test(pattern) || simpleRegExp(pattern) !== undefined) return undefined;
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
  const simple = simpleRegExp(pattern);
  if (simple !== undefined) return { source: pattern, test: (name) => simple.test(name) };
  const re = RE2JS().compile(pattern);
  return { source: pattern, test: (name) => re.matcher(name).find() };
}
