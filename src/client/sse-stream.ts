import { EventSourceParserStream } from "eventsource-parser/stream";
import type { StreamEvent } from "../types.js";
import { settleEvents } from "./event-stream.js";
import { RemoteError, remoteErrorFrom } from "./remote-error.js";

/**
 * POST /execute/stream and yields its events. Stopping the iteration closes
 * the connection, which makes the server kill the run.
 */
export async function* sseStream(
  url: string,
  headers: Record<string, string>,
  body: unknown,
): AsyncGenerator<StreamEvent> {
  const abort = new AbortController();
  try {
    let response: Response;
    try {
      response = await fetch(url, {
        method: "POST",
        headers: { ...headers, Accept: "text/event-stream" },
        body: JSON.stringify(body),
        signal: abort.signal,
      });
    } catch (error) {
      throw new RemoteError(0, `cannot reach ${new URL(url).origin}: ${reason(error)}`);
    }
    if (!response.ok) throw await remoteErrorFrom(response);
    if (!response.body) throw new RemoteError(0, "the server sent no event stream");
    const messages = response.body
      .pipeThrough(new TextDecoderStream())
      .pipeThrough(new EventSourceParserStream());
    async function* events(): AsyncGenerator<StreamEvent> {
      try {
        for await (const message of messages) yield JSON.parse(message.data) as StreamEvent;
      } catch (error) {
        if (error instanceof SyntaxError)
          throw new RemoteError(0, `bad event from the server: ${error.message}`);
        throw new RemoteError(0, `the event stream broke off: ${reason(error)}`);
      }
    }
    yield* settleEvents(events(), () => 500);
  } finally {
    abort.abort();
  }
}

function reason(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message ?? String(error);
}
