import type { DockerIsol8 } from "../engine/docker-isol8.js";
import type { DockerIsol8Options } from "../types.js";
import type { RemovalReport, SessionInfo } from "../wire/responses.js";
import { optionsKey } from "./engine-pool.js";
import { HttpError } from "./errors.js";

interface Session {
  id: string;
  engine: DockerIsol8;
  optionsKey: string;
  /** True once an execution has run: until then the options may still be chosen. */
  ran: boolean;
  /** Paths put before the first execution, to carry over if the engine is remade. */
  pendingPaths: Set<string>;
  users: number;
  lastAccessed: number;
}

/**
 * Persistent engines, one per (tenant, session id). Each tenant has its own
 * namespace of ids: another tenant's id is simply not there (404), so
 * neither its existence nor its contents leak.
 */
export class SessionManager {
  private readonly tenants = new Map<string, Map<string, Session>>();

  constructor(
    private readonly create: (options: DockerIsol8Options) => DockerIsol8,
    private readonly limits: { idleTimeoutMs: number; maxPerTenant: number },
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    let n = 0;
    for (const sessions of this.tenants.values()) n += sessions.size;
    return n;
  }

  /**
   * The tenant's session for an execution, created on first use with
   * `options`. A later execution may repeat the options or leave them out;
   * different ones are refused, unless the session has only received files.
   * Call the returned `release` when done.
   */
  async forExecution(
    tenantId: string,
    id: string,
    options: DockerIsol8Options,
    explicitOptions: boolean,
  ): Promise<{ engine: DockerIsol8; release: () => void }> {
    let session = this.find(tenantId, id);
    const key = optionsKey(options);
    if (!session) session = this.add(tenantId, id, options);
    else if (explicitOptions && session.optionsKey !== key) {
      if (session.ran) {
        throw new HttpError(
          400,
          `options: session "${id}" runs with the options it was created with; send the same options or none`,
        );
      }
      await this.remake(session, options);
    }
    session.ran = true;
    session.pendingPaths.clear();
    return this.hold(session);
  }

  /** The tenant's session for a file transfer: created (with `options`) by an upload, required by a download. */
  forFile(
    tenantId: string,
    id: string,
    create: DockerIsol8Options | undefined,
  ): { engine: DockerIsol8; release: () => void; notePut: (path: string) => void } {
    let session = this.find(tenantId, id);
    if (!session && create) session = this.add(tenantId, id, create);
    if (!session) throw new HttpError(404, `no session "${id}"`);
    const held = session;
    return {
      ...this.hold(held),
      notePut: (path) => {
        if (!held.ran) held.pendingPaths.add(path);
      },
    };
  }

  /**
   * Reads the tenant's session without using it: looking does not count as
   * use, so a client that only lists a session's contexts does not keep it
   * (and its containers) alive past its idle timeout. 404 when absent.
   */
  inspect<T>(tenantId: string, id: string, read: (engine: DockerIsol8) => T): T {
    const session = this.find(tenantId, id);
    if (!session) throw new HttpError(404, `no session "${id}"`);
    return read(session.engine);
  }

  /** Whether the tenant has a session by this id. */
  has(tenantId: string, id: string): boolean {
    return this.find(tenantId, id) !== undefined;
  }

  /** The tenant's sessions; with no tenant, every tenant's. */
  list(tenantId?: string): SessionInfo[] {
    const tenants =
      tenantId === undefined
        ? [...this.tenants.keys()]
        : this.tenants.has(tenantId)
          ? [tenantId]
          : [];
    return tenants.flatMap((tenant) =>
      [...(this.tenants.get(tenant)?.values() ?? [])].map((s) => ({
        id: s.id,
        tenantId: tenant,
        isActive: s.users > 0,
        lastAccessedAt: new Date(s.lastAccessed).toISOString(),
      })),
    );
  }

  /** Stops and removes the tenant's session; false if it has none by this id. */
  async delete(tenantId: string, id: string): Promise<boolean> {
    const session = this.find(tenantId, id);
    if (!session) return false;
    this.forget(tenantId, id);
    await session.engine.stop();
    return true;
  }

  /** Stops sessions unused for longer than the idle timeout (never one in use). */
  async sweep(): Promise<number> {
    const now = this.now();
    const stale: Promise<void>[] = [];
    for (const [tenantId, sessions] of this.tenants) {
      for (const session of sessions.values()) {
        if (session.users === 0 && now - session.lastAccessed >= this.limits.idleTimeoutMs) {
          this.forget(tenantId, session.id);
          stale.push(session.engine.stop().catch(() => undefined));
        }
      }
    }
    await Promise.all(stale);
    return stale.length;
  }

  /** Stops every session of every tenant. */
  async stopAll(): Promise<RemovalReport> {
    const all = [...this.tenants.values()].flatMap((sessions) => [...sessions.values()]);
    this.tenants.clear();
    const results = await Promise.allSettled(all.map((s) => s.engine.stop()));
    const errors = results.flatMap((r) => (r.status === "rejected" ? [String(r.reason)] : []));
    return { removed: all.length - errors.length, failed: errors.length, errors };
  }

  private find(tenantId: string, id: string): Session | undefined {
    return this.tenants.get(tenantId)?.get(id);
  }

  private add(tenantId: string, id: string, options: DockerIsol8Options): Session {
    let sessions = this.tenants.get(tenantId);
    if (!sessions) {
      sessions = new Map();
      this.tenants.set(tenantId, sessions);
    }
    if (sessions.size >= this.limits.maxPerTenant) {
      throw new HttpError(
        429,
        `session limit reached: this tenant already has ${sessions.size} sessions; delete one first`,
        { "Retry-After": "60" },
      );
    }
    const session: Session = {
      id,
      engine: this.create({ ...options, mode: "persistent" }),
      optionsKey: optionsKey(options),
      ran: false,
      pendingPaths: new Set(),
      users: 0,
      lastAccessed: this.now(),
    };
    sessions.set(id, session);
    return session;
  }

  /** Files put before the first execution live in the engine's memory; they move to the new one. */
  private async remake(session: Session, options: DockerIsol8Options): Promise<void> {
    const engine = this.create({ ...options, mode: "persistent" });
    for (const path of session.pendingPaths)
      await engine.putFile(path, await session.engine.getFile(path));
    const old = session.engine;
    session.engine = engine;
    session.optionsKey = optionsKey(options);
    await old.stop();
  }

  private hold(session: Session): { engine: DockerIsol8; release: () => void } {
    session.users++;
    session.lastAccessed = this.now();
    let released = false;
    return {
      engine: session.engine,
      release: () => {
        if (released) return;
        released = true;
        session.users--;
        session.lastAccessed = this.now();
      },
    };
  }

  private forget(tenantId: string, id: string): void {
    const sessions = this.tenants.get(tenantId);
    sessions?.delete(id);
    if (sessions?.size === 0) this.tenants.delete(tenantId);
  }
}
