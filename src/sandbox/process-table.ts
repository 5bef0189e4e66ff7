/**
 * The processes of one sandbox: starts them over the supervisor channel,
 * routes the supervisor's process frames to them by id, and finds them by
 * pid. A process leaves the table when it ends; its handles keep its result.
 */
import type { SecretSet } from "../output/secret-masker.js";
import { ProcessStartError } from "./errors.js";
import { type FrameSink, type ProcessDescription, SandboxProcess } from "./process.js";
import { decodeProcessFrame, encodeStart, type ProcessSpec } from "./process-protocol.js";

/** Ended processes kept for `lookup` (reconnecting to read a result), at most. */
const RECENT_KEPT = 32;

interface Starting {
  process: SandboxProcess;
  resolve: (process: SandboxProcess) => void;
  reject: (error: Error) => void;
}

export class ProcessTable {
  private nextId = 1;
  private readonly byId = new Map<number, SandboxProcess>();
  private readonly byPid = new Map<number, SandboxProcess>();
  private readonly starting = new Map<number, Starting>();
  /** The last processes that ended, newest first. */
  private readonly recent: SandboxProcess[] = [];
  private endedReason: string | undefined;

  constructor(
    private readonly sink: FrameSink,
    private readonly historyBytes: number,
    private readonly secrets: SecretSet,
    /** For the message when a start is refused for want of processes. */
    private readonly pidsLimit: number,
  ) {}

  /** Starts a process; resolves once the sandbox says it runs, with its pid. */
  start(spec: ProcessSpec, description: ProcessDescription): Promise<SandboxProcess> {
    if (this.endedReason !== undefined)
      return Promise.reject(new ProcessStartError(`the sandbox has ended (${this.endedReason})`));
    const id = this.nextId++;
    const process = new SandboxProcess(id, description, this.sink, this.historyBytes, this.secrets);
    const started = new Promise<SandboxProcess>((resolve, reject) => {
      this.starting.set(id, { process, resolve, reject });
    });
    this.byId.set(id, process);
    this.sink.send(encodeStart(id, spec));
    return started;
  }

  /** The running process of this pid. */
  get(pid: number): SandboxProcess | undefined {
    return this.byPid.get(pid);
  }

  /** The running process of this pid, else one of the last that ended with it. */
  lookup(pid: number): SandboxProcess | undefined {
    return this.byPid.get(pid) ?? this.recent.find((process) => process.pid === pid);
  }

  /** The running processes, oldest first. */
  list(): SandboxProcess[] {
    return [...this.byPid.values()];
  }

  /** A process frame from the supervisor (a malformed one throws ProcessFrameError). */
  frame(type: string, payload: Buffer): void {
    const event = decodeProcessFrame(type, payload);
    const process = this.byId.get(event.id);
    if (!process) return; // a frame for a process that already ended
    switch (event.kind) {
      case "started": {
        process.pid = event.pid;
        this.byPid.set(event.pid, process);
        const waiting = this.starting.get(event.id);
        this.starting.delete(event.id);
        waiting?.resolve(process);
        break;
      }
      case "refused":
        this.forget(process);
        this.starting.get(event.id)?.reject(this.refusal(event.reason));
        this.starting.delete(event.id);
        process.ended();
        break;
      case "output":
        process.output(event.stream, event.data);
        break;
      case "stdinTaken":
        process.stdinTaken(event.bytes);
        break;
      case "exited":
        this.forget(process);
        process.ended(event.exit);
        this.recent.unshift(process);
        this.recent.splice(RECENT_KEPT);
        break;
    }
  }

  private refusal(reason: string): ProcessStartError {
    const limit = /resource temporarily unavailable/i.test(reason)
      ? ` - the sandbox's process limit (pidsLimit ${this.pidsLimit}) is reached`
      : "";
    return new ProcessStartError(`cannot start the process: ${reason}${limit}`);
  }

  private forget(process: SandboxProcess): void {
    this.byId.delete(process.id);
    if (this.byPid.get(process.pid) === process) this.byPid.delete(process.pid);
  }

  /** The sandbox ended: every process is reported killed, and no more start. */
  endAll(reason: string): void {
    this.endedReason ??= reason;
    for (const waiting of this.starting.values())
      waiting.reject(new ProcessStartError(`the sandbox has ended (${reason})`));
    this.starting.clear();
    const processes = [...this.byId.values()];
    this.byId.clear();
    this.byPid.clear();
    for (const process of processes) process.ended();
  }
}
