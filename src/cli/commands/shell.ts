import type { Command } from "commander";
import { configEngineOptions } from "../../config/file.js";
import type { Isol8Engine } from "../../isol8-engine.js";
import { isRuntime, notARuntime, RUNTIMES, type Runtime } from "../../runtimes/index.js";
import type { Isol8Sandbox } from "../../sandbox/api.js";
import { cliConfig } from "../config-files.js";
import { addExamples } from "../examples.js";
import { CliError } from "../exit-codes.js";
import { reportError } from "../report-error.js";
import { attachTerminal } from "../terminal.js";
import { remoteErrorForCli, remoteFromFlags } from "./session.js";

interface ShellFlags {
  runtime?: string;
  cmd?: string;
  sandbox?: string;
  host?: string;
  key?: string;
  config?: string;
}

/**
 * `isol8 shell`: an interactive terminal in a new long-lived sandbox (killed
 * when the terminal's program exits), or with --host and --sandbox in an
 * existing one on a server (left running). The exit code is the program's.
 */
export function registerShell(program: Command): void {
  const shell = program
    .command("shell")
    .description("Open an interactive terminal in a sandbox (its exit code is isol8's)")
    .option("-r, --runtime <name>", `the sandbox's image: ${RUNTIMES.join(", ")} (default: python)`)
    .option("--cmd <command>", "run this on the terminal instead of an interactive bash")
    .option("--sandbox <id>", "attach to this running sandbox on the server (needs --host)")
    .option("--host <url>", "isol8 server URL (default: this machine's Docker)")
    .option("--key <key>", "API key (default: $ISOL8_API_KEY, else your `isol8 login` token)")
    .option("--config <file>", "read engine defaults from this config file")
    .action(async (flags: ShellFlags) => {
      process.exitCode = await openShell(flags);
    });
  addExamples(shell, [
    { line: "isol8 shell", does: "bash in a new python sandbox on this machine" },
    { line: "isol8 shell --runtime node --cmd node", does: "node's REPL in a node sandbox" },
    { line: "isol8 shell --host http://localhost:3000", does: "a new sandbox on a server" },
    {
      line: "isol8 shell --host http://localhost:3000 --sandbox 5f0c...",
      does: "another terminal in a server's running sandbox",
    },
  ]);
}

async function openShell(flags: ShellFlags): Promise<number> {
  let engine: Isol8Engine | undefined;
  let made: Isol8Sandbox | undefined;
  try {
    const runtime = runtimeOf(flags.runtime);
    if (flags.sandbox !== undefined && flags.host === undefined)
      throw new CliError(
        "--sandbox needs --host: a sandbox on this machine lives only as long as the process that made it",
      );
    if (flags.host === undefined && flags.key !== undefined)
      throw new CliError("--key needs --host");
    if (flags.host !== undefined) {
      engine = await remoteFromFlags(flags);
    } else {
      const { DockerIsol8 } = await import("../../engine/docker-isol8.js");
      const { config } = cliConfig(flags.config);
      // One sandbox per process: a pool of ready containers would only be thrown away.
      engine = new DockerIsol8({
        ...configEngineOptions(config),
        poolSize: { clean: 0, dirty: 0 },
      });
    }
    if (flags.sandbox !== undefined)
      return await attachTerminal(await engine.connectSandbox(flags.sandbox), flags.cmd);
    made = await engine.createSandbox({ runtime });
    return await attachTerminal(made, flags.cmd);
  } catch (error) {
    return reportError(remoteErrorForCli(error));
  } finally {
    await made?.kill().catch(() => undefined);
    if (flags.host === undefined) await engine?.stop().catch(() => undefined);
  }
}

function runtimeOf(name: string | undefined): Runtime {
  if (name === undefined) return "python";
  if (!isRuntime(name)) throw new CliError(notARuntime("--runtime", name));
  return name;
}
