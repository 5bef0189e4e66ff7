import type { StreamEvent } from "../types.js";
import type { WireErrorEvent, WireStreamEvent } from "../wire/responses.js";
import { libraryError } from "./library-errors.js";
import { retryAfterMs } from "./remote-error.js";

/**
 * Turns a server's events into what a local engine's stream gives: a run
 * that the server refused or that failed ends in a thrown error (the way
 * DockerIsol8.executeStream throws): the library class the event's `code`
 * names, else a RemoteError. So an `error` event is held back until another
 * event follows it.
 */
export async function* settleEvents(
  events: AsyncIterable<WireStreamEvent>,
  failureStatus: () => number,
): AsyncGenerator<StreamEvent> {
  let held: WireErrorEvent | undefined;
  for await (const event of events) {
    if (held) yield { type: "error", data: held.data };
    held = undefined;
    if (event.type === "error") {
      held = event;
      continue;
    }
    yield event;
    if (event.type === "exit") return;
  }
  throw libraryError(
    failureStatus(),
    held?.data ?? "the server ended the stream without an exit event",
    held?.code,
    retryAfterMs(held?.retryAfter),
  );
}
