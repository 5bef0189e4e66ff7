import { Hono } from "hono";
import type { AppEnv } from "../app-env.js";
import type { ServerContext } from "../context.js";
import { HttpError } from "../errors.js";
import { sessionIdSchema } from "../schemas.js";
import { parse } from "../validate.js";

/** GET /sessions and DELETE /session/:id, both within the caller's tenant. */
export function sessionRoutes(ctx: ServerContext): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get("/sessions", (c) => c.json({ sessions: ctx.sessions.list(c.get("principal").tenantId) }));

  app.delete("/session/:id", async (c) => {
    const id = parse(sessionIdSchema, c.req.param("id"), "id");
    if (!(await ctx.sessions.delete(c.get("principal").tenantId, id)))
      throw new HttpError(404, `no session "${id}"`);
    return c.json({ ok: true });
  });

  return app;
}
