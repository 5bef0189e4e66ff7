import { createHash } from "node:crypto";
import type { DockerIsol8 } from "../engine/docker-isol8.js";
import type { DockerIsol8Options } from "../types.js";

interface Entry {
  engine: DockerIsol8;
  users: number;
  lastUsed: number;
}

/** Keys already computed, by options object: admission hands the same object to every request that asks for no options. */
const keys = new WeakMap<DockerIsol8Options, string>();

/**
 * A stable key for an options set: equal options share one engine and its
 * warm containers. Options objects are never changed once made, so an
 * object's key is computed once.
 */
export function optionsKey(options: DockerIsol8Options): string {
  let key = keys.get(options);
  if (key === undefined) {
    key = createHash("sha256").update(canonicalJson(options)).digest("hex");
    keys.set(options, key);
  }
  return key;
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * Long-lived ephemeral engines, one per distinct options set, so that
 * requests find warm containers instead of starting a cold one each. Idle
 * engines beyond `maxIdle`, or unused for `idleMs`, are stopped.
 */
export class EnginePool {
  private readonly entries = new Map<string, Entry>();
  private readonly stopping = new Set<Promise<void>>();

  constructor(
    private readonly create: (options: DockerIsol8Options) => DockerIsol8,
    private readonly maxIdle: number,
    private readonly idleMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** The engine for these options, held until `release` is called. */
  acquire(options: DockerIsol8Options): { engine: DockerIsol8; release: () => void } {
    const key = optionsKey(options);
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { engine: this.create(options), users: 0, lastUsed: this.now() };
      this.entries.set(key, entry);
    }
    const held = entry;
    held.users++;
    let released = false;
    return {
      engine: held.engine,
      release: () => {
        if (released) return;
        released = true;
        held.users--;
        held.lastUsed = this.now();
        this.trim();
      },
    };
  }

  /** Stops engines idle for longer than `idleMs`. */
  sweep(): void {
    const now = this.now();
    for (const [key, entry] of this.entries) {
      if (entry.users === 0 && now - entry.lastUsed >= this.idleMs) this.stop(key, entry);
    }
  }

  /** Stops every engine nobody is using; the count and any failures. */
  async stopIdle(): Promise<{ stopped: number; errors: string[] }> {
    const work: Promise<string | undefined>[] = [];
    for (const [key, entry] of this.entries)
      if (entry.users === 0) work.push(this.stop(key, entry));
    const errors = (await Promise.all(work)).filter((e): e is string => e !== undefined);
    return { stopped: work.length, errors };
  }

  /** Stops every engine, in use or not, and waits until their containers are gone. */
  async stopAll(): Promise<void> {
    for (const [key, entry] of this.entries) void this.stop(key, entry);
    await Promise.all([...this.stopping]);
  }

  /** Keeps at most `maxIdle` idle engines, stopping the least recently used. */
  private trim(): void {
    const idle = [...this.entries].filter(([, e]) => e.users === 0);
    idle.sort(([, a], [, b]) => a.lastUsed - b.lastUsed);
    for (const [key, entry] of idle.slice(0, Math.max(0, idle.length - this.maxIdle)))
      this.stop(key, entry);
  }

  /** Never rejects: resolves to the failure's message, if any. */
  private stop(key: string, entry: Entry): Promise<string | undefined> {
    this.entries.delete(key);
    const stopping = entry.engine.stop().then(
      () => undefined,
      (error: unknown) => String(error),
    );
    const tracked: Promise<void> = stopping.then(() => {
      this.stopping.delete(tracked);
    });
    this.stopping.add(tracked);
    return stopping;
  }
}
