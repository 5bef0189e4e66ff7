import { Hono } from "hono";
import type { DockerIsol8 } from "../../engine/docker-isol8.js";
import type { ContextList } from "../../wire/responses.js";
import { createContextBodySchema, sessionIdSchema } from "../../wire/schemas.js";
import { admitOptions } from "../admission.js";
import type { AppEnv } from "../app-env.js";
import type { ServerContext } from "../context.js";
import { HttpError } from "../errors.js";
import { jsonBody, parse } from "../validate.js";

/** 404 unless the session's engine has a context `contextId`. */
export async function assertKnownContext(
  engine: DockerIsol8,
  sessionId: string,
  contextId: string,
): Promise<void> {
  if (!(await engine.listContexts()).some((context) => context.id === contextId))
    throw new HttpError(404, `no context "${contextId}" in session "${sessionId}"`);
}

/**
 * Code contexts of the caller's sessions: POST /session/:id/context (the
 * session is made on first use, like an execution's), GET
 * /session/:id/context, POST /session/:id/context/:cid/reset and DELETE
 * /session/:id/context/:cid. A context runs cells through /execute,
 * /execute/stream and /execute/ws with `request.contextId` and the
 * session's `sessionId`. Contexts are the session engine's own, so another
 * session's (or tenant's) context id is unknown here (404).
 *
 * Making or resetting a context starts an interpreter in a container: that
 * work takes an execution slot like a run does (429 when the server is full),
 * so a burst of context requests cannot get around `maxConcurrent`.
 */
export function contextRoutes(ctx: ServerContext): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  /** An existing session, held while `use` runs. */
  const inSession = async <T>(
    tenantId: string,
    sessionId: string,
    use: (engine: DockerIsol8) => Promise<T> | T,
  ): Promise<T> => {
    const session = ctx.sessions.forFile(tenantId, sessionId, undefined);
    try {
      return await use(session.engine);
    } finally {
      session.release();
    }
  };

  /** `work` in an execution slot, given up if the client goes away while queued. */
  const admitted = async <T>(request: Request, work: () => Promise<T>): Promise<T> => {
    const release = await ctx.slots.enter(request.signal);
    try {
      return await work();
    } finally {
      release();
    }
  };

  app.post("/session/:id/context", async (c) => {
    const sessionId = parse(sessionIdSchema, c.req.param("id"), "id");
    const body = await jsonBody(c, createContextBodySchema);
    const options = admitOptions(ctx.config, body.options);
    const made = await admitted(c.req.raw, async () => {
      const session = await ctx.sessions.forExecution(
        c.get("principal").tenantId,
        sessionId,
        options,
        body.options !== undefined,
      );
      try {
        return await session.engine.createContext({ runtime: body.runtime });
      } finally {
        session.release();
      }
    });
    return c.json(made, 201);
  });

  app.get("/session/:id/context", async (c) => {
    const sessionId = parse(sessionIdSchema, c.req.param("id"), "id");
    const contexts = await ctx.sessions.inspect(c.get("principal").tenantId, sessionId, (engine) =>
      engine.listContexts(),
    );
    return c.json({ contexts } satisfies ContextList);
  });

  app.post("/session/:id/context/:cid/reset", async (c) => {
    const sessionId = parse(sessionIdSchema, c.req.param("id"), "id");
    const contextId = c.req.param("cid");
    await inSession(c.get("principal").tenantId, sessionId, async (engine) => {
      await assertKnownContext(engine, sessionId, contextId);
      await admitted(c.req.raw, () => engine.resetContext(contextId));
    });
    return c.json({ ok: true });
  });

  app.delete("/session/:id/context/:cid", async (c) => {
    const sessionId = parse(sessionIdSchema, c.req.param("id"), "id");
    const contextId = c.req.param("cid");
    await inSession(c.get("principal").tenantId, sessionId, async (engine) => {
      await assertKnownContext(engine, sessionId, contextId);
      await engine.closeContext(contextId);
    });
    return c.json({ ok: true });
  });

  return app;
}
