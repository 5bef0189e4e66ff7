import { randomUUID } from "node:crypto";
import { InvalidRequestError } from "../engine/request.js";
import type { SandboxContainer } from "../engine/sandbox-container.js";
import { redactNetworkLog } from "../output/redact.js";
import type { Runtime } from "../runtimes/runtime.js";
import type { ContextInfo, ExecutionSummary } from "../types.js";
import { Cell, type Output } from "./cell.js";
import type { ContextHost } from "./host.js";
import { InterruptGrace } from "./interrupts.js";
import { Kernel } from "./kernel.js";
import { kernelRunSpec } from "./kernels.js";
import { cellReport, type KernelEnd, kernelEndReason, lostBetweenCalls } from "./outcome.js";
import type { KernelRecord } from "./records.js";
import { RecordRouter } from "./routing.js";

/**
 * One code context: a notebook-like interpreter that keeps its state between
 * calls. It is its own sandbox container (the engine's spec and limits) whose
 * supervisor runs one long run: a kernel script (sandbox/bootstrap/context.py,
 * context.cjs) that reads cells as JSON lines on its stdin and answers with
 * JSON-line records on its stdout (see the header of context.py for the
 * protocol). Per-cell timeouts, output limits and restarts are enforced here,
 * not by the supervisor, whose run never ends while the context lives.
 */

/** How long a kernel may take to say it is ready. */
const KERNEL_START_MS = 30_000;

/** The notices a cell's stream gives before `exit`, and the result flags behind them. */
interface CellOutcome {
  summary: ExecutionSummary;
  notices: string[];
}

/** One code context: its container, its kernel and the cells waiting for it. */
export class CodeContext {
  private container: SandboxContainer | undefined;
  private kernel: Kernel | undefined;
  private cell: Cell | undefined;
  /** The running cell's grace after an interrupt: its kernel is killed if the cell has not ended by then. */
  private grace: InterruptGrace | undefined;
  private cells = 0;
  private chain: Promise<unknown> = Promise.resolve();
  /** Why the state was lost since the last call (an interpreter that died while idle). */
  private lost: string | undefined;
  /** Where records go; holds the output that came between cells (threads, timers) for the next cell. */
  private readonly router: RecordRouter;
  closed = false;

  constructor(
    readonly id: string,
    readonly runtime: Runtime,
    private readonly host: ContextHost,
  ) {
    this.router = new RecordRouter(host.options.maxOutputBytes);
  }

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
      this.router.clear();
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
    if (cell.finished || this.cell !== cell || !this.kernel || !this.grace) return;
    const kernel = this.kernel;
    kernel.container.signal(2);
    this.grace.interrupted(why, (reason) => kernel.kill(reason));
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
    const lostBefore = this.lost;
    this.lost = undefined;
    const kernel = await this.ensureKernel();
    const { maxOutputBytes } = this.host.options;
    const cell = new Cell(++this.cells, emit, this.host.secrets, maxOutputBytes);
    this.cell = cell;
    this.grace = new InterruptGrace(() => cell.finished);
    if (this.kernel !== kernel) {
      // It ended while this call waited for it (and said so in `lost`).
      this.lost = undefined;
      cell.finish({ kind: "lost", reason: "ended before the cell could run" });
    }
    this.router.giveStash(cell);
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
    this.grace.settle();
    this.cell = undefined;
    this.grace = undefined;
    if (this.kernel === kernel) await kernel.freeze();
    const value = cell.close();
    const outputs = cell.outputs();
    const network = channel ? await channel.settledLog() : undefined;
    const report = cellReport({
      end,
      timeoutMs,
      maxOutputBytes,
      timedOut: cell.timedOut,
      truncated: cell.truncated,
      withheldImages: cell.withheldImages,
      ...(lostBefore !== undefined ? { lostBefore } : {}),
    });
    const { exitCode, cpuMs, rssKb } = report;
    const durationMs = Math.round(performance.now() - started);
    const summary: ExecutionSummary = {
      exitCode,
      durationMs,
      truncated: cell.truncated,
      timedOut: cell.timedOut,
      oomKilled: report.oomKilled,
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
      ...(value !== undefined && report.keepValue ? { value } : {}),
      ...(outputs.length > 0 ? { outputs } : {}),
      ...(report.restarted ? { contextRestarted: true } : {}),
    };
    return { summary, notices: report.notices };
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
    const kernel = new Kernel(
      this.container,
      kernelRunSpec(this.runtime, this.host.runSpec(this.runtime)),
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

  private onKernelEnd(kernel: Kernel, end: KernelEnd): void {
    if (this.kernel !== kernel) return;
    this.kernel = undefined;
    // A failed start is reported by ensureKernel(), which started it.
    if (kernel.expected || this.closed || !kernel.started) return;
    const reason = kernelEndReason(end, kernel.killReason);
    this.host.log(`context ${this.id}: the interpreter ${reason}`);
    if (this.cell) this.cell.finish({ kind: "lost", reason, report: end.report });
    else this.lost = lostBetweenCalls(reason);
    // A fresh interpreter at once, so the next call does not wait for it.
    this.turn(() => this.ensureKernel()).catch((error: unknown) =>
      this.host.log(`context ${this.id}: restart failed: ${String(error)}`),
    );
  }

  private onRecord(kernel: Kernel, record: KernelRecord): void {
    if (this.kernel !== kernel) return;
    const effect = this.router.route(record, this.cell);
    if (effect?.kind === "ready") {
      kernel.started = true;
      kernel.ready.resolve();
    } else if (effect?.kind === "kill") kernel.kill(effect.reason);
  }
}
