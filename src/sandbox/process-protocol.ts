/**
 * The frames of a long-lived sandbox's processes (supervisor protocol 5;
 * the supervisor's side is sandbox/processes.c). Each names its process by
 * the engine's 32-bit id, in the payload's first four bytes, big-endian.
 * Pure encoding and decoding: no I/O here.
 */
import { encodeFrame } from "../engine/protocol.js";

/** Frames the engine sends about processes. */
export const TO_PROCESSES = {
  start: "N",
  stdin: "J",
  stdinEnd: "F",
  signal: "G",
  resize: "Y",
  credit: "U",
} as const;

/** Frames the supervisor sends about processes. */
export const FROM_PROCESSES = {
  started: "n",
  output: "O",
  stdinTaken: "j",
  exited: "x",
} as const;

const FROM_LETTERS = new Set<string>(Object.values(FROM_PROCESSES));

/** Whether a frame letter from the supervisor is one of the process frames. */
export function isProcessFrame(type: string): boolean {
  return FROM_LETTERS.has(type);
}

// The supervisor sends at most 256 KiB of a process's output before the
// engine's credits ('U') answer it (OUTPUT_WINDOW in sandbox/processes.c);
// the engine credits each chunk as soon as it has logged it.
/** Stdin bytes of one process the engine sends before the supervisor answers them, at most. */
export const STDIN_WINDOW = 256 * 1024;
/** Largest stdin frame: small, so one process's input never holds the channel long. */
export const STDIN_CHUNK = 64 * 1024;

/** What to start: argv, environment, working directory, and optionally a deadline and a terminal. */
export interface ProcessSpec {
  argv: readonly string[];
  env: Readonly<Record<string, string>>;
  cwd: string;
  /** 0: none. */
  timeoutMs: number;
  /** Run on a new pseudo-terminal of this size. */
  terminal?: TerminalSize;
}

/** A terminal's size in character cells. */
export interface TerminalSize {
  cols: number;
  rows: number;
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

export function encodeStart(id: number, spec: ProcessSpec): Buffer {
  const parts = [idBytes(id)];
  for (const arg of spec.argv) parts.push(field("a", arg));
  for (const [name, value] of Object.entries(spec.env)) parts.push(field("e", `${name}=${value}`));
  parts.push(field("w", spec.cwd), field("t", String(spec.timeoutMs)));
  if (spec.terminal) parts.push(field("y", `${spec.terminal.cols} ${spec.terminal.rows}`));
  return encodeFrame(TO_PROCESSES.start, Buffer.concat(parts));
}

export function encodeStdin(id: number, data: Buffer): Buffer {
  return encodeFrame(TO_PROCESSES.stdin, Buffer.concat([idBytes(id), data]));
}

export function encodeStdinEnd(id: number): Buffer {
  return encodeFrame(TO_PROCESSES.stdinEnd, idBytes(id));
}

export function encodeSignal(id: number, signal: number): Buffer {
  return encodeFrame(
    TO_PROCESSES.signal,
    Buffer.concat([idBytes(id), Buffer.from(String(signal))]),
  );
}

export function encodeResize(id: number, size: TerminalSize): Buffer {
  return encodeFrame(
    TO_PROCESSES.resize,
    Buffer.concat([idBytes(id), Buffer.from(`${size.cols} ${size.rows}`)]),
  );
}

export function encodeCredit(id: number, bytes: number): Buffer {
  const payload = Buffer.alloc(8);
  payload.writeUInt32BE(id, 0);
  payload.writeUInt32BE(bytes, 4);
  return encodeFrame(TO_PROCESSES.credit, payload);
}

/** How a process ended, as the supervisor reports it. */
export interface ProcessExit {
  exitCode: number;
  /** The signal that killed it; 0 if it exited. */
  signal: number;
  timedOut: boolean;
  cpuMicros: number;
  maxRssBytes: number;
  wallMicros: number;
}

/** A process frame from the supervisor, decoded. */
type ProcessEvent =
  | { kind: "started"; id: number; pid: number }
  | { kind: "refused"; id: number; reason: string }
  | { kind: "output"; id: number; stream: "stdout" | "stderr"; data: Buffer }
  | { kind: "stdinTaken"; id: number; bytes: number }
  | { kind: "exited"; id: number; exit: ProcessExit };

/** Thrown for a process frame that does not parse: the supervisor is not to be trusted further. */
export class ProcessFrameError extends Error {}

function need(payload: Buffer, bytes: number, type: string): void {
  if (payload.length < bytes)
    throw new ProcessFrameError(`process frame '${type}' of ${payload.length} bytes is too short`);
}

function exitReport(text: string): ProcessExit {
  const values = new Map<string, number>();
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) values.set(line.slice(0, eq), Number(line.slice(eq + 1)));
  }
  const num = (key: string) => {
    const value = values.get(key);
    return value !== undefined && Number.isFinite(value) ? value : 0;
  };
  return {
    exitCode: num("exit"),
    signal: num("signal"),
    timedOut: num("timeout") === 1,
    cpuMicros: num("cpu_us"),
    maxRssBytes: num("max_rss_kb") * 1024,
    wallMicros: num("wall_us"),
  };
}

/** Decodes one of the FROM_PROCESSES frames. */
export function decodeProcessFrame(type: string, payload: Buffer): ProcessEvent {
  need(payload, 4, type);
  const id = payload.readUInt32BE(0);
  switch (type) {
    case FROM_PROCESSES.started: {
      need(payload, 8, type);
      const pid = payload.readUInt32BE(4);
      if (pid > 0) return { kind: "started", id, pid };
      return { kind: "refused", id, reason: payload.subarray(8).toString() || "unknown reason" };
    }
    case FROM_PROCESSES.output: {
      need(payload, 5, type);
      const stream = payload[4] === 0x32 ? "stderr" : "stdout";
      return { kind: "output", id, stream, data: payload.subarray(5) };
    }
    case FROM_PROCESSES.stdinTaken:
      need(payload, 8, type);
      return { kind: "stdinTaken", id, bytes: payload.readUInt32BE(4) };
    case FROM_PROCESSES.exited:
      return { kind: "exited", id, exit: exitReport(payload.subarray(4).toString("latin1")) };
    default:
      throw new ProcessFrameError(`not a process frame: ${JSON.stringify(type)}`);
  }
}
