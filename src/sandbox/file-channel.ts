/**
 * A sandbox's file requests in flight over its supervisor channel: gives
 * each an id, routes the supervisor's file frames to it, and fails them
 * all when the sandbox ends. What a request does with its frames is the
 * caller's (see files.ts).
 */
import { SandboxEndedError } from "./errors.js";
import {
  decodeFileFrame,
  encodeFileRequest,
  encodeFileStop,
  type FileEvent,
  type FileRequest,
} from "./file-protocol.js";
import type { FrameSink } from "./process.js";

/** What one request hears of its frames. */
export interface FileRequestHandler {
  /** Its answer: the last frame, except for a watch's first `ok`. */
  answer(event: Extract<FileEvent, { kind: "ok" | "error" }>): void;
  data?(data: Buffer): void;
  writeTaken?(bytes: number): void;
  event?(event: Extract<FileEvent, { kind: "event" }>): void;
  /** The sandbox ended under it. */
  ended(error: SandboxEndedError): void;
}

export class FileChannel {
  private nextId = 1;
  private readonly open = new Map<number, FileRequestHandler>();
  /** Requests whose first `ok` does not end them (watches). */
  private readonly lasting = new Set<number>();
  private endedReason: string | undefined;

  constructor(private readonly sink: FrameSink) {}

  /** Sends a request; its frames go to `handler` until its answer. Returns its id. */
  request(request: FileRequest, handler: FileRequestHandler): number {
    const id = this.nextId++;
    if (this.endedReason !== undefined) {
      handler.ended(this.endedError());
      return id;
    }
    this.open.set(id, handler);
    if (request.operation === "watch") this.lasting.add(id);
    this.sink.send(encodeFileRequest(id, request));
    return id;
  }

  /** Sends a frame of a request (its data, credit); dropped once it has ended. */
  send(id: number, frame: Buffer): void {
    if (this.open.has(id)) this.sink.send(frame);
  }

  /** Ends a request from this side: the supervisor stops it, and nothing more of it is heard. */
  stop(id: number): void {
    if (!this.open.delete(id)) return;
    this.lasting.delete(id);
    this.sink.send(encodeFileStop(id));
  }

  /** A file frame from the supervisor (a malformed one throws FileFrameError). */
  frame(type: string, payload: Buffer): void {
    const event = decodeFileFrame(type, payload);
    const handler = this.open.get(event.id);
    if (!handler) return; // a request stopped here, whose frames were already on their way
    switch (event.kind) {
      case "ok":
      case "error":
        if (event.kind === "error" || !this.lasting.delete(event.id)) {
          this.open.delete(event.id);
          this.lasting.delete(event.id);
        }
        handler.answer(event);
        break;
      case "data":
        handler.data?.(event.data);
        break;
      case "writeTaken":
        handler.writeTaken?.(event.bytes);
        break;
      case "event":
        handler.event?.(event);
        break;
    }
  }

  /** The sandbox ended: every request in flight fails, and no more are sent. */
  endAll(reason: string): void {
    this.endedReason ??= reason;
    const handlers = [...this.open.values()];
    this.open.clear();
    this.lasting.clear();
    for (const handler of handlers) handler.ended(this.endedError());
  }

  private endedError(): SandboxEndedError {
    return new SandboxEndedError(`the sandbox has ended (${this.endedReason})`);
  }
}
