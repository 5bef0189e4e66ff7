import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { executionResultSchema, streamEventSchema } from "../../wire/responses.js";
import { executeBodySchema, wsControlSchema, wsExecuteSchema } from "../../wire/schemas.js";
import type { ServerContext } from "../context.js";
import { ClientGoneError, HttpError } from "../errors.js";
import { collect } from "../execution.js";
import { clientGoneSignal } from "../node-request.js";
import { AUTHED, failures, jsonAnswer, jsonRequest, mount, routeGroup } from "../openapi.js";
import { sseResponse } from "../sse.js";

/** An abort controller that fires when the client disconnects. */
function clientAbort(c: Context): AbortController {
  const abort = new AbortController();
  const gone = clientGoneSignal(c);
  if (gone.aborted) abort.abort(new ClientGoneError());
  else gone.addEventListener("abort", () => abort.abort(new ClientGoneError()), { once: true });
  return abort;
}

/** What refuses a run: its body, its policy, the slots, the fetch of request.codeUrl. */
const RUN_FAILURES = [400, 404, 413, 429, 502, ...AUTHED] as const;

const execute = createRoute({
  method: "post",
  path: "/execute",
  operationId: "execute",
  tags: ["execution"],
  summary: "Run code; answers when it ends",
  description:
    "With sessionId the run happens in that persistent session (created on first use); with request.contextId, in that code context of the session.",
  request: { body: jsonRequest(executeBodySchema) },
  responses: {
    200: jsonAnswer("what the run produced", executionResultSchema),
    ...failures(...RUN_FAILURES),
  },
});

const executeStream = createRoute({
  method: "post",
  path: "/execute/stream",
  operationId: "executeStream",
  tags: ["execution"],
  summary: "Run code, its output streamed as Server-Sent Events",
  description:
    "One `data: <StreamEvent JSON>` event each, heartbeat comments while idle; `exit` is always last. A client that disconnects cancels the run.",
  request: { body: jsonRequest(executeBodySchema) },
  responses: {
    200: {
      description: "the run's events, each one StreamEvent as JSON on a data line",
      content: {
        "text/event-stream": {
          schema: z
            .string()
            .meta({ description: "events of `data: <StreamEvent JSON>` and a blank line" }),
        },
      },
    },
    ...failures(...RUN_FAILURES),
  },
});

const executeWebSocket = createRoute({
  method: "get",
  path: "/execute/ws",
  operationId: "executeWebSocket",
  tags: ["execution"],
  summary: "Run code over a WebSocket: stdin and signals in, events out",
  description: [
    "Send one ExecuteMessage, then StdinMessage or SignalMessage messages; each message received is one StreamEvent.",
    "The server closes with 1000 when the run ends, or with 4000 + the HTTP status a refusal would have (4400, 4403, 4429, ...).",
    "A request without request.stdin takes its standard input from stdin messages (`eof: true` ends it).",
  ].join(" "),
  // What the client sends once upgraded, for clients generated from the document.
  "x-client-messages": {
    oneOf: [
      { $ref: "#/components/schemas/ExecuteMessage" },
      { $ref: "#/components/schemas/ControlMessage" },
    ],
  },
  responses: {
    101: {
      description:
        "switched to the WebSocket protocol; each message the server sends is a StreamEvent",
      content: { "application/json": { schema: streamEventSchema } },
    },
    ...failures(426, ...AUTHED),
  },
});

/** The WebSocket's messages, as components a client can generate types from. */
const wsMessages = {
  ExecuteMessage: wsExecuteSchema,
  ControlMessage: wsControlSchema,
};

/** POST /execute, POST /execute/stream, and GET /execute/ws for clients that do not upgrade. */
export function executeRoutes(ctx: ServerContext) {
  const app = routeGroup();
  // As plain JSON Schema components: `register` would need the schema to have
  // zod-openapi's `.openapi()`, which zod 4 gives only to schemas made after
  // the extension was loaded - not to the wire's, which the client shares.
  for (const [name, schema] of Object.entries(wsMessages))
    app.openAPIRegistry.registerComponent(
      "schemas",
      name,
      z.toJSONSchema(schema, {
        io: "input",
        unrepresentable: "any",
        target: "draft-2020-12",
      }) as Parameters<typeof app.openAPIRegistry.registerComponent>[2],
    );

  mount(app, execute, async (c) => {
    const abort = clientAbort(c);
    const run = await ctx.executions.start(c.get("principal"), c.req.valid("json"), abort.signal);
    return c.json(await collect(run), 200);
  });

  mount(app, executeStream, async (c) => {
    const abort = clientAbort(c);
    const run = await ctx.executions.start(c.get("principal"), c.req.valid("json"), abort.signal);
    return sseResponse(c, run, abort, ctx.config.heartbeatMs, ctx.docker);
  });

  // The upgrade itself is handled by ws.ts on the HTTP server; a plain GET lands here.
  mount(app, executeWebSocket, () => {
    throw new HttpError(426, "GET /execute/ws needs a WebSocket upgrade", { Upgrade: "websocket" });
  });

  return app;
}
