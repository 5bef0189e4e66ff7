/**
 * A single-consumer async queue. It tells its producer to pause when more
 * than `highWater` items wait, and to resume once the consumer has caught up,
 * so a slow consumer never makes the engine buffer without bound.
 */
export class EventQueue<T> {
  private readonly items: T[] = [];
  private waiting: ((result: IteratorResult<T>) => void) | undefined;
  private ended = false;
  private paused = false;

  constructor(
    private readonly flow: { pause(): void; resume(): void },
    private readonly highWater = 64,
  ) {}

  push(item: T): void {
    if (this.waiting) {
      const deliver = this.waiting;
      this.waiting = undefined;
      deliver({ value: item, done: false });
      return;
    }
    this.items.push(item);
    if (!this.paused && this.items.length > this.highWater) {
      this.paused = true;
      this.flow.pause();
    }
  }

  end(): void {
    this.ended = true;
    if (this.waiting && !this.items.length) {
      const deliver = this.waiting;
      this.waiting = undefined;
      deliver({ value: undefined, done: true });
    }
  }

  async next(): Promise<IteratorResult<T>> {
    const item = this.items.shift();
    if (item !== undefined) {
      if (this.paused && this.items.length <= this.highWater / 2) {
        this.paused = false;
        this.flow.resume();
      }
      return { value: item, done: false };
    }
    if (this.ended) return { value: undefined, done: true };
    return new Promise((resolve) => {
      this.waiting = resolve;
    });
  }
}
