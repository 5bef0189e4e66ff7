/**
 * A server's sandbox files (`RemoteSandbox.files`), over
 * /sandboxes/:id/files...: a file's bytes travel raw both ways, each as a
 * stream read only as fast as the other end takes it, and a watch is an
 * event stream. Checks of the options are the library's own
 * (src/sandbox/file-options.ts); the paths are checked by the server's
 * sandbox, whose refusal comes back as the same error class.
 */
import { EventSourceParserStream } from "eventsource-parser/stream";
import { InvalidOptionError } from "../engine/errors.js";
import type { Isol8Files, Isol8WatchHandle } from "../sandbox/api.js";
import { meansAbsent } from "../sandbox/file-entries.js";
import {
  byteChunks,
  listDepth,
  readFormat,
  watchOptions,
  wholeBytes,
} from "../sandbox/file-options.js";
import type {
  EntryInfo,
  FilesystemEvent,
  ListOptions,
  ReadOptions,
  WatchOptions,
  WriteData,
} from "../sandbox/types.js";
import type { WireEntryInfo, WireFileWatchEvent } from "../wire/sandbox-files.js";
import { errorFromAnswer, libraryError } from "./library-errors.js";
import { RemoteError } from "./remote-error.js";
import type { SandboxTransport } from "./remote-sandbox.js";

function entryInfo(wire: WireEntryInfo): EntryInfo {
  return { ...wire, modifiedTime: new Date(wire.modifiedTime) };
}

/** A web stream of `chunks`; `failure()` is what reading them threw, if anything did. */
function uploadStream(chunks: AsyncGenerator<Uint8Array>) {
  let failure: unknown;
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const next = await chunks.next();
          if (next.done) controller.close();
          else controller.enqueue(next.value);
        } catch (error) {
          failure = error;
          controller.error(error);
        }
      },
      async cancel() {
        await chunks.return(undefined);
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, failure: () => failure };
}

export class RemoteFiles implements Isol8Files {
  constructor(
    private readonly transport: SandboxTransport,
    private readonly base: string,
  ) {}

  private url(route: string, query: Record<string, string>): string {
    return `${this.base}/files${route}?${new URLSearchParams(query)}`;
  }

  /** One raw request: its answer when it is a success, else the error it stands for. */
  private async send(path: string, init: RequestInit): Promise<Response> {
    let response: Response;
    try {
      response = await fetch(this.transport.url(path), {
        ...init,
        headers: { ...this.transport.headers, ...(init.headers as Record<string, string>) },
      });
    } catch (error) {
      if (init.signal?.aborted) throw error;
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new RemoteError(
        0,
        `cannot reach the server: ${cause?.code ?? cause?.message ?? (error as Error).message}`,
      );
    }
    if (!response.ok) throw await errorFromAnswer(response);
    return response;
  }

  read(path: string, options?: ReadOptions<"text">): Promise<string>;
  read(path: string, options: ReadOptions<"bytes">): Promise<Uint8Array>;
  read(path: string, options: ReadOptions<"stream">): Promise<ReadableStream<Uint8Array>>;
  async read(
    path: string,
    options: ReadOptions = {},
  ): Promise<string | Uint8Array | ReadableStream<Uint8Array>> {
    const format = readFormat(options);
    const response = await this.send(this.url("", { path }), {
      headers: { Accept: "application/octet-stream" },
    });
    if (format === "stream") return response.body ?? new Blob([]).stream();
    const bytes = Buffer.from(await response.arrayBuffer());
    return format === "text" ? bytes.toString("utf8") : new Uint8Array(bytes);
  }

  async write(path: string, data: WriteData): Promise<EntryInfo> {
    const whole = wholeBytes(data);
    const upload = whole ? undefined : uploadStream(byteChunks(data));
    let response: Response;
    try {
      response = await this.send(this.url("", { path }), {
        method: "PUT",
        headers: { "Content-Type": "application/octet-stream" },
        body: whole ?? upload?.stream,
        // A streamed body: Node's fetch sends it as it is read, without waiting for the answer.
        ...(upload ? { duplex: "half" } : {}),
      } as RequestInit);
    } catch (error) {
      // What the data's own stream threw, not how the request broke off because of it.
      throw upload?.failure() ?? error;
    }
    return entryInfo((await response.json()) as WireEntryInfo);
  }

  async list(path: string, options: ListOptions = {}): Promise<EntryInfo[]> {
    const depth = listDepth(options);
    const { entries } = await this.transport.request<{ entries: WireEntryInfo[] }>(
      "GET",
      this.url("/list", { path, depth: String(depth) }),
    );
    return entries.map(entryInfo);
  }

  async getInfo(path: string): Promise<EntryInfo> {
    return entryInfo(
      await this.transport.request<WireEntryInfo>("GET", this.url("/info", { path })),
    );
  }

  async exists(path: string): Promise<boolean> {
    try {
      await this.getInfo(path);
      return true;
    } catch (error) {
      if (meansAbsent(error)) return false;
      throw error;
    }
  }

  async makeDir(path: string): Promise<boolean> {
    const { created } = await this.transport.request<{ created: boolean }>(
      "POST",
      `${this.base}/files/dir`,
      { path },
    );
    return created;
  }

  async rename(oldPath: string, newPath: string): Promise<EntryInfo> {
    return entryInfo(
      await this.transport.request<WireEntryInfo>("POST", `${this.base}/files/rename`, {
        from: oldPath,
        to: newPath,
      }),
    );
  }

  async remove(path: string): Promise<void> {
    await this.transport.request("DELETE", this.url("", { path }));
  }

  /**
   * Resolves once the server's watch has begun (its answer has come), so
   * every change after that is reported; `stop()` closes the stream.
   */
  async watchDir(
    path: string,
    onEvent: (event: FilesystemEvent) => void,
    options: WatchOptions = {},
  ): Promise<Isol8WatchHandle> {
    if (typeof onEvent !== "function") throw new InvalidOptionError("onEvent: must be a function");
    const { recursive, onExit } = watchOptions(options);
    const abort = new AbortController();
    const response = await this.send(this.url("/watch", { path, recursive: String(recursive) }), {
      headers: { Accept: "text/event-stream" },
      signal: abort.signal,
    });
    let stopped = false;
    const stop = () => {
      stopped = true;
      abort.abort();
    };
    const exit = (error: Error) => {
      if (stopped) return;
      stop();
      onExit?.(error);
    };
    if (!response.body) throw new RemoteError(0, "the server sent no event stream");
    void watchEnd(response.body, (event) => {
      if (!stopped) onEvent(event);
    }).then(exit);
    return { stop: async () => stop() };
  }
}

/** Hands each change of a watch's stream to `deliver`; resolves with why the watch ended. */
async function watchEnd(
  body: ReadableStream<Uint8Array>,
  deliver: (event: FilesystemEvent) => void,
): Promise<Error> {
  const reader = body
    .pipeThrough(new TextDecoderStream())
    .pipeThrough(new EventSourceParserStream())
    .getReader();
  for (;;) {
    let next: Awaited<ReturnType<typeof reader.read>>;
    try {
      next = await reader.read();
    } catch (error) {
      return new RemoteError(0, `the watch's event stream broke off: ${(error as Error).message}`);
    }
    if (next.done) return new RemoteError(0, "the watch's event stream ended without saying why");
    let event: WireFileWatchEvent;
    try {
      event = JSON.parse(next.value.data) as WireFileWatchEvent;
    } catch {
      return new RemoteError(0, "the watch's event stream sent an event that is not JSON");
    }
    if (event.type === "error") return libraryError(409, event.data, event.code);
    try {
      deliver({ type: event.type, name: event.name });
    } catch (error) {
      return error instanceof Error ? error : new Error(String(error));
    }
  }
}
