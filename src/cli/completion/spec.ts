import type { Argument, Command, Option } from "commander";

/** What a flag's or an argument's value completes to: fixed words, file names, directory names, or nothing offered. */
export type ValueCompletion =
  | { kind: "words"; words: readonly string[] }
  | { kind: "files" }
  | { kind: "dirs" }
  | { kind: "free" };

/** One flag as the completion scripts see it. */
export interface FlagSpec {
  /** `-e`, `--eval`: every spelling. */
  names: string[];
  short?: string;
  long?: string;
  description: string;
  /** Undefined for a flag that takes no value. */
  value?: ValueCompletion;
  /** Whether it may be given more than once. */
  repeatable: boolean;
}

/** One command of the tree, with what follows it on a command line. */
export interface CommandSpec {
  /** Words from `isol8` to it: `[]` for isol8 itself, `["session", "list"]`. */
  path: string[];
  name: string;
  description: string;
  flags: FlagSpec[];
  subcommands: CommandSpec[];
  /** What its first positional argument completes to, if it takes one. */
  argument?: ValueCompletion;
}

const fixedValues = new WeakMap<Option, readonly string[]>();

/**
 * Names the values a flag takes, for completion only (commander's
 * `choices()` would also replace isol8's own check and its message).
 */
export function completeWith(command: Command, flag: string, words: readonly string[]): void {
  const option = command.options.find((o) => o.long === flag || o.short === flag);
  if (!option) throw new Error(`completeWith: ${command.name()} has no ${flag}`);
  fixedValues.set(option, words);
}

/** The value a `<name>` placeholder stands for: files and directories by their names, else free text. */
function byPlaceholder(flags: string): ValueCompletion {
  const placeholder = /[<[]([^>\]]+)[>\]]/.exec(flags)?.[1] ?? "";
  if (/(^|\|)dir$/.test(placeholder)) return { kind: "dirs" };
  if (/(^|\|)file(\.\.\.)?$/.test(placeholder)) return { kind: "files" };
  return { kind: "free" };
}

function flagSpec(option: Option): FlagSpec {
  const names = [option.short, option.long].filter((n): n is string => n !== undefined);
  const words = fixedValues.get(option) ?? option.argChoices;
  const takesValue = option.required || option.optional;
  const spec: FlagSpec = {
    names,
    description: option.description,
    // isol8's repeatable flags are variadic or collect their values with a parser (`collect`); no other flag has one.
    repeatable: option.variadic || typeof option.parseArg === "function",
  };
  if (option.short) spec.short = option.short;
  if (option.long) spec.long = option.long;
  if (takesValue) spec.value = words ? { kind: "words", words } : byPlaceholder(option.flags);
  return spec;
}

function argumentSpec(argument: Argument): ValueCompletion {
  if (argument.argChoices) return { kind: "words", words: argument.argChoices };
  return byPlaceholder(`<${argument.name()}>`);
}

/** The completion model of `command` and everything under it, from commander's own tree. */
export function commandSpec(command: Command, path: string[] = []): CommandSpec {
  const flags = command.options.map(flagSpec);
  // Commander answers --help (and -h) on every command without listing it as an option.
  flags.push({
    names: ["-h", "--help"],
    short: "-h",
    long: "--help",
    description: "display help for command",
    repeatable: false,
  });
  const [first] = command.registeredArguments;
  const spec: CommandSpec = {
    path,
    name: path.at(-1) ?? command.name(),
    description: command.description().split("\n")[0] ?? "",
    flags,
    subcommands: command.commands.map((sub) => commandSpec(sub, [...path, sub.name()])),
  };
  if (first) spec.argument = argumentSpec(first);
  return spec;
}

/** Every command of the tree, the root first. */
export function allCommands(root: CommandSpec): CommandSpec[] {
  return [root, ...root.subcommands.flatMap(allCommands)];
}
