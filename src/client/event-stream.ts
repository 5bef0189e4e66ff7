import type { StreamEvent } from "../types.js";
import { RemoteError } from "./remote-error.js";

/**
 * Turns a server's events into what a local engine's stream gives: a run
 * that the server refused or that failed ends in a thrown RemoteError (the
 * way DockerIsol8.executeStream throws), not in a trailing `error` event.
 * So an `error` event is held back until another event follows it.
 */
export async function* settleEvents(
  events: AsyncIterable<StreamEvent>,
  failureStatus: () => number,
): AsyncGenerator<StreamEvent> {
  let held: StreamEvent | undefined;
  for await (const event of events) {
    if (held) yield held;
    held = undefined;
    if (event.type === "error") {
      held = event;
      continue;
    }
    yield event;
    if (event.type === "exit") return;
  }
  throw new RemoteError(
    failureStatus(),
    held?.data ?? "the server ended the stream without an exit event",
  );
}
