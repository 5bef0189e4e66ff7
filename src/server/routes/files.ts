import { Hono } from "hono";
import { SandboxFileTooLargeError } from "../../engine/session-files.js";
import type { FileContent } from "../../wire/responses.js";
import { getFileQuerySchema, putFileBodySchema } from "../../wire/schemas.js";
import { admitOptions } from "../admission.js";
import type { AppEnv } from "../app-env.js";
import type { ServerContext } from "../context.js";
import { HttpError } from "../errors.js";
import { jsonBody, queryOf } from "../validate.js";
import { assertKnownContext } from "./contexts.js";

/**
 * POST /file and GET /file: files of the caller's persistent sessions, or
 * with `contextId` of one of a session's code contexts, base64 on the wire.
 */
export function fileRoutes(ctx: ServerContext): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.post("/file", async (c) => {
    const body = await jsonBody(c, putFileBodySchema);
    const { tenantId } = c.get("principal");
    // An upload may come before the first execution; the session then starts
    // with the server's defaults. A context's file needs its session to exist.
    const session = ctx.sessions.forFile(
      tenantId,
      body.sessionId,
      body.contextId === undefined ? admitOptions(ctx.config) : undefined,
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
    return c.json({ ok: true });
  });

  app.get("/file", async (c) => {
    const query = queryOf(c, getFileQuerySchema);
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
    return c.json({ content: content.toString("base64") } satisfies FileContent);
  });

  return app;
}
