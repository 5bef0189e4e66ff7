import { createRoute, z } from "@hono/zod-openapi";
import { createDockerClient } from "../../backend/docker/client.js";
import {
  cleanupReportSchema,
  createdKeySchema,
  keyListSchema,
  loginTokenSchema,
  movedKeySchema,
  revokedKeySchema,
} from "../../wire/responses.js";
import {
  cleanupBodySchema,
  createKeyBodySchema,
  listKeysQuerySchema,
  loginBodySchema,
  moveKeyBodySchema,
} from "../../wire/schemas.js";
import { cleanup } from "../cleanup.js";
import type { ServerContext } from "../context.js";
import { HttpError } from "../errors.js";
import { requireMaster } from "../middleware.js";
import { AUTHED, failures, jsonAnswer, jsonRequest, mount, routeGroup } from "../openapi.js";

const keyId = z.object({ id: z.string() });

const cleanupRoute = createRoute({
  method: "post",
  path: "/cleanup",
  operationId: "cleanup",
  tags: ["admin"],
  summary: "Master key: stop sessions and idle engines, removing only this server's containers",
  request: { body: jsonRequest(cleanupBodySchema, false) },
  responses: {
    200: jsonAnswer("what was removed", cleanupReportSchema),
    ...failures(400, 413, ...AUTHED),
  },
});

const createKey = createRoute({
  method: "post",
  path: "/auth/keys",
  operationId: "createKey",
  tags: ["admin"],
  summary: "Master key: create an API key (its secret is shown only in this answer)",
  request: { body: jsonRequest(createKeyBodySchema) },
  responses: {
    201: jsonAnswer("the key is made", createdKeySchema),
    ...failures(400, 413, ...AUTHED),
  },
});

const listKeys = createRoute({
  method: "get",
  path: "/auth/keys",
  operationId: "listKeys",
  tags: ["admin"],
  summary: "Master key: the keys and tokens of a tenant that still work",
  request: { query: listKeysQuerySchema },
  responses: {
    200: jsonAnswer("the keys, without their secrets", keyListSchema),
    ...failures(400, ...AUTHED),
  },
});

const moveKey = createRoute({
  method: "patch",
  path: "/auth/keys/{id}",
  operationId: "moveKey",
  tags: ["admin"],
  summary: "Master key: move a key to another tenant (its secret stays the same)",
  request: { params: keyId, body: jsonRequest(moveKeyBodySchema) },
  responses: {
    200: jsonAnswer("the key is in that tenant", movedKeySchema),
    ...failures(400, 404, 413, ...AUTHED),
  },
});

const revokeKey = createRoute({
  method: "delete",
  path: "/auth/keys/{id}",
  operationId: "revokeKey",
  tags: ["admin"],
  summary: "Master key: revoke a key",
  request: { params: keyId },
  responses: {
    200: jsonAnswer("the key no longer works", revokedKeySchema),
    ...failures(404, ...AUTHED),
  },
});

const login = createRoute({
  method: "post",
  path: "/auth/login",
  operationId: "login",
  tags: ["admin"],
  summary: "Master key: issue a short-lived token",
  request: { body: jsonRequest(loginBodySchema, false) },
  responses: {
    200: jsonAnswer("the token", loginTokenSchema),
    ...failures(400, 413, ...AUTHED),
  },
});

/** POST /cleanup and /auth/*: the master key's routes. */
export function adminRoutes(ctx: ServerContext) {
  const app = routeGroup();
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

  mount(app, cleanupRoute, async (c) => {
    const body = c.req.valid("json");
    return c.json(await cleanup(ctx, docker, body.images ?? false), 200);
  });

  mount(app, createKey, (c) => {
    const body = c.req.valid("json");
    const { key, info } = ctx.store.create({
      name: body.name,
      tenantId: body.tenantId,
      ttlMs: ttl(body.ttlMs, undefined),
    });
    const { id, name, keyPrefix, tenantId, expiresAt } = info;
    return c.json({ id, key, name, keyPrefix, tenantId, expiresAt }, 201);
  });

  mount(app, listKeys, (c) => {
    const { tenantId } = c.req.valid("query");
    return c.json({ keys: ctx.store.list(tenantId) }, 200);
  });

  // Moves a key to another tenant without changing its secret: how an
  // operator gives keys of the shared "default" tenant a tenant of their own.
  mount(app, moveKey, (c) => {
    const { id } = c.req.valid("param");
    const { tenantId } = c.req.valid("json");
    if (!ctx.store.move(id, tenantId)) throw new HttpError(404, `no key "${id}"`);
    return c.json({ ok: true, id, tenantId } as const, 200);
  });

  mount(app, revokeKey, (c) => {
    const { id } = c.req.valid("param");
    if (!ctx.store.revoke(id)) throw new HttpError(404, `no key "${id}"`);
    return c.json({ ok: true, id } as const, 200);
  });

  mount(app, login, (c) => {
    const body = c.req.valid("json");
    const { key, info } = ctx.store.create({
      name: body.name ?? "login",
      tenantId: body.tenantId,
      ttlMs: ttl(body.ttlMs, ctx.config.auth.loginTtlMs),
      kind: "token",
    });
    return c.json({ token: key, expiresAt: info.expiresAt, keyId: info.id }, 200);
  });

  return app;
}
