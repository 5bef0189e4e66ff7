/**
 * The frames of a long-lived sandbox's file operations (the supervisor's
 * side is sandbox/files.c; its header in supervisor.c documents each).
 * Every frame names its request by the engine's 32-bit id, in the
 * payload's first four bytes, big-endian. Pure encoding and decoding: no
 * I/O here.
 */
import { encodeFrame } from "../engine/protocol.js";

/** Frames the engine sends about files. */
export const TO_FILES = {
  request: "B",
  writeData: "M",
  credit: "V",
  stop: "b",
} as const;

/** Frames the supervisor sends about files. */
export const FROM_FILES = {
  answer: "f",
  data: "d",
  writeTaken: "w",
  event: "e",
} as const;

const FROM_LETTERS = new Set<string>(Object.values(FROM_FILES));

/** Whether a frame letter from the supervisor is one of the file frames. */
export function isFileFrame(type: string): boolean {
  return FROM_LETTERS.has(type);
}

/** Largest chunk of file bytes in one frame, either way (the supervisor's CHUNK). */
export const FILE_CHUNK = 64 * 1024;
/**
 * Bytes of one transfer in flight, at most: a write's 'M' bytes not yet
 * answered by 'w', and a read's or a listing's 'd' bytes not yet credited
 * by 'V' (FILE_WINDOW in sandbox/files.c).
 */
export const FILE_WINDOW = 256 * 1024;

/** The operations of a 'B' request, by the supervisor's letters. */
const OPERATIONS = {
  stat: "s",
  read: "r",
  write: "w",
  list: "l",
  makeDir: "m",
  rename: "n",
  remove: "x",
  watch: "v",
} as const;

type FileOperation = keyof typeof OPERATIONS;

/** What a request names: its paths (absolute, normalized), and the options some operations take. */
export interface FileRequest {
  operation: FileOperation;
  path: string;
  /** `rename`: where to. */
  to?: string;
  /** `list`: how many levels of folders to descend (1: the folder's own entries). */
  depth?: number;
  /** `watch`: the folders below too, those made later included. */
  recursive?: boolean;
}

function idBytes(id: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(id);
  return bytes;
}

function field(tag: string, value: string): Buffer {
  const bytes = Buffer.from(value);
  const header = Buffer.alloc(5);
  header.write(tag, 0, 1, "latin1");
  header.writeUInt32BE(bytes.length, 1);
  return Buffer.concat([header, bytes]);
}

export function encodeFileRequest(id: number, request: FileRequest): Buffer {
  const parts = [idBytes(id), Buffer.from(OPERATIONS[request.operation], "latin1")];
  parts.push(field("p", request.path));
  if (request.to !== undefined) parts.push(field("q", request.to));
  if (request.depth !== undefined) parts.push(field("d", String(request.depth)));
  if (request.recursive) parts.push(field("r", ""));
  return encodeFrame(TO_FILES.request, Buffer.concat(parts));
}

/** A chunk of a write (at most FILE_CHUNK bytes); an empty one ends the file. */
export function encodeWriteData(id: number, data: Uint8Array): Buffer {
  if (data.length > FILE_CHUNK)
    throw new RangeError(`a write chunk of ${data.length} bytes is larger than ${FILE_CHUNK}`);
  return encodeFrame(TO_FILES.writeData, Buffer.concat([idBytes(id), data]));
}

export function encodeFileCredit(id: number, bytes: number): Buffer {
  const payload = Buffer.alloc(8);
  payload.writeUInt32BE(id, 0);
  payload.writeUInt32BE(bytes, 4);
  return encodeFrame(TO_FILES.credit, payload);
}

export function encodeFileStop(id: number): Buffer {
  return encodeFrame(TO_FILES.stop, idBytes(id));
}

/** What is at a path, as the supervisor reports it. */
export interface FileRecord {
  /** The supervisor's type letter ('f', 'd', 'l', 'p', 's', 'c', 'b'). */
  type: string;
  /** Permission bits (and setuid, setgid, sticky). */
  mode: number;
  size: number;
  modifiedMs: number;
  /** Relative to the listed folder; empty outside a listing. */
  path: string;
  /** A symlink's target; undefined for anything else. */
  target?: string;
}

/** A watch event's kind, by the supervisor's letters. */
const EVENT_TYPES = {
  c: "create",
  w: "write",
  r: "remove",
  m: "rename",
  a: "chmod",
} as const;

type EventType = (typeof EVENT_TYPES)[keyof typeof EVENT_TYPES];

/** A file frame from the supervisor, decoded. */
export type FileEvent =
  | { kind: "ok"; id: number; body: Buffer }
  | { kind: "error"; id: number; code: string; message: string }
  | { kind: "data"; id: number; data: Buffer }
  | { kind: "writeTaken"; id: number; bytes: number }
  | { kind: "event"; id: number; type: EventType; name: string };

/** Thrown for a file frame that does not parse: the supervisor is not to be trusted further. */
export class FileFrameError extends Error {}

function need(payload: Buffer, bytes: number, what: string): void {
  if (payload.length < bytes)
    throw new FileFrameError(`${what} of ${payload.length} bytes is too short`);
}

/** Decodes one of the FROM_FILES frames. */
export function decodeFileFrame(type: string, payload: Buffer): FileEvent {
  need(payload, 4, `file frame '${type}'`);
  const id = payload.readUInt32BE(0);
  switch (type) {
    case FROM_FILES.answer: {
      need(payload, 5, "file answer");
      if (payload[4] === 0x6b) return { kind: "ok", id, body: payload.subarray(5) };
      if (payload[4] !== 0x65) throw new FileFrameError("file answer neither 'k' nor 'e'");
      const text = payload.subarray(5).toString();
      const space = text.indexOf(" ");
      return space < 0
        ? { kind: "error", id, code: text, message: text }
        : { kind: "error", id, code: text.slice(0, space), message: text.slice(space + 1) };
    }
    case FROM_FILES.data:
      return { kind: "data", id, data: payload.subarray(4) };
    case FROM_FILES.writeTaken:
      need(payload, 8, "write answer");
      return { kind: "writeTaken", id, bytes: payload.readUInt32BE(4) };
    case FROM_FILES.event: {
      need(payload, 5, "watch event");
      const letter = String.fromCharCode(payload[4] as number);
      const eventType = EVENT_TYPES[letter as keyof typeof EVENT_TYPES];
      if (!eventType) throw new FileFrameError(`unknown watch event ${JSON.stringify(letter)}`);
      return { kind: "event", id, type: eventType, name: payload.subarray(5).toString() };
    }
    default:
      throw new FileFrameError(`not a file frame: ${JSON.stringify(type)}`);
  }
}

/** Decodes the entries of an answer or of a listing's data (whole records only). */
export function decodeRecords(bytes: Buffer): FileRecord[] {
  const records: FileRecord[] = [];
  let offset = 0;
  const take = (n: number) => {
    if (bytes.length - offset < n) throw new FileFrameError("a file entry is cut short");
    const start = offset;
    offset += n;
    return start;
  };
  while (offset < bytes.length) {
    const head = take(25);
    const pathLength = bytes.readUInt32BE(head + 21);
    const path = bytes.toString("utf8", take(pathLength), offset);
    const targetLength = bytes.readUInt32BE(take(4));
    const targetStart = take(targetLength);
    const type = String.fromCharCode(bytes[head] as number);
    records.push({
      type,
      mode: bytes.readUInt32BE(head + 1),
      size: Number(bytes.readBigUInt64BE(head + 5)),
      modifiedMs: Number(bytes.readBigInt64BE(head + 13)),
      path,
      ...(type === "l" ? { target: bytes.toString("utf8", targetStart, offset) } : {}),
    });
  }
  return records;
}
