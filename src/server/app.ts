import { OpenAPIHono } from "@hono/zod-openapi";
import type { Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { e2bApp } from "../e2b/app.js";
import { isStreamedUpload } from "../e2b/envd/files-route.js";
import { E2B_BASE_PATH } from "../e2b/mount.js";
import { answerFor } from "./answer-for.js";
import type { AppEnv } from "./app-env.js";
import type { ServerContext } from "./context.js";
import { errorBody, HttpError } from "./errors.js";
import { observeRequests, requireAuth } from "./middleware.js";
import { limitBody } from "./node-request.js";
import { openApiDocument } from "./openapi.js";
import { requestIds } from "./request-id.js";
import { adminRoutes } from "./routes/admin.js";
import { contextRoutes } from "./routes/contexts.js";
import { executeRoutes } from "./routes/execute.js";
import { fileRoutes } from "./routes/files.js";
import { healthRoutes, infoRoutes } from "./routes/info.js";
import { isFileUpload, sandboxFileRoutes } from "./routes/sandbox-files.js";
import { sandboxRoutes } from "./routes/sandboxes.js";
import { sessionRoutes } from "./routes/sessions.js";

/**
 * The HTTP API as a Hono app: a plain object that answers `app.request()`
 * without a socket, and that server.ts serves on a port. Every answer that
 * is not a success is JSON `{ error }`. Each route group declares its
 * routes for the OpenAPI document (`openapi.ts`), which mounting them here
 * gathers into the app's.
 */
export function createApp(ctx: ServerContext): Hono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>();
  // Before the log's middleware, so that every entry of a request carries its id.
  app.use("*", requestIds());
  app.use("*", observeRequests(ctx));
  app.use("*", async (c, next) => {
    if (ctx.state.draining) {
      c.header("Connection", "close");
      throw new HttpError(503, "the server is shutting down");
    }
    await next();
  });
  // The rest of the body is never read, so the connection cannot carry
  // another request: tell the client, or it may reuse a socket the server
  // is about to close.
  const limited = limitBody(ctx.config.maxBodyBytes, () => {
    throw new HttpError(
      413,
      `body: larger than this server's limit of ${ctx.config.maxBodyBytes} bytes`,
      { Connection: "close" },
    );
  });
  // A sandbox file's upload is streamed, never held whole: its route bounds it by its own limit.
  app.use("*", (c, next) => (isFileUpload(c) || isStreamedUpload(c) ? next() : limited(c, next)));
  app.route("/", healthRoutes(ctx));
  // E2B's API admits its requests its own way (an API key in X-API-Key, a sandbox's access token).
  app.route(E2B_BASE_PATH, e2bApp(ctx));
  app.use("*", requireAuth(ctx.authenticator));
  app.route("/", executeRoutes(ctx));
  app.route("/", fileRoutes(ctx));
  app.route("/", sessionRoutes(ctx));
  app.route("/", contextRoutes(ctx));
  app.route("/", sandboxRoutes(ctx));
  app.route("/", sandboxFileRoutes(ctx));
  app.route("/", adminRoutes(ctx));
  app.route(
    "/",
    infoRoutes(ctx, () => openApiDocument(app, ctx.version)),
  );

  app.notFound((c) => c.json({ error: `no route ${c.req.method} ${c.req.path}` }, 404));
  app.onError(async (error, c) => {
    const http = await answerFor(ctx, c, error);
    return c.json(errorBody(http), http.status as ContentfulStatusCode, http.headers);
  });
  return app;
}
