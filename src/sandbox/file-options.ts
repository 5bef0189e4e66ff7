/**
 * The checks of `sandbox.files`' options and data, shared by the local
 * sandbox and a server's (RemoteSandbox), so that a bad value is refused
 * with the same words either way. Pure: no I/O.
 */
import { InvalidOptionError } from "../engine/errors.js";
import { FILE_CHUNK } from "./file-protocol.js";
import type { ListOptions, ReadFormat, ReadOptions, WatchOptions, WriteData } from "./types.js";

const MAX_LIST_DEPTH = 64;

/** The format `files.read` hands back (`text` unless said). */
export function readFormat(options: ReadOptions): ReadFormat {
  if (typeof options !== "object" || options === null)
    throw new InvalidOptionError("options: must be an object");
  const format = options.format ?? "text";
  if (format !== "text" && format !== "bytes" && format !== "stream")
    throw new InvalidOptionError(
      `format: ${JSON.stringify(format)} is not one of "text", "bytes" or "stream"`,
    );
  return format;
}

/** How deep `files.list` goes (1 unless said). */
export function listDepth(options: ListOptions): number {
  if (typeof options !== "object" || options === null)
    throw new InvalidOptionError("options: must be an object");
  const depth = options.depth ?? 1;
  if (typeof depth !== "number" || !Number.isInteger(depth) || depth < 1 || depth > MAX_LIST_DEPTH)
    throw new InvalidOptionError(
      `depth: ${JSON.stringify(depth)} is not a whole number from 1 to ${MAX_LIST_DEPTH}`,
    );
  return depth;
}

/** The options of `files.watchDir`, checked. */
export function watchOptions(options: WatchOptions): {
  recursive: boolean;
  onExit?: (e: Error) => void;
} {
  if (typeof options !== "object" || options === null)
    throw new InvalidOptionError("options: must be an object");
  const { recursive = false, onExit } = options;
  if (typeof recursive !== "boolean") throw new InvalidOptionError("recursive: must be a boolean");
  if (onExit !== undefined && typeof onExit !== "function")
    throw new InvalidOptionError("onExit: must be a function");
  return onExit ? { recursive, onExit } : { recursive };
}

/** `data` as byte chunks of at most FILE_CHUNK, pulled one at a time. */
export async function* byteChunks(data: WriteData): AsyncGenerator<Uint8Array> {
  for await (const piece of pieces(data)) {
    for (let offset = 0; offset < piece.length; offset += FILE_CHUNK)
      yield piece.subarray(offset, offset + FILE_CHUNK);
  }
}

/**
 * `data` as one piece of bytes when it is one (a string, bytes or an
 * ArrayBuffer); undefined for a stream or async iterable, which is read as
 * it comes; InvalidOptionError for anything else.
 */
export function wholeBytes(data: WriteData): Uint8Array | undefined {
  const streamed =
    typeof data === "object" &&
    data !== null &&
    ("getReader" in data || Symbol.asyncIterator in data);
  return streamed ? undefined : asBytes(data);
}

function asBytes(value: unknown): Uint8Array {
  if (typeof value === "string") return Buffer.from(value);
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  throw new InvalidOptionError(
    "data: must be a string, a Uint8Array, an ArrayBuffer, or a stream or async iterable of them",
  );
}

async function* pieces(data: WriteData): AsyncGenerator<Uint8Array> {
  if (typeof data === "string" || data instanceof Uint8Array || data instanceof ArrayBuffer) {
    yield asBytes(data);
    return;
  }
  if (typeof data === "object" && data !== null && "getReader" in data) {
    const reader = data.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        yield asBytes(value);
      }
    } finally {
      reader.releaseLock();
    }
  }
  if (typeof data === "object" && data !== null && Symbol.asyncIterator in data) {
    for await (const value of data) yield asBytes(value);
    return;
  }
  asBytes(data);
}
