import type { DebugLog } from "./debug-log.js";
import { LABELS } from "./labels.js";
import type { ResolvedOptions } from "./options.js";
import { ContainerPool } from "./pool.js";
import { InvalidRequestError } from "./request.js";
import type { SandboxContainer } from "./sandbox-container.js";
import {
  readSandboxFile,
  SandboxFileError,
  SandboxFileTooLargeError,
  writeSandboxFile,
} from "./session-files.js";

/**
 * Where an engine's containers come from, chosen once per engine from its
 * options: warm pools (ephemeral mode), one session container (persistent
 * mode), or a new container kept running after its run (`persist`, for
 * debugging). The engine asks its source for a container and never checks
 * the mode itself.
 */
export interface ContainerSource {
  /** Gives `use` a container for one run of `tenant`'s and takes it back afterwards. */
  withContainer<T>(
    image: string,
    tenant: string | undefined,
    use: (container: SandboxContainer) => Promise<T>,
  ): Promise<T>;
  /** A container a code context keeps for its whole life; never given back. */
  forContext(image: string): Promise<SandboxContainer>;
  /**
   * True when the source keeps a run's container whatever happens to the
   * run (a session: its files are the session), so an aborted run is ended
   * by killing its program; otherwise the container is removed with it.
   */
  readonly keepsContainers: boolean;
  /** Removes every container the source holds and waits until they are gone. */
  stop(): Promise<void>;
}

/** Starts one sandbox container of `image`, with extra `labels`. */
type StartContainer = (image: string, labels: Record<string, string>) => Promise<SandboxContainer>;

/** The source an engine with these options uses. */
export function containerSource(
  options: Pick<ResolvedOptions, "mode" | "persist" | "poolStrategy" | "poolSize" | "timeoutMs">,
  start: StartContainer,
  log: DebugLog,
): ContainerSource {
  if (options.mode === "persistent") return new SessionSource(start, options.timeoutMs);
  if (options.persist) return new KeptContainers(start);
  return new PooledContainers(start, options, log);
}

/** Ephemeral mode: ready containers per image, wiped and reused (`fast`) or replaced (`secure`). */
class PooledContainers implements ContainerSource {
  readonly keepsContainers = false;
  private readonly pools = new Map<string, ContainerPool>();

  constructor(
    private readonly start: StartContainer,
    private readonly options: Pick<ResolvedOptions, "poolStrategy" | "poolSize">,
    private readonly log: DebugLog,
  ) {}

  async withContainer<T>(
    image: string,
    tenant: string | undefined,
    use: (container: SandboxContainer) => Promise<T>,
  ): Promise<T> {
    const pool = this.poolFor(image);
    const container = await pool.acquire(tenant);
    try {
      return await use(container);
    } finally {
      pool.release(container);
    }
  }

  /** From the warm pool; never returned to it. */
  forContext(image: string): Promise<SandboxContainer> {
    return this.poolFor(image).take();
  }

  async stop(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((pool) => pool.drain()));
  }

  private poolFor(image: string): ContainerPool {
    let pool = this.pools.get(image);
    if (!pool) {
      const { poolStrategy, poolSize } = this.options;
      pool = new ContainerPool(() => this.start(image, {}), poolStrategy, poolSize, this.log);
      this.pools.set(image, pool);
    }
    return pool;
  }
}

/** `persist`: each run gets a new container, left running afterwards for `docker exec` debugging. */
class KeptContainers implements ContainerSource {
  readonly keepsContainers = false;

  constructor(private readonly start: StartContainer) {}

  async withContainer<T>(
    image: string,
    _tenant: string | undefined,
    use: (container: SandboxContainer) => Promise<T>,
  ): Promise<T> {
    const container = await this.start(image, {});
    try {
      return await use(container);
    } finally {
      container.release(true);
    }
  }

  forContext(image: string): Promise<SandboxContainer> {
    return this.start(image, {});
  }

  /** What it kept stays: that is what `persist` asks for. */
  async stop(): Promise<void> {}
}

/**
 * Persistent mode: one container for the engine's life, started by its
 * first use, one caller at a time in call order; its /sandbox is the
 * session's files, which can be written before it starts.
 */
export class SessionSource implements ContainerSource {
  readonly keepsContainers = true;
  private container: SandboxContainer | undefined;
  /** The image of the session's first run; every later one must match. */
  private image: string | undefined;
  /** Files put before the container started, written when it does. */
  private readonly pendingFiles = new Map<string, Buffer>();
  private queue: Promise<unknown> = Promise.resolve();
  private static readonly LABELS = { [LABELS.session]: "local" };

  constructor(
    private readonly start: StartContainer,
    private readonly fileTimeoutMs: number,
  ) {}

  withContainer<T>(
    image: string,
    _tenant: string | undefined,
    use: (container: SandboxContainer) => Promise<T>,
  ): Promise<T> {
    const turn = this.queue.then(async () => {
      if (this.image !== undefined && this.image !== image) {
        throw new InvalidRequestError(
          `runtime: this persistent engine's container runs ${this.image}; use another engine for ${image}`,
        );
      }
      this.image = image;
      if (!this.container?.usable) {
        this.container = await this.start(image, SessionSource.LABELS);
        for (const [path, content] of this.pendingFiles)
          await writeSandboxFile(this.container, path, content, this.fileTimeoutMs);
        this.pendingFiles.clear();
      }
      return use(this.container);
    });
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  forContext(image: string): Promise<SandboxContainer> {
    return this.start(image, SessionSource.LABELS);
  }

  /** Writes a file of the session's /sandbox (kept until the container starts, if it has not). */
  async putFile(path: string, content: Buffer): Promise<void> {
    if (this.image === undefined) {
      this.pendingFiles.set(path, content);
      return;
    }
    await this.withContainer(this.image, undefined, (c) =>
      writeSandboxFile(c, path, content, this.fileTimeoutMs),
    );
  }

  /** Reads a file of the session's /sandbox, refusing one larger than `maxBytes` by its size. */
  async getFile(path: string, maxBytes: number): Promise<Buffer> {
    if (this.image === undefined) {
      const pending = this.pendingFiles.get(path);
      if (!pending) throw new SandboxFileError(path, "no such file");
      if (pending.length > maxBytes)
        throw new SandboxFileTooLargeError(
          path,
          `${pending.length} bytes is larger than the limit of ${maxBytes} bytes`,
        );
      return pending;
    }
    return this.withContainer(this.image, undefined, (c) =>
      readSandboxFile(c, path, maxBytes, this.fileTimeoutMs),
    );
  }

  async stop(): Promise<void> {
    const container = this.container;
    this.container = undefined;
    await container?.remove();
  }
}
