import { z } from "zod";
import {
  cleanupBodySchema,
  createContextBodySchema,
  createKeyBodySchema,
  executeBodySchema,
  loginBodySchema,
  moveKeyBodySchema,
  putFileBodySchema,
  wsControlSchema,
  wsExecuteSchema,
} from "../wire/schemas.js";

type Schema = Record<string, unknown>;

const json = (schema: z.ZodType): Schema =>
  z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as Schema;

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const str = { type: "string" };
const num = { type: "number" };
const bool = { type: "boolean" };
const obj = (properties: Schema, required: string[] = Object.keys(properties)): Schema => ({
  type: "object",
  properties,
  required,
});

const removal = obj({ removed: num, failed: num, errors: { type: "array", items: str } });

/** Response shapes (the request shapes come from the zod schemas that enforce them). */
const responses: Record<string, Schema> = {
  Error: obj(
    {
      error: str,
      code: {
        type: "string",
        description:
          "the code of the library error class a local engine throws for the same refusal (INVALID_REQUEST, INVALID_OPTION, SANDBOX_FILE, ...), when there is one",
      },
    },
    ["error"],
  ),
  ExecutionResult: obj(
    {
      stdout: str,
      stderr: str,
      exitCode: num,
      durationMs: num,
      truncated: bool,
      timedOut: bool,
      oomKilled: bool,
      executionId: str,
      runtime: str,
      timestamp: str,
      containerId: str,
      withheldFiles: {
        type: "array",
        description:
          "outputPaths left out of files because they hold the value of a secret (raw or encoded)",
        items: str,
      },
      value: { type: "string", description: "code contexts: the last expression's value as text" },
      contextRestarted: {
        type: "boolean",
        description: "code contexts: the interpreter was restarted and its state lost",
      },
      outputs: {
        type: "array",
        description:
          "python code contexts: rich outputs in order (matplotlib figures, the last value's PNG/SVG/HTML form); each came after stdout.slice(0, stdoutOffset)",
        items: obj({
          type: { enum: ["image/png", "image/svg+xml", "text/html"] },
          data: { type: "string", description: "base64 for image/png; the text for SVG and HTML" },
          stdoutOffset: num,
        }),
      },
      resourceUsage: obj({
        cpuPercent: num,
        memoryMB: num,
        cpuTimeMs: num,
        networkBytesIn: num,
        networkBytesOut: num,
      }),
    },
    [
      "stdout",
      "stderr",
      "exitCode",
      "durationMs",
      "truncated",
      "executionId",
      "runtime",
      "timestamp",
    ],
  ),
  StreamEvent: obj(
    {
      type: { enum: ["stdout", "stderr", "exit", "error"] },
      data: str,
      result: { description: "on exit: the ExecutionResult without stdout and stderr" },
    },
    ["type", "data"],
  ),
  Session: obj({ id: str, tenantId: str, isActive: bool, lastAccessedAt: str }),
  Context: obj({ id: str, runtime: str }),
  ApiKey: obj({
    id: str,
    name: str,
    keyPrefix: str,
    tenantId: str,
    createdAt: str,
    expiresAt: { type: ["string", "null"] },
    lastUsedAt: { type: ["string", "null"] },
    revoked: bool,
    kind: { enum: ["key", "token"] },
  }),
};

const content = (schema: Schema) => ({ "application/json": { schema } });
const ok = (schema: Schema, description = "OK") => ({ description, content: content(schema) });
const failures = Object.fromEntries(
  [
    ["400", "invalid body or query: the message names the field"],
    ["401", "no bearer key"],
    ["403", "wrong key, or forbidden by policy or role"],
    ["404", "no such session, key or route"],
    ["413", "body too large"],
    ["429", "busy: slots and queue full (see Retry-After)"],
    ["500", "a fault of the server's own"],
  ].map(([code, description]) => [code, { description, content: content(ref("Error")) }]),
);

function op(summary: string, response: Schema, extra: Schema = {}): Schema {
  return {
    summary,
    security: [{ bearer: [] }],
    responses: { "200": response, ...failures },
    ...extra,
  };
}

/** A route that runs a request, which may name code by URL: 502 when that fetch fails. */
function runs(operation: Schema): Schema {
  const fetchFailed = {
    description: "request.codeUrl could not be fetched (network, TLS, timeout, HTTP status)",
    content: content(ref("Error")),
  };
  return { ...operation, responses: { ...(operation.responses as Schema), "502": fetchFailed } };
}

const body = (schema: z.ZodType) => ({
  requestBody: { required: true, content: content(json(schema)) },
});
const query = (...names: string[]) => ({
  parameters: names.map((name) => ({
    name,
    in: "query",
    required: name !== "tenantId" && name !== "contextId",
    schema: str,
  })),
});
const pathId = { parameters: [{ name: "id", in: "path", required: true, schema: str }] };
const pathIds = {
  parameters: ["id", "cid"].map((name) => ({ name, in: "path", required: true, schema: str })),
};

/** The OpenAPI 3.1 description of every route, served at GET /openapi.json. */
export function openApiDocument(version: string): Schema {
  return {
    openapi: "3.1.0",
    info: { title: "isol8 server", version },
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
      schemas: responses,
    },
    paths: {
      "/health": {
        get: {
          summary: "Liveness; needs no key",
          responses: { "200": ok(obj({ status: { const: "ok" }, version: str })) },
        },
      },
      "/execute": {
        post: runs(
          op("Run code; answers when it ends", ok(ref("ExecutionResult")), body(executeBodySchema)),
        ),
      },
      "/execute/stream": {
        post: runs(
          op(
            "Run code; Server-Sent Events, one `data: <StreamEvent>` each, heartbeat comments while idle",
            {
              description: "text/event-stream",
              content: { "text/event-stream": { schema: ref("StreamEvent") } },
            },
            body(executeBodySchema),
          ),
        ),
      },
      "/execute/ws": {
        get: op(
          "WebSocket: send one execute message, then stdin or signal messages; receive one StreamEvent per message; closed with 1000 at the end, or 4000+HTTP status on refusal",
          { description: "switching protocols" },
          {
            "x-messages": {
              execute: json(wsExecuteSchema),
              control: json(wsControlSchema),
              event: ref("StreamEvent"),
            },
          },
        ),
      },
      "/file": {
        post: op(
          "Upload a file into a session, or with contextId into that code context's own /sandbox (base64)",
          ok(obj({ ok: bool })),
          body(putFileBodySchema),
        ),
        get: op(
          "Download a file of a session, or with contextId of that code context's own /sandbox (base64)",
          ok(obj({ content: str })),
          query("sessionId", "path", "contextId"),
        ),
      },
      "/sessions": {
        get: op(
          "The caller's tenant's sessions; with the master key, every tenant's",
          ok(obj({ sessions: { type: "array", items: ref("Session") } })),
        ),
      },
      "/session/{id}": {
        delete: op(
          "Stop a session of the caller's tenant (the master key: of the tenant tenantId names) and remove its container",
          ok(obj({ ok: bool })),
          { parameters: [...pathId.parameters, ...query("tenantId").parameters] },
        ),
      },
      "/session/{id}/context": {
        post: op(
          "Start a code context (python or node) in the session, made on first use: a live interpreter whose state persists between executions that give its id as request.contextId with this sessionId",
          ok(ref("Context"), "201 Created"),
          { ...pathId, ...body(createContextBodySchema) },
        ),
        get: op(
          "The session's code contexts",
          ok(obj({ contexts: { type: "array", items: ref("Context") } })),
          pathId,
        ),
      },
      "/session/{id}/context/{cid}/reset": {
        post: op(
          "Give a context a fresh interpreter and empty /sandbox and /tmp",
          ok(obj({ ok: bool })),
          pathIds,
        ),
      },
      "/session/{id}/context/{cid}": {
        delete: op("Close a context and remove its container", ok(obj({ ok: bool })), pathIds),
      },
      "/cleanup": {
        post: op(
          "Master key: stop sessions and idle engines; removes only this server's containers",
          ok(
            obj({ ok: bool, sessions: removal, containers: removal, images: removal }, [
              "ok",
              "sessions",
              "containers",
            ]),
          ),
          body(cleanupBodySchema),
        ),
      },
      "/auth/keys": {
        post: op(
          "Master key: create an API key (shown once)",
          ok(
            obj({
              id: str,
              key: str,
              name: str,
              keyPrefix: str,
              tenantId: str,
              expiresAt: { type: ["string", "null"] },
            }),
            "201 Created",
          ),
          body(createKeyBodySchema),
        ),
        get: op(
          "Master key: list keys",
          ok(obj({ keys: { type: "array", items: ref("ApiKey") } })),
          query("tenantId"),
        ),
      },
      "/auth/keys/{id}": {
        patch: op(
          "Master key: move a key to another tenant (its secret stays the same)",
          ok(obj({ ok: bool, id: str, tenantId: str })),
          { ...pathId, ...body(moveKeyBodySchema) },
        ),
        delete: op("Master key: revoke a key", ok(obj({ ok: bool, id: str })), pathId),
      },
      "/auth/login": {
        post: op(
          "Master key: issue a short-lived token",
          ok(obj({ token: str, expiresAt: str, keyId: str })),
          body(loginBodySchema),
        ),
      },
      "/metrics": {
        get: op("Prometheus metrics", { description: "text/plain; version=0.0.4" }),
      },
      "/openapi.json": { get: op("This document", { description: "OpenAPI 3.1" }) },
    },
  };
}
