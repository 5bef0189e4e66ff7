import type { SSEStreamingApi } from "hono/streaming";

/**
 * What one reader of an event stream (a process's output, a watch) has not
 * been sent yet: queued up to `limit` bytes. Past that the reader is
 * `behind` and is given nothing more, so a client that never reads costs
 * the server at most `limit` bytes, however fast the source is.
 */
export class ReaderBacklog<T> {
  private readonly queue: { event: T; bytes: number }[] = [];
  private bytes = 0;
  private finished = false;
  private wake: (() => void) | undefined;
  /** It fell past its limit: what it was sent is all it gets. */
  behind = false;

  constructor(private readonly limit: number) {}

  push(event: T, bytes: number): void {
    if (this.behind || this.finished) return;
    this.bytes += bytes;
    if (this.bytes > this.limit) this.behind = true;
    else this.queue.push({ event, bytes });
    this.wakeUp();
  }

  /** No more events come: the source ended, or the reader left. */
  finish(): void {
    this.finished = true;
    this.wakeUp();
  }

  /** The next event; undefined once none is queued and it is behind or finished. */
  async next(): Promise<T | undefined> {
    for (;;) {
      const head = this.queue.shift();
      if (head) {
        this.bytes -= head.bytes;
        return head.event;
      }
      if (this.behind || this.finished) return undefined;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

/** Writes one Server-Sent Event of `event` as JSON (which has no raw newlines: one data line). */
export async function writeEvent(stream: SSEStreamingApi, event: unknown): Promise<void> {
  await stream.write(`data: ${JSON.stringify(event)}\n\n`);
}

/** A comment every `ms`, so proxies keep a quiet stream open; returns the way to stop. */
export function heartbeat(stream: SSEStreamingApi, ms: number): () => void {
  const timer = setInterval(() => {
    stream.write(": heartbeat\n\n").catch(() => undefined);
  }, ms);
  return () => clearInterval(timer);
}
