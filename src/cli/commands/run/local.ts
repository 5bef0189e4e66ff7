import { DockerIsol8 } from "../../../engine/docker-isol8.js";
import { cliConfig } from "../../config-files.js";
import { exitWhenFlushed } from "../../exit.js";
import { CliError } from "../../exit-codes.js";
import { reportError } from "../../report-error.js";
import { inFlagTerms, type RunFlags } from "./flags.js";
import { localEngineOptions } from "./options.js";
import { printRun } from "./output.js";
import { runRequest } from "./request.js";

/** `isol8 run` on this machine's Docker, through the library's engine; resolves to the exit code. */
export async function runLocal(file: string | undefined, flags: RunFlags): Promise<number> {
  if (flags.key !== undefined || flags.sessionId !== undefined) {
    return reportError(new CliError("--key and --session-id need --host"));
  }
  if (flags.persist && flags.persistent) {
    return reportError(
      new CliError(
        "--persist and --persistent: give one (a --persistent container lives as long as the command)",
      ),
    );
  }
  let engine: DockerIsol8 | undefined;
  const interrupt = () => {
    // Ctrl-C: remove what this run created, then leave with the shell's convention.
    void (engine?.stop() ?? Promise.resolve()).finally(() => exitWhenFlushed(130));
  };
  process.once("SIGINT", interrupt);
  process.once("SIGTERM", interrupt);
  try {
    const request = await runRequest(file, flags);
    const { config } = cliConfig(flags.config);
    engine = new DockerIsol8(localEngineOptions(flags, config, request.runtime));
    return await printRun(engine, request, flags);
  } catch (error) {
    return reportError(inFlagTerms(error), flags.debug);
  } finally {
    // No engine.stop() here: every container of the run has been told to quit
    // and Docker's AutoRemove deletes it; waiting for that would only delay
    // the user. main.ts exits the process once output is flushed.
    process.off("SIGINT", interrupt);
    process.off("SIGTERM", interrupt);
  }
}
