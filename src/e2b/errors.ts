/**
 * E2B's error answer on its control plane and envd REST routes: JSON
 * `{ code, message }` with the HTTP status as `code`, which E2B's SDKs turn
 * into their own error classes (404 SandboxNotFoundError, 401
 * AuthenticationError, 429 RateLimitError, ...).
 */
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { HttpError } from "../server/errors.js";

/** The body E2B's SDKs read an error from. */
interface E2bErrorBody {
  code: number;
  message: string;
}

/** A feature of E2B's API that isol8 does not offer (yet): 501 with a message saying so. */
export function notSupported(what: string): HttpError {
  return new HttpError(501, `isol8 does not support ${what} yet`);
}

/** A failure as E2B's error answer (isol8's own status and message). */
export function e2bErrorAnswer(c: Context, http: HttpError): Response {
  const body: E2bErrorBody = { code: http.status, message: http.message };
  return c.json(body, http.status as ContentfulStatusCode, http.headers);
}
