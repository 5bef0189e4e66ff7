import { EventSourceParserStream } from "eventsource-parser/stream";
import type { StreamEvent } from "../types.js";
import type { WireStreamEvent } from "../wire/responses.js";
import { settleEvents } from "./event-stream.js";
import { errorFromAnswer } from "./library-errors.js";
import { RemoteError } from "./remote-error.js";

/**
 * POST /execute/stream and yields its events. Stopping the iteration, or
 * aborting `signal`, closes the connection, which makes the server kill the
 * run (what an aborted stream then throws is the caller's to decide).
 */
export async function* sseStream(
  url: string,
  headers: Record<string, string>,
  body: unknown,
  signal?: AbortSignal,
): AsyncGenerator<StreamEvent> {
  const abort = new AbortController();
  const onAbort = () => abort.abort(signal?.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  if (signal?.aborted) onAbort();
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
    if (!response.ok) throw await errorFromAnswer(response);
    if (!response.body) throw new RemoteError(0, "the server sent no event stream");
    const messages = response.body
      .pipeThrough(new TextDecoderStream())
      .pipeThrough(new EventSourceParserStream());
    async function* events(): AsyncGenerator<WireStreamEvent> {
      try {
        for await (const message of messages) yield JSON.parse(message.data) as WireStreamEvent;
      } catch (error) {
        if (error instanceof SyntaxError)
          throw new RemoteError(0, `bad event from the server: ${error.message}`);
        throw new RemoteError(0, `the event stream broke off: ${reason(error)}`);
      }
    }
    yield* settleEvents(events(), () => 500);
  } finally {
    signal?.removeEventListener("abort", onAbort);
    abort.abort();
  }
}

function reason(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message ?? String(error);
}
