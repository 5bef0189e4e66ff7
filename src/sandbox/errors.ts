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
