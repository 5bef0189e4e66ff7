/**
 * The server's long-lived sandboxes, by tenant: each is made by the warm
 * engine of its options (engine-pool.ts), which it holds until it ends, and
 * is seen only by its tenant (another tenant's id is a 404, as for
 * sessions). Bounded per tenant, in count, lifetime and process limit,
 * so no client can hold the server's machine.
 */
import type { Sandbox } from "../sandbox/sandbox.js";
import type { CreateSandboxOptions, SandboxInfo } from "../sandbox/types.js";
import type { DockerIsol8Options } from "../types.js";
import type { EnginePool } from "./engine-pool.js";
import { HttpError } from "./errors.js";

interface Limits {
  maxPerTenant: number;
  maxTimeoutMs: number;
  maxPidsLimit: number;
}

interface Entry {
  tenantId: string;
  sandbox: Sandbox;
}

/** Ended sandboxes kept for GET /sandboxes/:id, per server, at most. */
const ENDED_KEPT = 100;

export class SandboxRegistry {
  private readonly entries = new Map<string, Entry>();
  private readonly ended: string[] = [];
  /** Sandboxes being made, per tenant: they count against its limit too. */
  private readonly starting = new Map<string, number>();

  constructor(
    private readonly engines: EnginePool,
    private readonly limits: Limits,
  ) {}

  /** A new sandbox for the tenant, on the engine of `engineOptions`. */
  async create(
    tenantId: string,
    options: CreateSandboxOptions,
    engineOptions: DockerIsol8Options,
  ): Promise<Sandbox> {
    this.checkLimits(options.timeoutMs, options.pidsLimit);
    const running = this.running(tenantId).length + (this.starting.get(tenantId) ?? 0);
    if (running >= this.limits.maxPerTenant)
      throw new HttpError(
        429,
        `this tenant has ${running} sandboxes, its most (sandboxes.maxPerTenant ${this.limits.maxPerTenant}); kill one first`,
      );
    this.starting.set(tenantId, (this.starting.get(tenantId) ?? 0) + 1);
    const { engine, release } = this.engines.acquire(engineOptions);
    try {
      const sandbox = await engine.createSandbox(options);
      this.entries.set(sandbox.sandboxId, { tenantId, sandbox });
      sandbox.onEnded(() => {
        release();
        this.ended.unshift(sandbox.sandboxId);
        for (const gone of this.ended.splice(ENDED_KEPT)) this.entries.delete(gone);
      });
      return sandbox;
    } catch (error) {
      release();
      throw error;
    } finally {
      this.starting.set(tenantId, (this.starting.get(tenantId) ?? 1) - 1);
    }
  }

  /** Refuses what is past the server's limits, with 403 naming the limit. */
  checkLimits(timeoutMs: number | undefined, pidsLimit?: number): void {
    if (timeoutMs !== undefined && timeoutMs > this.limits.maxTimeoutMs)
      throw new HttpError(
        403,
        `timeoutMs: ${timeoutMs} is more than this server allows (sandboxes.maxTimeoutMs ${this.limits.maxTimeoutMs})`,
      );
    if (pidsLimit !== undefined && pidsLimit > this.limits.maxPidsLimit)
      throw new HttpError(
        403,
        `pidsLimit: ${pidsLimit} is more than this server allows (sandboxes.maxPidsLimit ${this.limits.maxPidsLimit})`,
      );
  }

  /** The tenant's sandbox of this id, running or recently ended; 404 otherwise. */
  get(tenantId: string, sandboxId: string): Sandbox {
    const entry = this.entries.get(sandboxId);
    if (!entry || entry.tenantId !== tenantId)
      throw new HttpError(
        404,
        `sandbox ${JSON.stringify(sandboxId)} not found`,
        {},
        "SANDBOX_NOT_FOUND",
      );
    return entry.sandbox;
  }

  /** A sandbox by id alone, whatever its tenant: for a face that admits requests by a sandbox's own token. */
  find(sandboxId: string): Sandbox | undefined {
    return this.entries.get(sandboxId)?.sandbox;
  }

  /** The tenant's sandboxes: running, then recently ended. */
  list(tenantId: string): SandboxInfo[] {
    const own = [...this.entries.values()].filter((entry) => entry.tenantId === tenantId);
    const infos = own.map((entry) => entry.sandbox.info());
    return [
      ...infos.filter((i) => i.state === "running"),
      ...infos.filter((i) => i.state === "ended"),
    ];
  }

  private running(tenantId: string): Sandbox[] {
    return [...this.entries.values()]
      .filter((entry) => entry.tenantId === tenantId && entry.sandbox.state === "running")
      .map((entry) => entry.sandbox);
  }

  /** Ends every sandbox (the server is stopping). */
  async stopAll(): Promise<void> {
    await Promise.all([...this.entries.values()].map((entry) => entry.sandbox.kill()));
  }
}
