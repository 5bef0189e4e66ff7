import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import type { WireStreamEvent } from "../wire/responses.js";
import type { DockerStatus } from "./docker-status.js";
import { ClientGoneError, errorEvent, toHttpError } from "./errors.js";
import type { ServerRun } from "./execution.js";

/**
 * Streams a run as Server-Sent Events: one `data: <StreamEvent JSON>` per
 * event, and a comment line whenever nothing was sent for `heartbeatMs`, so
 * proxies keep a silent run's connection open. A failure after the stream
 * has begun becomes an `error` event. When the client goes away `abort`
 * fires, which kills the run and frees its container.
 */
export function sseResponse(
  c: Context,
  run: ServerRun,
  abort: AbortController,
  heartbeatMs: number,
  docker: DockerStatus,
): Response {
  return streamSSE(c, async (stream) => {
    stream.onAbort(() => abort.abort(new ClientGoneError()));
    let lastWrite = Date.now();
    const send = async (text: string) => {
      lastWrite = Date.now();
      await stream.write(text);
    };
    const heartbeat = setInterval(
      () => {
        if (Date.now() - lastWrite >= heartbeatMs) send(": heartbeat\n\n").catch(() => undefined);
      },
      Math.max(10, Math.floor(heartbeatMs / 2)),
    );
    try {
      for await (const event of run.events) await send(sseData(event));
    } catch (error) {
      if (!abort.signal.aborted) {
        const http = toHttpError(await docker.explain(error));
        await send(sseData(errorEvent(http))).catch(() => undefined);
      }
    } finally {
      clearInterval(heartbeat);
    }
  });
}

function sseData(event: WireStreamEvent): string {
  // JSON has no raw newlines, so one data line holds the whole event.
  return `data: ${JSON.stringify(event)}\n\n`;
}
