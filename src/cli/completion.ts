/**
 * Shell completion scripts (`ftr completion bash|zsh|fish`), generated from the command line's own
 * definition: every command and its flags, and environment names read from the config (`--config`
 * on the line being completed, else FTR_CONFIG or ./ftr.yaml) by `ftr completion --environments`.
 */
import type { Command } from "commander";
import { INIT_STORES } from "../init/stores.ts";

/** The shells a script is written for. */
export const SHELLS = ["bash", "zsh", "fish"] as const;
export type Shell = (typeof SHELLS)[number];

/** A command as completion sees it. */
export interface CompletedCommand {
  readonly name: string;
  readonly description: string;
  /** Long and short flags, e.g. `--json`, `-e`. */
  readonly flags: readonly string[];
}

/** Flags whose value is an environment name. */
const ENV_FLAGS = ["-e", "--env"];

/** The commands and flags of `program`, hidden ones left out. */
export function commandsOf(program: Command): CompletedCommand[] {
  return program.commands
    .filter((c) => !(c as unknown as { _hidden?: boolean })._hidden)
    .map((c) => ({
      name: c.name(),
      description: c.description(),
      flags: [
        ...c.options.flatMap((o) => [o.long, o.short].filter((f): f is string => f !== undefined)),
        "--help",
      ],
    }));
}

const words = (list: readonly string[]) => list.join(" ");

/** The completion script for `shell`. */
export function completionScript(shell: Shell, commands: readonly CompletedCommand[]): string {
  if (shell === "fish") return fishScript(commands);
  const bash = bashScript(commands);
  if (shell === "bash") return bash;
  // zsh runs the bash function through its bashcompinit layer.
  return ["#compdef ftr fastly-token-rotator", "autoload -U +X bashcompinit && bashcompinit", bash].join(
    "\n",
  );
}

function bashScript(commands: readonly CompletedCommand[]): string {
  const cases = commands
    .map((c) => `      ${c.name}) COMPREPLY=($(compgen -W "${words(c.flags)}" -- "$cur")) ;;`)
    .join("\n");
  return `# ftr completion for bash: source <(ftr completion bash)
_ftr() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  local cmd="" config="" i w
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    case "$w" in
      -c|--config) config="\${COMP_WORDS[i+1]}"; i=$((i + 1)) ;;
      -e|--env|--window|--within|--interval|--listen|--port|--password-file) i=$((i + 1)) ;;
      -*) ;;
      *) [[ -z "$cmd" ]] && cmd="$w" ;;
    esac
  done
  case "$prev" in
    ${ENV_FLAGS.join("|")})
      local envs
      envs="$("\${COMP_WORDS[0]}" completion --environments \${config:+--config "$config"} 2>/dev/null)"
      COMPREPLY=($(compgen -W "$envs" -- "$cur"))
      return ;;
    -c|--config)
      COMPREPLY=($(compgen -f -- "$cur"))
      return ;;
    --store)
      COMPREPLY=($(compgen -W "${words(INIT_STORES)}" -- "$cur"))
      return ;;
    -o|--out)
      COMPREPLY=($(compgen -f -- "$cur"))
      return ;;
  esac
  if [[ -z "$cmd" ]]; then
    COMPREPLY=($(compgen -W "${words([...commands.map((c) => c.name), "--help", "--version", "--no-color"])}" -- "$cur"))
    return
  fi
  case "$cmd" in
${cases}
      completion) COMPREPLY=($(compgen -W "bash zsh fish" -- "$cur")) ;;
  esac
}
complete -o default -F _ftr ftr fastly-token-rotator
`;
}

function fishScript(commands: readonly CompletedCommand[]): string {
  const esc = (s: string) => s.replace(/\\/g, "\\\\").replace(/'/g, "\\'");
  const lines = [
    "# ftr completion for fish: ftr completion fish > ~/.config/fish/completions/ftr.fish",
    "complete -c ftr -f",
    ...commands.map(
      (c) => `complete -c ftr -n __fish_use_subcommand -a ${c.name} -d '${esc(c.description.slice(0, 60))}'`,
    ),
  ];
  for (const c of commands) {
    for (const flag of c.flags) {
      if (ENV_FLAGS.includes(flag)) continue;
      const opt = flag.startsWith("--") ? `-l ${flag.slice(2)}` : `-s ${flag.slice(1)}`;
      lines.push(`complete -c ftr -n '__fish_seen_subcommand_from ${c.name}' ${opt}`);
    }
    if (c.flags.includes("--env")) {
      lines.push(
        `complete -c ftr -n '__fish_seen_subcommand_from ${c.name}' -s e -l env -x -a '(ftr completion --environments 2>/dev/null)'`,
      );
    }
  }
  lines.push("complete -c ftr -n '__fish_seen_subcommand_from completion' -a 'bash zsh fish'");
  lines.push(`complete -c ftr -n '__fish_seen_subcommand_from init' -l store -x -a '${words(INIT_STORES)}'`);
  return `${lines.join("\n")}\n`;
}
