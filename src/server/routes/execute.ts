import { type Context, Hono } from "hono";
import { executeBodySchema } from "../../wire/schemas.js";
import type { AppEnv } from "../app-env.js";
import type { ServerContext } from "../context.js";
import { ClientGoneError, HttpError } from "../errors.js";
import { collect } from "../execution.js";
import { clientGoneSignal } from "../node-request.js";
import { sseResponse } from "../sse.js";
import { jsonBody } from "../validate.js";

/** An abort controller that fires when the client disconnects. */
function clientAbort(c: Context): AbortController {
  const abort = new AbortController();
  const gone = clientGoneSignal(c);
  if (gone.aborted) abort.abort(new ClientGoneError());
  else gone.addEventListener("abort", () => abort.abort(new ClientGoneError()), { once: true });
  return abort;
}

/** POST /execute, POST /execute/stream, and GET /execute/ws for clients that do not upgrade. */
export function executeRoutes(ctx: ServerContext): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.post("/execute", async (c) => {
    const body = await jsonBody(c, executeBodySchema);
    const abort = clientAbort(c);
    const run = await ctx.executions.start(c.get("principal"), body, abort.signal);
    return c.json(await collect(run));
  });

  app.post("/execute/stream", async (c) => {
    const body = await jsonBody(c, executeBodySchema);
    const abort = clientAbort(c);
    const run = await ctx.executions.start(c.get("principal"), body, abort.signal);
    return sseResponse(c, run, abort, ctx.config.heartbeatMs, ctx.docker);
  });

  // The upgrade itself is handled by ws.ts on the HTTP server; a plain GET lands here.
  app.get("/execute/ws", () => {
    throw new HttpError(426, "GET /execute/ws needs a WebSocket upgrade", { Upgrade: "websocket" });
  });

  return app;
}
