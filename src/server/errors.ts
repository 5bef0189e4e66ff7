import type { z } from "zod";
import { DockerUnavailableError } from "../backend/docker/client.js";
import { InvalidOptionError } from "../engine/errors.js";
import { SandboxFileError, WithheldFileError } from "../engine/session-files.js";
import { Isol8Error } from "../errors.js";
import {
  ProcessNotFoundError,
  ProcessStartError,
  SandboxEndedError,
  SandboxNotFoundError,
} from "../sandbox/errors.js";
import type { ErrorBody, WireStreamEvent } from "../wire/responses.js";

/**
 * What a client is told to wait (`Retry-After`, in seconds) when the Docker
 * engine does not answer: long enough not to hammer a restarting engine,
 * short enough that clients come back soon after it is up.
 */
export const DOCKER_RETRY_AFTER_SECONDS = 5;

/**
 * An error the server answers with `status` and `{ error: message }`. Thrown
 * anywhere below a route; the app's error handler turns it into the response.
 */
export class HttpError extends Isol8Error {
  override readonly code = "HTTP";

  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 413 | 426 | 429 | 499 | 500 | 501 | 502 | 503,
    message: string,
    /** Extra response headers, e.g. Retry-After on 429. */
    readonly headers: Record<string, string> = {},
    /**
     * The `code` of the library error a local engine throws for the same
     * refusal; sent as the answer's `code` so a client throws that class.
     */
    readonly libraryCode?: string,
  ) {
    super(message);
  }
}

/** The JSON body of an answer refused with `error`. */
export function errorBody(error: HttpError): ErrorBody {
  return {
    error: error.message,
    ...(error.libraryCode !== undefined ? { code: error.libraryCode } : {}),
  };
}

/** The `error` event that ends a stream refused or failed with `error`. */
export function errorEvent(error: HttpError): WireStreamEvent {
  const retryAfter = error.headers["Retry-After"];
  return {
    type: "error",
    data: error.message,
    ...(error.libraryCode !== undefined ? { code: error.libraryCode } : {}),
    ...(retryAfter !== undefined ? { retryAfter } : {}),
  };
}

/**
 * The client disconnected before its answer: what a run or a wait is
 * aborted with. Not a fault of the server; it is logged as one line and
 * counted as 499 (as proxies name a request the client closed).
 */
export class ClientGoneError extends Isol8Error {
  override readonly code = "CLIENT_GONE";

  constructor() {
    super("the client went away");
  }
}

/**
 * 400 naming each failing field by its path (`request.runtime: ...`). A
 * client's engine options that fail are what a local engine refuses with
 * InvalidOptionError; anything else it sent, with InvalidRequestError.
 */
export function validationError(error: z.ZodError, root = ""): HttpError {
  const problems = error.issues.slice(0, 5).map((issue) => {
    const path = [root, ...issue.path.map(String)].filter(Boolean).join(".");
    // A bad record key (an env name, a file path) says why in its own nested issue.
    const message =
      issue.code === "invalid_key" ? (issue.issues[0]?.message ?? issue.message) : issue.message;
    return `${path || "body"}: ${message}`;
  });
  const first = [root, ...(error.issues[0]?.path.map(String) ?? [])].filter(Boolean)[0];
  const libraryCode = first === "options" ? "INVALID_OPTION" : "INVALID_REQUEST";
  return new HttpError(400, problems.join("; "), {}, libraryCode);
}

/**
 * What a failure means to the client. Our own faults become 500 with a
 * one-line message (never a stack); the engine's refusals keep their status.
 */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof ClientGoneError) return new HttpError(499, error.message);
  // The library's own refusals keep their class's code (a subclass's, too).
  if (error instanceof InvalidOptionError) return new HttpError(400, error.message, {}, error.code);
  if (error instanceof WithheldFileError) return new HttpError(403, error.message, {}, error.code);
  if (error instanceof SandboxNotFoundError || error instanceof ProcessNotFoundError)
    return new HttpError(404, error.message, {}, error.code);
  if (error instanceof SandboxEndedError || error instanceof ProcessStartError)
    return new HttpError(409, error.message, {}, error.code);
  if (error instanceof SandboxFileError) {
    // The sandbox's stderr may span lines; an answer's message is one.
    const message = error.message.replace(/\s*\n\s*/g, "; ");
    return new HttpError(/no such file/i.test(message) ? 404 : 400, message, {}, error.code);
  }
  if (error instanceof DockerUnavailableError)
    return new HttpError(503, error.message, {
      "Retry-After": String(DOCKER_RETRY_AFTER_SECONDS),
    });
  const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
  return new HttpError(500, `internal error: ${message}`);
}
