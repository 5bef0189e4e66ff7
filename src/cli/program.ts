import { Command } from "commander";
import { registerBuild } from "./commands/build.js";
import { registerCleanup } from "./commands/cleanup.js";
import { registerCompletion } from "./commands/completion.js";
import { registerConfig } from "./commands/config.js";
import { registerLogin } from "./commands/login.js";
import { registerMcp } from "./commands/mcp.js";
import { registerRun } from "./commands/run.js";
import { registerServe } from "./commands/serve.js";
import { registerSession } from "./commands/session.js";
import { registerSetup } from "./commands/setup.js";
import { registerShell } from "./commands/shell.js";
import { addExamples } from "./examples.js";
import { reportErrorsAsJson } from "./report-error.js";
import { VERSION } from "./version.js";

/**
 * The `isol8` command tree, every command registered and nothing parsed:
 * main.ts runs it, and the help, examples and completion tests walk it.
 */
export function buildProgram(): Command {
  const program = new Command("isol8")
    .description("Run untrusted code in locked-down Docker containers")
    .version(VERSION)
    .showSuggestionAfterError(true)
    .exitOverride((error) => {
      // Thrown to main.ts, so that help and error texts are flushed before the exit.
      throw error;
    })
    .configureOutput({ outputError: (text, write) => write(`isol8: ${oneLine(text)}\n`) })
    // A command's own failures are JSON too when it was given --json.
    .hook("preAction", (_program, action) => reportErrorsAsJson(action.opts().json === true));
  registerRun(program);
  registerSetup(program);
  registerBuild(program);
  registerCleanup(program);
  registerConfig(program);
  registerServe(program);
  registerSession(program);
  registerShell(program);
  registerLogin(program);
  registerMcp(program);
  registerCompletion(program);
  addExamples(program, [
    { line: `isol8 run -e "print('hello')"`, does: "run python in a fresh sandbox" },
    { line: "isol8 run --help", does: "every flag of a command, with examples" },
    { line: "isol8 setup", does: "build the sandbox images (once)" },
    { line: "isol8 cleanup", does: "remove containers their isol8 process left behind" },
    { line: "source <(isol8 completion bash)", does: "complete commands and flags in bash" },
  ]);
  return program;
}

/** Commander's "error: ...\n(Did you mean x?)" as one scriptable line (without isol8's prefix). */
export function oneLine(text: string): string {
  return text
    .replace(/^error: /, "")
    .replace(/\s*\(Did you mean (.*)\?\)\s*$/, " (did you mean $1?)")
    .trim();
}
