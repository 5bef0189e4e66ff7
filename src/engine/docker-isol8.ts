import { randomUUID } from "node:crypto";
import { disposableRun } from "../async-dispose.js";
import type { SandboxBackend } from "../backend/backend.js";
import { requireCapability } from "../backend/backend.js";
import { DockerBackend } from "../backend/docker/docker-backend.js";
import { ContextManager } from "../contexts/manager.js";
import type { Isol8Engine, Isol8StreamControl } from "../isol8-engine.js";
import { type EgressChannel, EgressGateway } from "../network/gateway.js";
import { redactError, withheldReason } from "../output/redact.js";
import { SecretSet } from "../output/secret-masker.js";
import { SandboxManager } from "../sandbox/manager.js";
import type { Sandbox } from "../sandbox/sandbox.js";
import type { CreateSandboxOptions, SandboxInfo } from "../sandbox/types.js";
import type {
  ContextInfo,
  CreateContextOptions,
  DockerIsol8Options,
  ExecutionRequest,
  ExecutionResult,
  ExecutionSummary,
  FileOptions,
  GetFileOptions,
  Runtime,
  StreamEvent,
} from "../types.js";
import { ResultCollector } from "./collect-result.js";
import { type ContainerSource, containerSource, SessionSource } from "./container-source.js";
import { createDebugLog, type DebugLog } from "./debug-log.js";
import { EventQueue } from "./event-queue.js";
import { FifoSemaphore } from "./fifo-semaphore.js";
import { InvalidOptionError, type ResolvedOptions, resolveOptions } from "./options.js";
import { InvalidRequestError, validateRequest } from "./request.js";
import { RunPlanner } from "./run-plan.js";
import { type OutputEvent, runSteps } from "./run-steps.js";
import { noticesFor, runSummary } from "./run-summary.js";
import { SandboxContainer, SandboxFailure } from "./sandbox-container.js";
import { sandboxPath, WithheldFileError } from "./session-files.js";
import { type SandboxSignal, SIGNALS, signalNumber } from "./signals.js";

export type { SandboxSignal };

/** How a caller acts on a streamed run from outside it. */
export interface StreamControl extends Isol8StreamControl {
  /** Aborting kills the run and removes its container at once; the stream then throws the abort reason. */
  signal?: AbortSignal;
  /**
   * Keep the program's standard input open after `request.stdin`, for more
   * through `write()` until `end()` (interactive programs).
   */
  openStdin?: boolean;
  /**
   * Who the run is for, on an engine that serves several parties (the HTTP
   * server passes the caller's tenant): a pooled container that ran one
   * tenant's code is reused for that tenant only. Runs without it count as
   * one party.
   */
  tenant?: string;
}

/** A streamed run: its events, and a way to signal the program while it runs. */
export interface StreamRun extends AsyncGenerator<StreamEvent> {
  /** Sends `signal` to the program's process group; a no-op once the run has ended. */
  kill(signal: SandboxSignal): void;
  /**
   * Feeds the program's standard input (with `openStdin`); a no-op once the
   * run has ended. Writes reach the program in call order. The promise
   * resolves when the sandbox has taken this write: wait for it before the
   * next, and the engine holds no more than one write of input however
   * slowly the program reads (a program that never reads holds it until
   * the run ends).
   */
  write(data: string | Buffer): Promise<void>;
  /** Ends the program's standard input (with `openStdin`), after every write before it. */
  end(): void;
  /** For `await using`: ends the iteration as an early `break` does, killing the run if it is still going. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** The container a streamed run is in, for `kill()`, which may come before there is one. */
interface RunTarget {
  container?: SandboxContainer;
  pendingSignals: number[];
  /** Settles once the run has its container (or ended without one): input waits for it. */
  started: Promise<void>;
  /** The last write or end of standard input; each one waits for the one before. */
  stdin: Promise<void>;
  ended: boolean;
}

/**
 * Runs code in locked-down Docker containers on the local (or DOCKER_HOST)
 * engine. `execute` returns the whole result; `executeStream` yields output
 * as it is produced. Both come from one execution path.
 */
export class DockerIsol8 implements Isol8Engine {
  private readonly options: ResolvedOptions;
  private readonly backend: SandboxBackend;
  private readonly log: DebugLog;
  private readonly slots: FifoSemaphore;
  /** Decides what each run sends to its sandbox (pure). */
  private readonly planner: RunPlanner;
  /** Where runs get their containers: pools, the session's container, or kept ones. */
  private readonly source: ContainerSource;
  /** The egress gateway of a filtered engine, and each container's channel through it. */
  private readonly gateway: EgressGateway | undefined;
  private readonly egress = new WeakMap<SandboxContainer, EgressChannel>();
  /** Code contexts (`createContext`), made on first use. */
  private contextManager: ContextManager | undefined;
  /** The secrets' values, compiled once, masked in everything a run gives back. */
  private readonly secrets: SecretSet;
  /** Long-lived sandboxes (`createSandbox`), made on first use. */
  private sandboxManager: SandboxManager | undefined;

  /**
   * @param backend what runs the sandboxes: Docker on the local engine (or
   * the one DOCKER_HOST names) unless another is given. An option that
   * needs a capability the backend lacks is refused here.
   */
  constructor(options: DockerIsol8Options = {}, backend: SandboxBackend = new DockerBackend()) {
    this.options = resolveOptions(options);
    this.backend = backend;
    if (this.options.network === "host")
      requireCapability(backend, "hostNetwork", 'network: "host"');
    if (this.options.network === "filtered") {
      // The gateway's socket is mounted from this machine into the sandbox.
      requireCapability(backend, "localMounts", 'network: "filtered"');
      this.gateway = new EgressGateway();
    }
    if (this.options.persist) requireCapability(backend, "keepForDebugging", "persist");
    this.secrets = new SecretSet(Object.values(this.options.secrets));
    this.planner = new RunPlanner(this.options);
    // Debug lines can quote a sandbox (a kernel's stderr, a file's error): masked like output.
    this.log = createDebugLog(this.options.debug, (line) =>
      process.stderr.write(this.secrets.mask(line)),
    );
    this.slots = new FifoSemaphore(this.options.maxConcurrent);
    this.source = containerSource(
      this.options,
      (image, labels) => this.startContainer(image, labels),
      this.log,
    );
  }

  /** Checks that Docker answers. Throws DockerUnavailableError if not. */
  async start(): Promise<void> {
    await this.log.time(`ping ${this.backend.name}`, () => this.backend.ping());
  }

  /** Runs a program to completion and returns its output and exit status. */
  async execute(request: ExecutionRequest): Promise<ExecutionResult> {
    if (request?.contextId !== undefined) return this.masked(this.contexts.execute(request));
    const collector = new ResultCollector();
    // A refusal can quote the request, so it is masked like any other error.
    const summary = await this.masked(
      Promise.resolve().then(() => {
        validateRequest(request);
        return this.run(request, (event) => collector.add(event));
      }),
    );
    return collector.result(summary);
  }

  /**
   * Runs a program and yields its output as it is produced, then one `exit`
   * event. A timeout, an out-of-memory kill or truncated output is announced
   * by an `error` event before `exit`. Stopping the iteration early kills the run.
   *
   * `kill()` on the returned run sends a signal to the program's process
   * group. Aborting `control.signal` kills the run at once: an early
   * `return()` waits for the program's next output, an abort does not.
   */
  executeStream(request: ExecutionRequest, control: StreamControl = {}): StreamRun {
    if (request?.contextId !== undefined) return this.contexts.executeStream(request, control);
    let started = () => {};
    const target: RunTarget = {
      pendingSignals: [],
      started: new Promise<void>((resolve) => {
        started = resolve;
      }),
      stdin: Promise.resolve(),
      ended: false,
    };
    const stdin = (chunk: Buffer | null): Promise<void> => {
      target.stdin = target.stdin.then(async () => {
        await target.started;
        const container = target.container;
        if (target.ended || !container) return;
        if (chunk) await container.writeStdin(chunk);
        else container.endStdin();
      });
      return target.stdin;
    };
    const run = Object.assign(this.streamEvents(request, control, target, started), {
      kill(signal: SandboxSignal): void {
        const number = signalNumber(signal);
        if (target.ended) return;
        if (target.container) target.container.signal(number);
        else target.pendingSignals.push(number);
      },
      write: (data: string | Buffer) => stdin(typeof data === "string" ? Buffer.from(data) : data),
      end: () => void stdin(null),
    });
    return disposableRun(run);
  }

  private async *streamEvents(
    request: ExecutionRequest,
    control: StreamControl,
    target: RunTarget,
    started: () => void,
  ): AsyncGenerator<StreamEvent> {
    const abort = control.signal;
    try {
      validateRequest(request);
      abort?.throwIfAborted();
    } catch (error) {
      // No run: input written meanwhile has nowhere to go.
      target.ended = true;
      started();
      throw error;
    }
    let container: SandboxContainer | undefined;
    const flow = { pause: () => container?.pause(), resume: () => container?.resume() };
    const queue = new EventQueue<StreamEvent>(flow);
    let failure: unknown;
    let finished = false;
    // Ends the run wherever it is, even while it prints nothing: a pooled
    // container is removed; a session's is kept (its files are the session)
    // and its program killed, after which the supervisor kills the rest.
    const persistent = this.source.keepsContainers;
    let removal: Promise<void> | undefined;
    const kill = () => {
      if (finished || !container) return;
      if (persistent) return container.signal(SIGNALS.SIGKILL);
      container.resume();
      removal = container.remove().catch(() => undefined);
    };
    abort?.addEventListener("abort", kill, { once: true });
    const done = this.run(
      request,
      (event) => queue.push(event),
      (c) => {
        container = c;
        target.container = c;
        if (abort?.aborted) {
          if (persistent) target.pendingSignals.push(SIGNALS.SIGKILL);
          else kill();
        }
        // Signals asked for before the program had a container; the run has
        // been sent, so they reach it (the supervisor queues them behind it).
        for (const n of target.pendingSignals.splice(0)) c.signal(n);
        started();
      },
      control.openStdin ?? false,
      control.tenant,
    )
      .then((result) => {
        const timeoutMs = request.timeoutMs ?? this.options.timeoutMs;
        for (const notice of noticesFor(result, this.options, timeoutMs))
          queue.push({ type: "error", data: notice });
        queue.push({ type: "exit", data: String(result.exitCode), result });
      })
      .catch((error: unknown) => {
        failure = redactError(error, this.secrets);
      })
      .finally(() => {
        finished = true;
        target.ended = true;
        started();
        queue.end();
      });
    try {
      // Once the signal fired, nothing more is handed out, but the queue is
      // read to its end: the run is being killed, and a session's container
      // must outlive it (leaving early would remove the container below).
      for (let next = await queue.next(); !next.done; next = await queue.next()) {
        if (abort?.aborted) continue;
        yield next.value;
      }
      abort?.throwIfAborted();
      if (failure !== undefined) throw failure;
    } finally {
      abort?.removeEventListener("abort", kill);
      // An aborted stream ends once its container is gone, as an early return does.
      await removal;
      if (!finished && container) {
        // The caller stopped listening: the run is killed with its container.
        container.resume();
        await container.remove().catch(() => undefined);
      }
      await done;
    }
  }

  /**
   * Starts a code context: a live interpreter (python or node) in a sandbox
   * container of its own, with this engine's limits, whose variables,
   * imports and functions persist between calls that name its id as
   * `contextId`. Resolves once the interpreter is ready.
   */
  createContext(options: CreateContextOptions): Promise<ContextInfo> {
    return this.masked(this.contexts.create(options?.runtime));
  }

  /** This engine's code contexts (a promise, as a remote engine's list is). */
  async listContexts(): Promise<ContextInfo[]> {
    return this.contextManager?.list() ?? [];
  }

  /** Gives a context a fresh interpreter and empty /sandbox and /tmp (after its running cell). */
  resetContext(id: string): Promise<void> {
    return this.masked(this.contexts.reset(id));
  }

  /** Closes a context and removes its container; a running cell ends. */
  closeContext(id: string): Promise<void> {
    return this.contexts.close(id);
  }

  private get contexts(): ContextManager {
    this.contextManager ??= new ContextManager({
      options: this.options,
      secrets: this.secrets,
      log: this.log,
      image: (runtime) => this.planner.imageFor(runtime),
      container: (image) => this.source.forContext(image),
      runSpec: (runtime) => this.planner.kernelSpec(runtime),
      prepare: (container, runtime) => this.prepareContext(container, runtime),
      slot: (work) => this.slots.run(work),
      egress: (container) => this.egress.get(container),
    });
    return this.contextManager;
  }

  /**
   * Starts a long-lived sandbox: a container that runs many processes and
   * terminals at once (`sandbox.commands`, `sandbox.pty`) until its timeout
   * (default 5 minutes; `setTimeout` moves it), `kill()`, or this engine's
   * `stop()`. It ends with the engine process that holds it. With the
   * default process limit it comes from a warm pool of `poolSize.clean`
   * containers. The engine's limits, network and secrets apply to it.
   */
  createSandbox(options: CreateSandboxOptions = {}): Promise<Sandbox> {
    return this.masked(Promise.resolve().then(() => this.sandboxes.create(options)));
  }

  /** This engine's sandboxes: the running ones, then the most recently ended. */
  async listSandboxes(): Promise<SandboxInfo[]> {
    return this.sandboxManager?.list() ?? [];
  }

  /** The sandbox of this id (from `createSandbox` or `listSandboxes`); SandboxNotFoundError if none. */
  async connectSandbox(sandboxId: string): Promise<Sandbox> {
    return this.sandboxes.get(sandboxId);
  }

  private get sandboxes(): SandboxManager {
    this.sandboxManager ??= new SandboxManager({
      options: this.options,
      secrets: this.secrets,
      log: this.log,
      image: (runtime) => this.planner.imageFor(runtime),
      env: (runtime) => this.planner.sandboxEnv(runtime),
      start: (image, pidsLimit) => this.startContainer(image, {}, pidsLimit),
    });
    return this.sandboxManager;
  }

  /** Stops the engine: removes every container it still has and waits until they are gone. */
  async stop(): Promise<void> {
    await this.sandboxManager?.stopAll();
    await this.contextManager?.closeAll();
    await this.source.stop();
    await this.gateway?.close();
  }

  /** For `await using`: stops the engine (see `stop()`). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /**
   * Writes a file (text or bytes) into the session's /sandbox (persistent
   * mode), or with `contextId` into that code context's /sandbox (any mode;
   * after the context's running and queued cells). Paths outside /sandbox,
   * also through symlinks, are refused. Files put before the session's first
   * execution are placed when its container starts.
   */
  putFile(path: string, content: Buffer | string, options: FileOptions = {}): Promise<void> {
    return this.masked(this.writeFile(path, content, options));
  }

  private async writeFile(
    path: string,
    content: Buffer | string,
    options: FileOptions,
  ): Promise<void> {
    const target = sandboxPath(path);
    const bytes = typeof content === "string" ? Buffer.from(content) : content;
    if (options.contextId !== undefined)
      return this.contexts.putFile(options.contextId, target, bytes);
    await this.session("putFile").putFile(target, bytes);
  }

  /**
   * Reads a file of the session's /sandbox (persistent mode), or with
   * `contextId` of that code context's /sandbox. A file larger than
   * `options.maxBytes` (default: the sandbox's size) is refused by its size
   * before it is read (SandboxFileTooLargeError).
   */
  getFile(path: string, options: GetFileOptions = {}): Promise<Buffer> {
    return this.masked(this.readFile(path, options));
  }

  /** Errors of `work` with secrets masked in their messages (they may quote the sandbox). */
  private masked<T>(work: Promise<T>): Promise<T> {
    return work.catch((error: unknown) => {
      throw redactError(error, this.secrets);
    });
  }

  private async readFile(path: string, options: GetFileOptions): Promise<Buffer> {
    const target = sandboxPath(path);
    const maxBytes = options.maxBytes ?? this.options.sandboxBytes;
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0)
      throw new InvalidOptionError(`maxBytes: ${String(maxBytes)} is not a whole number of bytes`);
    if (options.contextId !== undefined)
      return this.unlessSecret(
        target,
        await this.contexts.getFile(options.contextId, target, maxBytes),
      );
    return this.unlessSecret(target, await this.session("getFile").getFile(target, maxBytes));
  }

  /** A file going back to the caller, refused (WithheldFileError naming it) when it holds a secret. */
  private unlessSecret(path: string, content: Buffer): Buffer {
    const withheld = withheldReason(content, this.secrets);
    if (withheld) throw new WithheldFileError(path, withheld);
    return content;
  }

  /** The session's container source; refused unless the engine is persistent. */
  private session(method: string): SessionSource {
    if (this.source instanceof SessionSource) return this.source;
    throw new InvalidOptionError(`mode: ${method} needs a persistent engine (mode: "persistent")`);
  }

  /** Runs a validated request (execute and streamEvents check it first, once). */
  private async run(
    request: ExecutionRequest,
    emit: (event: OutputEvent) => void,
    onContainer?: (container: SandboxContainer) => void,
    keepStdinOpen = false,
    tenant?: string,
  ): Promise<ExecutionSummary> {
    if (request.installPackages?.length && this.options.network === "none") {
      throw new InvalidRequestError(
        'installPackages: the engine\'s network is "none"; installs need network "filtered" (the registry is allowed for the install) or "host"',
      );
    }
    const start = {
      executionId: randomUUID(),
      runtime: request.runtime,
      timestamp: new Date().toISOString(),
      startedAt: performance.now(),
    };
    const plan = this.planner.plan(request);
    const stdin = request.stdin === undefined ? undefined : Buffer.from(request.stdin);
    const outcome = await this.slots.run(() =>
      this.source.withContainer(plan.image, tenant, async (container) => {
        const fresh = container.runCount === 0;
        let told = false;
        const steps = await runSteps(container, plan, {
          secrets: this.secrets,
          log: this.log,
          basePolicy: this.options.egressPolicy,
          egress: this.egress.get(container),
          maxOutputBytes: this.options.maxOutputBytes,
          fileTimeoutMs: this.options.timeoutMs,
          emit,
          started: () => {
            if (told) return;
            told = true;
            onContainer?.(container);
          },
          stdin,
          keepStdinOpen,
          outputPaths: request.outputPaths,
        });
        return { ...steps, containerId: container.id, fresh };
      }),
    );
    return runSummary(start, outcome, this.options, this.secrets);
  }

  /** Makes a context's sandbox ready for its kernel: the CA bundle, when there are extra CAs. */
  private async prepareContext(container: SandboxContainer, runtime: Runtime): Promise<void> {
    const preparation = this.planner.contextPreparation(runtime);
    if (!preparation) return;
    const report = await container.run(preparation, {
      stdout: () => undefined,
      stderr: () => undefined,
    });
    if (report.exitCode !== 0)
      throw new SandboxFailure(`preparing the context failed (exit ${report.exitCode})`);
  }

  /**
   * Starts one hardened container of `image` (with its gateway channel on a
   * filtered network). A long-lived sandbox's (`sandboxPidsLimit` given)
   * has that process limit and no prestarted interpreter.
   */
  private async startContainer(
    image: string,
    labels: Record<string, string>,
    sandboxPidsLimit?: number,
  ): Promise<SandboxContainer> {
    const channel =
      this.options.egressPolicy && (await this.gateway?.open(this.options.egressPolicy));
    try {
      const container = await SandboxContainer.create(
        this.backend,
        {
          image,
          hardening:
            sandboxPidsLimit === undefined
              ? this.options
              : { ...this.options, pidsLimit: sandboxPidsLimit },
          labels,
          keep: this.options.persist,
          ...(channel ? { egressDirectory: channel.directory } : {}),
        },
        this.log,
      );
      if (channel) {
        this.egress.set(container, channel);
        container.onGone(() =>
          channel.close().catch((error: Error) => this.log(`egress channel: ${error.message}`)),
        );
      }
      const prestart = sandboxPidsLimit === undefined && this.planner.prestartFor(image);
      if (prestart) container.prestart(prestart);
      return container;
    } catch (error) {
      await channel?.close();
      throw error;
    }
  }
}
