import { Hono } from "hono";
import { createDockerClient } from "../../backend/docker/client.js";
import {
  cleanupBodySchema,
  createKeyBodySchema,
  listKeysQuerySchema,
  loginBodySchema,
  moveKeyBodySchema,
} from "../../wire/schemas.js";
import type { AppEnv } from "../app-env.js";
import { cleanup } from "../cleanup.js";
import type { ServerContext } from "../context.js";
import { HttpError } from "../errors.js";
import { requireMaster } from "../middleware.js";
import { jsonBody, queryOf } from "../validate.js";

/** POST /cleanup and /auth/*: the master key's routes. */
export function adminRoutes(ctx: ServerContext): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const docker = createDockerClient();
  app.use("/cleanup", requireMaster);
  app.use("/auth/*", requireMaster);

  const ttl = (asked: number | undefined, fallback: number | undefined) => {
    const ms = asked ?? fallback;
    if (ms !== undefined && ms > ctx.config.auth.maxTtlMs)
      throw new HttpError(
        400,
        `ttlMs: ${ms} is above this server's maximum of ${ctx.config.auth.maxTtlMs}`,
      );
    return ms;
  };

  app.post("/cleanup", async (c) => {
    const body = await jsonBody(c, cleanupBodySchema);
    return c.json(await cleanup(ctx, docker, body.images ?? false));
  });

  app.post("/auth/keys", async (c) => {
    const body = await jsonBody(c, createKeyBodySchema);
    const { key, info } = ctx.store.create({
      name: body.name,
      tenantId: body.tenantId,
      ttlMs: ttl(body.ttlMs, undefined),
    });
    const { id, name, keyPrefix, tenantId, expiresAt } = info;
    return c.json({ id, key, name, keyPrefix, tenantId, expiresAt }, 201);
  });

  app.get("/auth/keys", (c) => {
    const { tenantId } = queryOf(c, listKeysQuerySchema);
    return c.json({ keys: ctx.store.list(tenantId) });
  });

  // Moves a key to another tenant without changing its secret: how an
  // operator gives keys of the shared "default" tenant a tenant of their own.
  app.patch("/auth/keys/:id", async (c) => {
    const id = c.req.param("id");
    const { tenantId } = await jsonBody(c, moveKeyBodySchema);
    if (!ctx.store.move(id, tenantId)) throw new HttpError(404, `no key "${id}"`);
    return c.json({ ok: true, id, tenantId });
  });

  app.delete("/auth/keys/:id", (c) => {
    const id = c.req.param("id");
    if (!ctx.store.revoke(id)) throw new HttpError(404, `no key "${id}"`);
    return c.json({ ok: true, id });
  });

  app.post("/auth/login", async (c) => {
    const body = await jsonBody(c, loginBodySchema);
    const { key, info } = ctx.store.create({
      name: body.name ?? "login",
      tenantId: body.tenantId,
      ttlMs: ttl(body.ttlMs, ctx.config.auth.loginTtlMs),
      kind: "token",
    });
    return c.json({ token: key, expiresAt: info.expiresAt, keyId: info.id });
  });

  return app;
}
