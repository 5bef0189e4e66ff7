import { randomUUID } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./app-env.js";
import { requestHeader } from "./node-request.js";

/**
 * A request's id: the client's X-Request-Id when it is at most 255 word
 * characters, `-` or `=` (Hono's requestId rule), otherwise a new UUID.
 * HTTP requests and WebSocket upgrades take theirs by this one rule.
 */
export function chooseRequestId(given: string | undefined): string {
  return given !== undefined && given.length > 0 && given.length <= 255 && /^[\w\-=]+$/.test(given)
    ? given
    : randomUUID();
}

/**
 * Sets `requestId` for every entry of the request's log and echoes it as the
 * answer's X-Request-Id, as Hono's requestId middleware does, reading the
 * header from Node's request (see node-request.ts).
 */
export function requestIds(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const id = chooseRequestId(requestHeader(c, "x-request-id"));
    c.set("requestId", id);
    c.header("X-Request-Id", id);
    await next();
  };
}
