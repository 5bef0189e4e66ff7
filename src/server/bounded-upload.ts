/** A streamed upload bounded by a size limit (a sandbox file's, sandboxes.maxFileBytes). */
import { HttpError } from "./errors.js";

/**
 * 413 for an upload past `limit`. Not with `Connection: close`: closing at
 * once would reset a connection the client is still sending on, often
 * before it has read this answer. @hono/node-server instead reads and
 * discards what more comes for a moment (at most 64 MiB or 500 ms), then
 * closes the connection unless the body has ended.
 */
export function uploadTooLarge(limit: number): HttpError {
  return new HttpError(
    413,
    `body: larger than this server's limit for a file of ${limit} bytes (sandboxes.maxFileBytes)`,
  );
}

/** `body`, refused with 413 as soon as more than `limit` bytes of it have come. */
export async function* boundedUpload(body: AsyncIterable<Uint8Array>, limit: number) {
  let total = 0;
  for await (const chunk of body) {
    total += chunk.length;
    if (total > limit) throw uploadTooLarge(limit);
    yield chunk;
  }
}
