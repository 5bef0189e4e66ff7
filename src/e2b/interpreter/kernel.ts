/**
 * A code-context kernel (sandbox/bootstrap/context.py, context.cjs) run as
 * a process of a long-lived sandbox, for E2B's code interpreter: the same
 * kernel and record protocol as isol8's own contexts (src/contexts/), but
 * beside the sandbox's other processes and files instead of in a container
 * of its own. One cell at a time; a cell's output goes through the
 * contexts' own Cell (output limit, rich outputs assembled in order).
 */
import { Cell, type Output } from "../../contexts/cell.js";
import { deferred } from "../../contexts/deferred.js";
import { channelLimits, type KernelRecord, KernelRecordReader } from "../../contexts/records.js";
import { SecretSet } from "../../output/secret-masker.js";
import { runtimeAdapter } from "../../runtimes/index.js";
import type { Runtime } from "../../runtimes/runtime.js";
import type { SandboxProcess } from "../../sandbox/process.js";
import type { Sandbox } from "../../sandbox/sandbox.js";
import { HttpError } from "../../server/errors.js";
import type { RichOutput } from "../../types.js";

/** A cell's output limit per stream, for its value and for its rich outputs together. */
const CELL_OUTPUT_BYTES = 16 * 1024 * 1024;
/** How much of a failed cell's stderr tells its error when it held no traceback. */
const STDERR_TAIL = 16 * 1024;
/** Cells that may wait for one context (the running one included); one more is refused with 429. */
const CELLS_WAITING = 8;
const SIGINT = 2;
/** How long an interrupted cell may take to end before its kernel is killed. */
const INTERRUPT_GRACE_MS = 2_000;
const SIGKILL = 9;

/** The kernel had ended before a cell could be sent to it: the cell never ran. */
export class KernelGoneError extends Error {}

/** What a cell gave once it ended. */
export interface CellResult {
  status: string;
  value: string | undefined;
  outputs: RichOutput[];
  /** A failed cell's traceback: held back from its stderr (python's), or the end of its stderr. */
  traceback: string | undefined;
}

export class SandboxKernel {
  private readonly reader = new KernelRecordReader(channelLimits(CELL_OUTPUT_BYTES));
  private readonly ready = deferred<void>();
  private cell: Cell | undefined;
  private cells = 0;
  private broken: string | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  /** Cells sent and not yet ended, the running one included. */
  private waiting = 0;

  private constructor(
    private readonly sandbox: Sandbox,
    readonly process: SandboxProcess,
  ) {}

  /** Starts `runtime`'s kernel in the sandbox and waits until it takes cells. */
  static async start(sandbox: Sandbox, runtime: Runtime, cwd: string): Promise<SandboxKernel> {
    const argv = runtimeAdapter(runtime).kernel;
    if (!argv) throw new Error(`the ${runtime} runtime has no code-context kernel`);
    const handle = await sandbox.commands.run([...argv], {
      background: true,
      stdin: true,
      cwd,
      envs: { MPLBACKEND: "Agg" },
    });
    handle.disconnect();
    const process = sandbox.table.lookup(handle.pid);
    if (!process) throw new Error("the kernel ended as it started");
    const kernel = new SandboxKernel(sandbox, process);
    process.subscribe((chunk) => {
      if (chunk.stream === "stdout") kernel.feed(chunk.data);
    }, true);
    void process
      .wait()
      .then((exit) => kernel.lost(`the kernel ended (exit code ${exit.exitCode})`));
    await kernel.ready.promise;
    return kernel;
  }

  /** Cells run so far (E2B's execution count). */
  get count(): number {
    return this.cells;
  }

  /**
   * Takes a place in the queue of cells (429 past CELLS_WAITING) and
   * returns how to run one there: after the cells before it, its text output
   * to `emit` as it comes, `signal` interrupting it (SIGINT: a
   * KeyboardInterrupt in python). A place is taken when the request is
   * admitted, so requests at once cannot pass the bound together.
   */
  reserve(): (
    code: string,
    emit: (output: Output) => void,
    signal: AbortSignal,
  ) => Promise<CellResult> {
    if (this.waiting >= CELLS_WAITING)
      throw new HttpError(
        429,
        `${this.waiting} cells wait for this context already, its most; wait for one to finish`,
      );
    this.waiting++;
    return (code, emit, signal) => {
      const result = this.queue.then(() => this.runNow(code, emit, signal));
      this.queue = result.catch(() => undefined);
      void this.queue.then(() => {
        this.waiting--;
      });
      return result;
    };
  }

  private async runNow(
    code: string,
    emit: (output: Output) => void,
    signal: AbortSignal,
  ): Promise<CellResult> {
    if (this.broken) throw new KernelGoneError(this.broken);
    // Its client left while it waited: nothing to run it for.
    if (signal.aborted) throw new Error("the client left before the cell ran");
    const number = ++this.cells;
    this.reader.startCell();
    // A failed cell's python traceback is its error, not its stderr: held
    // back from where it starts. Other kernels' errors (node's) stay in
    // stderr, whose last part then tells the error too.
    let held = "";
    let stderrTail = "";
    const cell = new Cell(
      number,
      (output) => {
        if (output.type === "stderr" && (held || output.data.startsWith("Traceback ")))
          held += output.data;
        else {
          if (output.type === "stderr") stderrTail = (stderrTail + output.data).slice(-STDERR_TAIL);
          emit(output);
        }
      },
      new SecretSet([]),
      CELL_OUTPUT_BYTES,
    );
    this.cell = cell;
    // SIGINT first (a KeyboardInterrupt); a cell still running after the
    // grace (it ignores SIGINT) ends with its kernel, which the next cell restarts.
    let grace: NodeJS.Timeout | undefined;
    const interrupt = () => {
      this.process.signal(SIGINT);
      grace = setTimeout(() => {
        if (this.cell === cell) this.kill();
      }, INTERRUPT_GRACE_MS);
    };
    signal.addEventListener("abort", interrupt);
    try {
      await this.process.write(Buffer.from(`${JSON.stringify({ cell: number, code })}\n`));
      const end = await cell.ended.promise;
      const value = cell.close();
      if (end.kind !== "done") throw new Error(end.kind === "lost" ? end.reason : "closed");
      const failed = end.status !== "ok";
      if (!failed && held) emit({ type: "stderr", data: held });
      return {
        status: end.status,
        value,
        outputs: cell.outputs(),
        traceback: failed ? held || stderrTail || undefined : undefined,
      };
    } finally {
      clearTimeout(grace);
      signal.removeEventListener("abort", interrupt);
      this.cell = undefined;
    }
  }

  /** Kills the kernel (its cells end as lost). */
  kill(reason = "the context was restarted or removed, or its cell would not stop"): void {
    this.lost(reason);
    this.process.signal(SIGKILL);
  }

  private feed(chunk: Buffer): void {
    const { records, violation } = this.reader.feed(chunk);
    for (const record of records) this.record(record);
    if (violation) {
      this.lost(`the kernel ${violation}`);
      this.process.signal(SIGKILL);
    }
  }

  private record(record: KernelRecord): void {
    if (record.type === "ready") {
      this.ready.resolve();
      return;
    }
    const cell = this.cell;
    // Records of another cell number (a forged one, or a late one) count for nothing.
    if (!cell || record.cell !== cell.number) return;
    switch (record.type) {
      case "stdout":
      case "stderr":
        cell.output(record.type, record.data);
        break;
      case "value":
        cell.addValue(record.data);
        break;
      case "output": {
        const problem = cell.addOutput(record.index, record.mime, record.size, record.data);
        if (problem) {
          this.lost(`the kernel ${problem}`);
          this.process.signal(SIGKILL);
        }
        break;
      }
      case "done":
        cell.finish({ kind: "done", ...record });
        break;
    }
  }

  private lost(reason: string): void {
    this.broken ??= reason;
    this.ready.reject(new Error(reason));
    this.cell?.finish({ kind: "lost", reason });
  }

  /** Whether the kernel still takes cells. */
  get alive(): boolean {
    return this.broken === undefined && this.sandbox.state === "running";
  }
}
