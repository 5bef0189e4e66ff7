import { Isol8Error } from "../errors.js";
/**
 * The framed protocol spoken with the in-container supervisor over the
 * container's attached stdio (see sandbox/supervisor.c for the other side).
 * Frame: 1 byte type, 4 byte big-endian length, payload.
 */

/** Frames the engine sends. */
export const TO_SUPERVISOR = {
  run: "R",
  prestart: "P",
  stdin: "I",
  stdinEnd: "E",
  signal: "K",
  signalAll: "A",
  wipe: "W",
  linger: "L",
  quit: "Q",
} as const;

/** Frames the supervisor sends. */
export const FROM_SUPERVISOR = {
  hello: "H",
  stdout: "1",
  stderr: "2",
  exit: "X",
  clean: "C",
  dirty: "D",
  error: "Z",
  taken: "T",
  signalled: "S",
} as const;

/**
 * Largest frame payload the supervisor accepts (its MAX_FRAME); a larger
 * one makes it fail and its container go. Requests are validated to stay
 * well below it (code, files and env limits in request.ts and options.ts).
 */
const MAX_FRAME_BYTES = 96 * 1024 * 1024;

/** A frame the supervisor would refuse; nothing was sent. */
export class FrameTooLargeError extends Isol8Error {
  override readonly name = "FrameTooLargeError";
  override readonly code = "FRAME_TOO_LARGE";
}

interface Frame {
  type: string;
  payload: Buffer;
}

export function encodeFrame(type: string, payload: Buffer | string = Buffer.alloc(0)): Buffer {
  const body = typeof payload === "string" ? Buffer.from(payload) : payload;
  if (body.length > MAX_FRAME_BYTES)
    throw new FrameTooLargeError(
      `the sandbox's request is ${body.length} bytes, larger than its limit of ${MAX_FRAME_BYTES} bytes`,
    );
  const header = Buffer.alloc(5);
  header.write(type, 0, 1, "latin1");
  header.writeUInt32BE(body.length, 1);
  return Buffer.concat([header, body]);
}

/** What the supervisor should run. Paths are absolute inside the container. */
export interface RunSpec {
  argv: string[];
  env: Record<string, string>;
  workdir: string;
  /** Written before the program starts, as the sandbox user; `append` adds to an existing file. */
  files: { path: string; content: Buffer | string; append?: boolean }[];
  timeoutMs: number;
  outputLimit: number;
  /**
   * The run may go to the interpreter prestarted from a `PrestartSpec` (when
   * one is alive and `argv[0]` is its interpreter); it then behaves as if
   * `argv` had been exec'd. Only for programs whose env changes nothing the
   * interpreter reads at start-up.
   */
  prestarted?: boolean;
}

/**
 * The bootstrap the supervisor keeps started while it is idle (frame 'P'):
 * an interpreter that waits for a run's argv, env and working directory on
 * its fd 3. `env` holds only the runtime's fixed variables, never a request's.
 */
export interface PrestartSpec {
  argv: string[];
  env: Record<string, string>;
  workdir: string;
}

function field(tag: string, value: Buffer | string): Buffer[] {
  const bytes = typeof value === "string" ? Buffer.from(value) : value;
  const header = Buffer.alloc(5);
  header.write(tag, 0, 1, "latin1");
  header.writeUInt32BE(bytes.length, 1);
  return [header, bytes];
}

function launchFields(spec: { argv: string[]; env: Record<string, string>; workdir: string }) {
  const parts: Buffer[] = [];
  for (const arg of spec.argv) parts.push(...field("a", arg));
  for (const [name, value] of Object.entries(spec.env))
    parts.push(...field("e", `${name}=${value}`));
  parts.push(...field("w", spec.workdir));
  return parts;
}

export function encodeRun(spec: RunSpec): Buffer {
  const parts = launchFields(spec);
  for (const file of spec.files) {
    parts.push(...field(file.append ? "g" : "f", file.path), ...field("d", file.content));
  }
  parts.push(...field("t", String(spec.timeoutMs)), ...field("o", String(spec.outputLimit)));
  if (spec.prestarted) parts.push(...field("p", ""));
  return encodeFrame(TO_SUPERVISOR.run, Buffer.concat(parts));
}

export function encodePrestart(spec: PrestartSpec): Buffer {
  return encodeFrame(TO_SUPERVISOR.prestart, Buffer.concat(launchFields(spec)));
}

/** The protocol version in the supervisor's hello ("isol8-supervisor 2"); 0 if it names none. */
export function supervisorVersion(hello: Buffer): number {
  const match = /(\d+)\s*$/.exec(hello.toString("latin1"));
  return match ? Number(match[1]) : 0;
}

/**
 * The supervisor protocol this engine speaks (version 5: a long-lived
 * sandbox's processes and terminals, frames 'N' to 'x' in
 * src/sandbox/process-protocol.ts). An image whose supervisor says an
 * older one in its hello was built by an older isol8: it is refused, with
 * advice to rebuild, rather than half-used.
 */
export const SUPERVISOR_PROTOCOL = 5;

/** Stdin bytes sent to a supervisor that its 'T' frames have not yet answered, at most. */
export const STDIN_WINDOW = 1024 * 1024;

/** How the supervisor says a run ended. */
export interface ExitReport {
  exitCode: number;
  signal: number;
  timedOut: boolean;
  oomKilled: boolean;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  cpuMicros: number;
  /** Peak memory of the whole container (cgroup) since it started; -1 when the kernel does not say. */
  containerPeakBytes: number;
  /** Peak resident memory of the largest process of this run. */
  maxRssBytes: number;
  wallMicros: number;
}

export function decodeExitReport(payload: Buffer): ExitReport {
  const values = new Map<string, number>();
  for (const line of payload.toString("latin1").split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) values.set(line.slice(0, eq), Number(line.slice(eq + 1)));
  }
  const num = (key: string) => values.get(key) ?? 0;
  return {
    exitCode: num("exit"),
    signal: num("signal"),
    timedOut: num("timeout") === 1,
    oomKilled: num("oom") === 1,
    stdoutTruncated: num("stdout_truncated") === 1,
    stderrTruncated: num("stderr_truncated") === 1,
    cpuMicros: num("cpu_us"),
    containerPeakBytes: values.get("peak_bytes") ?? -1,
    maxRssBytes: num("max_rss_kb") * 1024,
    wallMicros: num("wall_us"),
  };
}

/** Splits a byte stream into frames; feed it chunks in order. */
export class FrameDecoder {
  private buffered: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
    const frames: Frame[] = [];
    let offset = 0;
    while (this.buffered.length - offset >= 5) {
      const length = this.buffered.readUInt32BE(offset + 1);
      if (this.buffered.length - offset - 5 < length) break;
      frames.push({
        type: String.fromCharCode(this.buffered[offset] as number),
        payload: this.buffered.subarray(offset + 5, offset + 5 + length),
      });
      offset += 5 + length;
    }
    this.buffered = this.buffered.subarray(offset);
    return frames;
  }
}
