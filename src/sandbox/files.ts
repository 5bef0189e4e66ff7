/**
 * `sandbox.files`: a long-lived sandbox's files, read, written, listed,
 * moved, removed and watched by its supervisor (sandbox/files.c) over the
 * sandbox's channel - no `docker exec`. Every operation acts as the
 * sandbox user, only beneath /sandbox and /tmp.
 */
import { InvalidOptionError } from "../engine/errors.js";
import type { Isol8Files, Isol8WatchHandle } from "./api.js";
import { type SandboxEndedError, SandboxFileRefusedError } from "./errors.js";
import type { FileChannel, FileRequestHandler } from "./file-channel.js";
import { entryInfo, fileError, listedEntries, meansAbsent } from "./file-entries.js";
import { byteChunks, listDepth, readFormat, watchOptions } from "./file-options.js";
import { filePath, isPlace } from "./file-paths.js";
import {
  decodeRecords,
  encodeFileCredit,
  encodeWriteData,
  FILE_WINDOW,
  type FileEvent,
  type FileRecord,
  type FileRequest,
} from "./file-protocol.js";
import type {
  EntryInfo,
  FilesystemEvent,
  ListOptions,
  ReadOptions,
  WatchOptions,
  WriteData,
} from "./types.js";

/** What `Files` needs of its sandbox. */
export interface FilesHost {
  readonly fileChannel: FileChannel;
  /** Throws SandboxEndedError once the sandbox has ended. */
  assertRunning(): void;
}

type Answer = Extract<FileEvent, { kind: "ok" | "error" }>;

function recordOf(path: string, body: Buffer): FileRecord {
  const [record] = decodeRecords(body);
  if (!record) throw fileError(path, "EIO", "the sandbox answered without an entry");
  return record;
}

/** A way to stop watching a folder, from `files.watchDir`. */
export class WatchHandle implements Isol8WatchHandle {
  /** @internal made by `files.watchDir` */
  constructor(private readonly stopWatching: () => void) {}

  /** Stops the watch; no event is delivered after this returns. */
  async stop(): Promise<void> {
    this.stopWatching();
  }
}

/**
 * A long-lived sandbox's files (`sandbox.files`). Paths are absolute
 * inside /sandbox or /tmp, or relative to /sandbox; anything else, and a
 * path a symlink or `..` leads out of them, is refused with
 * SandboxFileRefusedError, as are FIFOs, sockets and devices to read or
 * write. A missing path is SandboxFileNotFoundError. Symlinks are
 * followed while they stay inside (a relative one whose target lies in the
 * same place); an absolute symlink is refused, even to a place inside.
 */
export class Files implements Isol8Files {
  /** @internal made by `Sandbox` */
  constructor(private readonly host: FilesHost) {}

  /** A file's content: text (UTF-8, the default), bytes, or a stream read as fast as its consumer reads. */
  read(path: string, options?: ReadOptions<"text">): Promise<string>;
  read(path: string, options: ReadOptions<"bytes">): Promise<Uint8Array>;
  read(path: string, options: ReadOptions<"stream">): Promise<ReadableStream<Uint8Array>>;
  async read(
    path: string,
    options: ReadOptions = {},
  ): Promise<string | Uint8Array | ReadableStream<Uint8Array>> {
    const format = readFormat(options);
    const stream = await this.openRead(filePath("path", path));
    if (format === "stream") return stream;
    const chunks: Uint8Array[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    const bytes = Buffer.concat(chunks);
    return format === "text" ? bytes.toString("utf8") : new Uint8Array(bytes);
  }

  /**
   * Writes a file, creating the folders it is in and replacing what it
   * held; resolves with its entry once all is written. A stream is read
   * only as fast as the sandbox writes (at most 256 KiB in flight). If the
   * stream fails, the write stops and the file keeps what was written so
   * far.
   */
  async write(path: string, data: WriteData): Promise<EntryInfo> {
    const target = filePath("path", path);
    const chunks = byteChunks(data);
    this.host.assertRunning();
    return new FileWrite(this.host.fileChannel, target).run(chunks);
  }

  /** The entries of a folder, `depth` levels of folders down (default 1: its own entries). */
  async list(path: string, options: ListOptions = {}): Promise<EntryInfo[]> {
    const folder = filePath("path", path);
    const depth = listDepth(options);
    const records: FileRecord[] = [];
    await this.call({ operation: "list", path: folder, depth }, (id) => ({
      data: (data) => {
        records.push(...decodeRecords(data));
        this.host.fileChannel.send(id(), encodeFileCredit(id(), data.length));
      },
    }));
    return listedEntries(folder, records);
  }

  /** What is at a path; a symlink is reported as itself (with its target). */
  async getInfo(path: string): Promise<EntryInfo> {
    const target = filePath("path", path);
    const body = await this.call({ operation: "stat", path: target });
    return entryInfo(target, recordOf(target, body));
  }

  /** Whether anything (a dangling symlink too) is at a path. */
  async exists(path: string): Promise<boolean> {
    try {
      await this.getInfo(path);
      return true;
    } catch (error) {
      if (meansAbsent(error)) return false;
      throw error;
    }
  }

  /** Makes a folder and the folders above it; false if it was there already. */
  async makeDir(path: string): Promise<boolean> {
    const body = await this.call({ operation: "makeDir", path: filePath("path", path) });
    return body.toString("latin1") === "1";
  }

  /**
   * Moves a file or folder within its place (/sandbox or /tmp), replacing
   * a file at the new path (as `mv` does); resolves with its new entry. A
   * symlink is moved itself.
   */
  async rename(oldPath: string, newPath: string): Promise<EntryInfo> {
    const from = this.movable("oldPath", oldPath);
    const to = this.movable("newPath", newPath);
    const body = await this.call({ operation: "rename", path: from, to });
    return entryInfo(to, recordOf(to, body));
  }

  /** Removes a file, a symlink (never what it points to), or a folder with everything in it. */
  async remove(path: string): Promise<void> {
    await this.call({ operation: "remove", path: this.movable("path", path) });
  }

  /**
   * Calls `onEvent` with each change in a folder, in the order they
   * happened, from when this resolves until `stop()`. With `recursive`,
   * changes in every folder below it too, those made later included (what
   * a new folder already holds when its watch begins is reported as
   * created, so a file made at the same moment may be reported twice).
   */
  async watchDir(
    path: string,
    onEvent: (event: FilesystemEvent) => void,
    options: WatchOptions = {},
  ): Promise<WatchHandle> {
    const folder = filePath("path", path);
    if (typeof onEvent !== "function") throw new InvalidOptionError("onEvent: must be a function");
    const { recursive, onExit } = watchOptions(options);
    this.host.assertRunning();
    const channel = this.host.fileChannel;
    let started = false;
    let id = 0;
    return new Promise<WatchHandle>((resolve, reject) => {
      const exit = (error: Error) => {
        if (started) onExit?.(error);
        else reject(error);
      };
      id = channel.request(
        { operation: "watch", path: folder, recursive },
        {
          answer: (answer) => {
            if (answer.kind === "error")
              return exit(fileError(folder, answer.code, answer.message));
            started = true;
            resolve(new WatchHandle(() => channel.stop(id)));
          },
          event: ({ type, name }) => {
            try {
              onEvent({ type, name });
            } catch (error) {
              channel.stop(id);
              onExit?.(error instanceof Error ? error : new Error(String(error)));
            }
          },
          ended: exit,
        },
      );
    });
  }

  private movable(field: string, path: string): string {
    const checked = filePath(field, path);
    if (isPlace(checked))
      throw new SandboxFileRefusedError(
        checked,
        "is a place of the sandbox itself: it cannot be moved or removed",
      );
    return checked;
  }

  /**
   * Sends a request and resolves with its answer's body; `extra` adds what
   * the request hears besides (given a way to its id, for the frames it sends).
   */
  private call(
    request: FileRequest,
    extra: (id: () => number) => Partial<FileRequestHandler> = () => ({}),
  ): Promise<Buffer> {
    this.host.assertRunning();
    return new Promise((resolve, reject) => {
      let id = 0;
      id = this.host.fileChannel.request(request, {
        answer: (answer: Answer) =>
          answer.kind === "ok"
            ? resolve(answer.body)
            : reject(fileError(request.path, answer.code, answer.message)),
        ended: reject,
        ...extra(() => id),
      });
    });
  }

  /** Opens a read: resolves once the file is open (its first bytes or its end have come). */
  private openRead(path: string): Promise<ReadableStream<Uint8Array>> {
    this.host.assertRunning();
    return new FileRead(this.host.fileChannel, path).opened;
  }
}

/**
 * One write: its chunks go out while fewer than FILE_WINDOW of its bytes
 * are unanswered by the supervisor, then its end; resolves with the
 * written file's entry.
 */
class FileWrite {
  private unanswered = 0;
  private wake: (() => void) | undefined;
  private failure: Error | undefined;
  private readonly done: Promise<EntryInfo>;
  private settle!: { resolve: (entry: EntryInfo) => void; reject: (error: Error) => void };
  private readonly id: number;

  constructor(
    private readonly channel: FileChannel,
    path: string,
  ) {
    this.done = new Promise((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    this.done.catch(() => undefined); // awaited in run(); a failure before then is not unhandled
    this.id = channel.request(
      { operation: "write", path },
      {
        answer: (answer) => {
          if (answer.kind === "ok")
            this.settle.resolve(entryInfo(path, recordOf(path, answer.body)));
          else this.fail(fileError(path, answer.code, answer.message));
        },
        writeTaken: (bytes) => {
          this.unanswered -= bytes;
          this.wakeUp();
        },
        ended: (error: SandboxEndedError) => this.fail(error),
      },
    );
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.settle.reject(error);
    this.wakeUp();
  }

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  async run(chunks: AsyncIterable<Uint8Array>): Promise<EntryInfo> {
    try {
      for await (const chunk of chunks) {
        if (chunk.length === 0) continue; // an empty chunk would end the file
        while (!this.failure && this.unanswered + chunk.length > FILE_WINDOW)
          await new Promise<void>((resolve) => {
            this.wake = resolve;
          });
        if (this.failure) break;
        this.unanswered += chunk.length;
        this.channel.send(this.id, encodeWriteData(this.id, chunk));
      }
    } catch (error) {
      this.channel.stop(this.id);
      throw error;
    }
    if (!this.failure) this.channel.send(this.id, encodeWriteData(this.id, new Uint8Array()));
    return this.done;
  }
}

/**
 * One read, as a web ReadableStream: the supervisor sends while fewer than
 * FILE_WINDOW of its bytes are uncredited, and a chunk is credited when
 * the stream's consumer takes it, so a slow consumer holds the sandbox
 * back instead of filling the engine's memory. Cancelling the stream stops
 * the read.
 */
class FileRead {
  readonly opened: Promise<ReadableStream<Uint8Array>>;
  private readonly queue: Buffer[] = [];
  private finished = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  private readonly id: number;

  constructor(
    private readonly channel: FileChannel,
    path: string,
  ) {
    let open!: { resolve: () => void; reject: (error: Error) => void };
    const ready = new Promise<void>((resolve, reject) => {
      open = { resolve, reject };
    });
    let isOpen = false;
    const opened = () => {
      isOpen = true;
      open.resolve();
    };
    this.id = channel.request(
      { operation: "read", path },
      {
        answer: (answer) => {
          if (answer.kind === "ok") {
            this.finished = true;
            opened();
          } else {
            const error = fileError(path, answer.code, answer.message);
            if (!isOpen) open.reject(error);
            this.failure = error;
          }
          this.wakeUp();
        },
        data: (data) => {
          this.queue.push(Buffer.from(data)); // a copy: the channel's buffer is not kept alive by it
          opened();
          this.wakeUp();
        },
        ended: (error) => {
          if (!isOpen) open.reject(error);
          this.failure = error;
          this.wakeUp();
        },
      },
    );
    const stream = new ReadableStream<Uint8Array>(
      {
        pull: (controller) => this.pull(controller),
        cancel: () => this.channel.stop(this.id),
      },
      { highWaterMark: 0 },
    );
    this.opened = ready.then(() => stream);
  }

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private async pull(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    while (this.queue.length === 0 && !this.finished && !this.failure)
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    const chunk = this.queue.shift();
    if (chunk) {
      controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
      this.channel.send(this.id, encodeFileCredit(this.id, chunk.length));
    } else if (this.failure) {
      controller.error(this.failure);
    } else {
      controller.close();
    }
  }
}
