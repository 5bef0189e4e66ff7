import { DockerUnavailableError } from "../backend/docker/client.js";
import { ConfigError } from "../config/file.js";
import { InvalidOptionError } from "../engine/options.js";
import { CliError, EXIT } from "./exit-codes.js";

/** Turns any error into one line on stderr and the exit code it deserves. No stack traces. */
export function reportError(error: unknown, debug = false): number {
  const { message, code } = classify(error);
  process.stderr.write(`isol8: ${message}\n`);
  if (debug && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  return code;
}

function classify(error: unknown): { message: string; code: number } {
  if (error instanceof CliError) return { message: error.message, code: error.exitCode };
  if (error instanceof ConfigError) return { message: error.message, code: EXIT.usage };
  if (error instanceof InvalidOptionError) return { message: error.message, code: EXIT.usage };
  if (error instanceof DockerUnavailableError)
    return { message: error.message, code: EXIT.isol8Error };
  const text = error instanceof Error ? error.message : String(error);
  if (/connect ENOENT|ECONNREFUSED|docker\.sock/.test(text)) {
    return {
      message: `Docker is not reachable (${firstLine(text)}). Start the Docker engine and retry.`,
      code: EXIT.isol8Error,
    };
  }
  return { message: firstLine(text), code: EXIT.isol8Error };
}

function firstLine(text: string): string {
  return text.split("\n")[0] ?? text;
}
