import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./app-env.js";
import type { Authenticator } from "./auth/authenticator.js";
import type { ServerContext } from "./context.js";
import { HttpError } from "./errors.js";
import { requestHeader } from "./node-request.js";

/** Every route after this one needs a valid bearer key: 401 without one, 403 for a bad one. */
export function requireAuth(authenticator: Authenticator): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const outcome = authenticator.authenticate(requestHeader(c, "authorization"));
    if (!outcome.ok) {
      const headers: Record<string, string> =
        outcome.status === 401 ? { "WWW-Authenticate": 'Bearer realm="isol8"' } : {};
      throw new HttpError(outcome.status, outcome.error, headers);
    }
    c.set("principal", outcome.principal);
    await next();
  };
}

/** Routes that administer the server itself: the master key only. */
export const requireMaster: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (!c.get("principal").master) throw new HttpError(403, "this route needs the master key");
  await next();
};

/**
 * Counts requests for /metrics and logs one entry per request at info:
 * method, path (never the query), status, duration and the request's id.
 * Nothing a client sent beyond that: no header (the bearer key), no body.
 */
export function observeRequests(ctx: ServerContext): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now();
    await next();
    const route = c.res.status === 404 && c.req.routePath === "/*" ? "unmatched" : c.req.routePath;
    const durationMs = Number((performance.now() - started).toFixed(1));
    const { method, path } = c.req;
    const status = c.res.status;
    const requestId = c.get("requestId");
    // Counted and written once the answer has been handed to the socket
    // (the same turn of the event loop, before any other I/O is read): the
    // entry is complete here, and writing it need not delay the answer.
    setImmediate(() => {
      ctx.metrics.request(method, route, status);
      ctx.logger.info(
        { requestId, method, path, status, durationMs },
        `${method} ${path} ${status} ${durationMs}ms`,
      );
    });
  };
}
