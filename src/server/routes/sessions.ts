import { Hono } from "hono";
import type { SessionList } from "../../wire/responses.js";
import { deleteSessionQuerySchema, sessionIdSchema } from "../../wire/schemas.js";
import type { AppEnv } from "../app-env.js";
import type { ServerContext } from "../context.js";
import { HttpError } from "../errors.js";
import { parse, queryOf } from "../validate.js";

/**
 * GET /sessions and DELETE /session/:id: a key sees its own tenant's
 * sessions; the master key lists every tenant's and deletes in the tenant
 * `?tenantId=` names (its own by default).
 */
export function sessionRoutes(ctx: ServerContext): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get("/sessions", (c) => {
    const principal = c.get("principal");
    return c.json({
      sessions: ctx.sessions.list(principal.master ? undefined : principal.tenantId),
    } satisfies SessionList);
  });

  app.delete("/session/:id", async (c) => {
    const id = parse(sessionIdSchema, c.req.param("id"), "id");
    const principal = c.get("principal");
    const { tenantId = principal.tenantId } = queryOf(c, deleteSessionQuerySchema);
    if (tenantId !== principal.tenantId && !principal.master)
      throw new HttpError(403, "tenantId: only the master key may name another tenant");
    if (!(await ctx.sessions.delete(tenantId, id))) throw new HttpError(404, `no session "${id}"`);
    return c.json({ ok: true });
  });

  return app;
}
