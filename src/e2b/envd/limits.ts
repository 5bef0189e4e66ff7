/** Bounds on what one client can hold of a sandbox's envd (streams, waiting writes). */

import { setTimeout as sleep } from "node:timers/promises";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Sandbox } from "../../sandbox/sandbox.js";
import type { ReaderBacklog } from "../../server/reader-backlog.js";

/** Streams (process output, watches) open at once on one sandbox: with their backlogs, what one sandbox's readers can cost. */
export const STREAMS_PER_SANDBOX = 32;

/** Counts per key (open streams per sandbox, waiting writes per process), refusing past a limit. */
export class Counter<K extends object> {
  private readonly counts = new WeakMap<K, number>();

  constructor(
    private readonly limit: number,
    private readonly refusal: (held: number) => string,
  ) {}

  /** Runs `work` counted against `key`'s limit; ResourceExhausted once the limit is held. */
  async *during<T>(key: K, work: () => AsyncGenerator<T>): AsyncGenerator<T> {
    this.take(key);
    try {
      yield* work();
    } finally {
      this.give(key);
    }
  }

  async while<T>(key: K, work: () => Promise<T>): Promise<T> {
    this.take(key);
    try {
      return await work();
    } finally {
      this.give(key);
    }
  }

  private take(key: K): void {
    const held = this.counts.get(key) ?? 0;
    if (held >= this.limit) throw new ConnectError(this.refusal(held), Code.ResourceExhausted);
    this.counts.set(key, held + 1);
  }

  private give(key: K): void {
    this.counts.set(key, (this.counts.get(key) ?? 1) - 1);
  }
}

/** The count of a sandbox's open streams, shared by its services. */
export function streamCounter(): Counter<Sandbox> {
  return new Counter<Sandbox>(
    STREAMS_PER_SANDBOX,
    (held) => `this sandbox has ${held} output streams open, its most; close one first`,
  );
}

/**
 * The next event of a stream, or undefined once `keepaliveMs` pass without
 * one (time for a keepalive; `next` stays pending, to be awaited again).
 * The timer is cancelled when the event wins, so a busy stream holds none.
 */
export async function nextOrKeepalive<T>(
  next: Promise<T>,
  keepaliveMs: number,
): Promise<{ event: T } | undefined> {
  const timer = new AbortController();
  try {
    return await Promise.race([
      next.then((event) => ({ event })),
      // Aborted once the race is decided; that rejection is expected and dropped.
      sleep(keepaliveMs, undefined, { signal: timer.signal }).catch(() => undefined),
    ]);
  } finally {
    timer.abort();
  }
}

/** What `withKeepalives` yields when a keepalive is due. */
export const KEEPALIVE = Symbol("keepalive");

/**
 * A reader backlog's events as they come, KEEPALIVE after each
 * `keepaliveMs` without one, until the backlog is drained or `signal`
 * fires (the client left: the backlog is finished then, and nothing more
 * is yielded). The caller tells the two ends apart by `signal.aborted`.
 */
export async function* withKeepalives<T>(
  backlog: ReaderBacklog<T>,
  keepaliveMs: number,
  signal: AbortSignal,
): AsyncGenerator<T | typeof KEEPALIVE> {
  const leave = () => backlog.finish();
  signal.addEventListener("abort", leave);
  try {
    let next = backlog.next();
    for (;;) {
      const ready = await nextOrKeepalive(next, keepaliveMs);
      if (signal.aborted) return;
      if (ready === undefined) {
        yield KEEPALIVE;
        continue;
      }
      if (ready.event === undefined) return;
      yield ready.event;
      next = backlog.next();
    }
  } finally {
    signal.removeEventListener("abort", leave);
  }
}
