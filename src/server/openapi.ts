import { OpenAPIHono, type RouteConfig, type RouteHandler } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import type { z } from "zod";
import { errorBodySchema } from "../wire/responses.js";
import type { AppEnv } from "./app-env.js";
import { jsonBody, parse, queryOf } from "./validate.js";

/**
 * The OpenAPI 3.1 document of the HTTP API, made from the routes
 * themselves: each route is declared once (its params, query, JSON body and
 * every answer, by zod schema from src/wire/), `mount` serves it, and the
 * document is generated from those declarations. A route cannot answer a
 * status or body its declaration lacks: its handler would not compile.
 */

/** What each refusal means, for the routes that can give it. */
const FAILURES = {
  400: "invalid body, query or path: the message names the field",
  401: "no bearer key",
  403: "wrong, expired or revoked key; forbidden by policy or role; a file that holds a secret",
  404: "no such session, context, key, sandbox, process or file",
  409: "the sandbox has ended, or cannot start the process (its process limit is reached)",
  413: "body larger than this server's limit",
  426: "a plain GET: this route needs a WebSocket upgrade",
  429: "every execution slot and the queue are full, or the tenant has its most sessions",
  500: "a fault of the server's own",
  502: "request.codeUrl could not be fetched (network, TLS, timeout, HTTP status)",
  503: "the server is shutting down, or the Docker engine does not answer",
} as const;

type Failure = keyof typeof FAILURES;

/** Headers a refusal comes with, by status. */
const FAILURE_HEADERS: Partial<Record<Failure, Record<string, object>>> = {
  401: {
    "WWW-Authenticate": { description: 'Bearer realm="isol8"', schema: { type: "string" } },
  },
  429: {
    "Retry-After": { description: "seconds to wait before retrying", schema: { type: "string" } },
  },
  503: {
    "Retry-After": {
      description: "seconds to wait before retrying, when the Docker engine does not answer",
      schema: { type: "string" },
    },
  },
};

const errorContent = { "application/json": { schema: errorBodySchema } };

type FailureResponses<S extends Failure> = {
  [K in S]: { description: string; content: typeof errorContent };
};

/** The `responses` entries of `statuses`, each a JSON `{ error }`. */
export function failures<const S extends Failure>(...statuses: S[]): FailureResponses<S> {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      {
        description: FAILURES[status],
        content: errorContent,
        ...(FAILURE_HEADERS[status] ? { headers: FAILURE_HEADERS[status] } : {}),
      },
    ]),
  ) as unknown as FailureResponses<S>;
}

/** The refusals every route behind the bearer key may answer with. */
export const AUTHED = [401, 403, 500, 503] as const;

/** A JSON answer of `schema`. */
export function jsonAnswer<S extends z.ZodType>(description: string, schema: S) {
  return { description, content: { "application/json": { schema } } };
}

/** A JSON request body of `schema`. */
export function jsonRequest<S extends z.ZodType>(schema: S, required = true) {
  return { required, content: { "application/json": { schema } } };
}

/** The sub-app a route group declares its routes on. */
export function routeGroup(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>();
}

/**
 * The route's params, query and JSON body, parsed as every route parses
 * them (`validate.ts`: the body's size and depth bounded before it is
 * parsed, any content type read as JSON, 400 naming the field) and handed
 * to the handler as `c.req.valid(...)`. zod-openapi's own validators are not
 * used: they would refuse a body by its content type and parse it unbounded.
 */
function parsed(route: RouteConfig): MiddlewareHandler<AppEnv> {
  const { params, query, body } = route.request ?? {};
  const media = body?.content["application/json"];
  const bodySchema = media && "schema" in media ? (media.schema as z.ZodType) : undefined;
  return async (c: Context<AppEnv>, next) => {
    const valid = (target: "param" | "query" | "json", value: unknown) =>
      c.req.addValidatedData(target, value as object);
    if (params) valid("param", parse(params as z.ZodType, c.req.param()));
    if (query) valid("query", queryOf(c, query as z.ZodType));
    if (bodySchema) valid("json", await jsonBody(c, bodySchema));
    await next();
  };
}

/** Declares `route` in `app`'s document and serves it with `handler`. */
export function mount<R extends RouteConfig>(
  app: OpenAPIHono<AppEnv>,
  route: R,
  handler: RouteHandler<R, AppEnv>,
): void {
  app.openAPIRegistry.registerPath(route);
  const path = route.path.replaceAll(/\/{(.+?)}/g, "/:$1");
  // The handler's type is checked against the route above; Hono's `on` types it loosely.
  app.on(route.method.toUpperCase(), path, parsed(route), handler as unknown as MiddlewareHandler);
}

/** The tags operations are grouped by, in the document's order. */
const TAGS = [
  {
    name: "execution",
    description: "Running code: buffered, streamed over SSE, or over a WebSocket",
  },
  { name: "files", description: "Files of a session, or of one of its code contexts" },
  { name: "sessions", description: "Persistent sessions of the caller's tenant" },
  { name: "contexts", description: "Code contexts: live interpreters in a session" },
  {
    name: "sandboxes",
    description: "Long-lived sandboxes: many processes and terminals, each with a lifetime",
  },
  { name: "admin", description: "The master key's routes: cleanup and API keys" },
  { name: "server", description: "Liveness, metrics and this document" },
];

/** The document of every route `app` has mounted (sub-apps included). */
export function openApiDocument(app: OpenAPIHono<AppEnv>, version: string): object {
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    description: "the master key, an API key (POST /auth/keys) or a login token (POST /auth/login)",
  });
  return app.getOpenAPI31Document({
    openapi: "3.1.0",
    info: {
      title: "isol8 server",
      version,
      description: "Runs untrusted code in hardened containers (isol8 serve).",
      license: { name: "MIT", url: "https://opensource.org/license/mit" },
    },
    // Relative to where this document was fetched: the server that serves it.
    servers: [{ url: "/", description: "the server that serves this document" }],
    security: [{ bearer: [] }],
    tags: TAGS,
  });
}
