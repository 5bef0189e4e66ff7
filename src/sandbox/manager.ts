/**
 * An engine's long-lived sandboxes: makes them (from a warm pool when they
 * use the default limits), finds them by id, lists them, and ends them all
 * when the engine stops. A sandbox ends with the engine process that holds
 * it: its channel is the only thing that keeps its container alive.
 */
import { randomUUID } from "node:crypto";
import type { DebugLog } from "../engine/debug-log.js";
import { InvalidOptionError } from "../engine/errors.js";
import type { ResolvedOptions } from "../engine/options.js";
import { ContainerPool } from "../engine/pool.js";
import type { SandboxContainer } from "../engine/sandbox-container.js";
import type { SecretSet } from "../output/secret-masker.js";
import type { Runtime } from "../runtimes/index.js";
import { SandboxNotFoundError } from "./errors.js";
import { Sandbox } from "./sandbox.js";
import type { CreateSandboxOptions, SandboxInfo } from "./types.js";
import { processEnvironment, SANDBOX_PIDS_LIMIT, sandboxSettings } from "./validate.js";

/** Ended sandboxes kept for `getInfo` and `listSandboxes`, at most. */
const ENDED_KEPT = 100;

interface SandboxManagerDeps {
  options: Pick<ResolvedOptions, "maxOutputBytes" | "poolSize" | "network" | "cpuLimit">;
  secrets: SecretSet;
  log: DebugLog;
  image: (runtime: Runtime) => string;
  /** The environment a sandbox's processes start from, before the sandbox's own. */
  env: (runtime: Runtime) => Record<string, string>;
  /** Starts a hardened container for a sandbox, with this process limit and no prestarted interpreter. */
  start: (image: string, pidsLimit: number) => Promise<SandboxContainer>;
}

export class SandboxManager {
  private readonly running = new Map<string, Sandbox>();
  private readonly ended: Sandbox[] = [];
  private readonly pools = new Map<string, ContainerPool>();
  private stopping = false;

  constructor(private readonly deps: SandboxManagerDeps) {}

  async create(options: CreateSandboxOptions | undefined): Promise<Sandbox> {
    const settings = sandboxSettings(options);
    if (this.deps.options.network === "filtered")
      throw new InvalidOptionError(
        'network: sandboxes do not support the "filtered" network yet; use an engine with network "none" or "host"',
      );
    if (this.stopping) throw new InvalidOptionError("createSandbox: the engine is stopping");
    const env = processEnvironment("env", this.deps.env(settings.runtime), settings.env);
    const image = this.deps.image(settings.runtime);
    const container =
      settings.pidsLimit === SANDBOX_PIDS_LIMIT
        ? await this.poolFor(image).take()
        : await this.deps.start(image, settings.pidsLimit);
    const sandbox = new Sandbox({
      sandboxId: randomUUID(),
      container,
      image,
      settings,
      env,
      historyBytes: this.deps.options.maxOutputBytes,
      cpuLimit: this.deps.options.cpuLimit,
      secrets: this.deps.secrets,
      onEnd: (ended) => this.onEnd(ended),
    });
    this.running.set(sandbox.sandboxId, sandbox);
    if (this.stopping) await sandbox.end("engine stopped");
    return sandbox;
  }

  /** A sandbox of this engine, running or recently ended; SandboxNotFoundError if none. */
  get(sandboxId: string): Sandbox {
    const sandbox =
      this.running.get(sandboxId) ?? this.ended.find((s) => s.sandboxId === sandboxId);
    if (!sandbox) throw new SandboxNotFoundError(sandboxId);
    return sandbox;
  }

  /** Running sandboxes, then the most recently ended ones. */
  list(): SandboxInfo[] {
    return [...this.running.values(), ...this.ended].map((sandbox) => sandbox.info());
  }

  /** Ends every sandbox and empties the pools. */
  async stopAll(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.running.values()].map((sandbox) => sandbox.end("engine stopped")));
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((pool) => pool.drain()));
  }

  private onEnd(sandbox: Sandbox): void {
    this.running.delete(sandbox.sandboxId);
    this.ended.unshift(sandbox);
    this.ended.splice(ENDED_KEPT);
  }

  private poolFor(image: string): ContainerPool {
    let pool = this.pools.get(image);
    if (!pool) {
      const size = { clean: this.deps.options.poolSize.clean, dirty: 0 };
      pool = new ContainerPool(
        () => this.deps.start(image, SANDBOX_PIDS_LIMIT),
        "secure",
        size,
        this.deps.log,
      );
      this.pools.set(image, pool);
    }
    return pool;
  }
}
