import type { IncomingMessage } from "node:http";
import WebSocket from "ws";
import { EventQueue } from "../engine/event-queue.js";
import type { StreamEvent } from "../types.js";
import type { WireStreamEvent } from "../wire/responses.js";
import type { ExecuteBody, RemoteSignal } from "../wire/schemas.js";
import { settleEvents } from "./event-stream.js";
import { errorFromBody } from "./library-errors.js";
import { RemoteError } from "./remote-error.js";

/** A run streamed over GET /execute/ws. */
interface WebSocketRun {
  events: AsyncGenerator<StreamEvent>;
  /** Sends SIGINT or SIGTERM to the program. */
  kill(signal: RemoteSignal): void;
}

/**
 * Upgrade answers that mean "no WebSocket here" (an old server, a proxy
 * that does not pass upgrades) rather than "refused": the caller falls back
 * to SSE, which nothing has run on yet.
 */
const NO_WEBSOCKET = new Set([400, 404, 405, 426, 501, 502]);

/**
 * Opens GET /execute/ws and sends the execute message. Resolves undefined
 * when the server offers no WebSocket (see NO_WEBSOCKET); throws when it
 * refuses the request (the library class its answer's code names, else a
 * RemoteError). Aborting `signal` closes the socket, which makes the server
 * kill the run, and ends the events; while opening, it rejects with the
 * signal's reason.
 */
export async function openWebSocketRun(
  httpUrl: string,
  headers: Record<string, string>,
  body: ExecuteBody,
  signal?: AbortSignal,
): Promise<WebSocketRun | undefined> {
  signal?.throwIfAborted();
  const url = httpUrl.replace(/^http/, "ws");
  const ws = new WebSocket(url, { headers });
  const onAbort = () => ws.terminate();
  signal?.addEventListener("abort", onAbort, { once: true });
  const opened = await new Promise<"open" | "fallback">((resolve, reject) => {
    ws.once("open", () => resolve("open"));
    ws.once("unexpected-response", (request, response: IncomingMessage) => {
      readBody(response).then((text) => {
        request.destroy();
        if (NO_WEBSOCKET.has(response.statusCode ?? 0)) return resolve("fallback");
        reject(
          errorFromBody(
            response.statusCode ?? 0,
            response.statusMessage ?? "",
            text,
            headerOf(response, "retry-after"),
          ),
        );
      }, reject);
    });
    ws.once("error", (error: NodeJS.ErrnoException) => {
      if (signal?.aborted) reject(signal.reason);
      else if (error.code === "ECONNREFUSED" || error.code === "ENOTFOUND") {
        reject(new RemoteError(0, `cannot reach ${new URL(httpUrl).origin}: ${error.code}`));
      } else resolve("fallback");
    });
  }).catch((error: unknown) => {
    signal?.removeEventListener("abort", onAbort);
    throw error;
  });
  if (opened === "fallback") {
    signal?.removeEventListener("abort", onAbort);
    ws.terminate();
    return undefined;
  }
  ws.on("error", () => undefined); // reported through the close code below

  const queue = new EventQueue<WireStreamEvent>({
    pause: () => ws.pause(),
    resume: () => ws.resume(),
  });
  let closeCode = 0;
  ws.on("message", (data) => {
    try {
      queue.push(JSON.parse(data.toString()) as WireStreamEvent);
    } catch {
      queue.push({ type: "error", data: "bad event from the server" });
    }
  });
  ws.on("close", (code) => {
    closeCode = code;
    queue.end();
  });
  ws.send(JSON.stringify({ type: "execute", ...body }));

  async function* received(): AsyncGenerator<WireStreamEvent> {
    for (let next = await queue.next(); !next.done; next = await queue.next()) yield next.value;
  }
  async function* events(): AsyncGenerator<StreamEvent> {
    try {
      yield* settleEvents(received(), () => (closeCode >= 4000 ? closeCode - 4000 : 0));
    } finally {
      signal?.removeEventListener("abort", onAbort);
      // Closing before the end makes the server kill the run.
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING)
        ws.close(1000);
    }
  }
  return {
    events: events(),
    kill(signal) {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "signal", signal }));
    },
  };
}

function readBody(response: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    response.on("data", (c: Buffer) => chunks.push(c));
    response.on("end", () => resolve(Buffer.concat(chunks).toString()));
    response.on("error", () => resolve(Buffer.concat(chunks).toString()));
  });
}

function headerOf(response: IncomingMessage, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
