import { createRoute } from "@hono/zod-openapi";
import { SandboxFileTooLargeError } from "../../engine/session-files.js";
import { fileContentSchema, okSchema } from "../../wire/responses.js";
import { getFileQuerySchema, putFileBodySchema } from "../../wire/schemas.js";
import { admitOptions } from "../admission.js";
import type { ServerContext } from "../context.js";
import { HttpError } from "../errors.js";
import { AUTHED, failures, jsonAnswer, jsonRequest, mount, routeGroup } from "../openapi.js";
import { assertKnownContext } from "./contexts.js";

const putFile = createRoute({
  method: "post",
  path: "/file",
  operationId: "putFile",
  tags: ["files"],
  summary: "Upload a file into a session, or with contextId into that code context's /sandbox",
  description:
    "The session must exist (404 otherwise) unless createSession is true: then a missing session is made with the server's defaults.",
  request: { body: jsonRequest(putFileBodySchema) },
  responses: {
    200: jsonAnswer("the file is written", okSchema),
    ...failures(400, 404, 413, 429, ...AUTHED),
  },
});

const getFile = createRoute({
  method: "get",
  path: "/file",
  operationId: "getFile",
  tags: ["files"],
  summary: "Download a file of a session, or with contextId of that code context's /sandbox",
  request: { query: getFileQuerySchema },
  responses: {
    200: jsonAnswer("the file's bytes, base64", fileContentSchema),
    ...failures(400, 404, 413, ...AUTHED),
  },
});

/**
 * POST /file and GET /file: files of the caller's persistent sessions, or
 * with `contextId` of one of a session's code contexts, base64 on the wire.
 */
export function fileRoutes(ctx: ServerContext) {
  const app = routeGroup();

  mount(app, putFile, async (c) => {
    const body = c.req.valid("json");
    const { tenantId } = c.get("principal");
    // An upload may come before the first execution when the client says it
    // means to start the session (it then starts with the server's
    // defaults); otherwise a missing session is a 404, as for GET /file, so
    // a client whose session expired does not write into a new, empty one.
    // A context's file needs its session to exist.
    const creates = body.createSession === true && body.contextId === undefined;
    const session = ctx.sessions.forFile(
      tenantId,
      body.sessionId,
      creates ? admitOptions(ctx.config) : undefined,
    );
    try {
      if (body.contextId !== undefined)
        await assertKnownContext(session.engine, body.sessionId, body.contextId);
      const content = Buffer.from(body.content, "base64");
      await session.engine.putFile(body.path, content, { contextId: body.contextId });
      if (body.contextId === undefined) session.notePut(body.path);
    } finally {
      session.release();
    }
    return c.json({ ok: true } as const, 200);
  });

  mount(app, getFile, async (c) => {
    const query = c.req.valid("query");
    const session = ctx.sessions.forFile(c.get("principal").tenantId, query.sessionId, undefined);
    // Base64 grows by a third; the answer stays within what the server
    // accepts as a body. The engine refuses a larger file by its size, so
    // none of it is read.
    const maxBytes = Math.floor(ctx.config.maxBodyBytes / 4) * 3;
    let content: Buffer;
    try {
      if (query.contextId !== undefined)
        await assertKnownContext(session.engine, query.sessionId, query.contextId);
      content = await session.engine.getFile(query.path, {
        contextId: query.contextId,
        maxBytes,
      });
    } catch (error) {
      if (!(error instanceof SandboxFileTooLargeError)) throw error;
      throw new HttpError(
        413,
        `${error.message} (this server sends at most ${maxBytes} bytes: maxBodyBytes ${ctx.config.maxBodyBytes}, base64)`,
      );
    } finally {
      session.release();
    }
    return c.json({ content: content.toString("base64") }, 200);
  });

  return app;
}
