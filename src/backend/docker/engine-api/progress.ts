import { StringDecoder } from "node:string_decoder";

/** One JSON message of a Docker build, pull or import progress stream. */
export interface ProgressEvent {
  stream?: string;
  status?: string;
  progress?: string;
  id?: string;
  error?: string;
  errorDetail?: { message?: string };
  aux?: { ID?: string };
}

/**
 * The longest line accepted. Docker writes one message per chunk of a step's
 * output (tens of kilobytes even JSON-escaped); a longer line is not a
 * progress message, and waiting for its end would buffer without bound.
 */
export const MAX_PROGRESS_LINE_CHARS = 4 * 1024 * 1024;

/**
 * Reads a newline-delimited JSON progress stream to its end, calling `onEvent`
 * for each message. Lines that are not JSON are passed on as `stream` text.
 * A line longer than MAX_PROGRESS_LINE_CHARS ends the stream with an error.
 */
export function readProgressStream(
  stream: NodeJS.ReadableStream,
  onEvent: (event: ProgressEvent) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let buffered = "";
    // A character's bytes can be cut between two chunks.
    const decoder = new StringDecoder("utf8");
    const handle = (line: string): void => {
      const trimmed = line.trim();
      if (trimmed.length === 0) return;
      let event: ProgressEvent;
      try {
        event = JSON.parse(trimmed) as ProgressEvent;
      } catch {
        event = { stream: trimmed };
      }
      onEvent(event);
    };
    let tooLong = false;
    stream.on("data", (chunk: Buffer | string) => {
      if (tooLong) return;
      buffered += typeof chunk === "string" ? chunk : decoder.write(chunk);
      let newline = buffered.indexOf("\n");
      while (newline >= 0) {
        handle(buffered.slice(0, newline));
        buffered = buffered.slice(newline + 1);
        newline = buffered.indexOf("\n");
      }
      if (buffered.length > MAX_PROGRESS_LINE_CHARS) {
        buffered = "";
        tooLong = true;
        // Whatever else the engine sends is not read; the connection goes.
        (stream as { destroy?: () => void }).destroy?.();
        reject(
          new Error(
            `Docker's progress stream sent a line of more than ${MAX_PROGRESS_LINE_CHARS} characters`,
          ),
        );
      }
    });
    stream.on("end", () => {
      if (tooLong) return;
      handle(buffered + decoder.end());
      resolve();
    });
    stream.on("error", reject);
  });
}

/** The error message carried by a progress event, if it reports one. */
export function eventError(event: ProgressEvent): string | undefined {
  return event.errorDetail?.message ?? event.error;
}
