import type { Command, Option } from "commander";

/**
 * The command a command line addresses: from `root`, each word that names a
 * subcommand (or its alias) descends into it; the first word that does not
 * (an argument, or anything after an option) ends the walk.
 */
export function addressedCommand(root: Command, words: readonly string[]): Command {
  let command = root;
  for (const word of words) {
    if (word === "--" || word.startsWith("-")) break;
    const sub = subcommand(command, word);
    if (!sub) break;
    command = sub;
  }
  return command;
}

/** The subcommand of `command` named `word` (by name or alias). */
function subcommand(command: Command, word: string): Command | undefined {
  return command.commands.find((c) => c.name() === word || c.aliases().includes(word));
}

/** The option of `command` a flag word names (`--json`, `-e`, `--no-stream`, `--timeout=5`), if it has one. */
export function optionFor(command: Command, word: string): Option | undefined {
  const flag = word.includes("=") ? word.slice(0, word.indexOf("=")) : word;
  return command.options.find((o) => o.long === flag || o.short === flag);
}

/** Every command under `root` (itself first), each with its words from the root: `["session", "list"]`. */
export function walkCommands(root: Command): { command: Command; path: string[] }[] {
  const found: { command: Command; path: string[] }[] = [];
  const visit = (command: Command, path: string[]) => {
    found.push({ command, path });
    for (const sub of command.commands) visit(sub, [...path, sub.name()]);
  };
  visit(root, []);
  return found;
}
