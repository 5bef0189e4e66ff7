import { randomUUID } from "node:crypto";
import { disposableRun } from "../async-dispose.js";
import { ResultCollector } from "../engine/collect-result.js";
import type { StreamControl, StreamRun } from "../engine/docker-isol8.js";
import { EventQueue } from "../engine/event-queue.js";
import { InvalidRequestError, validateRequest } from "../engine/request.js";
import { readContextFile, writeContextFile } from "../engine/session-files.js";
import { type SandboxSignal, signalNumber } from "../engine/signals.js";
import { orList } from "../one-of.js";
import { redactError } from "../output/redact.js";
import type { Runtime } from "../runtimes/runtime.js";
import { CONTEXT_RUNTIMES } from "../runtimes/runtime.js";
import type { ContextInfo, ExecutionRequest, ExecutionResult, StreamEvent } from "../types.js";
import type { Cell } from "./cell.js";
import { CodeContext } from "./context.js";
import type { ContextHost } from "./host.js";
import { hasKernel } from "./kernels.js";

/** Contexts one engine may hold at once (each is a container). */
const MAX_CONTEXTS = 16;

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
    if (!hasKernel(runtime)) {
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
    const run = Object.assign(this.streamEvents(context, request, control, target), {
      kill(signal: SandboxSignal): void {
        const number = signalNumber(signal);
        if (target.ended) return;
        if (target.cell) context.signal(target.cell, number);
        else target.pending.push(number);
      },
      write: noInput,
      end: noInput,
    });
    return disposableRun(run);
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
