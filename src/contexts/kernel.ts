import type { DebugLog } from "../engine/debug-log.js";
import type { RunSpec } from "../engine/protocol.js";
import { type SandboxContainer, SandboxFailure } from "../engine/sandbox-container.js";
import { type Deferred, deferred } from "./deferred.js";
import type { KernelEnd } from "./outcome.js";
import { channelLimits, type KernelRecord, KernelRecordReader } from "./records.js";

/** How long a killed kernel's run may take to end before its container is removed. */
const KILL_GRACE_MS = 5_000;
/**
 * Between cells a context's processes are stopped (SIGSTOP to every process
 * of the sandbox user, SIGCONT just before the next cell is sent), so work a
 * cell left behind - a thread, a child process, one in a session of its own
 * - uses no CPU while no cell, and so no execution slot, is running. A file
 * operation's `docker exec` running as a cell ends is stopped with them and
 * ends by its own deadline.
 */
const SIGSTOP = 19;
const SIGCONT = 18;

/** One run of the kernel script in a context's container. */
export class Kernel {
  readonly ready: Deferred<void> = deferred<void>();
  /** Set by its "ready" record; a kernel that ends before is a failed start, not a lost state. */
  started = false;
  /** Resolves when the run has ended, with its exit report or the failure that ended it. */
  readonly ended: Promise<KernelEnd>;
  alive = true;
  /** Why the engine killed it, if it did. */
  killReason: string | undefined;
  /** The context ends it on purpose (reset, close): no restart, no notice. */
  expected = false;
  private readonly records: KernelRecordReader;
  private diagnostics = "";
  private frozen = false;

  constructor(
    readonly container: SandboxContainer,
    spec: RunSpec,
    maxOutputBytes: number,
    private readonly onRecord: (kernel: Kernel, record: KernelRecord) => void,
    private readonly onBroken: (kernel: Kernel, reason: string) => void,
    private readonly log: DebugLog,
  ) {
    this.records = new KernelRecordReader(channelLimits(maxOutputBytes));
    const run = container.run(
      spec,
      {
        stdout: (chunk) => this.onStdout(chunk),
        stderr: (chunk) => {
          this.diagnostics = (this.diagnostics + chunk.toString()).slice(-2048);
          this.log(`context kernel stderr: ${chunk.toString().trim()}`);
        },
      },
      undefined,
      true,
    );
    this.ended = run.then(
      (report) => ({ report }),
      (error: Error) => ({ error }),
    );
    void this.ended.then(() => {
      this.alive = false;
      this.ready.reject(new SandboxFailure(this.startFailure()));
    });
    this.ready.promise.catch(() => undefined);
  }

  /** What the kernel said on its own stderr, for an error message. */
  startFailure(): string {
    const said = this.diagnostics.trim();
    return said
      ? `the context's interpreter did not start: ${said}`
      : "the context's interpreter did not start";
  }

  /** Sends a cell, waking the kernel's processes first. */
  send(cell: number, code: string): void {
    this.records.startCell();
    if (this.frozen) {
      void this.container.signalAll(SIGCONT); // before the cell's line, in the channel's order
      this.frozen = false;
    }
    this.container.writeStdin(Buffer.from(`${JSON.stringify({ cell, code })}\n`));
  }

  /**
   * Stops every process of the sandbox user until the next cell; resolves
   * once they are stopped, so nothing the context runs next (a file
   * operation's `docker exec`) can be stopped with them.
   */
  async freeze(): Promise<void> {
    if (!this.alive || this.frozen) return;
    this.frozen = true;
    await this.container.signalAll(SIGSTOP);
  }

  /** Kills the kernel's process group; removes the container if even that does not end the run. */
  kill(reason: string | undefined): void {
    if (!this.alive) return;
    this.killReason ??= reason;
    this.container.signal(9);
    const backstop = setTimeout(() => {
      if (this.alive) void this.container.remove().catch(() => undefined);
    }, KILL_GRACE_MS);
    void this.ended.then(() => clearTimeout(backstop));
  }

  private onStdout(chunk: Buffer): void {
    const { records, violation } = this.records.feed(chunk);
    for (const record of records) this.onRecord(this, record);
    if (violation) this.onBroken(this, violation);
  }
}
