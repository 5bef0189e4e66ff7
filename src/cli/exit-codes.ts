import { Isol8Error } from "../errors.js";
import { TIMEOUT_EXIT_CODE } from "../types.js";
/**
 * What `isol8` exit codes mean. Any other code is the sandboxed program's own.
 * Documented in docs/cli.md.
 */
export const EXIT = {
  /** Bad flags, bad input, missing file. */
  usage: 2,
  /** Installing the --install packages failed; the program did not run (the installer's output is shown). */
  installFailed: 3,
  /** The program ran past its timeout and was killed. */
  timeout: TIMEOUT_EXIT_CODE,
  /** isol8 itself failed: Docker unreachable, image missing, engine error. */
  isol8Error: 125,
  /** A process of the run was killed for exceeding the memory limit (as `docker run` reports it). */
  outOfMemory: 137,
} as const;

/** An error the CLI reports as one line on stderr with the given exit code. */
export class CliError extends Isol8Error {
  override readonly code = "CLI";

  /** `cause`: the error it rewords, whose `code` a `--json` error object keeps. */
  constructor(
    message: string,
    readonly exitCode: number = EXIT.usage,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
