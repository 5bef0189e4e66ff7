import { Isol8Error } from "../errors.js";
/**
 * A refusal or failure reported by an isol8 server that has no counterpart
 * in a local engine (authentication, the server's policy, a busy server, an
 * unknown session, the connection): `message` is the server's own
 * `{ error }` text and `status` its HTTP status (or, over a WebSocket, the
 * status its close code carries). `status` is 0 when the server could not
 * be reached or broke off without saying why. Refusals a local engine makes
 * too are thrown as the local engine's classes (see `libraryError`).
 */
export class RemoteError extends Isol8Error {
  override readonly name = "RemoteError";
  override readonly code = "REMOTE";

  constructor(
    readonly status: number,
    message: string,
    /** How long the server asked the client to wait before trying again (its `Retry-After`), if it said. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** The RemoteError for a non-2xx answer, with the server's message when it sent one. */
export async function remoteErrorFrom(response: Response): Promise<RemoteError> {
  const text = await response.text().catch(() => "");
  return remoteErrorOf(
    response.status,
    response.statusText,
    text,
    response.headers.get("retry-after"),
  );
}

/** The RemoteError for an answer's status, status text, body and Retry-After header. */
export function remoteErrorOf(
  status: number,
  statusText: string,
  text: string,
  retryAfter: string | null | undefined,
): RemoteError {
  let message = `${status} ${statusText}`.trim();
  try {
    const body = JSON.parse(text) as { error?: unknown };
    if (typeof body.error === "string") message = body.error;
  } catch {
    if (text.trim()) message = text.trim().split("\n")[0] ?? message;
  }
  return new RemoteError(status, message, retryAfterMs(retryAfter));
}

/**
 * A Retry-After value in milliseconds: delay-seconds or an HTTP date
 * (RFC 9110 10.2.3); undefined when absent or unreadable.
 */
export function retryAfterMs(
  value: string | null | undefined,
  now = Date.now(),
): number | undefined {
  if (value === null || value === undefined || value.trim() === "") return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
