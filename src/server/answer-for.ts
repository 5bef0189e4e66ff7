/**
 * What a failed request is answered with, whichever face it came through
 * (isol8's own API, E2B's): its HTTP error, Docker's own words when Docker
 * was the cause, and the log entry a 499, a 503 or a 500 gets.
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { AppEnv } from "./app-env.js";
import type { ServerContext } from "./context.js";
import { ClientGoneError, HttpError, toHttpError } from "./errors.js";
import { clientGoneSignal } from "./node-request.js";

export async function answerFor(
  ctx: ServerContext,
  c: Context<AppEnv>,
  error: unknown,
): Promise<HttpError> {
  // Whatever failed once the client hung up (its run aborted, its wait for
  // a slot given up, its body cut short) follows from the hang-up.
  const http = clientGoneSignal(c).aborted
    ? toHttpError(new ClientGoneError())
    : error instanceof HTTPException && !(error instanceof HttpError)
      ? new HttpError(error.status as HttpError["status"], error.message)
      : toHttpError(await ctx.docker.explain(error));
  const where = `${c.req.method} ${c.req.path}`;
  const requestId = c.get("requestId");
  // The request's own entry, which follows, carries its id and the 499.
  if (http.status === 499) ctx.logger.info(`${where}: ${http.message} before its answer`);
  if (http.status === 503 && error !== http)
    ctx.logger.warn({ requestId }, `${where}: ${http.message}`);
  if (http.status === 500) ctx.logger.error({ requestId, err: error }, where);
  return http;
}
