import { createRoute, z } from "@hono/zod-openapi";
import { okSchema, sessionListSchema } from "../../wire/responses.js";
import { deleteSessionQuerySchema, sessionIdSchema } from "../../wire/schemas.js";
import type { ServerContext } from "../context.js";
import { HttpError } from "../errors.js";
import { AUTHED, failures, jsonAnswer, mount, routeGroup } from "../openapi.js";

const listSessions = createRoute({
  method: "get",
  path: "/sessions",
  operationId: "listSessions",
  tags: ["sessions"],
  summary: "The caller's tenant's sessions; with the master key, every tenant's",
  responses: {
    200: jsonAnswer("the sessions", sessionListSchema),
    ...failures(...AUTHED),
  },
});

const deleteSession = createRoute({
  method: "delete",
  path: "/session/{id}",
  operationId: "deleteSession",
  tags: ["sessions"],
  summary: "Stop a session and remove its container (and its code contexts')",
  description:
    "A session of the caller's tenant; the master key may name another tenant with tenantId.",
  request: { params: z.object({ id: sessionIdSchema }), query: deleteSessionQuerySchema },
  responses: {
    200: jsonAnswer("the session is gone", okSchema),
    ...failures(400, 404, ...AUTHED),
  },
});

/**
 * GET /sessions and DELETE /session/:id: a key sees its own tenant's
 * sessions; the master key lists every tenant's and deletes in the tenant
 * `?tenantId=` names (its own by default).
 */
export function sessionRoutes(ctx: ServerContext) {
  const app = routeGroup();

  mount(app, listSessions, (c) => {
    const principal = c.get("principal");
    return c.json(
      { sessions: ctx.sessions.list(principal.master ? undefined : principal.tenantId) },
      200,
    );
  });

  mount(app, deleteSession, async (c) => {
    const { id } = c.req.valid("param");
    const principal = c.get("principal");
    const { tenantId = principal.tenantId } = c.req.valid("query");
    if (tenantId !== principal.tenantId && !principal.master)
      throw new HttpError(403, "tenantId: only the master key may name another tenant");
    if (!(await ctx.sessions.delete(tenantId, id))) throw new HttpError(404, `no session "${id}"`);
    return c.json({ ok: true } as const, 200);
  });

  return app;
}
