/**
 * E2B's control plane (its REST API at E2B_API_URL) over the server's
 * long-lived sandboxes: create, list, get, kill, timeout, connect and
 * metrics. Timeouts are in seconds, as E2B's API has them. What isol8 has
 * no counterpart for yet (pause, resume, snapshots, fork, network
 * changes) answers 501 saying so, in E2B's error shape.
 */
import { type Context, Hono } from "hono";
import { z } from "zod";
import type { Sandbox } from "../sandbox/sandbox.js";
import { admitOptions } from "../server/admission.js";
import type { AppEnv } from "../server/app-env.js";
import type { ServerContext } from "../server/context.js";
import { HttpError } from "../server/errors.js";
import { jsonBody, queryOf } from "../server/validate.js";
import { notSupported } from "./errors.js";
import type { E2bSandboxes, E2bSandboxFacts } from "./sandboxes.js";
import { DEFAULT_TEMPLATE, template } from "./templates.js";

/** The envd version this face reports: the SDKs refuse a sandbox below 0.1.0 and gate features by it. */
const ENVD_VERSION = "0.5.7";

/** E2B's default sandbox lifetime, in seconds, when a request names none. */
const E2B_DEFAULT_TIMEOUT_S = 300;

const stringMap = z.record(z.string(), z.string());

const createBody = z.object({
  templateID: z.string().min(1).default(DEFAULT_TEMPLATE),
  timeout: z.number().int().positive().optional(),
  metadata: stringMap.nullish(),
  envVars: stringMap.nullish(),
  secure: z.boolean().optional(),
  allow_internet_access: z.boolean().optional(),
  autoPause: z.boolean().optional(),
});

const timeoutBody = z.object({ timeout: z.number().int().positive() });
const connectBody = z.object({ timeout: z.number().int().positive().optional() });

const listQuery = z.object({
  metadata: z.string().optional(),
  state: z.union([z.string(), z.array(z.string())]).optional(),
  limit: z.coerce.number().int().positive().max(1000).optional(),
  nextToken: z.string().optional(),
});

/** A sandbox as E2B's API describes one (GET /sandboxes/:id, the list's items). */
function described(sandbox: Sandbox, facts: E2bSandboxFacts) {
  const info = sandbox.info();
  return {
    templateID: facts.templateId,
    sandboxID: info.sandboxId,
    clientID: "isol8",
    startedAt: info.startedAt.toISOString(),
    endAt: info.endAt.toISOString(),
    cpuCount: facts.cpuCount,
    memoryMB: facts.memoryMB,
    diskSizeMB: facts.diskSizeMB,
    metadata: info.metadata,
    state: "running" as const,
    envdVersion: ENVD_VERSION,
    // isol8's sandboxes have no network: the server's policy has the last word.
    allowInternetAccess: false,
  };
}

/** What creating or connecting answers: how to reach the sandbox's envd. */
function reachable(sandbox: Sandbox, facts: E2bSandboxFacts) {
  return {
    templateID: facts.templateId,
    sandboxID: sandbox.sandboxId,
    clientID: "isol8",
    envdVersion: ENVD_VERSION,
    envdAccessToken: facts.accessToken,
    // The code interpreter's SDK sends this one on every call, its context management too.
    trafficAccessToken: facts.accessToken,
    domain: null,
  };
}

/** `a=1&b=2` (E2B's metadata filter, each part URL-encoded) as pairs. */
function metadataFilter(text: string | undefined): [string, string][] {
  if (!text) return [];
  return [...new URLSearchParams(text)].map(([key, value]) => [key, value]);
}

export function controlPlaneRoutes(ctx: ServerContext, e2b: E2bSandboxes): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const tenant = (c: Context<AppEnv>) => c.get("principal").tenantId;

  app.post("/v2/sandboxes", async (c) => {
    const body = await jsonBody(c, createBody);
    const { runtime, image } = template(body.templateID);
    // The template's image is the server's choice, not the client's: no custom image is asked for.
    const admitted = admitOptions(ctx.config);
    const engineOptions = image === undefined ? admitted : { ...admitted, image };
    const sandbox = await ctx.sandboxes.create(
      tenant(c),
      {
        runtime,
        env: body.envVars ?? {},
        metadata: body.metadata ?? {},
        timeoutMs: (body.timeout ?? E2B_DEFAULT_TIMEOUT_S) * 1000,
      },
      engineOptions,
    );
    const facts = e2b.adopt(sandbox, body.templateID, engineOptions);
    return c.json(reachable(sandbox, facts), 201);
  });

  app.get("/v2/sandboxes", (c) => {
    const query = queryOf(c, listQuery);
    const states = [query.state ?? []].flat().flatMap((s) => s.split(","));
    // Only running sandboxes exist here: a filter for paused ones alone finds none.
    const wanted = states.length === 0 || states.includes("running");
    const filter = metadataFilter(query.metadata);
    const all = wanted
      ? e2b
          .list(tenant(c))
          .filter(({ sandbox }) => filter.every(([k, v]) => sandbox.info().metadata[k] === v))
      : [];
    const start = query.nextToken ? Number(query.nextToken) : 0;
    if (!Number.isInteger(start) || start < 0)
      throw new HttpError(400, "nextToken: not a token this server gave");
    const limit = query.limit ?? 100;
    const page = all.slice(start, start + limit);
    if (start + limit < all.length) c.header("x-next-token", String(start + limit));
    return c.json(
      page.map(({ sandbox, facts }) => described(sandbox, facts)),
      200,
    );
  });

  app.get("/sandboxes", (c) =>
    c.json(
      e2b.list(tenant(c)).map(({ sandbox, facts }) => described(sandbox, facts)),
      200,
    ),
  );

  app.get("/sandboxes/:id", (c) => {
    const { sandbox, facts } = e2b.get(tenant(c), c.req.param("id"));
    return c.json(described(sandbox, facts), 200);
  });

  app.delete("/sandboxes/:id", async (c) => {
    const { sandbox } = e2b.get(tenant(c), c.req.param("id"));
    await sandbox.kill();
    return c.body(null, 204);
  });

  app.post("/sandboxes/:id/timeout", async (c) => {
    const { sandbox } = e2b.get(tenant(c), c.req.param("id"));
    const { timeout } = await jsonBody(c, timeoutBody);
    ctx.sandboxes.checkLimits(timeout * 1000);
    await sandbox.setTimeout(timeout * 1000);
    return c.body(null, 204);
  });

  app.post("/v2/sandboxes/:id/connect", async (c) => {
    const { sandbox, facts } = e2b.get(tenant(c), c.req.param("id"));
    const { timeout } = await jsonBody(c, connectBody);
    if (timeout !== undefined) {
      ctx.sandboxes.checkLimits(timeout * 1000);
      // Connecting never shortens a sandbox's life, as on E2B.
      const left = sandbox.info().endAt.getTime() - Date.now();
      if (timeout * 1000 > left) await sandbox.setTimeout(timeout * 1000);
    }
    return c.json(reachable(sandbox, facts), 200);
  });

  app.get("/sandboxes/:id/metrics", async (c) => {
    const { sandbox } = e2b.get(tenant(c), c.req.param("id"));
    const m = await sandbox.getMetrics();
    return c.json(
      [
        {
          timestamp: m.timestamp.toISOString(),
          timestampUnix: Math.floor(m.timestamp.getTime() / 1000),
          cpuCount: m.cpuCount,
          cpuUsedPct: m.cpuUsedPct,
          memUsed: m.memUsed,
          memTotal: m.memTotal,
          diskUsed: m.diskUsed,
          diskTotal: m.diskTotal,
        },
      ],
      200,
    );
  });

  app.post("/sandboxes/:id/pause", () => {
    throw notSupported("pausing sandboxes");
  });
  app.post("/sandboxes/:id/resume", () => {
    throw notSupported("resuming paused sandboxes");
  });
  app.post("/sandboxes/:id/snapshots", () => {
    throw notSupported("snapshots");
  });
  app.get("/snapshots", () => {
    throw notSupported("snapshots");
  });
  app.post("/sandboxes/:id/fork", () => {
    throw notSupported("forking sandboxes");
  });
  app.put("/sandboxes/:id/network", () => {
    throw notSupported("changing a running sandbox's network");
  });
  return app;
}
