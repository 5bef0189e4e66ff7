import { InvalidOptionError } from "../engine/errors.js";
import { InvalidRequestError } from "../engine/request.js";
import {
  SandboxFileError,
  SandboxFileTooLargeError,
  WithheldFileError,
} from "../engine/session-files.js";
import type { Isol8Error } from "../errors.js";
import {
  ProcessNotFoundError,
  ProcessStartError,
  SandboxEndedError,
  SandboxFileNotFoundError,
  SandboxFileRefusedError,
  SandboxNotFoundError,
} from "../sandbox/errors.js";
import type { ErrorBody } from "../wire/responses.js";
import { RemoteError, remoteErrorOf } from "./remote-error.js";

/** A file error's message as the server words it: `<path>: <reason>`. */
function fileError(
  ErrorClass: new (path: string, reason: string) => SandboxFileError,
): (message: string) => Isol8Error {
  return (message) => {
    const at = message.indexOf(": ");
    return at < 0
      ? new ErrorClass(message, "refused")
      : new ErrorClass(message.slice(0, at), message.slice(at + 2));
  };
}

/** `error` saying the server's words (classes whose constructor words their own). */
function withMessage<E extends Isol8Error>(error: E, message: string): E {
  error.message = message;
  return error;
}

/**
 * The library's classes by the `code` a server sends with a refusal (its
 * ErrorBody, or a stream's last error event): the class a local engine
 * throws for the same refusal, with the server's message.
 */
const BY_CODE: Record<string, (message: string) => Isol8Error> = {
  INVALID_OPTION: (message) => new InvalidOptionError(message),
  INVALID_REQUEST: (message) => new InvalidRequestError(message),
  SANDBOX_FILE: fileError(SandboxFileError),
  SANDBOX_FILE_TOO_LARGE: fileError(SandboxFileTooLargeError),
  WITHHELD_FILE: fileError(WithheldFileError),
  FILE_NOT_FOUND: fileError(SandboxFileNotFoundError),
  FILE_REFUSED: fileError(SandboxFileRefusedError),
  SANDBOX_NOT_FOUND: (message) => withMessage(new SandboxNotFoundError(""), message),
  PROCESS_NOT_FOUND: (message) => withMessage(new ProcessNotFoundError(0), message),
  PROCESS_START_FAILED: (message) => new ProcessStartError(message),
  SANDBOX_ENDED: (message) => new SandboxEndedError(message),
};

/**
 * What a client throws for a server's refusal: the library class its `code`
 * names, or a RemoteError with the HTTP status when it names none (or one
 * this client does not know, from a newer server).
 */
export function libraryError(
  status: number,
  message: string,
  code: string | undefined,
  retryAfterMs?: number,
): Isol8Error {
  const make = code === undefined ? undefined : BY_CODE[code];
  return make ? make(message) : new RemoteError(status, message, retryAfterMs);
}

/** The error a non-2xx answer stands for (see `libraryError`). */
export async function errorFromAnswer(response: Response): Promise<Isol8Error> {
  const text = await response.text().catch(() => "");
  return errorFromBody(
    response.status,
    response.statusText,
    text,
    response.headers.get("retry-after"),
  );
}

/** The error an answer's status, status text, body and Retry-After header stand for. */
export function errorFromBody(
  status: number,
  statusText: string,
  text: string,
  retryAfter: string | null | undefined,
): Isol8Error {
  const remote = remoteErrorOf(status, statusText, text, retryAfter);
  let code: string | undefined;
  try {
    const body = JSON.parse(text) as Partial<ErrorBody>;
    if (typeof body.code === "string") code = body.code;
  } catch {}
  return libraryError(status, remote.message, code, remote.retryAfterMs);
}
