#!/usr/bin/env node
import { CommanderError } from "commander";
import { addressedCommand, optionFor } from "./command-tree.js";
import { exitWhenFlushed } from "./exit.js";
import { EXIT } from "./exit-codes.js";
import { buildProgram, oneLine } from "./program.js";
import { writeJsonError } from "./report-error.js";

const program = buildProgram();
const words = process.argv.slice(2);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (!(error instanceof CommanderError)) throw error;
  // Help and version are successes; every other parse failure is a usage error.
  process.exitCode = error.exitCode === 0 ? 0 : EXIT.usage;
  // Commander has said it on stderr; a command asked for --json also gets the error object.
  if (process.exitCode !== 0 && asksForJson(words)) {
    writeJsonError("USAGE", oneLine(error.message), EXIT.usage);
  }
}
// Exit as soon as output is written; nothing left in flight (such as the wait
// for Docker to finish removing a container) needs this process.
await exitWhenFlushed();

/** Whether the command line gives `--json` to a command that has it (before any `--`). */
function asksForJson(argv: readonly string[]): boolean {
  const command = addressedCommand(program, argv);
  const end = argv.indexOf("--");
  const flags = end === -1 ? argv : argv.slice(0, end);
  return flags.includes("--json") && optionFor(command, "--json") !== undefined;
}
