/**
 * `completions bash|zsh|fish`: a shell completion script generated from the commander program itself
 * (its commands, subcommands, options and choices), so it cannot fall behind the CLI.
 *
 * Commands are completed by position; options for the command they follow (global options before the
 * command); after `--` (tool args) the shell completes file names.
 *
 * @module
 */

import { Argument, Command, type CommandUnknownOpts } from "@commander-js/extra-typings";
import { out } from "../output.ts";
import type { CompletedValue } from "./complete_values.ts";

/** The shells supported. */
export const SHELLS = ["bash", "zsh", "fish"] as const;
/** One of {@link SHELLS}. */
export type Shell = typeof SHELLS[number];

interface OptionSpec {
  flags: string[];
  description: string;
  takesValue: boolean;
  choices: readonly string[];
}

interface CommandSpec {
  /** Names from the program down, without the program's own: `[]`, `["config"]`, `["config", "get"]`. */
  path: string[];
  description: string;
  options: OptionSpec[];
  /** Choices of the first positional argument, if it has any. */
  values: readonly string[];
  commands: CommandSpec[];
}

/**
 * Values sqlrs itself lists as the shell completes (`sqlrs __complete …`), by command path and the
 * option whose value is wanted ("" for the command's first argument).
 */
const DYNAMIC_VALUES: Record<string, CompletedValue> = {
  "prepare|": "recipes",
  "plan|": "recipes",
  "rm|": "instances",
  "reset|": "instances",
  "run:psql|--instance": "instances",
  "run:pgbench|--instance": "instances",
};

/** The shell command that prints the dynamic values of `key` (`path|flag`), if it has any. */
function dynamicValues(key: string): string | undefined {
  const what = DYNAMIC_VALUES[key];
  return what === undefined ? undefined : `command sqlrs __complete ${what} 2>/dev/null`;
}

function describe(command: CommandUnknownOpts, path: string[]): CommandSpec {
  const help = command.createHelp();
  return {
    path,
    description: command.description(),
    options: help.visibleOptions(command).map((option) => ({
      flags: [option.short, option.long].filter((flag): flag is string => flag !== undefined),
      description: option.description,
      takesValue: option.required || option.optional,
      choices: option.argChoices ?? [],
    })),
    values: help.visibleArguments(command)[0]?.argChoices ?? [],
    commands: help.visibleCommands(command)
      .filter((sub) => sub.name() !== "help")
      .map((sub) => describe(sub, [...path, sub.name()])),
  };
}

function flatten(spec: CommandSpec): CommandSpec[] {
  return [spec, ...spec.commands.flatMap(flatten)];
}

/** A single-quoted word for bash and zsh. */
function posixQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** A fish single-quoted string: only `\` and `'` are special inside. */
function fishQuote(text: string): string {
  return `'${text.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

/** `case` arms of a shell function answering one word list per command path. */
function caseArms(specs: CommandSpec[], words: (spec: CommandSpec) => string[]): string {
  return specs
    .map((spec) => [spec.path.join(" "), words(spec)] as const)
    .filter(([, list]) => list.length > 0)
    .map(([key, list]) => `    ${posixQuote(key)}) printf '%s\\n' ${list.map(posixQuote).join(" ")} ;;`)
    .join("\n");
}

function choiceArms(specs: CommandSpec[]): string {
  const arms = Object.keys(DYNAMIC_VALUES).map((key) => `    ${posixQuote(key)}) ${dynamicValues(key)} ;;`);
  for (const spec of specs) {
    const key = spec.path.join(" ");
    if (spec.values.length > 0) {
      arms.push(`    ${posixQuote(`${key}|`)}) printf '%s\\n' ${spec.values.map(posixQuote).join(" ")} ;;`);
    }
    for (const option of spec.options) {
      if (option.choices.length === 0) continue;
      for (const flag of option.flags) {
        arms.push(
          `    ${posixQuote(`${key}|${flag}`)}) printf '%s\\n' ${
            option.choices.map(posixQuote).join(" ")
          } ;;`,
        );
      }
    }
  }
  return arms.join("\n");
}

/** The functions bash and zsh share: word lists per command path. */
function sharedFunctions(specs: CommandSpec[]): string {
  const valued = (spec: CommandSpec) => spec.options.filter((o) => o.takesValue).flatMap((o) => o.flags);
  return `_sqlrs_subcommands() {
  case "$1" in
${caseArms(specs, (spec) => spec.commands.map((sub) => sub.path.at(-1) as string))}
  esac
}
_sqlrs_options() {
  case "$1" in
${caseArms(specs, (spec) => spec.options.flatMap((o) => o.flags))}
  esac
}
_sqlrs_valued() {
  case "$1" in
${caseArms(specs, valued)}
  esac
}
# $1 the command path, $2 the option whose value is wanted, or "" for the command's first argument.
_sqlrs_choices() {
  case "$1|$2" in
${choiceArms(specs)}
  esac
}
# Sets _sqlrs_path to the command path of words 2..n-1 ("--" when they reach tool args) and _sqlrs_skip
# when the last of them is an option that takes a value.
_sqlrs_walk() {
  _sqlrs_path="" _sqlrs_skip=0
  local word
  for word in "$@"; do
    if [ "$_sqlrs_skip" = 1 ]; then _sqlrs_skip=0; continue; fi
    if [ "$word" = -- ]; then _sqlrs_path=--; return; fi
    case "$word" in
      "") ;;
      -*=*) ;;
      -*) case " $(_sqlrs_valued "$_sqlrs_path" | tr '\\n' ' ') " in *" $word "*) _sqlrs_skip=1 ;; esac ;;
      *) case " $(_sqlrs_subcommands "$_sqlrs_path" | tr '\\n' ' ') " in
           *" $word "*) _sqlrs_path="\${_sqlrs_path:+$_sqlrs_path }$word" ;;
         esac ;;
    esac
  done
}`;
}

function bashScript(specs: CommandSpec[]): string {
  return `# bash completion for sqlrs (generated by \`sqlrs completions bash\`).
# Install: sqlrs completions bash > ~/.local/share/bash-completion/completions/sqlrs
#      or: source <(sqlrs completions bash)
${sharedFunctions(specs)}
_sqlrs() {
  # Split the line ourselves: bash splits words at ":" (COMP_WORDBREAKS), and commands contain colons.
  local line=\${COMP_LINE:0:COMP_POINT} cur candidates
  local -a words
  read -ra words <<<"$line"
  if [[ $line == *[[:space:]] || \${#words[@]} -eq 0 ]]; then words+=(""); fi
  (( \${#words[@]} < 2 )) && return 0
  cur=\${words[\${#words[@]}-1]}
  _sqlrs_walk "\${words[@]:1:\${#words[@]}-2}"
  COMPREPLY=()
  [[ $_sqlrs_path == -- ]] && return 0
  if [[ $_sqlrs_skip == 1 ]]; then
    candidates=$(_sqlrs_choices "$_sqlrs_path" "\${words[\${#words[@]}-2]}")
  elif [[ $cur == -* ]]; then
    candidates=$(_sqlrs_options "$_sqlrs_path")
  else
    candidates="$(_sqlrs_subcommands "$_sqlrs_path")"$'\\n'"$(_sqlrs_choices "$_sqlrs_path" "")"
  fi
  local IFS=$'\\n'
  COMPREPLY=($(compgen -W "$candidates" -- "$cur"))
  # Bash replaces only the part of the word after its last ":".
  if [[ $cur == *:* && $COMP_WORDBREAKS == *:* ]]; then
    local prefix=\${cur%"\${cur##*:}"}
    COMPREPLY=("\${COMPREPLY[@]#"$prefix"}")
  fi
  return 0
}
complete -o default -F _sqlrs sqlrs
`;
}

function zshEntries(spec: CommandSpec): { commands: string[]; options: string[] } {
  const entry = (name: string, description: string) =>
    `${name.replaceAll(":", "\\:")}:${oneLine(description)}`;
  return {
    commands: spec.commands.map((sub) => entry(sub.path.at(-1) as string, sub.description)),
    options: spec.options.flatMap((o) => o.flags.map((flag) => entry(flag, o.description))),
  };
}

function zshScript(specs: CommandSpec[]): string {
  const described = (pick: "commands" | "options") =>
    specs
      .map((spec) => [spec.path.join(" "), zshEntries(spec)[pick]] as const)
      .filter(([, list]) => list.length > 0)
      .map(([key, list]) => `    ${posixQuote(key)}) printf '%s\\n' ${list.map(posixQuote).join(" ")} ;;`)
      .join("\n");
  return `#compdef sqlrs
# zsh completion for sqlrs (generated by \`sqlrs completions zsh\`).
# Install: sqlrs completions zsh > "\${fpath[1]}/_sqlrs"   (then restart zsh)
#      or: source <(sqlrs completions zsh)   (after compinit)
${sharedFunctions(specs)}
_sqlrs_described_commands() {
  case "$1" in
${described("commands")}
  esac
}
_sqlrs_described_options() {
  case "$1" in
${described("options")}
  esac
}
_sqlrs() {
  local _sqlrs_path _sqlrs_skip cur=\${words[CURRENT]}
  local -a entries
  _sqlrs_walk "\${(@)words[2,CURRENT-1]}"
  if [[ $_sqlrs_path == -- ]]; then _files; return; fi
  if [[ $_sqlrs_skip == 1 ]]; then
    entries=(\${(f)"$(_sqlrs_choices "$_sqlrs_path" "\${words[CURRENT-1]}")"})
    if (( \${#entries} )); then compadd -a entries; else _files; fi
    return
  fi
  if [[ $cur == -* ]]; then
    entries=(\${(f)"$(_sqlrs_described_options "$_sqlrs_path")"})
    _describe -t options option entries
    return
  fi
  entries=(\${(f)"$(_sqlrs_described_commands "$_sqlrs_path")"})
  local -a values
  values=(\${(f)"$(_sqlrs_choices "$_sqlrs_path" "")"})
  (( \${#values} )) && compadd -a values
  (( \${#entries} )) && _describe -t commands command entries
  (( \${#entries} + \${#values} )) || _files
}
if [[ \${zsh_eval_context[-1]} == loadautofunc ]]; then
  _sqlrs "$@"
else
  compdef _sqlrs sqlrs
fi
`;
}

function fishScript(specs: CommandSpec[]): string {
  const lines: string[] = [];
  const arms = (words: (spec: CommandSpec) => string[]) =>
    specs
      .map((spec) => [spec.path.join(" "), words(spec)] as const)
      .filter(([, list]) => list.length > 0)
      .map(([key, list]) =>
        `        case ${fishQuote(key)}\n            printf '%s\\n' ${list.map(fishQuote).join(" ")}`
      )
      .join("\n");
  for (const spec of specs) {
    const at = `__sqlrs_at ${fishQuote(spec.path.join(" "))}`;
    for (const sub of spec.commands) {
      lines.push(
        `complete -c sqlrs -n ${fishQuote(at)} -a ${fishQuote(sub.path.at(-1) as string)} -d ${
          fishQuote(oneLine(sub.description))
        }`,
      );
    }
    if (spec.values.length > 0) {
      lines.push(`complete -c sqlrs -n ${fishQuote(at)} -a ${fishQuote(spec.values.join(" "))}`);
    }
    const argumentValues = dynamicValues(`${spec.path.join(" ")}|`);
    if (argumentValues !== undefined) {
      lines.push(`complete -c sqlrs -n ${fishQuote(at)} -a ${fishQuote(`(${argumentValues})`)}`);
    }
    for (const option of spec.options) {
      const flags = option.flags.map((flag) =>
        flag.startsWith("--") ? `-l ${flag.slice(2)}` : `-s ${flag.slice(1)}`
      );
      const optionValues = option.flags.map((flag) => dynamicValues(`${spec.path.join(" ")}|${flag}`))
        .find((command) => command !== undefined);
      const value = optionValues !== undefined
        ? ` -x -a ${fishQuote(`(${optionValues})`)}`
        : option.choices.length > 0
        ? ` -x -a ${fishQuote(option.choices.join(" "))}`
        : option.takesValue
        ? " -r"
        : "";
      lines.push(
        `complete -c sqlrs -n ${fishQuote(at)} ${flags.join(" ")}${value} -d ${
          fishQuote(oneLine(option.description))
        }`,
      );
    }
  }
  return `# fish completion for sqlrs (generated by \`sqlrs completions fish\`).
# Install: sqlrs completions fish > ~/.config/fish/completions/sqlrs.fish
function __sqlrs_subcommands
    switch "$argv[1]"
${arms((spec) => spec.commands.map((sub) => sub.path.at(-1) as string))}
    end
end
function __sqlrs_valued
    switch "$argv[1]"
${arms((spec) => spec.options.filter((o) => o.takesValue).flatMap((o) => o.flags))}
    end
end
# The command path of the words before the cursor, or "--" once they reach tool args.
function __sqlrs_path
    set -l cmdpath
    set -l skip 0
    set -l words (commandline -opc)
    set -e words[1]
    for word in $words
        if test $skip = 1
            set skip 0
            continue
        end
        if test "$word" = --
            echo --
            return
        end
        if string match -q -- '-*=*' $word
            continue
        else if string match -q -- '-*' $word
            contains -- $word (__sqlrs_valued "$cmdpath") && set skip 1
            continue
        end
        contains -- $word (__sqlrs_subcommands "$cmdpath") && set -a cmdpath $word
    end
    echo "$cmdpath"
end
function __sqlrs_at
    set -l here (__sqlrs_path)
    test "$here" = "$argv[1]"
end
complete -c sqlrs -f
complete -c sqlrs -n '__sqlrs_at --' -F
${lines.join("\n")}
`;
}

/**
 * The completion script of a program for a shell.
 *
 * @example
 * ```ts ignore
 * const script = completionScript(program, "bash");
 * ```
 */
export function completionScript(program: CommandUnknownOpts, shell: Shell): string {
  const specs = flatten(describe(program, []));
  switch (shell) {
    case "bash":
      return bashScript(specs);
    case "zsh":
      return zshScript(specs);
    case "fish":
      return fishScript(specs);
  }
}

/** `completions <shell>`. */
export function completionsCommand() {
  return new Command("completions")
    .description("Print a shell completion script (bash, zsh or fish)")
    .addArgument(new Argument("<shell>", "bash, zsh or fish").choices(SHELLS))
    .addHelpText(
      "after",
      `
Install:
  bash  sqlrs completions bash > ~/.local/share/bash-completion/completions/sqlrs
  zsh   sqlrs completions zsh > "\${fpath[1]}/_sqlrs"
  fish  sqlrs completions fish > ~/.config/fish/completions/sqlrs.fish`,
    )
    .action((shell, _flags, command) => {
      let root: CommandUnknownOpts = command;
      while (root.parent !== null) root = root.parent;
      out(completionScript(root, shell));
    });
}
