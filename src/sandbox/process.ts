/**
 * The engine's side of one process in a long-lived sandbox: its output log
 * and listeners, its standard input kept within the supervisor's window,
 * and its end. The process table creates these and routes the
 * supervisor's frames to them; handles (`CommandHandle`) read them.
 */
import { StringDecoder } from "node:string_decoder";
import { SecretMasker, type SecretSet } from "../output/secret-masker.js";
import { type OutputChunk, OutputLog } from "./output-log.js";
import {
  encodeCredit,
  encodeResize,
  encodeSignal,
  encodeStdin,
  encodeStdinEnd,
  type ProcessExit,
  STDIN_CHUNK,
  STDIN_WINDOW,
  type TerminalSize,
} from "./process-protocol.js";

/** Where a process's frames go: the sandbox's supervisor channel. */
export interface FrameSink {
  send(frame: Buffer): void;
}

/** What a process is, as given when it was started. */
export interface ProcessDescription {
  cmd: string;
  args: string[];
  cwd: string;
  envs: Record<string, string>;
  pty: boolean;
}

/** Hears a process's output from the moment it subscribes. */
type OutputListener = (chunk: OutputChunk) => void;

/** How a process's sandbox ended under it: reported as a SIGKILL. */
const KILLED_WITH_SANDBOX: ProcessExit = {
  exitCode: 137,
  signal: 9,
  timedOut: false,
  cpuMicros: 0,
  maxRssBytes: 0,
  wallMicros: 0,
};

/** Masks secrets in one stream's bytes, which may split a secret or a character anywhere. */
class StreamMasker {
  private readonly decoder = new StringDecoder("utf8");
  private readonly masker: SecretMasker;

  constructor(secrets: SecretSet) {
    this.masker = new SecretMasker(secrets);
  }

  push(data: Buffer): Buffer {
    return Buffer.from(this.masker.push(this.decoder.write(data)));
  }

  end(): Buffer {
    return Buffer.from(this.masker.push(this.decoder.end()) + this.masker.end());
  }
}

export class SandboxProcess {
  readonly startedAt = new Date();
  /** The process id in the sandbox, once the supervisor has said it started. */
  pid = 0;
  private readonly log: OutputLog;
  private readonly listeners = new Set<OutputListener>();
  private readonly maskers: { stdout: StreamMasker; stderr: StreamMasker } | undefined;
  private exitReport: ProcessExit | undefined;
  private readonly exitWaiters: ((exit: ProcessExit) => void)[] = [];
  /** Stdin bytes sent and not yet answered by the supervisor. */
  private stdinUnanswered = 0;
  private readonly stdinWaiters: (() => void)[] = [];
  /** Writes and the end of stdin, in call order. */
  private stdinQueue: Promise<void> = Promise.resolve();
  private stdinEnded = false;

  constructor(
    /** The engine's frame id (never shown to callers: they use `pid`). */
    readonly id: number,
    readonly description: ProcessDescription,
    private readonly sink: FrameSink,
    historyBytes: number,
    secrets: SecretSet,
  ) {
    this.log = new OutputLog(historyBytes);
    this.maskers = secrets.empty
      ? undefined
      : { stdout: new StreamMasker(secrets), stderr: new StreamMasker(secrets) };
  }

  get running(): boolean {
    return this.exitReport === undefined;
  }

  /** How it ended; undefined while it runs. */
  get exit(): ProcessExit | undefined {
    return this.exitReport;
  }

  /** Resolves with how it ended. */
  wait(): Promise<ProcessExit> {
    if (this.exitReport) return Promise.resolve(this.exitReport);
    return new Promise((resolve) => this.exitWaiters.push(resolve));
  }

  /** Its kept output of one stream. */
  text(stream: "stdout" | "stderr"): string {
    return this.log.text(stream);
  }

  /**
   * Calls `listener` with each piece of output from now on; with `replay`,
   * first with what it printed so far (as far as the log keeps). Returns
   * the way to stop.
   */
  subscribe(listener: OutputListener, replay: boolean): () => void {
    if (replay) for (const chunk of this.log.history()) listener(chunk);
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Output from the supervisor: logged, told to listeners, and credited back. */
  output(stream: "stdout" | "stderr", raw: Buffer): void {
    this.sink.send(encodeCredit(this.id, raw.length));
    this.emit(stream, this.maskers ? this.maskers[stream].push(raw) : raw);
  }

  private emit(stream: "stdout" | "stderr", data: Buffer): void {
    if (data.length === 0) return;
    const chunk = { stream, data };
    this.log.append(chunk);
    for (const listener of this.listeners) listener(chunk);
  }

  stdinTaken(bytes: number): void {
    this.stdinUnanswered = Math.max(0, this.stdinUnanswered - bytes);
    for (const wake of this.stdinWaiters.splice(0)) wake();
  }

  /** The supervisor's report, or the sandbox's end (`undefined`: killed with it). */
  ended(exit: ProcessExit = KILLED_WITH_SANDBOX): void {
    if (this.exitReport) return;
    if (this.maskers) {
      this.emit("stdout", this.maskers.stdout.end());
      this.emit("stderr", this.maskers.stderr.end());
    }
    this.exitReport = exit;
    this.stdinTaken(Number.POSITIVE_INFINITY);
    for (const wake of this.exitWaiters.splice(0)) wake(exit);
    this.listeners.clear();
  }

  /**
   * Queues stdin; resolves once all of it is in the channel, which holds at
   * most STDIN_WINDOW of this process's bytes the supervisor has not
   * answered: the rest waits here, in the caller's buffer. Dropped once the
   * process has ended or its stdin was closed.
   */
  write(data: Buffer): Promise<void> {
    const sent = this.stdinQueue.then(() => this.feed(data));
    this.stdinQueue = sent.catch(() => undefined);
    return sent;
  }

  private async feed(data: Buffer): Promise<void> {
    for (let offset = 0; offset < data.length; offset += STDIN_CHUNK) {
      const chunk = data.subarray(offset, offset + STDIN_CHUNK);
      while (this.running && this.stdinUnanswered + chunk.length > STDIN_WINDOW)
        await new Promise<void>((resolve) => this.stdinWaiters.push(resolve));
      if (!this.running || this.stdinEnded) return;
      this.stdinUnanswered += chunk.length;
      this.sink.send(encodeStdin(this.id, chunk));
    }
  }

  /** Ends its stdin after what is queued (on a terminal: the EOF character). */
  endStdin(): Promise<void> {
    const ended = this.stdinQueue.then(() => {
      if (this.running && !this.stdinEnded) this.sink.send(encodeStdinEnd(this.id));
      this.stdinEnded = true;
    });
    this.stdinQueue = ended;
    return ended;
  }

  signal(number: number): void {
    if (this.running) this.sink.send(encodeSignal(this.id, number));
  }

  resize(size: TerminalSize): void {
    if (this.running) this.sink.send(encodeResize(this.id, size));
  }
}
