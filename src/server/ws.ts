import type { IncomingMessage, Server } from "node:http";
import { STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import { type RawData, type ServerOptions, type WebSocket, WebSocketServer } from "ws";
import type { SandboxSignal } from "../engine/docker-isol8.js";
import type { StreamEvent } from "../types.js";
import type { WireStreamEvent } from "../wire/responses.js";
import { wsControlSchema, wsExecuteSchema } from "../wire/schemas.js";
import type { Principal } from "./auth/authenticator.js";
import { parseBoundedJson } from "./bounded-json.js";
import type { ServerContext } from "./context.js";
import { ClientGoneError, errorBody, errorEvent, HttpError, toHttpError } from "./errors.js";
import type { ServerRun } from "./execution.js";
import { chooseRequestId } from "./request-id.js";
import { StdinFeed } from "./stdin-feed.js";
import { parse } from "./validate.js";

const WS_PATH = "/execute/ws";

/**
 * Standard input a connection may have waiting for its program before the
 * server stops reading the connection (a client then sees back-pressure).
 */
const STDIN_HIGH_WATER_BYTES = 1024 * 1024;

/**
 * Close code for a refusal: 4000 + the HTTP status the same refusal gets
 * over HTTP (4400, 4403, 4429, 4500...), so clients can tell them apart.
 */
const closeCodeFor = (status: number) => 4000 + status;

/**
 * How long a client has to answer the server's close before its socket is
 * destroyed. ws waits 30 s by default; a client that never answers (or reads
 * nothing) would hold its connection, and what it queued, that long.
 */
const CLOSE_TIMEOUT_MS = 5_000;

/**
 * Serves GET /execute/ws on `server`. The upgrade is authenticated with the
 * same keys as HTTP; a refused upgrade gets a JSON `{ error }` answer with
 * its status, like any other route.
 */
export function attachWebSocket(server: Server, ctx: ServerContext): { close(): void } {
  const wss = new WebSocketServer(serverOptions(ctx.config.maxBodyBytes));
  const requestIds = new WeakMap<IncomingMessage, string>();
  // The 101 answer echoes the request's id like every HTTP answer does.
  wss.on("headers", (headers, request) => {
    const id = requestIds.get(request);
    if (id) headers.push(`X-Request-Id: ${id}`);
  });
  server.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const started = performance.now();
    const path = new URL(request.url ?? "/", "http://localhost").pathname;
    const given = request.headers["x-request-id"];
    const requestId = chooseRequestId(typeof given === "string" ? given : undefined);
    requestIds.set(request, requestId);
    const logged = (status: number) => {
      ctx.metrics.request("GET", path === WS_PATH ? WS_PATH : "unmatched", status);
      const durationMs = Number((performance.now() - started).toFixed(1));
      ctx.logger.info(
        { requestId, method: "GET", path, status, durationMs },
        `GET ${path} ${status} ${durationMs}ms`,
      );
    };
    const refuse = (error: HttpError) => {
      logged(error.status);
      refuseUpgrade(socket, error, requestId);
    };
    if (ctx.state.draining) return refuse(new HttpError(503, "the server is shutting down"));
    const auth = ctx.authenticator.authenticate(request.headers.authorization);
    if (!auth.ok) return refuse(new HttpError(auth.status, auth.error));
    if (path !== WS_PATH) return refuse(new HttpError(404, `no route GET ${path}`));
    wss.handleUpgrade(request, socket, head, (ws) => {
      logged(101);
      serveSocket(ws, auth.principal, ctx, requestId);
    });
  });
  return {
    close() {
      for (const client of wss.clients) client.terminate();
      wss.close();
    },
  };
}

/** ws 8.23 takes `closeTimeout`; its type package does not list it yet. */
function serverOptions(maxPayload: number): ServerOptions & { closeTimeout: number } {
  return { noServer: true, maxPayload, closeTimeout: CLOSE_TIMEOUT_MS };
}

function refuseUpgrade(socket: Duplex, error: HttpError, requestId: string): void {
  const body = JSON.stringify(errorBody(error));
  const headers = [
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? ""}`,
    "Content-Type: application/json",
    `Content-Length: ${Buffer.byteLength(body)}`,
    "Connection: close",
    `X-Request-Id: ${requestId}`,
    ...Object.entries(error.headers).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.end(`${headers.join("\r\n")}\r\n\r\n${body}`);
}

/** One connection: one execution, then close 1000; a refusal closes with 4000 + status. */
function serveSocket(
  ws: WebSocket,
  principal: Principal,
  ctx: ServerContext,
  requestId: string,
): void {
  const abort = new AbortController();
  let run: ServerRun | undefined;
  let started = false;
  const early: SandboxSignal[] = [];
  const reading = readHolds(ws);
  /** Standard input on its way to the program (sent before the run started too), flow-controlled. */
  const stdin = new StdinFeed(
    { pause: () => reading.hold("stdin"), resume: () => reading.release("stdin") },
    STDIN_HIGH_WATER_BYTES,
    (error) => reply({ type: "error", data: toHttpError(error).message }),
  );
  /** Whether this run's stdin stays open for stdin messages (no request.stdin given). */
  let interactive = false;
  ws.on("close", () => {
    stdin.close();
    abort.abort(new ClientGoneError());
  });
  ws.on("error", () => abort.abort(new Error("the connection failed")));

  const send = (event: WireStreamEvent) =>
    new Promise<void>((resolve) => {
      if (ws.readyState !== ws.OPEN) return resolve();
      ws.send(JSON.stringify(event), () => resolve());
    });
  /**
   * Answers one of the client's messages. Until the answer has been written
   * to the socket the connection is not read: a client that sends messages
   * faster than it reads their answers is held back, instead of the server
   * queueing answers for it without bound.
   */
  let unwritten = 0;
  const reply = (event: StreamEvent) => {
    if (ws.readyState !== ws.OPEN) return;
    if (unwritten++ === 0) reading.hold("replies");
    void send(event).then(() => {
      if (--unwritten === 0) reading.release("replies");
    });
  };
  const fail = async (error: unknown) => {
    const http = toHttpError(await ctx.docker.explain(error));
    if (http.status === 500) ctx.logger.error({ requestId, err: error }, WS_PATH);
    await send(errorEvent(http));
    // A close reason is at most 123 bytes; the full message went in the error event.
    ws.close(closeCodeFor(http.status), Buffer.from(http.message).subarray(0, 120).toString());
  };

  const execute = async (message: unknown) => {
    if ((message as { type?: unknown } | null)?.type !== "execute")
      throw new HttpError(
        400,
        'type: the first message must be { "type": "execute", "request": ... }',
      );
    const body = parse(wsExecuteSchema, message);
    const { type: _type, ...rest } = body;
    // Input given up front ends there; otherwise stdin messages feed the program.
    interactive = rest.request.stdin === undefined;
    run = await ctx.executions.start(principal, rest, abort.signal, interactive);
    for (const signal of early.splice(0)) run.kill(signal);
    stdin.attach(run);
    try {
      for await (const event of run.events) await send(event);
    } finally {
      stdin.close();
    }
    ws.close(1000);
  };

  ws.on("message", (data: RawData, isBinary: boolean) => {
    let message: unknown;
    try {
      if (isBinary) throw new HttpError(400, "message: send JSON text, not binary");
      message = parseBoundedJson(data.toString(), "message");
      if (!started) {
        started = true;
        execute(message).catch((error: unknown) => {
          if (!abort.signal.aborted) return fail(error);
        });
        return;
      }
      const control = parse(wsControlSchema, message);
      if (control.type === "signal") {
        if (run) run.kill(control.signal);
        else early.push(control.signal);
      } else if (!interactive) {
        reply({
          type: "error",
          data: "stdin: this run's input was given in request.stdin and has ended",
        });
      } else {
        if (control.data) stdin.push(control.data);
        if (control.eof) stdin.push(null);
      }
    } catch (error) {
      if (!started) void fail(error);
      else reply({ type: "error", data: toHttpError(error).message });
    }
  });
}

/**
 * Reading of a connection, stopped while any reason holds it (its program's
 * standard input waiting, answers the client has not taken) and resumed
 * once none does.
 */
function readHolds(connection: { pause(): void; resume(): void }) {
  const reasons = new Set<string>();
  return {
    hold(reason: string): void {
      if (reasons.size === 0) connection.pause();
      reasons.add(reason);
    },
    release(reason: string): void {
      if (reasons.delete(reason) && reasons.size === 0) connection.resume();
    },
  };
}
