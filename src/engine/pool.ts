import type { PoolStrategy } from "../types.js";
import type { DebugLog } from "./debug-log.js";
import type { SandboxContainer } from "./sandbox-container.js";

export interface PoolSize {
  /** Started containers kept ready for the next execution. */
  clean: number;
  /** Used containers being wiped for reuse at once (`fast` only); more are removed. */
  dirty: number;
}

/** The caller of runs that name no tenant (a library user): one caller, as far as the pool knows. */
const ANY_CALLER = "";

/**
 * Pre-started sandbox containers of one image and one set of limits, so an
 * execution starts without any Docker API call. Refilled in the background.
 *
 * A ready container that has run nothing belongs to no one. The first run
 * binds it to its tenant, and after its wipe it serves that tenant only:
 * the wipe is verified, but a container never carries one tenant's leftovers
 * to another even if it missed something. The pool holds `clean` ready
 * containers in all, whoever they are bound to: when a tenant finds none it
 * may use, the longest-waiting one bound to someone else gives up its place.
 */
export class ContainerPool {
  private readonly ready: SandboxContainer[] = [];
  private starting = 0;
  private inUse = 0;
  private wiping = 0;
  private closed = false;
  /** Background work (starts, wipes, removals) that `drain()` waits for. */
  private readonly pending = new Set<Promise<unknown>>();
  /** The tenant each container has run code for; absent: it has run nothing. */
  private readonly boundTo = new WeakMap<SandboxContainer, string>();

  constructor(
    private readonly startContainer: () => Promise<SandboxContainer>,
    private readonly strategy: PoolStrategy,
    private readonly size: PoolSize,
    private readonly log: DebugLog,
  ) {}

  /**
   * A started container for one execution of `tenant`'s: a waiting one
   * bound to it or to no one, or a new one; it is bound to `tenant` from now on.
   */
  async acquire(tenant = ANY_CALLER): Promise<SandboxContainer> {
    const container = this.takeReady(tenant);
    this.inUse++;
    this.refill();
    if (container) {
      this.log(`pool: warm container ${container.id.slice(0, 12)}`);
      this.boundTo.set(container, tenant);
      return container;
    }
    try {
      const started = await this.startContainer();
      this.boundTo.set(started, tenant);
      return started;
    } catch (error) {
      this.inUse--;
      throw error;
    }
  }

  /** The ready container `tenant` may use: its own first, then one nobody has used. */
  private takeReady(tenant: string): SandboxContainer | undefined {
    for (const gone of this.ready.filter((c) => !c.usable)) {
      this.ready.splice(this.ready.indexOf(gone), 1);
      this.background(gone.remove());
    }
    let index = this.ready.findIndex((c) => this.boundTo.get(c) === tenant);
    if (index < 0) index = this.ready.findIndex((c) => !this.boundTo.has(c));
    if (index >= 0) return this.ready.splice(index, 1)[0];
    // Only other tenants' containers wait: the oldest makes room, and the
    // refill replaces it with one nobody has used.
    const evicted = this.ready.shift();
    if (evicted) this.background(evicted.remove());
    return undefined;
  }

  /**
   * A started container that never comes back (a code context keeps it for
   * its life and removes it): the pool refills as if it had been removed.
   */
  async take(tenant = ANY_CALLER): Promise<SandboxContainer> {
    const container = await this.acquire(tenant);
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
