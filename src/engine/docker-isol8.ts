import { randomUUID } from "node:crypto";
import type Docker from "dockerode";
import { runtimeImage } from "../images/names.js";
import { TextStream } from "../output/text-stream.js";
import { runtimeAdapter } from "../runtimes/index.js";
import type {
  DockerIsol8Options,
  ExecutionRequest,
  ExecutionResult,
  ExecutionSummary,
  ResourceUsage,
  StreamEvent,
} from "../types.js";
import { containerSpec } from "./container-spec.js";
import { createDebugLog, type DebugLog } from "./debug-log.js";
import { assertDockerReachable, createDockerClient } from "./docker-client.js";
import { EventQueue } from "./event-queue.js";
import { LABELS } from "./labels.js";
import { InvalidOptionError, type ResolvedOptions, resolveOptions } from "./options.js";
import type { ExitReport, RunSpec } from "./protocol.js";
import { InvalidRequestError, validateRequest } from "./request.js";
import { type OutputSink, SandboxContainer } from "./sandbox-container.js";

/** The environment every program starts from; nothing of the host's leaks in. */
const BASE_ENV = {
  PATH: "/usr/local/bin:/usr/bin:/bin",
  HOME: "/sandbox",
  LANG: "C.UTF-8",
  TMPDIR: "/tmp",
};

/** The requested image is not there; the message says how to build it. */
export class ImageNotFoundError extends Error {
  override readonly name = "ImageNotFoundError";
}

type OutputEvent = { type: "stdout" | "stderr"; data: string };

/**
 * Runs code in locked-down Docker containers on the local (or DOCKER_HOST)
 * engine. `execute` returns the whole result; `executeStream` yields output
 * as it is produced. Both come from one execution path.
 */
export class DockerIsol8 {
  private readonly options: ResolvedOptions;
  private readonly docker: Docker;
  private readonly log: DebugLog;
  /** Containers being removed; `stop()` waits for them. */
  private readonly removals = new Set<Promise<void>>();
  private persistent: SandboxContainer | undefined;
  /** The image of the persistent container, fixed by the first execution. */
  private persistentImage: string | undefined;
  private persistentQueue: Promise<unknown> = Promise.resolve();

  constructor(options: DockerIsol8Options = {}, docker: Docker = createDockerClient()) {
    this.options = resolveOptions(options);
    if (this.options.network === "filtered") {
      throw new InvalidOptionError(
        "network: filtered mode is not available in this version; use none or host",
      );
    }
    this.docker = docker;
    this.log = createDebugLog(this.options.debug);
  }

  /** Checks that Docker answers. Throws DockerUnavailableError if not. */
  async start(): Promise<void> {
    await this.log.time("ping docker", () => assertDockerReachable(this.docker));
  }

  /** Runs a program to completion and returns its output and exit status. */
  async execute(request: ExecutionRequest): Promise<ExecutionResult> {
    const out: string[] = [];
    const err: string[] = [];
    const result = await this.run(request, (event) =>
      (event.type === "stdout" ? out : err).push(event.data),
    );
    return { ...result, stdout: out.join(""), stderr: err.join("") };
  }

  /**
   * Runs a program and yields its output as it is produced, then one `exit`
   * event. A timeout, an out-of-memory kill or truncated output is announced
   * by an `error` event before `exit`. Stopping the iteration early kills the run.
   */
  async *executeStream(request: ExecutionRequest): AsyncGenerator<StreamEvent> {
    validateRequest(request);
    let container: SandboxContainer | undefined;
    const flow = { pause: () => container?.pause(), resume: () => container?.resume() };
    const queue = new EventQueue<StreamEvent>(flow);
    let failure: unknown;
    let finished = false;
    const done = this.run(
      request,
      (event) => queue.push(event),
      (c) => {
        container = c;
      },
    )
      .then((result) => {
        const timeoutMs = request.timeoutMs ?? this.options.timeoutMs;
        for (const notice of noticesFor(result, this.options, timeoutMs))
          queue.push({ type: "error", data: notice });
        queue.push({ type: "exit", data: String(result.exitCode), result });
      })
      .catch((error: unknown) => {
        failure = error;
      })
      .finally(() => {
        finished = true;
        queue.end();
      });
    try {
      for (let next = await queue.next(); !next.done; next = await queue.next()) yield next.value;
      if (failure !== undefined) throw failure;
    } finally {
      if (!finished && container) {
        // The caller stopped listening: the run is killed with its container.
        container.resume();
        await container.remove().catch(() => undefined);
      }
      await done;
    }
  }

  /** Stops the engine: removes every container it still has and waits until they are gone. */
  async stop(): Promise<void> {
    const persistent = this.persistent;
    this.persistent = undefined;
    if (persistent) this.track(persistent);
    await Promise.all([...this.removals]);
  }

  private async run(
    request: ExecutionRequest,
    emit: (event: OutputEvent) => void,
    onContainer?: (container: SandboxContainer) => void,
  ): Promise<ExecutionSummary> {
    validateRequest(request);
    const started = performance.now();
    const timestamp = new Date().toISOString();
    const executionId = randomUUID();
    const spec = this.runSpec(request);
    const secrets = Object.values(this.options.secrets);
    const streams = { stdout: new TextStream(secrets), stderr: new TextStream(secrets) };
    const sink: OutputSink = {
      stdout: (chunk) => emitText("stdout", streams.stdout.push(chunk)),
      stderr: (chunk) => emitText("stderr", streams.stderr.push(chunk)),
    };
    function emitText(type: "stdout" | "stderr", data: string) {
      if (data) emit({ type, data });
    }

    const image = this.options.image ?? runtimeImage(request.runtime);
    const stdin = request.stdin === undefined ? undefined : Buffer.from(request.stdin);
    const { report, containerId } = await this.onContainer(image, async (container) => {
      onContainer?.(container);
      const report = await this.log.time("run", () => container.run(spec, sink, stdin));
      return { report, containerId: container.id };
    });
    emitText("stdout", streams.stdout.end());
    emitText("stderr", streams.stderr.end());
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
      resourceUsage: resourceUsage(report),
    };
  }

  /** Gives `use` a container for one run: a fresh one, or the session's own in persistent mode. */
  private async onContainer<T>(
    image: string,
    use: (container: SandboxContainer) => Promise<T>,
  ): Promise<T> {
    if (this.options.mode === "persistent") {
      // One run at a time in the session's container, in call order.
      const turn = this.persistentQueue.then(async () => {
        if (this.persistentImage !== undefined && this.persistentImage !== image) {
          throw new InvalidRequestError(
            `runtime: this persistent engine's container runs ${this.persistentImage}; use another engine for ${image}`,
          );
        }
        this.persistentImage = image;
        if (!this.persistent?.usable) this.persistent = await this.createContainer(image);
        return use(this.persistent);
      });
      this.persistentQueue = turn.catch(() => undefined);
      return turn;
    }
    const container = await this.createContainer(image);
    try {
      return await use(container);
    } finally {
      if (this.options.persist) container.release(true);
      else this.track(container);
    }
  }

  private async createContainer(image: string): Promise<SandboxContainer> {
    const labels: Record<string, string> =
      this.options.mode === "persistent" ? { [LABELS.session]: "local" } : {};
    try {
      return await SandboxContainer.start(
        this.docker,
        containerSpec(this.options, image, labels),
        this.log,
      );
    } catch (error) {
      const status = (error as { statusCode?: number }).statusCode;
      const message = String((error as Error).message);
      if (this.options.ociRuntime && /unknown runtime/i.test(message)) {
        throw new InvalidOptionError(
          `ociRuntime: "${this.options.ociRuntime}" is not registered with Docker (see \`docker info\` for the runtimes it knows; scripts/install-gvisor.sh registers runsc)`,
        );
      }
      if (status === 404 && /image/i.test(message)) {
        throw new ImageNotFoundError(
          `image ${image} not found; run \`isol8 setup\` to build the runtime images`,
        );
      }
      throw error;
    }
  }

  private track(container: SandboxContainer): void {
    const removal = this.log
      .time(`remove container ${container.id.slice(0, 12)}`, () => container.remove())
      .catch((error: unknown) => this.log(`removing ${container.id}: ${String(error)}`))
      .finally(() => this.removals.delete(removal));
    this.removals.add(removal);
  }

  private runSpec(request: ExecutionRequest): RunSpec {
    const adapter = runtimeAdapter(request.runtime);
    const base = { ...BASE_ENV, ...adapter.env, ...request.env, ...this.options.secrets };
    const timeoutMs = request.timeoutMs ?? this.options.timeoutMs;
    const common = {
      env: base,
      workdir: "/sandbox",
      timeoutMs,
      outputLimit: this.options.maxOutputBytes,
    };
    if (request.cmd !== undefined && request.cmd.trim() !== "") {
      return { ...common, argv: ["bash", "-c", request.cmd], files: [] };
    }
    const path = `/sandbox/main${request.fileExtension ?? adapter.defaultExtension}`;
    return {
      ...common,
      argv: adapter.command(path),
      files: [{ path, content: request.code ?? "" }],
    };
  }
}

function resourceUsage(report: ExitReport): ResourceUsage {
  const cpuTimeMs = report.cpuMicros / 1000;
  const wallMs = report.wallMicros / 1000;
  return {
    cpuPercent: wallMs > 0 ? Math.round((cpuTimeMs / wallMs) * 1000) / 10 : 0,
    memoryMB: Math.round((report.peakMemoryBytes / (1024 * 1024)) * 10) / 10,
    cpuTimeMs: Math.round(cpuTimeMs),
    networkBytesIn: 0,
    networkBytesOut: 0,
  };
}

/** What a streamed run says in `error` events before `exit`. */
export function noticesFor(
  result: Pick<ExecutionResult, "timedOut" | "oomKilled" | "truncated">,
  options: Pick<ResolvedOptions, "memoryBytes" | "maxOutputBytes">,
  timeoutMs: number,
): string[] {
  const notices: string[] = [];
  if (result.timedOut)
    notices.push(`timed out after ${timeoutMs} ms; every process of the run was killed`);
  if (result.oomKilled)
    notices.push(
      `out of memory: a process was killed at the ${options.memoryBytes}-byte memory limit`,
    );
  if (result.truncated) notices.push(`output truncated at ${options.maxOutputBytes} bytes`);
  return notices;
}
