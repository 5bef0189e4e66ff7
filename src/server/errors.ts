import type { z } from "zod";
import { DockerUnavailableError } from "../backend/docker/client.js";
import { InvalidOptionError } from "../engine/errors.js";
import { SandboxFileError, WithheldFileError } from "../engine/session-files.js";
import { Isol8Error } from "../errors.js";

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
    readonly status: 400 | 401 | 403 | 404 | 409 | 413 | 426 | 429 | 499 | 500 | 502 | 503,
    message: string,
    /** Extra response headers, e.g. Retry-After on 429. */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
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

/** 400 naming each failing field by its path (`request.runtime: ...`). */
export function validationError(error: z.ZodError, root = ""): HttpError {
  const problems = error.issues.slice(0, 5).map((issue) => {
    const path = [root, ...issue.path.map(String)].filter(Boolean).join(".");
    // A bad record key (an env name, a file path) says why in its own nested issue.
    const message =
      issue.code === "invalid_key" ? (issue.issues[0]?.message ?? issue.message) : issue.message;
    return `${path || "body"}: ${message}`;
  });
  return new HttpError(400, problems.join("; "));
}

/**
 * What a failure means to the client. Our own faults become 500 with a
 * one-line message (never a stack); the engine's refusals keep their status.
 */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof ClientGoneError) return new HttpError(499, error.message);
  if (error instanceof InvalidOptionError) return new HttpError(400, error.message);
  if (error instanceof WithheldFileError) return new HttpError(403, error.message);
  if (error instanceof SandboxFileError) {
    // The sandbox's stderr may span lines; an answer's message is one.
    const message = error.message.replace(/\s*\n\s*/g, "; ");
    return new HttpError(/no such file/i.test(message) ? 404 : 400, message);
  }
  if (error instanceof DockerUnavailableError)
    return new HttpError(503, error.message, {
      "Retry-After": String(DOCKER_RETRY_AFTER_SECONDS),
    });
  const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
  return new HttpError(500, `internal error: ${message}`);
}
