#!/usr/bin/env node
import { Command } from "commander";
import { registerCleanup } from "./commands/cleanup.js";
import { registerRun } from "./commands/run.js";
import { registerSetup } from "./commands/setup.js";
import { EXIT } from "./exit-codes.js";
import { VERSION } from "./version.js";

const program = new Command("isol8")
  .description("Run untrusted code in locked-down Docker containers")
  .version(VERSION)
  .showSuggestionAfterError(true)
  .exitOverride((error) => {
    // Help and version are successes; every other parse failure is a usage error.
    process.exit(error.exitCode === 0 ? 0 : EXIT.usage);
  })
  .configureOutput({ outputError: (text, write) => write(text.startsWith("error:") ? `isol8: ${text.slice(7)}` : text) });

registerRun(program);
registerSetup(program);
registerCleanup(program);

await program.parseAsync(process.argv);
