import type { DebugLog } from "./debug-log.js";
import type { SandboxContainer } from "./sandbox-container.js";

/**
 * `fast`: a container is wiped (every process killed, /sandbox and /tmp
 * emptied, both verified by the supervisor) after a run and reused.
 * `secure`: a container runs one execution only; fresh ones are started
 * ahead of time so that nobody waits for them.
 */
export type PoolStrategy = "fast" | "secure";

export interface PoolSize {
  /** Started containers kept ready for the next execution. */
  clean: number;
  /** Used containers being wiped for reuse at once (`fast` only); more are removed. */
  dirty: number;
}

/**
 * Pre-started sandbox containers of one image and one set of limits, so an
 * execution starts without any Docker API call. Refilled in the background.
 */
export class ContainerPool {
  private readonly ready: SandboxContainer[] = [];
  private starting = 0;
  private inUse = 0;
  private wiping = 0;
  private closed = false;
  /** Background work (starts, wipes, removals) that `drain()` waits for. */
  private readonly pending = new Set<Promise<unknown>>();

  constructor(
    private readonly startContainer: () => Promise<SandboxContainer>,
    private readonly strategy: PoolStrategy,
    private readonly size: PoolSize,
    private readonly log: DebugLog,
  ) {}

  /** A started container for one execution: a waiting one, or a new one. */
  async acquire(): Promise<SandboxContainer> {
    let container = this.ready.shift();
    while (container && !container.usable) {
      this.background(container.remove());
      container = this.ready.shift();
    }
    this.inUse++;
    this.refill();
    if (container) {
      this.log(`pool: warm container ${container.id.slice(0, 12)}`);
      return container;
    }
    try {
      return await this.startContainer();
    } catch (error) {
      this.inUse--;
      throw error;
    }
  }

  /**
   * A started container that never comes back (a code context keeps it for
   * its life and removes it): the pool refills as if it had been removed.
   */
  async take(): Promise<SandboxContainer> {
    const container = await this.acquire();
    this.inUse--;
    this.refill();
    return container;
  }

  /** Takes a container back after its execution. */
  release(container: SandboxContainer): void {
    this.inUse--;
    const reuse =
      this.strategy === "fast" && !this.closed && container.usable && this.wiping < this.size.dirty;
    if (!reuse) {
      this.background(container.remove());
      this.refill();
      return;
    }
    this.wiping++;
    this.background(
      container
        .wipe()
        .then((clean) => {
          if (clean && !this.closed && this.ready.length < this.size.clean) {
            this.ready.push(container);
            return;
          }
          if (!clean) this.log(`pool: ${container.id.slice(0, 12)} failed its wipe; removing it`);
          return container.remove();
        })
        .catch(() => container.remove())
        .finally(() => {
          this.wiping--;
          this.refill();
        }),
    );
  }

  /**
   * Starts containers until `clean` are ready or on their way. Under `fast`,
   * containers in use are on their way too: they come back after their wipe.
   */
  private refill(): void {
    const returning = this.strategy === "fast" ? this.inUse + this.wiping : 0;
    while (!this.closed && this.ready.length + this.starting + returning < this.size.clean) {
      this.starting++;
      this.background(
        this.startContainer()
          .then((container) => {
            if (this.closed) return container.remove();
            this.ready.push(container);
          })
          .catch((error: unknown) =>
            this.log(`pool: could not start a container: ${String(error)}`),
          )
          .finally(() => {
            this.starting--;
          }),
      );
    }
  }

  /** Stops refilling, removes every container, and waits until all are gone. */
  async drain(): Promise<void> {
    this.closed = true;
    while (this.pending.size || this.ready.length) {
      for (const container of this.ready.splice(0)) this.background(container.remove());
      await Promise.all([...this.pending]);
    }
  }

  private background(work: Promise<unknown>): void {
    const tracked = work
      .catch((error: unknown) => this.log(`pool: ${String(error)}`))
      .finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
  }
}
