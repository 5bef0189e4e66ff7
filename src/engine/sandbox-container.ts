import type {
  BackendSandbox,
  ExecOptions,
  ExecResult,
  SandboxBackend,
  SandboxSpec,
  SandboxUsage,
  SupervisorChannel,
} from "../backend/backend.js";
import { UnsupportedByBackendError } from "../backend/backend.js";
import { Isol8Error } from "../errors.js";
import { FileFrameError, isFileFrame } from "../sandbox/file-protocol.js";
import { isProcessFrame, ProcessFrameError } from "../sandbox/process-protocol.js";
import type { DebugLog } from "./debug-log.js";
import {
  decodeExitReport,
  type ExitReport,
  encodeFrame,
  encodePrestart,
  encodeRun,
  FROM_SUPERVISOR,
  FrameDecoder,
  type PrestartSpec,
  type RunSpec,
  STDIN_WINDOW,
  SUPERVISOR_PROTOCOL,
  supervisorVersion,
  TO_SUPERVISOR,
} from "./protocol.js";

/** Where a run's output goes, chunk by chunk, in the order it was produced. */
export interface OutputSink {
  stdout(chunk: Buffer): void;
  stderr(chunk: Buffer): void;
}

/** The supervisor failed or the container died: the container must not be used again. */
export class SandboxFailure extends Isol8Error {
  override readonly name = "SandboxFailure";
  override readonly code = "SANDBOX_FAILURE";
}

/** Extra time past a run's own timeout before the engine stops waiting for the supervisor. */
const SUPERVISOR_GRACE_MS = 10_000;
const STDIN_CHUNK = 64 * 1024;

type Pending =
  | { kind: "run"; sink: OutputSink; resolve: (r: ExitReport) => void; reject: (e: Error) => void }
  | { kind: "wipe"; resolve: (clean: boolean) => void; reject: (e: Error) => void };

/**
 * A started sandbox container and the channel to its supervisor. One run at
 * a time (`exec` runs beside it); after a run it can be wiped and reused, or
 * removed.
 */
export class SandboxContainer {
  private pending: Pending | undefined;
  private closedReason: string | undefined;
  private readonly frames = new FrameDecoder();
  private runs = 0;
  /** From the supervisor's hello; undefined until it arrives. */
  private version: number | undefined;
  private prestartSpec: PrestartSpec | undefined;
  private prestartSent = false;
  private readonly goneCallbacks: (() => void)[] = [];
  /** Stdin sends and its end, in the order they were asked for. */
  private stdinQueue: Promise<void> = Promise.resolve();
  /** Stdin bytes of this run sent but not yet answered by the supervisor. */
  private stdinUnanswered = 0;
  private readonly stdinWaiters: (() => void)[] = [];
  /** Callers of signalAll waiting for the supervisor's 'S', in order. */
  private readonly signalledWaiters: (() => void)[] = [];
  /** Where a long-lived sandbox's process frames go (see `routeProcessFrames`). */
  private processFrames: ((type: string, payload: Buffer) => void) | undefined;

  private readonly channel: SupervisorChannel;

  private constructor(
    private readonly sandbox: BackendSandbox,
    private readonly log: DebugLog,
  ) {
    const channel = sandbox.channel;
    this.channel = channel;
    channel.onFrames((chunk) => this.onFrames(this.frames.push(chunk)));
    channel.onDiagnostic((chunk) => this.log(`supervisor stderr: ${chunk.toString().trim()}`));
    channel.onEnd((reason) => this.onClosed(reason));
    channel.onClose(() => {
      for (const callback of this.goneCallbacks.splice(0)) callback();
    });
  }

  /** Has `backend` create and start a sandbox from `spec`, and speaks to its supervisor. */
  static async create(
    backend: SandboxBackend,
    spec: SandboxSpec,
    log: DebugLog,
  ): Promise<SandboxContainer> {
    const sandbox = await log.time("start sandbox", () => backend.create(spec));
    return new SandboxContainer(sandbox, log);
  }

  /** Calls `callback` once the channel to the container has closed: the container is going. */
  onGone(callback: () => void): void {
    this.goneCallbacks.push(callback);
  }

  get id(): string {
    return this.sandbox.id;
  }

  get usable(): boolean {
    return this.closedReason === undefined && this.pending === undefined;
  }

  /** Executions this container has started; after the first, its cgroup's peak memory is not the run's. */
  get runCount(): number {
    return this.runs;
  }

  /**
   * Asks the supervisor to keep an interpreter started from `spec` while it
   * is idle, for runs that set `prestarted` (sent once the supervisor has
   * said it knows how; older supervisors are left alone).
   */
  prestart(spec: PrestartSpec): void {
    this.prestartSpec = spec;
    this.sendPrestart();
  }

  private sendPrestart(): void {
    if (
      this.prestartSpec === undefined ||
      this.prestartSent ||
      this.closedReason !== undefined ||
      this.version === undefined
    )
      return;
    this.prestartSent = true;
    this.channel.write(encodePrestart(this.prestartSpec));
  }

  /**
   * Runs one program; output goes to `sink` as it arrives. Its standard
   * input is `stdin`, then end-of-file - unless `keepStdinOpen`, when more
   * may follow through `writeStdin` until `endStdin`.
   */
  run(spec: RunSpec, sink: OutputSink, stdin?: Buffer, keepStdinOpen = false): Promise<ExitReport> {
    this.assertIdle();
    // Only a supervisor that was sent 'P' hears of prestarted interpreters.
    if (spec.prestarted && !this.prestartSent) spec = { ...spec, prestarted: false };
    // Encoded first: a request the supervisor would refuse is refused here, and the container stays usable.
    const frame = encodeRun(spec);
    this.runs++;
    const result = new Promise<ExitReport>((resolve, reject) => {
      const backstop = setTimeout(() => {
        this.fail(new SandboxFailure("the sandbox stopped answering; its container was removed"));
      }, spec.timeoutMs + SUPERVISOR_GRACE_MS);
      this.pending = {
        kind: "run",
        sink,
        resolve: (report) => {
          clearTimeout(backstop);
          resolve(report);
        },
        reject: (error) => {
          clearTimeout(backstop);
          reject(error);
        },
      };
    });
    this.channel.write(frame);
    if (stdin) void this.sendStdin(stdin);
    if (!keepStdinOpen) this.endStdin();
    return result;
  }

  /**
   * Feeds more standard input to the running program (a run started with
   * `keepStdinOpen`). Resolves once all but the last STDIN_WINDOW bytes of
   * it have been taken by the program, so a caller that waits for each
   * write before the next keeps at most one write's bytes buffered here,
   * whatever the program does. Also resolves when the run ends or the
   * container goes.
   */
  writeStdin(data: Buffer): Promise<void> {
    return this.sendStdin(data);
  }

  /**
   * Queues stdin after what is queued already (a run's first input may
   * still be waiting for room when more arrives), and resolves once it is
   * in the channel.
   */
  private sendStdin(data: Buffer): Promise<void> {
    const run = this.pending;
    const sent = this.stdinQueue.then(() => this.feedStdin(data, run));
    this.stdinQueue = sent.catch(() => undefined);
    return sent;
  }

  /**
   * Sends stdin in frames, keeping at most STDIN_WINDOW bytes unanswered by
   * the supervisor's 'T' frames: what the program has not taken waits here,
   * not in the channel, so the supervisor can always read the channel to its
   * end (and see the engine go, even while its program reads nothing).
   * Input for a run that has ended is dropped, never sent to the next.
   */
  private async feedStdin(data: Buffer, run: Pending | undefined): Promise<void> {
    const current = () => run?.kind === "run" && this.pending === run;
    for (let offset = 0; offset < data.length; offset += STDIN_CHUNK) {
      const chunk = data.subarray(offset, offset + STDIN_CHUNK);
      while (current() && this.stdinUnanswered + chunk.length > STDIN_WINDOW)
        await new Promise<void>((resolve) => this.stdinWaiters.push(resolve));
      if (!current()) return;
      this.stdinUnanswered += chunk.length;
      this.channel.write(encodeFrame(TO_SUPERVISOR.stdin, chunk));
    }
  }

  /** The supervisor answered `bytes` of stdin. */
  private stdinTaken(bytes: number): void {
    this.stdinUnanswered = Math.max(0, this.stdinUnanswered - bytes);
    for (const wake of this.stdinWaiters.splice(0)) wake();
  }

  /** The run is over: nothing of it is unanswered, and no one waits for its supervisor any more. */
  private releaseRunWaiters(): void {
    this.stdinTaken(Number.POSITIVE_INFINITY);
    for (const wake of this.signalledWaiters.splice(0)) wake();
  }

  /** Ends the running program's standard input, after whatever stdin is queued. */
  endStdin(): void {
    const pending = this.pending;
    this.stdinQueue = this.stdinQueue.then(() => {
      if (pending?.kind === "run" && this.pending === pending)
        this.channel.write(encodeFrame(TO_SUPERVISOR.stdinEnd));
    });
  }

  /** Sends a signal to the running program's process group. */
  signal(signal: number): void {
    if (this.pending?.kind === "run")
      this.channel.write(encodeFrame(TO_SUPERVISOR.signal, String(signal)));
  }

  /**
   * Sends a signal to every process of the sandbox user, in whatever group
   * or session it put itself, while a run is going on. Resolves once the
   * supervisor says it has sent it (or the run or container is gone), so a
   * process started after that, such as a file operation's `docker exec`,
   * is not hit by it.
   */
  signalAll(signal: number): Promise<void> {
    if (this.pending?.kind !== "run") return Promise.resolve();
    this.channel.write(encodeFrame(TO_SUPERVISOR.signalAll, String(signal)));
    return new Promise((resolve) => this.signalledWaiters.push(resolve));
  }

  /**
   * Runs `argv` beside the supervisor's run (see `BackendSandbox.exec`):
   * for a code context's files, whose supervisor is busy with the kernel
   * for the context's whole life. The process runs as the same user as the
   * context's code, which can signal it: the engine's own deadline ends the
   * wait whatever happens inside.
   */
  exec(argv: string[], options: ExecOptions): Promise<ExecResult> {
    return this.sandbox.exec(argv, options);
  }

  /** Its CPU, memory and network figures now, from a backend with the `liveMetrics` capability. */
  usage(): Promise<SandboxUsage> {
    if (!this.sandbox.usage)
      return Promise.reject(
        new UnsupportedByBackendError("getMetrics needs a backend with the liveMetrics capability"),
      );
    return this.sandbox.usage();
  }

  /** Kills every sandbox process and empties /sandbox and /tmp; false if that could not be verified. */
  wipe(): Promise<boolean> {
    this.assertIdle();
    const result = new Promise<boolean>((resolve, reject) => {
      this.pending = { kind: "wipe", resolve, reject };
    });
    this.channel.write(encodeFrame(TO_SUPERVISOR.wipe));
    return result;
  }

  /**
   * Makes this a long-lived sandbox's container: the supervisor's process
   * and file frames (src/sandbox/process-protocol.ts, file-protocol.ts) go
   * to `handler`. A frame that does not parse fails the container, as any
   * broken frame does.
   */
  routeProcessFrames(handler: (type: string, payload: Buffer) => void): void {
    this.processFrames = handler;
  }

  /** Sends a frame as it is (a long-lived sandbox's process frames); dropped once the container is unusable. */
  send(frame: Buffer): void {
    if (this.closedReason === undefined) this.channel.write(frame);
  }

  /** Stops reading output (backpressure from a slow consumer). */
  pause(): void {
    this.channel.pause();
  }

  resume(): void {
    this.channel.resume();
  }

  /**
   * Lets the container go: it stops as soon as the supervisor hears of it,
   * and Docker removes it (it was created with AutoRemove) - unless `keep`,
   * which leaves it running for `docker exec` debugging.
   */
  release(keep = false): void {
    if (this.closedReason === undefined) {
      this.channel.write(encodeFrame(keep ? TO_SUPERVISOR.linger : TO_SUPERVISOR.quit));
    }
    this.closedReason ??= "released";
    this.channel.end();
  }

  /**
   * Removes the sandbox and waits until it is gone: the supervisor is told
   * to quit, and the backend removes by force a sandbox that does not go.
   */
  remove(): Promise<void> {
    return this.sandbox.remove(() => this.release());
  }

  private assertIdle(): void {
    if (this.closedReason !== undefined)
      throw new SandboxFailure(`sandbox unusable: ${this.closedReason}`);
    if (this.pending) throw new Error("a sandbox container runs one thing at a time");
  }

  private onFrames(frames: { type: string; payload: Buffer }[]): void {
    for (const { type, payload } of frames) {
      const pending = this.pending;
      switch (type) {
        case FROM_SUPERVISOR.hello:
          this.log(`supervisor ready: ${payload.toString()}`);
          this.version = supervisorVersion(payload);
          if (this.version < SUPERVISOR_PROTOCOL) {
            this.fail(
              new SandboxFailure(
                `the sandbox image's supervisor speaks protocol ${this.version}, this engine ${SUPERVISOR_PROTOCOL}: the image was built by an older isol8; run \`isol8 setup\` to rebuild it`,
              ),
            );
            return;
          }
          this.sendPrestart();
          break;
        case FROM_SUPERVISOR.signalled:
          this.signalledWaiters.shift()?.();
          break;
        case FROM_SUPERVISOR.taken:
          this.stdinTaken(Number(payload.toString("latin1")));
          break;
        case FROM_SUPERVISOR.stdout:
          if (pending?.kind === "run") pending.sink.stdout(payload);
          break;
        case FROM_SUPERVISOR.stderr:
          if (pending?.kind === "run") pending.sink.stderr(payload);
          break;
        case FROM_SUPERVISOR.exit:
          if (pending?.kind === "run") {
            this.pending = undefined;
            this.releaseRunWaiters();
            pending.resolve(decodeExitReport(payload));
          }
          break;
        case FROM_SUPERVISOR.clean:
        case FROM_SUPERVISOR.dirty:
          if (pending?.kind === "wipe") {
            this.pending = undefined;
            pending.resolve(type === FROM_SUPERVISOR.clean);
          }
          break;
        case FROM_SUPERVISOR.error:
          this.fail(new SandboxFailure(`sandbox supervisor failed: ${payload.toString()}`));
          break;
        default:
          if (this.processFrames && (isProcessFrame(type) || isFileFrame(type))) {
            try {
              this.processFrames(type, payload);
            } catch (error) {
              if (!(error instanceof ProcessFrameError || error instanceof FileFrameError))
                throw error;
              this.fail(
                new SandboxFailure(`broken frame from the sandbox supervisor: ${error.message}`),
              );
              return;
            }
            break;
          }
          this.fail(
            new SandboxFailure(
              `unexpected frame from the sandbox supervisor: ${JSON.stringify(type)}`,
            ),
          );
      }
    }
  }

  private fail(error: Error): void {
    this.closedReason ??= error.message;
    const pending = this.pending;
    this.pending = undefined;
    this.releaseRunWaiters();
    pending?.reject(error);
    this.sandbox.destroy();
  }

  private onClosed(reason: string): void {
    if (this.closedReason !== undefined && !this.pending) return;
    this.fail(new SandboxFailure(`${reason} before the run finished`));
  }
}
