import { DockerUnavailableError } from "../backend/docker/client.js";
import { ConfigError } from "../config/file.js";
import { InvalidOptionError } from "../engine/options.js";
import { Isol8Error } from "../errors.js";
import { CliError, EXIT } from "./exit-codes.js";

/**
 * The error object a command given `--json` prints on stdout when isol8
 * itself fails, so that a script reading stdout as JSON always gets JSON:
 * `{"error":{"code":"INVALID_OPTION","message":"--timeout: ...","exitCode":2}}`.
 */
interface CliJsonError {
  error: {
    /** The stable `code` of the isol8 error behind it (src/errors.ts), `USAGE` for a bad command line, else `ISOL8_ERROR`. */
    code: string;
    /** The line printed on stderr, without its `isol8: ` prefix. */
    message: string;
    /** The exit code the command ends with. */
    exitCode: number;
  };
}

let jsonErrors = false;

/** Whether failures are also printed as a `CliJsonError` on stdout: set once, when the command's flags say `--json`. */
export function reportErrorsAsJson(on: boolean): void {
  jsonErrors = on;
}

/** Turns any error into one line on stderr (and with `--json` an error object on stdout) and the exit code it deserves. No stack traces. */
export function reportError(error: unknown, debug = false): number {
  const { message, exitCode, code } = classify(error);
  reportFailure(message, exitCode, code);
  if (debug && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  return exitCode;
}

/** Says a failure already put in words: `isol8: MESSAGE` on stderr, and the error object on stdout under `--json`. */
function reportFailure(message: string, exitCode: number, code: string): void {
  process.stderr.write(`isol8: ${message}\n`);
  if (jsonErrors) writeJsonError(code, message, exitCode);
}

/** The `CliJsonError` on stdout, one line. */
export function writeJsonError(code: string, message: string, exitCode: number): void {
  const body: CliJsonError = { error: { code, message, exitCode } };
  process.stdout.write(`${JSON.stringify(body)}\n`);
}

function classify(error: unknown): { message: string; exitCode: number; code: string } {
  const code = errorCode(error);
  if (error instanceof CliError) return { message: error.message, exitCode: error.exitCode, code };
  if (error instanceof ConfigError) return { message: error.message, exitCode: EXIT.usage, code };
  if (error instanceof InvalidOptionError)
    return { message: error.message, exitCode: EXIT.usage, code };
  if (error instanceof DockerUnavailableError)
    return { message: error.message, exitCode: EXIT.isol8Error, code };
  const text = error instanceof Error ? error.message : String(error);
  if (/connect ENOENT|ECONNREFUSED|docker\.sock/.test(text)) {
    return {
      message: `Docker is not reachable (${firstLine(text)}). Start the Docker engine and retry.`,
      exitCode: EXIT.isol8Error,
      code: new DockerUnavailableError("").code,
    };
  }
  return { message: firstLine(text), exitCode: EXIT.isol8Error, code };
}

/**
 * The code a script can tell failures apart by: the isol8 error's own, also
 * when the CLI reworded it (a `CliError` whose cause it is); a CLI error of
 * its own is a usage error or isol8's.
 */
function errorCode(error: unknown): string {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if (e instanceof Isol8Error && !(e instanceof CliError)) return e.code;
  }
  if (error instanceof CliError && error.exitCode === EXIT.usage) return "USAGE";
  return new Isol8Error().code;
}

function firstLine(text: string): string {
  return text.split("\n")[0] ?? text;
}
