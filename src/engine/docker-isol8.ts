import { randomUUID } from "node:crypto";
import { posix } from "node:path";
import type Docker from "dockerode";
import { disposableRun } from "../async-dispose.js";
import { Isol8Error } from "../errors.js";
import { runtimeImage } from "../images/names.js";
import { PYTHON_DATA_IMAGE } from "../images/variants.js";
import {
  type EgressChannel,
  EgressGateway,
  PROXY_ENV,
  type RunNetworkRecord,
} from "../network/gateway.js";
import { type EgressPolicy, widenPolicy } from "../network/policy.js";
import { redactError, redactNetworkLog, withheldReason } from "../output/redact.js";
import { SecretSet } from "../output/secret-masker.js";
import { TextStream } from "../output/text-stream.js";
import { RUNTIMES, runtimeAdapter } from "../runtimes/index.js";
import type {
  ContextInfo,
  CreateContextOptions,
  DockerIsol8Options,
  ExecutionRequest,
  ExecutionResult,
  ExecutionSummary,
  FileOptions,
  GetFileOptions,
  ResourceUsage,
  Runtime,
  StreamEvent,
} from "../types.js";
import { ResultCollector } from "./collect-result.js";
import { containerSpec } from "./container-spec.js";
import { ContextManager } from "./context.js";
import { createDebugLog, type DebugLog } from "./debug-log.js";
import { assertDockerReachable, createDockerClient } from "./docker-client.js";
import { EventQueue } from "./event-queue.js";
import { FifoSemaphore } from "./fifo-semaphore.js";
import { type InstallPlan, installPlan } from "./installs.js";
import { LABELS } from "./labels.js";
import { InvalidOptionError, type ResolvedOptions, resolveOptions } from "./options.js";
import { ContainerPool } from "./pool.js";
import { BASE_ENV, mayUsePrestart, prestartSpec, SANDBOX_WORKDIR } from "./prestart.js";
import type { ExitReport, RunSpec } from "./protocol.js";
import { InvalidRequestError, validateRequest, workdirPath } from "./request.js";
import { type OutputSink, SandboxContainer, SandboxFailure } from "./sandbox-container.js";
import {
  readSandboxFile,
  SandboxFileError,
  SandboxFileTooLargeError,
  sandboxPath,
  WithheldFileError,
  writeSandboxFile,
} from "./session-files.js";
import { type SandboxSignal, SIGNALS, signalNumber } from "./signals.js";

export type { SandboxSignal };

/** How a caller acts on a streamed run from outside it. */
export interface StreamControl {
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

/** The requested image is not there; the message says how to build it. */
export class ImageNotFoundError extends Isol8Error {
  override readonly name = "ImageNotFoundError";
  override readonly code = "IMAGE_NOT_FOUND";
}

type Phase = "install" | "setup" | "code";
type OutputEvent = { type: "stdout" | "stderr"; data: string; phase?: Phase };

/** Something run before the program in the same sandbox; its failure stops the run. */
interface PrepStep {
  /** Where its output goes; `hidden` steps are isol8's own and show nothing. */
  phase: Exclude<Phase, "code"> | "hidden";
  spec: RunSpec;
  /** The gateway policy while it runs (filtered network). */
  policy?: EgressPolicy;
}

/** The files a run's `outputPaths` named: returned (path -> base64), left out by size or error, or withheld for holding a secret. */
type OutputFiles = Pick<ExecutionSummary, "files" | "fileErrors" | "withheldFiles">;

/** Where extra CA certificates go in a sandbox, and the bundle made from them. */
const EXTRA_CA_FILE = "/sandbox/.isol8/extra-ca.pem";
const CA_BUNDLE_FILE = "/sandbox/.isol8/ca-bundle.pem";
/** The image's trust store (Debian's, plus the CAs `isol8 setup` was given). */
const SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

/**
 * Runs code in locked-down Docker containers on the local (or DOCKER_HOST)
 * engine. `execute` returns the whole result; `executeStream` yields output
 * as it is produced. Both come from one execution path.
 */
export class DockerIsol8 {
  private readonly options: ResolvedOptions;
  private readonly docker: Docker;
  private readonly log: DebugLog;
  /** Ready containers per image (ephemeral mode). */
  private readonly pools = new Map<string, ContainerPool>();
  private readonly slots: FifoSemaphore;
  private persistent: SandboxContainer | undefined;
  /** The image of the persistent container, fixed by the first execution. */
  private persistentImage: string | undefined;
  /** Files put before the persistent container exists. */
  private readonly pendingFiles = new Map<string, Buffer>();
  private persistentQueue: Promise<unknown> = Promise.resolve();
  /** The egress gateway of a filtered engine, and each container's channel through it. */
  private readonly gateway: EgressGateway | undefined;
  private readonly egress = new WeakMap<SandboxContainer, EgressChannel>();
  /** What every run's environment gets from the engine's options (network, CAs); fixed, so prestarted interpreters have it too. */
  private readonly engineEnv: Record<string, string>;
  /**
   * What prestarted interpreters start with of it: all of it, unless extra
   * CAs are set - their bundle is made per run, after an interpreter that
   * reads it at start-up (node) would have started.
   */
  private readonly prestartEnv: Record<string, string>;
  /** Code contexts (`createContext`), made on first use. */
  private contextManager: ContextManager | undefined;
  /** The secrets' values, compiled once, masked in everything a run gives back. */
  private readonly secrets: SecretSet;

  constructor(options: DockerIsol8Options = {}, docker: Docker = createDockerClient()) {
    this.options = resolveOptions(options);
    if (this.options.network === "filtered") {
      // The gateway's socket is bind-mounted from this machine into the sandbox.
      const modem = (docker as unknown as { modem?: { socketPath?: unknown } }).modem;
      // dockerode keeps a unix socket path, or a function finding the default one.
      const socket = modem?.socketPath;
      if (typeof socket !== "string" && typeof socket !== "function") {
        throw new InvalidOptionError(
          "network: filtered mode needs the Docker engine on this machine (a unix socket, not DOCKER_HOST over tcp or ssh)",
        );
      }
      this.gateway = new EgressGateway();
    }
    this.docker = docker;
    this.secrets = new SecretSet(Object.values(this.options.secrets));
    this.engineEnv = this.networkEnv();
    this.prestartEnv = this.withCaCertificates ? {} : this.engineEnv;
    // Debug lines can quote a sandbox (a kernel's stderr, a file's error): masked like output.
    this.log = createDebugLog(this.options.debug, (line) =>
      process.stderr.write(this.secrets.mask(line)),
    );
    this.slots = new FifoSemaphore(this.options.maxConcurrent);
  }

  /** Checks that Docker answers. Throws DockerUnavailableError if not. */
  async start(): Promise<void> {
    await this.log.time("ping docker", () => assertDockerReachable(this.docker));
  }

  /** Runs a program to completion and returns its output and exit status. */
  async execute(request: ExecutionRequest): Promise<ExecutionResult> {
    if (request?.contextId !== undefined) return this.masked(this.contexts.execute(request));
    const collector = new ResultCollector();
    const summary = await this.masked(this.run(request, (event) => collector.add(event)));
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
    const persistent = this.options.mode === "persistent";
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
      for (let next = await queue.next(); !next.done; next = await queue.next()) yield next.value;
      if (abort?.aborted) throw abort.reason;
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

  /** This engine's code contexts. */
  listContexts(): ContextInfo[] {
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
      image: (runtime) => this.options.image ?? runtimeImage(runtime),
      // From the warm pool when there is one; never returned to it.
      container: (image) =>
        this.options.mode === "persistent" || this.options.persist
          ? this.createContainer(image)
          : this.poolFor(image).take(),
      runSpec: (runtime) => this.runSpec({ runtime, code: " " }),
      prepare: (container, runtime) => this.prepareContext(container, runtime),
      slot: (work) => this.slots.run(work),
      egress: (container) => this.egress.get(container),
    });
    return this.contextManager;
  }

  /** Stops the engine: removes every container it still has and waits until they are gone. */
  async stop(): Promise<void> {
    await this.contextManager?.closeAll();
    const persistent = this.persistent;
    this.persistent = undefined;
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all([persistent?.remove(), ...pools.map((pool) => pool.drain())]);
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
    this.assertPersistent("putFile");
    if (!this.persistentImage) {
      this.pendingFiles.set(target, bytes);
      return;
    }
    await this.inSession(this.persistentImage, (c) =>
      writeSandboxFile(c, target, bytes, this.options.timeoutMs),
    );
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
    this.assertPersistent("getFile");
    if (!this.persistentImage) {
      const pending = this.pendingFiles.get(target);
      if (!pending) throw new SandboxFileError(target, "no such file");
      if (pending.length > maxBytes)
        throw new SandboxFileTooLargeError(
          target,
          `${pending.length} bytes is larger than the limit of ${maxBytes} bytes`,
        );
      return this.unlessSecret(target, pending);
    }
    const content = await this.inSession(this.persistentImage, (c) =>
      readSandboxFile(c, target, maxBytes, this.options.timeoutMs),
    );
    return this.unlessSecret(target, content);
  }

  /** A file going back to the caller, refused (WithheldFileError naming it) when it holds a secret. */
  private unlessSecret(path: string, content: Buffer): Buffer {
    const withheld = withheldReason(content, this.secrets);
    if (withheld) throw new WithheldFileError(path, withheld);
    return content;
  }

  private assertPersistent(method: string): void {
    if (this.options.mode !== "persistent") {
      throw new InvalidOptionError(
        `mode: ${method} needs a persistent engine (mode: "persistent")`,
      );
    }
  }

  private async run(
    request: ExecutionRequest,
    emit: (event: OutputEvent) => void,
    onContainer?: (container: SandboxContainer) => void,
    keepStdinOpen = false,
    tenant?: string,
  ): Promise<ExecutionSummary> {
    validateRequest(request);
    if (request.installPackages?.length && this.options.network === "none") {
      throw new InvalidRequestError(
        'installPackages: the engine\'s network is "none"; installs need network "filtered" (the registry is allowed for the install) or "host"',
      );
    }
    const started = performance.now();
    const timestamp = new Date().toISOString();
    const executionId = randomUUID();
    const spec = this.runSpec(request);
    const steps = this.prepSteps(request, spec);
    const phased = steps.some((step) => step.phase !== "hidden");
    /** Masked, decoded output of one phase, emitted as it comes. */
    const phaseOutput = (phase: Phase | "hidden") => {
      const streams = {
        stdout: new TextStream(this.secrets),
        stderr: new TextStream(this.secrets),
      };
      const send = (type: "stdout" | "stderr", data: string) => {
        if (!data || phase === "hidden") return;
        emit(phased ? { type, data, phase } : { type, data });
      };
      const sink: OutputSink = {
        stdout: (chunk) => send("stdout", streams.stdout.push(chunk)),
        stderr: (chunk) => send("stderr", streams.stderr.push(chunk)),
      };
      const flush = () => {
        send("stdout", streams.stdout.end());
        send("stderr", streams.stderr.end());
      };
      return { sink, flush };
    };

    const image = this.options.image ?? runtimeImage(request.runtime);
    const stdin = request.stdin === undefined ? undefined : Buffer.from(request.stdin);
    const outcome = await this.slots.run(() =>
      this.onContainer(image, tenant, async (container) => {
        const fresh = container.runCount === 0;
        const channel = this.egress.get(container);
        channel?.takeLog(); // what an earlier run left behind is not this run's
        const toldCaller = { done: false };
        const tell = () => {
          if (toldCaller.done) return;
          toldCaller.done = true;
          onContainer?.(container);
        };
        let budgetMs = spec.timeoutMs;
        let failed: { report: ExitReport; phase: PrepStep["phase"] } | undefined;
        // One timeout covers every step and the program alike.
        for (const step of steps) {
          if (channel && this.options.egressPolicy)
            channel.policy = step.policy ?? this.options.egressPolicy;
          const output = phaseOutput(step.phase);
          const stepStarted = performance.now();
          const running = this.log.time(step.phase, () =>
            container.run({ ...step.spec, timeoutMs: budgetMs }, output.sink),
          );
          tell();
          const report = await running;
          output.flush();
          budgetMs -= Math.round(performance.now() - stepStarted);
          if (report.exitCode !== 0 || report.timedOut || budgetMs <= 0) {
            failed = {
              report: { ...report, timedOut: report.timedOut || budgetMs <= 0 },
              phase: step.phase,
            };
            break;
          }
        }
        // Whatever happened, the program (and any later user of this container) gets the base policy.
        if (channel && this.options.egressPolicy) channel.policy = this.options.egressPolicy;
        let report: ExitReport;
        let files: OutputFiles = {};
        if (failed) {
          report = failed.report;
          if (failed.phase === "hidden")
            throw new SandboxFailure(`preparing the sandbox failed (exit ${report.exitCode})`);
        } else {
          const code = phaseOutput("code");
          // The run request is on its way before onContainer hears of the
          // container, so a signal it sends at once already has a program to reach.
          const running = this.log.time("run", () =>
            container.run({ ...spec, timeoutMs: budgetMs }, code.sink, stdin, keepStdinOpen),
          );
          tell();
          report = await running;
          code.flush();
          if (request.outputPaths)
            files = await this.collectOutputs(container, request.outputPaths);
        }
        const network = channel ? await channel.settledLog() : undefined;
        channel?.dropConnections();
        return {
          report,
          containerId: container.id,
          fresh,
          files,
          failedPhase: failed?.phase,
          network,
        };
      }),
    );
    const { report, containerId, fresh, files, failedPhase, network } = outcome;
    const durationMs = Math.round(performance.now() - started);
    return {
      exitCode: report.exitCode,
      durationMs,
      truncated: report.stdoutTruncated || report.stderrTruncated,
      timedOut: report.timedOut,
      oomKilled: report.oomKilled,
      executionId,
      runtime: request.runtime,
      timestamp,
      containerId,
      resourceUsage: resourceUsage(report, fresh, network),
      ...files,
      ...(failedPhase === "setup" ? { setupFailed: true } : {}),
      ...(failedPhase === "install" ? { installFailed: true } : {}),
      ...(this.options.logNetwork
        ? {
            networkLogs: (network?.entries ?? []).map((entry) =>
              redactNetworkLog(entry, this.secrets),
            ),
          }
        : {}),
    };
  }

  /** What runs before the program: the CA bundle, package installs, the setup script. */
  private prepSteps(request: ExecutionRequest, spec: RunSpec): PrepStep[] {
    const steps: PrepStep[] = [];
    // Installs and isol8's own steps work in /sandbox; the setup script starts where the program does.
    const common = {
      env: spec.env,
      workdir: SANDBOX_WORKDIR,
      timeoutMs: spec.timeoutMs,
      outputLimit: spec.outputLimit,
      prestarted: false,
    };
    if (this.withCaCertificates) steps.push({ phase: "hidden", spec: this.caBundleSpec(common) });
    const packages = request.installPackages ?? [];
    if (packages.length > 0) {
      const plan = installPlan(request.runtime, packages, this.options.registries);
      steps.push({
        phase: "install",
        spec: { ...common, env: installEnv(spec.env, plan), argv: plan.argv, files: [] },
        policy:
          this.options.egressPolicy && widenPolicy(this.options.egressPolicy, plan.registryRules),
      });
    }
    if (request.setupScript !== undefined) {
      steps.push({
        phase: "setup",
        spec: {
          ...common,
          workdir: spec.workdir,
          argv: ["bash", "-c", request.setupScript],
          files: [],
        },
      });
    }
    return steps;
  }

  /** The run that writes the CA bundle the trust variables point at (image store + extra CAs). */
  private caBundleSpec(common: Omit<RunSpec, "argv" | "files">): RunSpec {
    return {
      ...common,
      argv: ["sh", "-c", `cat ${SYSTEM_CA_BUNDLE} ${EXTRA_CA_FILE} > ${CA_BUNDLE_FILE}`],
      files: [{ path: EXTRA_CA_FILE, content: `${this.options.caCertificates.join("\n")}\n` }],
    };
  }

  /** Makes a context's sandbox ready for its kernel: the CA bundle, when there are extra CAs. */
  private async prepareContext(container: SandboxContainer, runtime: Runtime): Promise<void> {
    if (!this.withCaCertificates) return;
    const { argv: _, files: __, ...common } = this.runSpec({ runtime, code: " " });
    const report = await container.run(
      { ...this.caBundleSpec(common), prestarted: false },
      { stdout: () => undefined, stderr: () => undefined },
    );
    if (report.exitCode !== 0)
      throw new SandboxFailure(`preparing the context failed (exit ${report.exitCode})`);
  }

  /** Extra CA certificates matter only to a sandbox that can reach a network. */
  private get withCaCertificates(): boolean {
    return this.options.caCertificates.length > 0 && this.options.network !== "none";
  }

  /**
   * Gives `use` a container for one run of `tenant`'s: a pooled one, or the
   * session's own in persistent mode.
   */
  private async onContainer<T>(
    image: string,
    tenant: string | undefined,
    use: (container: SandboxContainer) => Promise<T>,
  ): Promise<T> {
    if (this.options.mode === "persistent") return this.inSession(image, use);
    if (this.options.persist) {
      const container = await this.createContainer(image);
      try {
        return await use(container);
      } finally {
        container.release(true);
      }
    }
    const pool = this.poolFor(image);
    const container = await pool.acquire(tenant);
    try {
      return await use(container);
    } finally {
      pool.release(container);
    }
  }

  /** Runs `use` in the session's container (persistent mode), one caller at a time, in call order. */
  private inSession<T>(
    image: string,
    use: (container: SandboxContainer) => Promise<T>,
  ): Promise<T> {
    const turn = this.persistentQueue.then(async () => {
      if (this.persistentImage !== undefined && this.persistentImage !== image) {
        throw new InvalidRequestError(
          `runtime: this persistent engine's container runs ${this.persistentImage}; use another engine for ${image}`,
        );
      }
      this.persistentImage = image;
      if (!this.persistent?.usable) {
        this.persistent = await this.createContainer(image);
        for (const [path, content] of this.pendingFiles) {
          await writeSandboxFile(this.persistent, path, content, this.options.timeoutMs);
        }
        this.pendingFiles.clear();
      }
      return use(this.persistent);
    });
    this.persistentQueue = turn.catch(() => undefined);
    return turn;
  }

  private poolFor(image: string): ContainerPool {
    let pool = this.pools.get(image);
    if (!pool) {
      const { poolStrategy, poolSize } = this.options;
      pool = new ContainerPool(() => this.createContainer(image), poolStrategy, poolSize, this.log);
      this.pools.set(image, pool);
    }
    return pool;
  }

  private async createContainer(image: string): Promise<SandboxContainer> {
    const labels: Record<string, string> =
      this.options.mode === "persistent" ? { [LABELS.session]: "local" } : {};
    const channel =
      this.options.egressPolicy && (await this.gateway?.open(this.options.egressPolicy));
    try {
      const spec = containerSpec(this.options, image, labels);
      if (channel) spec.HostConfig = { ...spec.HostConfig, Binds: [channel.bind] };
      const container = await SandboxContainer.start(this.docker, spec, this.log);
      if (channel) {
        this.egress.set(container, channel);
        container.onGone(() =>
          channel.close().catch((error: Error) => this.log(`egress channel: ${error.message}`)),
        );
      }
      // isol8's own runtime images hold the bootstraps; a custom image may not.
      const runtime = RUNTIMES.find((r) => runtimeImage(r) === image);
      const prestart =
        runtime && !this.options.image && prestartSpec(runtimeAdapter(runtime), this.prestartEnv);
      if (prestart) container.prestart(prestart);
      return container;
    } catch (error) {
      await channel?.close();
      const status = (error as { statusCode?: number }).statusCode;
      const message = String((error as Error).message);
      if (this.options.ociRuntime && /unknown runtime|specified runtime/i.test(message)) {
        throw new InvalidOptionError(
          `ociRuntime: "${this.options.ociRuntime}" is not registered with Docker (see \`docker info\` for the runtimes it knows; scripts/install-gvisor.sh registers runsc)`,
        );
      }
      if (status === 404 && /image/i.test(message)) {
        throw new ImageNotFoundError(
          image === PYTHON_DATA_IMAGE
            ? `image ${image} not found; run \`isol8 setup --data-science\` to build it`
            : `image ${image} not found; run \`isol8 setup\` to build the runtime images`,
        );
      }
      throw error;
    }
  }

  /**
   * Reads the requested output files from the container the run used,
   * before it is wiped. Together they may hold `maxOutputSize` bytes: each
   * file's size is reserved against what is left before it is read, so one
   * that does not fit is refused by its size and none of it crosses the
   * channel. What is left out is said in `fileErrors`, by path; a file
   * holding a secret is withheld whole (named in `withheldFiles`), never edited.
   */
  private async collectOutputs(container: SandboxContainer, paths: string[]): Promise<OutputFiles> {
    const files: Record<string, string> = {};
    const errors: Record<string, string> = {};
    const withheld: string[] = [];
    let left = this.options.maxOutputBytes;
    for (const path of new Set(paths.map((p) => posix.normalize(p)))) {
      try {
        const content = await readSandboxFile(container, path, left, this.options.timeoutMs);
        left -= content.length;
        if (withheldReason(content, this.secrets)) withheld.push(path);
        else files[path] = content.toString("base64");
      } catch (error) {
        if (!(error instanceof SandboxFileError)) throw error;
        errors[path] =
          error instanceof SandboxFileTooLargeError
            ? `${error.reason}: the files of outputPaths share maxOutputSize (${this.options.maxOutputBytes} bytes)`
            : error.reason;
        this.log(`output ${path} left out: ${error.message}`);
      }
    }
    return {
      files,
      ...(Object.keys(errors).length ? { fileErrors: errors } : {}),
      ...(withheld.length ? { withheldFiles: withheld } : {}),
    };
  }

  /**
   * The proxy and trust-store variables of a sandbox with network access.
   * Node.js and Deno carry their own CA lists and ignore the image's store
   * (which holds the CAs `isol8 setup` was given) unless told to read it.
   */
  private networkEnv(): Record<string, string> {
    if (this.options.network === "none") return {};
    const env: Record<string, string> = this.options.network === "filtered" ? { ...PROXY_ENV } : {};
    env.NODE_EXTRA_CA_CERTS = SYSTEM_CA_BUNDLE;
    env.DENO_TLS_CA_STORE = "system";
    if (this.withCaCertificates) {
      for (const name of [
        "SSL_CERT_FILE",
        "REQUESTS_CA_BUNDLE",
        "PIP_CERT",
        "CURL_CA_BUNDLE",
        "NPM_CONFIG_CAFILE",
        "NODE_EXTRA_CA_CERTS",
        "DENO_CERT",
      ])
        env[name] = CA_BUNDLE_FILE;
    }
    return env;
  }

  private runSpec(request: ExecutionRequest): RunSpec {
    const adapter = runtimeAdapter(request.runtime);
    const base = {
      ...BASE_ENV,
      ...adapter.env,
      ...this.engineEnv,
      ...(request.installPackages?.length
        ? installPlan(request.runtime, request.installPackages, this.options.registries).programEnv
        : {}),
      ...request.env,
      ...this.options.secrets,
    };
    const timeoutMs = request.timeoutMs ?? this.options.timeoutMs;
    const common = {
      env: base,
      workdir: request.workdir === undefined ? SANDBOX_WORKDIR : workdirPath(request.workdir),
      timeoutMs,
      outputLimit: this.options.maxOutputBytes,
    };
    // The request's own files first, so the program's file wins a clash of paths.
    const files: RunSpec["files"] = [
      ...Object.entries(request.files ?? {}).map(([path, content]) => ({
        path: posix.normalize(path),
        content,
      })),
      ...Object.entries(request.filesBase64 ?? {}).map(([path, content]) => ({
        path: posix.normalize(path),
        content: Buffer.from(content, "base64"),
      })),
    ];
    if (request.cmd !== undefined && request.cmd.trim() !== "") {
      return { ...common, argv: ["bash", "-c", request.cmd], files };
    }
    const path = `${SANDBOX_WORKDIR}/main${request.fileExtension ?? adapter.defaultExtension}`;
    return {
      ...common,
      argv: adapter.command(path),
      files: [...files, { path, content: request.code ?? "" }],
      prestarted: !this.options.image && mayUsePrestart(adapter, base, this.prestartEnv),
    };
  }
}

/**
 * The installer's environment: the run's, without what points the program
 * at the installed packages (what an earlier run left in /sandbox must not
 * become part of the installer), plus the installer's own settings.
 */
function installEnv(runEnv: Record<string, string>, plan: InstallPlan): Record<string, string> {
  const env = { ...runEnv, ...plan.env };
  for (const name of Object.keys(plan.programEnv)) if (!(name in plan.env)) delete env[name];
  return env;
}

/**
 * The cgroup's peak covers a container's whole life, so it is the run's own
 * only in a fresh container; in a reused one the run's largest process is
 * the best measure there is.
 */
function resourceUsage(
  report: ExitReport,
  freshContainer: boolean,
  network: RunNetworkRecord | undefined,
): ResourceUsage {
  const cpuTimeMs = report.cpuMicros / 1000;
  const wallMs = report.wallMicros / 1000;
  const peakBytes =
    freshContainer && report.containerPeakBytes > 0
      ? report.containerPeakBytes
      : report.maxRssBytes;
  return {
    cpuPercent: wallMs > 0 ? Math.round((cpuTimeMs / wallMs) * 1000) / 10 : 0,
    memoryMB: Math.round((peakBytes / (1024 * 1024)) * 10) / 10,
    cpuTimeMs: Math.round(cpuTimeMs),
    networkBytesIn: network?.bytesIn ?? 0,
    networkBytesOut: network?.bytesOut ?? 0,
  };
}

/** What a streamed run says in `error` events before `exit`. */
function noticesFor(
  result: Pick<
    ExecutionResult,
    | "timedOut"
    | "oomKilled"
    | "truncated"
    | "setupFailed"
    | "installFailed"
    | "exitCode"
    | "withheldFiles"
  >,
  options: Pick<ResolvedOptions, "memoryBytes" | "maxOutputBytes">,
  timeoutMs: number,
): string[] {
  const notices: string[] = [];
  if (result.installFailed)
    notices.push(`installing packages failed (exit ${result.exitCode}); the program did not run`);
  if (result.setupFailed)
    notices.push(`setup script failed (exit ${result.exitCode}); the program did not run`);
  if (result.timedOut)
    notices.push(`timed out after ${timeoutMs} ms; every process of the run was killed`);
  if (result.oomKilled)
    notices.push(
      `out of memory: a process was killed at the ${options.memoryBytes}-byte memory limit`,
    );
  if (result.truncated) notices.push(`output truncated at ${options.maxOutputBytes} bytes`);
  for (const path of result.withheldFiles ?? [])
    notices.push(`outputPaths: ${path} withheld: it contains the value of a secret`);
  return notices;
}
