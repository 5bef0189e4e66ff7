import { createParser } from "eventsource-parser";
import type { StreamEvent } from "../../src/types.js";

/** What a raw SSE response held: its events in order and its comment lines. */
export interface SseCapture {
  events: StreamEvent[];
  comments: string[];
}

/**
 * Reads an SSE response with eventsource-parser. `until` may stop reading
 * early: returning true cancels the response body, which is how a test plays
 * a client that goes away, unless `keepOpen` is set (then the request stays
 * open, unread, until the test aborts it: a client still waiting).
 */
export async function readSse(
  response: Response,
  until?: (event: StreamEvent, capture: SseCapture) => boolean,
  { keepOpen = false }: { keepOpen?: boolean } = {},
): Promise<SseCapture> {
  const capture: SseCapture = { events: [], comments: [] };
  let stop = false;
  const parser = createParser({
    onEvent: (message) => {
      const event = JSON.parse(message.data) as StreamEvent;
      capture.events.push(event);
      if (until?.(event, capture)) stop = true;
    },
    onComment: (comment) => capture.comments.push(comment),
  });
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  while (!stop) {
    const { done, value } = await reader.read();
    if (done) break;
    parser.feed(decoder.decode(value, { stream: true }));
  }
  if (stop && !keepOpen) await reader.cancel();
  else if (stop) reader.releaseLock();
  return capture;
}
