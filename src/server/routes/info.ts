import { createRoute, z } from "@hono/zod-openapi";
import { degradedHealthSchema, healthSchema } from "../../wire/responses.js";
import type { ServerContext } from "../context.js";
import { DOCKER_RETRY_AFTER_SECONDS } from "../errors.js";
import { AUTHED, failures, jsonAnswer, mount, routeGroup } from "../openapi.js";

const health = createRoute({
  method: "get",
  path: "/health",
  operationId: "health",
  tags: ["server"],
  summary: "Liveness; needs no key",
  security: [],
  responses: {
    200: jsonAnswer("the server is up and can run code", healthSchema),
    503: {
      ...jsonAnswer("the Docker engine does not answer (status degraded)", degradedHealthSchema),
      headers: {
        "Retry-After": {
          description: "seconds to wait before asking again",
          schema: { type: "string" },
        },
      },
    },
  },
});

const metrics = createRoute({
  method: "get",
  path: "/metrics",
  operationId: "metrics",
  tags: ["server"],
  summary: "Prometheus metrics",
  description:
    "Executions by runtime and outcome, a latency histogram, queue depth, sessions, requests by route and status.",
  responses: {
    200: {
      description: "the Prometheus text format (version 0.0.4)",
      content: { "text/plain": { schema: z.string() } },
    },
    ...failures(...AUTHED),
  },
});

const openApi = createRoute({
  method: "get",
  path: "/openapi.json",
  operationId: "openApiDocument",
  tags: ["server"],
  summary: "This document",
  responses: {
    200: jsonAnswer(
      "the OpenAPI 3.1 document of every route",
      z.record(z.string(), z.unknown()).meta({ description: "an OpenAPI 3.1 document" }),
    ),
    ...failures(...AUTHED),
  },
});

/** GET /health (no auth: mounted before the auth middleware); 503 while Docker does not answer. */
export function healthRoutes(ctx: ServerContext) {
  const app = routeGroup();
  mount(app, health, async (c) => {
    const health = await ctx.docker.health(ctx.version);
    if (health.status === 503)
      return c.json(health.body, 503, { "Retry-After": String(DOCKER_RETRY_AFTER_SECONDS) });
    return c.json(health.body, 200);
  });
  return app;
}

/**
 * GET /metrics (Prometheus text) and GET /openapi.json, the document
 * `describe` makes (once, at the first request: by then every route is
 * mounted).
 */
export function infoRoutes(ctx: ServerContext, describe: () => object) {
  const app = routeGroup();
  let document: object | undefined;
  mount(app, metrics, async (c) =>
    c.text(await ctx.metrics.render(), 200, { "Content-Type": ctx.metrics.contentType }),
  );
  mount(app, openApi, (c) => {
    document ??= describe();
    return c.json(document as Record<string, unknown>, 200);
  });
  return app;
}
