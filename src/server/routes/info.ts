import { Hono } from "hono";
import type { AppEnv } from "../app-env.js";
import type { ServerContext } from "../context.js";
import { DOCKER_RETRY_AFTER_SECONDS } from "../errors.js";
import { openApiDocument } from "../openapi.js";

/** GET /health (no auth: mounted before the auth middleware); 503 while Docker does not answer. */
export function healthRoutes(ctx: ServerContext): Hono<AppEnv> {
  return new Hono<AppEnv>().get("/health", async (c) => {
    const { status, body } = await ctx.docker.health(ctx.version);
    const headers: Record<string, string> =
      status === 503 ? { "Retry-After": String(DOCKER_RETRY_AFTER_SECONDS) } : {};
    return c.json(body, status, headers);
  });
}

/** GET /metrics (Prometheus text) and GET /openapi.json. */
export function infoRoutes(ctx: ServerContext): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const document = openApiDocument(ctx.version);
  app.get("/metrics", async (c) =>
    c.body(await ctx.metrics.render(), 200, { "Content-Type": ctx.metrics.contentType }),
  );
  app.get("/openapi.json", (c) => c.json(document));
  return app;
}
