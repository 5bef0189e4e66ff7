import { randomUUID } from "node:crypto";
import type { EgressChannel } from "../network/gateway.js";
import { isOneOf, orList } from "../one-of.js";
import { redactError, redactNetworkLog } from "../output/redact.js";
import type { SecretSet } from "../output/secret-masker.js";
import { TextStream } from "../output/text-stream.js";
import { BOOTSTRAP_DIR } from "../runtimes/adapter.js";
import { CONTEXT_RUNTIMES, type ContextRuntime, type Runtime } from "../runtimes/runtime.js";
import type {
  ContextInfo,
  ExecutionRequest,
  ExecutionResult,
  ExecutionSummary,
  RichOutput,
  StreamEvent,
} from "../types.js";
import { ResultCollector } from "./collect-result.js";
import type { DebugLog } from "./debug-log.js";
import type { StreamControl, StreamRun } from "./docker-isol8.js";
import { EventQueue } from "./event-queue.js";
import { type KernelRecord, KernelRecordReader } from "./kernel-records.js";
import type { ResolvedOptions } from "./options.js";
import type { ExitReport, RunSpec } from "./protocol.js";
import { InvalidRequestError, validateRequest } from "./request.js";
import { type SandboxContainer, SandboxFailure } from "./sandbox-container.js";
import { readContextFile, writeContextFile } from "./session-files.js";
import { type SandboxSignal, signalNumber } from "./signals.js";

/**
 * Code contexts: notebook-like interpreters that keep their state between
 * calls. Each context is its own sandbox container (the engine's spec and
 * limits) whose supervisor runs one long run: a kernel script
 * (sandbox/bootstrap/context.py, context.cjs) that reads cells as JSON lines
 * on its stdin and answers with JSON-line records on its stdout (see the
 * header of context.py for the protocol). Per-cell timeouts, output limits
 * and restarts are enforced here, not by the supervisor, whose run never ends
 * while the context lives.
 */

/** The runtimes that have a kernel, and its argv. */
const KERNELS: Record<ContextRuntime, string[]> = {
  python: ["python3", `${BOOTSTRAP_DIR}/context.py`],
  // Node has no dup(): bash puts the run's stdin, stdout and stderr on fds 3-5
  // for the kernel. --expose-internals: it uses Node's REPL transform for
  // top-level await.
  node: ["bash", "-c", `exec node --expose-internals ${BOOTSTRAP_DIR}/context.cjs 3<&0 4>&1 5>&2`],
};

/** The kernel run's own timeout: as long as Node's timers allow (about 23 days). */
const KERNEL_TIMEOUT_MS = 2_000_000_000;
/** How long an interrupted cell has to stop before its context is restarted. */
export const INTERRUPT_GRACE_MS = 2_000;
/** How long a kernel may take to say it is ready. */
const KERNEL_START_MS = 30_000;
/** How long a killed kernel's run may take to end before its container is removed. */
const KILL_GRACE_MS = 5_000;
/** Contexts one engine may hold at once (each is a container). */
export const MAX_CONTEXTS = 16;
/** Longest protocol line accepted from a kernel; its lines are at most 4096 bytes. */
const MAX_LINE = 64 * 1024;
/**
 * Protocol bytes a kernel may send for one cell, whatever its output limit:
 * a cell that prints its limit's worth in one-byte writes, as separate
 * records, stays well inside it; a thread that floods the channel does not.
 */
const MIN_PROTOCOL_BYTES_PER_CELL = 64 * 1024 * 1024;
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

/** Request fields a context call cannot honour: a cell is code for a live interpreter. */
const UNSUPPORTED: (keyof ExecutionRequest)[] = [
  "cmd",
  "fileExtension",
  "stdin",
  "env",
  "files",
  "filesBase64",
  "workdir",
  "outputPaths",
  "setupScript",
  "installPackages",
];

/** What a context needs from its engine. */
export interface ContextHost {
  options: ResolvedOptions;
  /** The engine's secrets, masked in every cell's output, value, text outputs and errors. */
  secrets: SecretSet;
  log: DebugLog;
  /** The image a runtime runs in. */
  image(runtime: Runtime): string;
  /** A started container for a context, kept until the context closes. */
  container(image: string): Promise<SandboxContainer>;
  /** The run request of a program of `runtime` (environment, working directory, prestart). */
  runSpec(runtime: Runtime): RunSpec;
  /** Readies a context's container before each kernel starts in it (files the environment points at). */
  prepare(container: SandboxContainer, runtime: Runtime): Promise<void>;
  /** Runs `work` in one of the engine's execution slots. */
  slot<T>(work: () => Promise<T>): Promise<T>;
  /** The container's channel through the egress gateway (filtered network), if it has one. */
  egress(container: SandboxContainer): EgressChannel | undefined;
}

type Output = { type: "stdout" | "stderr"; data: string };

const RICH_TYPES: readonly RichOutput["type"][] = ["image/png", "image/svg+xml", "text/html"];

/** A rich output on its way in: `size` bytes of `type`, sent in parts. */
interface PendingOutput {
  type: RichOutput["type"];
  size: number;
  parts: Buffer[];
  bytes: number;
  stdoutOffset: number;
  /** Over the output limit, or parts that do not add up: left out. */
  dropped: boolean;
}

/** How a cell ended, as its context saw it. */
type CellEnd =
  | { kind: "done"; status: string; exitCode: number; cpuMs: number; rssKb: number }
  | { kind: "lost"; reason: string; report?: ExitReport }
  | { kind: "closed" };

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: Error): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Rich outputs kept per cell; more are dropped (and the result marked truncated). */
const MAX_RICH_OUTPUTS = 256;
/** Rich outputs a cell may announce at all; past this the kernel is restarted. */
const MAX_ANNOUNCED_OUTPUTS = 1024;

/** One cell on its way through the kernel. */
class Cell {
  readonly ended = deferred<CellEnd>();
  finished = false;
  timedOut = false;
  truncated = false;
  graceTimer: NodeJS.Timeout | undefined;
  private readonly streams: Record<Output["type"], { text: TextStream; bytes: number }>;
  private readonly value: Buffer[] = [];
  private valueBytes = 0;
  private readonly rich = new Map<number, PendingOutput>();
  private richBytes = 0;
  /** Characters of stdout emitted so far: where a rich output arriving now goes. */
  private stdoutChars = 0;
  /** PNG outputs left out because they hold a secret (after outputs()). */
  withheldImages = 0;

  constructor(
    readonly number: number,
    private readonly emit: (event: Output) => void,
    private readonly secrets: SecretSet,
    private readonly limit: number,
  ) {
    this.streams = {
      stdout: { text: new TextStream(secrets), bytes: 0 },
      stderr: { text: new TextStream(secrets), bytes: 0 },
    };
  }

  output(type: Output["type"], bytes: Buffer): void {
    const stream = this.streams[type];
    const room = this.limit - stream.bytes;
    if (room <= 0) {
      this.truncated = true;
      return;
    }
    const kept = bytes.length > room ? bytes.subarray(0, room) : bytes;
    if (kept.length < bytes.length) this.truncated = true;
    stream.bytes += kept.length;
    const data = stream.text.push(kept);
    if (data) this.emitText(type, data);
  }

  private emitText(type: Output["type"], data: string): void {
    if (type === "stdout") this.stdoutChars += data.length;
    this.emit({ type, data });
  }

  /**
   * A part of rich output `index`; its first part names the type and size.
   * Returns why the kernel must be restarted (an invalid record, or too many
   * outputs), else undefined. All of a cell's outputs share the output
   * limit; one that does not fit is dropped whole.
   */
  addOutput(index: number, type: unknown, size: unknown, bytes: Buffer): string | undefined {
    let output = this.rich.get(index);
    if (!output) {
      if (
        !RICH_TYPES.includes(type as RichOutput["type"]) ||
        typeof size !== "number" ||
        !Number.isSafeInteger(size) ||
        size < 0
      )
        return "broke the context protocol (bad output record)";
      // Every output costs the engine memory even when dropped: a cell
      // announcing thousands is abusing the protocol, not plotting.
      if (this.rich.size >= MAX_ANNOUNCED_OUTPUTS)
        return `showed more than ${MAX_ANNOUNCED_OUTPUTS} rich outputs in one cell`;
      const dropped = this.rich.size >= MAX_RICH_OUTPUTS || size > this.limit - this.richBytes;
      if (dropped) this.truncated = true;
      else this.richBytes += size;
      output = {
        type: type as RichOutput["type"],
        size,
        parts: [],
        bytes: 0,
        stdoutOffset: this.stdoutChars + this.streams.stdout.text.held,
        dropped,
      };
      this.rich.set(index, output);
    }
    if (output.dropped) return undefined;
    output.bytes += bytes.length;
    if (output.bytes > output.size) output.dropped = true;
    else output.parts.push(bytes);
    return undefined;
  }

  /** The complete rich outputs in order (after close()): PNG as base64, text masked. */
  outputs(): RichOutput[] {
    const outputs: RichOutput[] = [];
    let offset = 0;
    for (const index of [...this.rich.keys()].sort((a, b) => a - b)) {
      const output = this.rich.get(index) as PendingOutput;
      if (output.dropped || output.bytes !== output.size) continue;
      const bytes = Buffer.concat(output.parts);
      let data: string;
      if (output.type === "image/png") {
        // An image cannot be masked without corrupting it: one holding a secret is left out.
        if (this.secrets.foundIn(bytes)) {
          this.withheldImages++;
          continue;
        }
        data = bytes.toString("base64");
      } else {
        const text = new TextStream(this.secrets);
        data = text.push(bytes) + text.end();
      }
      offset = Math.min(Math.max(offset, output.stdoutOffset), this.stdoutChars);
      outputs.push({ type: output.type, data, stdoutOffset: offset });
    }
    return outputs;
  }

  addValue(bytes: Buffer): void {
    const room = this.limit - this.valueBytes;
    const kept = bytes.length > room ? bytes.subarray(0, Math.max(room, 0)) : bytes;
    if (kept.length < bytes.length) this.truncated = true;
    this.valueBytes += kept.length;
    if (kept.length) this.value.push(kept);
  }

  finish(end: CellEnd): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.graceTimer);
    this.ended.resolve(end);
  }

  /** Flushes what the text streams held back; the value as masked text. */
  close(): string | undefined {
    for (const type of ["stdout", "stderr"] as const) {
      const data = this.streams[type].text.end();
      if (data) this.emitText(type, data);
    }
    if (!this.value.length) return undefined;
    const text = new TextStream(this.secrets);
    return text.push(Buffer.concat(this.value)) + text.end();
  }
}

/** One run of the kernel script in a context's container. */
class Kernel {
  readonly ready = deferred<void>();
  /** Set by its "ready" record; a kernel that ends before is a failed start, not a lost state. */
  started = false;
  /** Resolves when the run has ended, with its exit report or the failure that ended it. */
  readonly ended: Promise<{ report?: ExitReport; error?: Error }>;
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
    this.records = new KernelRecordReader({
      maxLineBytes: MAX_LINE,
      // Two output streams, the value and the rich outputs each up to the
      // limit, as base64 in records: well under 8 times the limit.
      maxBytesPerCell: Math.max(MIN_PROTOCOL_BYTES_PER_CELL, 8 * maxOutputBytes),
    });
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

/** The notices a cell's stream gives before `exit`, and the result flags behind them. */
interface CellOutcome {
  summary: ExecutionSummary;
  notices: string[];
}

/** One code context: its container, its kernel and the cells waiting for it. */
class CodeContext {
  private container: SandboxContainer | undefined;
  private kernel: Kernel | undefined;
  private cell: Cell | undefined;
  private cells = 0;
  private chain: Promise<unknown> = Promise.resolve();
  /** Why the state was lost since the last call (an interpreter that died while idle). */
  private lost: string | undefined;
  /** Output that came between cells (threads, timers), given to the next cell. */
  private stash: { type: Output["type"]; bytes: Buffer }[] = [];
  private stashBytes = 0;
  closed = false;

  constructor(
    readonly id: string,
    readonly runtime: Runtime,
    private readonly host: ContextHost,
  ) {}

  get info(): ContextInfo {
    return { id: this.id, runtime: this.runtime };
  }

  get containerId(): string | undefined {
    return this.container?.id;
  }

  /** Starts the container and the kernel; the context is ready when this resolves. */
  async start(): Promise<void> {
    await this.turn(() => this.ensureKernel());
  }

  /** Runs one cell after those before it. */
  run(
    code: string,
    timeoutMs: number,
    emit: (event: Output) => void,
    onCell?: (cell: Cell) => void,
  ): Promise<CellOutcome> {
    return this.turn(() => this.host.slot(() => this.runCell(code, timeoutMs, emit, onCell)));
  }

  /** A fresh interpreter and an empty /sandbox and /tmp, as if the context were new. */
  reset(): Promise<void> {
    return this.turn(async () => {
      await this.stopKernel();
      this.lost = undefined;
      this.stash = [];
      this.stashBytes = 0;
      const container = this.container;
      if (container?.usable && !(await container.wipe().catch(() => false))) {
        this.host.log(`context ${this.id}: its container failed its wipe; replacing it`);
        void container.remove().catch(() => undefined);
        this.container = undefined;
      }
      await this.ensureKernel();
    });
  }

  /** Runs `work` on the context's container after the calls before it (starting it if need be). */
  withContainer<T>(work: (container: SandboxContainer) => Promise<T>): Promise<T> {
    return this.turn(async () => work((await this.ensureKernel()).container));
  }

  /** Removes the container at once; a running cell ends, queued ones are refused. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.kernel) this.kernel.expected = true;
    this.cell?.finish({ kind: "closed" });
    const container = this.container;
    this.container = undefined;
    if (!container) return;
    if (this.host.options.persist) container.release(true);
    else await container.remove();
  }

  pause(): void {
    this.container?.pause();
  }

  resume(): void {
    this.container?.resume();
  }

  /** Sends a signal to the interpreter's process group while `cell` runs. */
  signal(cell: Cell, signal: number): void {
    if (cell.finished || this.cell !== cell || !this.kernel) return;
    if (signal === 9) this.kernel.kill("was killed (SIGKILL)");
    else this.kernel.container.signal(signal);
  }

  /** SIGINT now; a restart if the interpreter has not stopped the cell within the grace. */
  interrupt(cell: Cell, why: string): void {
    if (cell.finished || this.cell !== cell || !this.kernel) return;
    const kernel = this.kernel;
    kernel.container.signal(2);
    clearTimeout(cell.graceTimer);
    cell.graceTimer = setTimeout(() => {
      if (!cell.finished)
        kernel.kill(`did not stop within ${INTERRUPT_GRACE_MS} ms of SIGINT (${why})`);
    }, INTERRUPT_GRACE_MS);
  }

  private turn<T>(work: () => Promise<T>): Promise<T> {
    const next = this.chain.then(() => {
      if (this.closed)
        throw new InvalidRequestError(`contextId: context "${this.id}" has been closed`);
      return work();
    });
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async runCell(
    code: string,
    timeoutMs: number,
    emit: (event: Output) => void,
    onCell?: (cell: Cell) => void,
  ): Promise<CellOutcome> {
    const started = performance.now();
    const timestamp = new Date().toISOString();
    const notices: string[] = [];
    let restarted = false;
    if (this.lost !== undefined) {
      notices.push(this.lost);
      restarted = true;
      this.lost = undefined;
    }
    const kernel = await this.ensureKernel();
    const { maxOutputBytes } = this.host.options;
    const cell = new Cell(++this.cells, emit, this.host.secrets, maxOutputBytes);
    this.cell = cell;
    if (this.kernel !== kernel) {
      // It ended while this call waited for it (and said so in `lost`).
      this.lost = undefined;
      cell.finish({ kind: "lost", reason: "ended before the cell could run" });
    }
    for (const { type, bytes } of this.stash.splice(0)) cell.output(type, bytes);
    this.stashBytes = 0;
    onCell?.(cell);
    const channel = this.host.egress(kernel.container);
    channel?.takeLog(); // what went before (an earlier cell's stragglers) is not this cell's
    kernel.send(cell.number, code);
    const timer = setTimeout(() => {
      cell.timedOut = true;
      this.interrupt(cell, `the cell ran past its timeout of ${timeoutMs} ms`);
    }, timeoutMs);
    const end = await cell.ended.promise;
    clearTimeout(timer);
    this.cell = undefined;
    if (this.kernel === kernel) await kernel.freeze();
    const value = cell.close();
    const outputs = cell.outputs();
    const network = channel ? await channel.settledLog() : undefined;
    let exitCode: number;
    let cpuMs = 0;
    let rssKb = 0;
    let oomKilled = false;
    if (end.kind === "done") {
      ({ exitCode, cpuMs, rssKb } = end);
      if (cell.timedOut && end.status === "interrupted")
        notices.push(`timed out after ${timeoutMs} ms; the cell was interrupted (SIGINT)`);
    } else if (end.kind === "lost") {
      restarted = true;
      exitCode = end.report ? end.report.exitCode : 137;
      oomKilled = end.report?.oomKilled ?? false;
      notices.push(
        `the context's interpreter ${end.reason}${oomKilled ? " (out of memory)" : ""}; it was restarted and its state is lost`,
      );
    } else {
      exitCode = 137;
      notices.push("the context was closed while the cell ran");
    }
    if (cell.truncated) notices.push(`output truncated at ${maxOutputBytes} bytes`);
    if (cell.withheldImages > 0)
      notices.push(
        `${cell.withheldImages} image output(s) withheld: they contain the value of a secret`,
      );
    const durationMs = Math.round(performance.now() - started);
    const summary: ExecutionSummary = {
      exitCode,
      durationMs,
      truncated: cell.truncated,
      timedOut: cell.timedOut,
      oomKilled,
      executionId: randomUUID(),
      runtime: this.runtime,
      timestamp,
      containerId: kernel.container.id,
      resourceUsage: {
        cpuPercent: durationMs > 0 ? Math.round((cpuMs / durationMs) * 1000) / 10 : 0,
        memoryMB: Math.round((rssKb / 1024) * 10) / 10,
        cpuTimeMs: cpuMs,
        networkBytesIn: network?.bytesIn ?? 0,
        networkBytesOut: network?.bytesOut ?? 0,
      },
      ...(this.host.options.logNetwork
        ? {
            networkLogs: (network?.entries ?? []).map((entry) =>
              redactNetworkLog(entry, this.host.secrets),
            ),
          }
        : {}),
      ...(value !== undefined && end.kind === "done" ? { value } : {}),
      ...(outputs.length > 0 ? { outputs } : {}),
      ...(restarted ? { contextRestarted: true } : {}),
    };
    return { summary, notices };
  }

  /** The live kernel, started (in a new container if need be) when there is none. */
  private async ensureKernel(): Promise<Kernel> {
    if (this.kernel?.alive) {
      await this.kernel.ready.promise;
      return this.kernel;
    }
    if (this.container && !this.container.usable) {
      void this.container.remove().catch(() => undefined);
      this.container = undefined;
    }
    if (!this.container) {
      const container = await this.host.container(this.host.image(this.runtime));
      if (this.closed) {
        await container.remove();
        throw new InvalidRequestError(`contextId: context "${this.id}" has been closed`);
      }
      this.container = container;
    }
    await this.host.prepare(this.container, this.runtime);
    const argv = KERNELS[this.runtime as ContextRuntime];
    const program = this.host.runSpec(this.runtime);
    const kernel = new Kernel(
      this.container,
      {
        ...program,
        argv,
        files: [],
        timeoutMs: KERNEL_TIMEOUT_MS,
        outputLimit: Number.MAX_SAFE_INTEGER,
      },
      this.host.options.maxOutputBytes,
      (k, record) => this.onRecord(k, record),
      (k, reason) => k.kill(`broke the context protocol (${reason})`),
      this.host.log,
    );
    this.kernel = kernel;
    void kernel.ended.then((end) => this.onKernelEnd(kernel, end));
    const timer = setTimeout(
      () => kernel.kill(`did not start within ${KERNEL_START_MS} ms`),
      KERNEL_START_MS,
    );
    try {
      await kernel.ready.promise;
      await kernel.freeze();
    } catch (error) {
      const container = this.container;
      this.container = undefined;
      this.kernel = undefined;
      void container?.remove().catch(() => undefined);
      throw error;
    } finally {
      clearTimeout(timer);
    }
    return kernel;
  }

  /** Ends the kernel on purpose and waits until its run is over. */
  private async stopKernel(): Promise<void> {
    const kernel = this.kernel;
    if (!kernel?.alive) return;
    kernel.expected = true;
    kernel.kill(undefined);
    await kernel.ended;
  }

  private onKernelEnd(kernel: Kernel, end: { report?: ExitReport; error?: Error }): void {
    if (this.kernel !== kernel) return;
    this.kernel = undefined;
    // A failed start is reported by ensureKernel(), which started it.
    if (kernel.expected || this.closed || !kernel.started) return;
    const how = end.report
      ? end.report.signal
        ? `was killed by signal ${end.report.signal}`
        : `exited with code ${end.report.exitCode}`
      : `was lost (${end.error?.message ?? "its container stopped"})`;
    const reason = kernel.killReason ?? how;
    this.host.log(`context ${this.id}: the interpreter ${reason}`);
    if (this.cell) this.cell.finish({ kind: "lost", reason, report: end.report });
    else
      this.lost = `the context's interpreter ${reason} between calls; it was restarted and its state is lost`;
    // A fresh interpreter at once, so the next call does not wait for it.
    this.turn(() => this.ensureKernel()).catch((error: unknown) =>
      this.host.log(`context ${this.id}: restart failed: ${String(error)}`),
    );
  }

  private onRecord(kernel: Kernel, record: KernelRecord): void {
    if (this.kernel !== kernel) return;
    if (record.type === "ready") {
      kernel.started = true;
      kernel.ready.resolve();
      return;
    }
    const cell = this.cell;
    // Records name their cell; one for another cell (an earlier one's, or a
    // forged number) is not this cell's value, output or end.
    const current = cell !== undefined && record.cell === cell.number;
    switch (record.type) {
      case "stdout":
      case "stderr":
        if (cell) cell.output(record.type, record.data);
        else if (this.stashBytes < this.host.options.maxOutputBytes) {
          this.stash.push({ type: record.type, bytes: record.data });
          this.stashBytes += record.data.length;
        }
        return;
      case "value":
        if (current) cell.addValue(record.data);
        return;
      case "output": {
        const problem = current
          ? cell.addOutput(record.index, record.mime, record.size, record.data)
          : undefined;
        if (problem) kernel.kill(problem);
        return;
      }
      case "done":
        if (current) {
          const { status, exitCode, cpuMs, rssKb } = record;
          cell.finish({ kind: "done", status, exitCode, cpuMs, rssKb });
        }
        return;
    }
  }
}

/** A streamed context call's handle on its cell, which exists once the call's turn has come. */
interface CellTarget {
  cell?: Cell;
  pending: number[];
  ended: boolean;
}

/** An engine's code contexts. */
export class ContextManager {
  private readonly contexts = new Map<string, CodeContext>();
  private readonly starting = new Set<CodeContext>();

  constructor(private readonly host: ContextHost) {}

  async create(runtime: Runtime): Promise<ContextInfo> {
    if (!isOneOf(CONTEXT_RUNTIMES, runtime)) {
      throw new InvalidRequestError(
        `runtime: contexts run ${orList(CONTEXT_RUNTIMES)}, not "${String(runtime)}"`,
      );
    }
    if (this.contexts.size + this.starting.size >= MAX_CONTEXTS) {
      throw new InvalidRequestError(
        `contexts: this engine already has ${MAX_CONTEXTS} contexts; close one first`,
      );
    }
    const context = new CodeContext(randomUUID(), runtime, this.host);
    this.starting.add(context);
    try {
      await this.host.log.time(`start ${runtime} context`, () => context.start());
    } catch (error) {
      await context.close().catch(() => undefined);
      throw error;
    } finally {
      this.starting.delete(context);
    }
    if (context.closed) throw new InvalidRequestError("contexts: the engine was stopped");
    this.contexts.set(context.id, context);
    return context.info;
  }

  list(): ContextInfo[] {
    return [...this.contexts.values()].map((context) => context.info);
  }

  async reset(id: string): Promise<void> {
    await this.get(id).reset();
  }

  async close(id: string): Promise<void> {
    const context = this.get(id);
    this.contexts.delete(id);
    await context.close();
  }

  /** Writes a file into a context's /sandbox, after its running and queued cells. */
  async putFile(id: string, path: string, content: Buffer): Promise<void> {
    const context = this.get(id);
    await context.withContainer((container) =>
      writeContextFile(container, path, content, this.host.options.timeoutMs),
    );
  }

  /** Reads a file of a context's /sandbox (at most `maxBytes`), after its running and queued cells. */
  async getFile(id: string, path: string, maxBytes: number): Promise<Buffer> {
    const context = this.get(id);
    return context.withContainer((container) =>
      readContextFile(container, path, maxBytes, this.host.options.timeoutMs),
    );
  }

  /** Closes every context (the engine stops). */
  async closeAll(): Promise<void> {
    const all = [...this.contexts.values(), ...this.starting];
    this.contexts.clear();
    await Promise.all(all.map((context) => context.close().catch(() => undefined)));
  }

  async execute(request: ExecutionRequest): Promise<ExecutionResult> {
    const context = this.contextOf(request);
    const collector = new ResultCollector();
    const { summary } = await context.run(
      request.code as string,
      request.timeoutMs ?? this.host.options.timeoutMs,
      (event) => collector.add(event),
    );
    return collector.result(summary);
  }

  /**
   * A streamed cell. The request is checked at once (an unknown context
   * throws here, not on iteration). Aborting, or leaving the iteration
   * early, interrupts the cell; `kill` signals the interpreter.
   */
  executeStream(request: ExecutionRequest, control: StreamControl = {}): StreamRun {
    const context = this.contextOf(request);
    const target: CellTarget = { pending: [], ended: false };
    const noInput = () => {
      throw new InvalidRequestError(
        "stdin: a context's cells have no standard input (fd 0 is /dev/null)",
      );
    };
    return Object.assign(this.streamEvents(context, request, control, target), {
      kill(signal: SandboxSignal): void {
        const number = signalNumber(signal);
        if (target.ended) return;
        if (target.cell) context.signal(target.cell, number);
        else target.pending.push(number);
      },
      write: noInput,
      end: noInput,
    });
  }

  private async *streamEvents(
    context: CodeContext,
    request: ExecutionRequest,
    control: StreamControl,
    target: CellTarget,
  ): AsyncGenerator<StreamEvent> {
    const abort = control.signal;
    abort?.throwIfAborted();
    const queue = new EventQueue<StreamEvent>({
      pause: () => context.pause(),
      resume: () => context.resume(),
    });
    let failure: unknown;
    let finished = false;
    /** Set once the caller stopped listening: the rest of the output is dropped, never queued. */
    let detached = false;
    const interrupt = () => {
      if (target.cell) context.interrupt(target.cell, "the cell's caller went away");
    };
    abort?.addEventListener("abort", interrupt, { once: true });
    const done = context
      .run(
        request.code as string,
        request.timeoutMs ?? this.host.options.timeoutMs,
        (event) => {
          if (!detached) queue.push(event);
        },
        (cell) => {
          target.cell = cell;
          if (abort?.aborted) interrupt();
          for (const number of target.pending.splice(0)) context.signal(cell, number);
        },
      )
      .then(({ summary, notices }) => {
        for (const notice of notices) queue.push({ type: "error", data: notice });
        queue.push({ type: "exit", data: String(summary.exitCode), result: summary });
      })
      .catch((error: unknown) => {
        failure = redactError(error, this.host.secrets);
      })
      .finally(() => {
        finished = true;
        target.ended = true;
        context.resume();
        queue.end();
      });
    try {
      for (
        let next = await nextOrAbort(queue, abort);
        !next.done;
        next = await nextOrAbort(queue, abort)
      )
        yield next.value;
      if (abort?.aborted) throw abort.reason;
      if (failure !== undefined) throw failure;
    } finally {
      abort?.removeEventListener("abort", interrupt);
      if (!finished) {
        // The caller stopped listening: the cell is interrupted (and the
        // context restarted if it does not stop); later calls wait for that.
        detached = true;
        context.resume();
        interrupt();
        void done;
      } else {
        await done;
      }
    }
  }

  private get(id: string): CodeContext {
    const context = typeof id === "string" ? this.contexts.get(id) : undefined;
    if (!context)
      throw new InvalidRequestError(`contextId: no context "${String(id)}" in this engine`);
    return context;
  }

  private contextOf(request: ExecutionRequest): CodeContext {
    validateRequest(request);
    for (const field of UNSUPPORTED) {
      if (request[field] !== undefined)
        throw new InvalidRequestError(
          `${field}: not supported with contextId (a context runs code in a live interpreter)`,
        );
    }
    const context = this.get(request.contextId as string);
    if (context.runtime !== request.runtime) {
      throw new InvalidRequestError(
        `runtime: context "${context.id}" runs ${context.runtime}, not ${request.runtime}`,
      );
    }
    return context;
  }
}

/** The next event, or the end of the stream once `abort` fires (the cell goes on being interrupted). */
function nextOrAbort(
  queue: EventQueue<StreamEvent>,
  abort: AbortSignal | undefined,
): Promise<IteratorResult<StreamEvent>> {
  if (!abort) return queue.next();
  if (abort.aborted) return Promise.resolve({ value: undefined, done: true });
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve({ value: undefined, done: true });
    abort.addEventListener("abort", onAbort, { once: true });
    queue.next().then(
      (result) => {
        abort.removeEventListener("abort", onAbort);
        resolve(result);
      },
      (error: unknown) => {
        abort.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
