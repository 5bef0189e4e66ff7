import { HttpError } from "./errors.js";

/**
 * The server's own execution slots: at most `maxRunning` executions at once
 * and `maxQueued` waiting, first come first served. One more is refused at
 * once with 429 rather than left to wait without bound.
 */
export class ExecutionSlots {
  private active = 0;
  private readonly waiting: { admit: () => void; cancel: (reason: unknown) => void }[] = [];
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly maxRunning: number,
    private readonly maxQueued: number,
  ) {}

  get running(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Waits for a slot and returns its release function (call it once).
   * Throws 429 when slots and queue are full, or the abort reason when the
   * caller goes away while waiting.
   */
  async enter(signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted();
    if (this.active < this.maxRunning) {
      this.active++;
      return this.releaser();
    }
    if (this.waiting.length >= this.maxQueued) {
      throw new HttpError(
        429,
        "the server is busy: every execution slot and queue place is taken; retry later",
        {
          "Retry-After": String(this.retryAfterSeconds()),
        },
      );
    }
    await new Promise<void>((admit, cancel) => {
      const entry = { admit, cancel };
      this.waiting.push(entry);
      signal?.addEventListener(
        "abort",
        () => {
          const at = this.waiting.indexOf(entry);
          if (at >= 0) {
            this.waiting.splice(at, 1);
            cancel(signal.reason);
          }
        },
        { once: true },
      );
    });
    return this.releaser();
  }

  /** Resolves once nothing runs or waits, or after `ms`; true if it became idle. */
  async idle(ms: number): Promise<boolean> {
    if (this.active === 0 && this.waiting.length === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const became = await Promise.race([
      new Promise<boolean>((resolve) => this.idleWaiters.push(() => resolve(true))),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), ms);
      }),
    ]);
    clearTimeout(timer);
    return became;
  }

  /** A rough hint: a second per queued execution per slot, at least one. */
  private retryAfterSeconds(): number {
    return Math.max(1, Math.ceil(this.waiting.length / this.maxRunning));
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next.admit();
      else this.active--;
      if (this.active === 0 && this.waiting.length === 0) {
        for (const wake of this.idleWaiters.splice(0)) wake();
      }
    };
  }
}
