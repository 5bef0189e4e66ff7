import { SandboxFileError } from "../engine/session-files.js";
import { Isol8Error } from "../errors.js";

/** No sandbox of this engine has that id (or it has ended and been forgotten). */
export class SandboxNotFoundError extends Isol8Error {
  override readonly name = "SandboxNotFoundError";
  override readonly code = "SANDBOX_NOT_FOUND";
  constructor(readonly sandboxId: string) {
    super(`sandbox ${JSON.stringify(sandboxId)} not found`);
  }
}

/** The sandbox has no running process of that pid. */
export class ProcessNotFoundError extends Isol8Error {
  override readonly name = "ProcessNotFoundError";
  override readonly code = "PROCESS_NOT_FOUND";
  constructor(readonly pid: number) {
    super(`no running process with pid ${pid} in this sandbox`);
  }
}

/** The sandbox could not start the process: most often its process limit is reached. */
export class ProcessStartError extends Isol8Error {
  override readonly name = "ProcessStartError";
  override readonly code = "PROCESS_START_FAILED";
}

/** The sandbox has ended (timeout, kill, failure or engine stop): nothing more runs in it. */
export class SandboxEndedError extends Isol8Error {
  override readonly name = "SandboxEndedError";
  override readonly code = "SANDBOX_ENDED";
}

/** Nothing is at that path in the sandbox (or a folder on the way to it is missing). */
export class SandboxFileNotFoundError extends SandboxFileError {
  override readonly name = "SandboxFileNotFoundError";
  override readonly code = "FILE_NOT_FOUND";
}

/**
 * A file operation the sandbox refuses: a path outside /sandbox and /tmp,
 * one that a symlink or `..` leads out of them, or a special file (a FIFO,
 * socket or device) to read or write.
 */
export class SandboxFileRefusedError extends SandboxFileError {
  override readonly name = "SandboxFileRefusedError";
  override readonly code = "FILE_REFUSED";
}
