import { createRoute, z } from "@hono/zod-openapi";
import type { DockerIsol8 } from "../../engine/docker-isol8.js";
import { contextInfoSchema, contextListSchema, okSchema } from "../../wire/responses.js";
import { createContextBodySchema, sessionIdSchema } from "../../wire/schemas.js";
import { admitOptions } from "../admission.js";
import type { ServerContext } from "../context.js";
import { HttpError } from "../errors.js";
import { AUTHED, failures, jsonAnswer, jsonRequest, mount, routeGroup } from "../openapi.js";

/** 404 unless the session's engine has a context `contextId`. */
export async function assertKnownContext(
  engine: DockerIsol8,
  sessionId: string,
  contextId: string,
): Promise<void> {
  if (!(await engine.listContexts()).some((context) => context.id === contextId))
    throw new HttpError(404, `no context "${contextId}" in session "${sessionId}"`);
}

const session = z.object({ id: sessionIdSchema });
const sessionContext = session.extend({ cid: z.string() });

const createContext = createRoute({
  method: "post",
  path: "/session/{id}/context",
  operationId: "createContext",
  tags: ["contexts"],
  summary: "Start a code context (python or node) in the session, made on first use",
  description:
    "A live interpreter whose state persists between executions that give its id as request.contextId with this sessionId. Takes an execution slot while it starts.",
  request: { params: session, body: jsonRequest(createContextBodySchema) },
  responses: {
    201: jsonAnswer("the context is started", contextInfoSchema),
    ...failures(400, 404, 413, 429, ...AUTHED),
  },
});

const listContexts = createRoute({
  method: "get",
  path: "/session/{id}/context",
  operationId: "listContexts",
  tags: ["contexts"],
  summary: "The session's code contexts",
  request: { params: session },
  responses: {
    200: jsonAnswer("the contexts", contextListSchema),
    ...failures(400, 404, ...AUTHED),
  },
});

const resetContext = createRoute({
  method: "post",
  path: "/session/{id}/context/{cid}/reset",
  operationId: "resetContext",
  tags: ["contexts"],
  summary: "Give a context a fresh interpreter and empty /sandbox and /tmp",
  request: { params: sessionContext },
  responses: {
    200: jsonAnswer("the context is fresh", okSchema),
    ...failures(400, 404, 429, ...AUTHED),
  },
});

const closeContext = createRoute({
  method: "delete",
  path: "/session/{id}/context/{cid}",
  operationId: "closeContext",
  tags: ["contexts"],
  summary: "Close a context and remove its container",
  request: { params: sessionContext },
  responses: {
    200: jsonAnswer("the context is gone", okSchema),
    ...failures(400, 404, ...AUTHED),
  },
});

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
export function contextRoutes(ctx: ServerContext) {
  const app = routeGroup();

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

  mount(app, createContext, async (c) => {
    const { id: sessionId } = c.req.valid("param");
    const body = c.req.valid("json");
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

  mount(app, listContexts, async (c) => {
    const { id: sessionId } = c.req.valid("param");
    const contexts = await ctx.sessions.inspect(c.get("principal").tenantId, sessionId, (engine) =>
      engine.listContexts(),
    );
    return c.json({ contexts }, 200);
  });

  mount(app, resetContext, async (c) => {
    const { id: sessionId, cid: contextId } = c.req.valid("param");
    await inSession(c.get("principal").tenantId, sessionId, async (engine) => {
      await assertKnownContext(engine, sessionId, contextId);
      await admitted(c.req.raw, () => engine.resetContext(contextId));
    });
    return c.json({ ok: true } as const, 200);
  });

  mount(app, closeContext, async (c) => {
    const { id: sessionId, cid: contextId } = c.req.valid("param");
    await inSession(c.get("principal").tenantId, sessionId, async (engine) => {
      await assertKnownContext(engine, sessionId, contextId);
      await engine.closeContext(contextId);
    });
    return c.json({ ok: true } as const, 200);
  });

  return app;
}
