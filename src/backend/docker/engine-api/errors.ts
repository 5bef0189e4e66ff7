/**
 * A request the Docker engine answered with an error status. The message is
 * Docker's own (`No such image: isol8:nope`); `statusCode` says which kind:
 * 404 no such object, 409 a conflict (already removing, in use), 400 bad
 * input, 500 the engine failed.
 */
export class DockerApiError extends Error {
  override readonly name = "DockerApiError";

  constructor(
    readonly statusCode: number,
    /** Docker's `message`, or the body's text when it sent no JSON. */
    readonly dockerMessage: string,
    /** `GET /containers/abc/json`: what was asked. */
    readonly request: string,
  ) {
    super(dockerMessage || `Docker answered ${request} with HTTP ${statusCode}`);
  }
}

/** Whether an error is Docker's answer with this status. */
export function hasStatus(error: unknown, status: number): boolean {
  return error instanceof DockerApiError && error.statusCode === status;
}

/** The error for an error response's body: Docker's JSON `{"message": ...}`, else the text as is. */
export function apiError(statusCode: number, body: string, request: string): DockerApiError {
  let message = body.trim();
  try {
    const parsed = JSON.parse(body) as { message?: unknown };
    if (typeof parsed?.message === "string") message = parsed.message.trim();
  } catch {
    // Not JSON: a proxy's page, or plain text from an old engine.
  }
  return new DockerApiError(statusCode, message, request);
}
