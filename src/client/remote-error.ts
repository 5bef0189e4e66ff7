import { Isol8Error } from "../errors.js";
/**
 * A refusal or failure reported by an isol8 server: `message` is the
 * server's own `{ error }` text and `status` its HTTP status (or, over a
 * WebSocket, the status its close code carries). `status` is 0 when the
 * server could not be reached or broke off without saying why.
 */
export class RemoteError extends Isol8Error {
  override readonly name = "RemoteError";
  override readonly code = "REMOTE";

  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The RemoteError for a non-2xx answer, with the server's message when it sent one. */
export async function remoteErrorFrom(response: Response): Promise<RemoteError> {
  const text = await response.text().catch(() => "");
  let message = `${response.status} ${response.statusText}`.trim();
  try {
    const body = JSON.parse(text) as { error?: unknown };
    if (typeof body.error === "string") message = body.error;
  } catch {
    if (text.trim()) message = text.trim().split("\n")[0] ?? message;
  }
  return new RemoteError(response.status, message);
}
