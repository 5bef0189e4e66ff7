import { Hono } from "hono";
import type { Health } from "../../wire/responses.js";
import type { AppEnv } from "../app-env.js";
import type { ServerContext } from "../context.js";
import { openApiDocument } from "../openapi.js";

/** GET /health (no auth: mounted before the auth middleware). */
export function healthRoutes(ctx: ServerContext): Hono<AppEnv> {
  return new Hono<AppEnv>().get("/health", (c) =>
    c.json({ status: "ok", version: ctx.version } satisfies Health),
  );
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
