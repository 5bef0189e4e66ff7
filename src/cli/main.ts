#!/usr/bin/env node
import { Command, CommanderError } from "commander";
import { registerBuild } from "./commands/build.js";
import { registerCleanup } from "./commands/cleanup.js";
import { registerConfig } from "./commands/config.js";
import { registerLogin } from "./commands/login.js";
import { registerMcp } from "./commands/mcp.js";
import { registerRun } from "./commands/run.js";
import { registerServe } from "./commands/serve.js";
import { registerSession } from "./commands/session.js";
import { registerSetup } from "./commands/setup.js";
import { exitWhenFlushed } from "./exit.js";
import { EXIT } from "./exit-codes.js";
import { VERSION } from "./version.js";

const program = new Command("isol8")
  .description("Run untrusted code in locked-down Docker containers")
  .version(VERSION)
  .showSuggestionAfterError(true)
  .exitOverride((error) => {
    // Thrown to the catch below, so that help and error texts are flushed before the exit.
    throw error;
  })
  .configureOutput({ outputError: (text, write) => write(oneLine(text)) });

/** Commander's "error: ...\n(Did you mean x?)" as one scriptable line. */
function oneLine(text: string): string {
  const message = text
    .replace(/^error: /, "")
    .replace(/\s*\(Did you mean (.*)\?\)\s*$/, " (did you mean $1?)");
  return `isol8: ${message.trim()}\n`;
}

registerRun(program);
registerSetup(program);
registerBuild(program);
registerCleanup(program);
registerConfig(program);
registerServe(program);
registerSession(program);
registerLogin(program);
registerMcp(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (!(error instanceof CommanderError)) throw error;
  // Help and version are successes; every other parse failure is a usage error.
  process.exitCode = error.exitCode === 0 ? 0 : EXIT.usage;
}
// Exit as soon as output is written; nothing left in flight (such as the wait
// for Docker to finish removing a container) needs this process.
await exitWhenFlushed();
