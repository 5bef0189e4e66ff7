import type { Command } from "commander";

/** One command line shown under a command's `--help`, and what it does. */
interface Example {
  /** As typed in a shell: `isol8 ...`, possibly after `VAR=value` words or a pipe into it. */
  line: string;
  /** What it does, in a few words. */
  does: string;
}

const examples = new WeakMap<Command, readonly Example[]>();

/**
 * Ends `command`'s help with an Examples section. The examples are kept
 * with the command, so a test parses each one against the command tree and
 * an example cannot name a flag the CLI no longer has.
 */
export function addExamples(command: Command, list: readonly Example[]): Command {
  examples.set(command, list);
  return command.addHelpText("after", () => examplesText(list));
}

/** The examples `addExamples` gave `command` (none: an empty list). */
export function examplesOf(command: Command): readonly Example[] {
  return examples.get(command) ?? [];
}

function examplesText(list: readonly Example[]): string {
  return `\nExamples:\n${list.map((e) => `  # ${e.does}\n  $ ${e.line}`).join("\n")}`;
}
