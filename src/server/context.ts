import { DockerBackend } from "../backend/docker/docker-backend.js";
import { DockerIsol8 } from "../engine/docker-isol8.js";
import { ownerLabelValue } from "../engine/labels.js";
import { remoteCodePolicy } from "../remote-code/policy.js";
import type { DockerIsol8Options } from "../types.js";
import { AuditLog } from "./audit.js";
import { Authenticator, DEFAULT_TENANT } from "./auth/authenticator.js";
import { KeyStore } from "./auth/key-store.js";
import type { ServerConfig } from "./config.js";
import { DockerStatus } from "./docker-status.js";
import { EnginePool } from "./engine-pool.js";
import { Executions } from "./execution.js";
import { createServerLogger, type ServerLog, type ServerLogger } from "./logger.js";
import { ServerMetrics } from "./metrics.js";
import { SandboxRegistry } from "./sandboxes.js";
import { SessionManager } from "./sessions.js";
import { ExecutionSlots } from "./slots.js";

/** Everything the routes share: built once per server, closed once. */
export interface ServerContext {
  config: ServerConfig;
  version: string;
  store: KeyStore;
  authenticator: Authenticator;
  /** The execution slots every run and context start takes (429 when full). */
  slots: ExecutionSlots;
  engines: EnginePool;
  sessions: SessionManager;
  /** Long-lived sandboxes (/sandboxes), by tenant. */
  sandboxes: SandboxRegistry;
  executions: Executions;
  metrics: ServerMetrics;
  audit: AuditLog | undefined;
  /** Whether the Docker engine answers: /health, and 503 instead of 500 when it does not. */
  docker: DockerStatus;
  /** The `isol8.owner` label value of every container this server creates. */
  owner: string;
  /** The server's log, in the configured format (`logFormat`); debug entries only with `debug`. */
  logger: ServerLogger;
  /** Set at shutdown: new requests get 503 while running ones finish. */
  state: { draining: boolean };
  /** Stops sweeping, every session and every engine (removing their containers), closes the stores. */
  close(): Promise<void>;
}

interface ContextOptions {
  config: ServerConfig;
  version: string;
  /** Undefined: no auth (`--insecure-no-auth`). */
  masterKey: string | undefined;
  /** Where log lines go; stderr by default. */
  log?: ServerLog;
  debug?: boolean;
  /** Makes engines; tests may count or wrap them. */
  createEngine?: (options: DockerIsol8Options) => DockerIsol8;
}

export async function createContext(options: ContextOptions): Promise<ServerContext> {
  const { config } = options;
  // Read before anything is opened: an unreadable CA file stops the server here.
  let remoteCode: ReturnType<typeof remoteCodePolicy>;
  try {
    remoteCode = remoteCodePolicy(config.remoteCode);
  } catch (error) {
    throw new Error(`server config: ${(error as Error).message}`);
  }
  const logger = createServerLogger(
    config.logFormat,
    options.debug ?? false,
    options.log ?? ((line: string) => process.stderr.write(`${line}\n`)),
  );
  // A backend of the Docker engine the engines use (DOCKER_HOST, or the local socket), to ping it.
  const backend = new DockerBackend();
  const docker = new DockerStatus(() => backend.ping());
  const createEngine = options.createEngine ?? ((o: DockerIsol8Options) => new DockerIsol8(o));
  const store = await KeyStore.open(config.dbPath);
  if (options.masterKey !== undefined) reportSharedKeys(store, logger);
  const slots = new ExecutionSlots(config.maxConcurrent, config.maxQueue);
  const engines = new EnginePool(
    createEngine,
    config.engines.maxIdle,
    config.engines.idleTimeoutMs,
  );
  const sessions = new SessionManager(createEngine, config.sessions);
  const sandboxes = new SandboxRegistry(engines, config.sandboxes);
  const metrics = new ServerMetrics({
    queued: () => slots.queued,
    running: () => slots.running,
    sessions: () => sessions.size,
    engines: () => engines.size,
  });
  const audit = config.auditLog
    ? new AuditLog(config.auditLog, config.auditLogRotation)
    : undefined;
  const executions = new Executions({
    config,
    slots,
    engines,
    sessions,
    metrics,
    audit,
    remoteCode,
  });
  const sweeper = setInterval(
    () => {
      engines.sweep();
      void sessions.sweep();
    },
    Math.min(config.sessions.sweepIntervalMs, config.engines.idleTimeoutMs),
  );
  sweeper.unref();
  let closing: Promise<void> | undefined;
  return {
    config,
    version: options.version,
    store,
    authenticator: new Authenticator(options.masterKey, store),
    slots,
    engines,
    sessions,
    sandboxes,
    executions,
    metrics,
    audit,
    docker,
    owner: ownerLabelValue(),
    logger,
    state: { draining: false },
    close() {
      closing ??= (async () => {
        clearInterval(sweeper);
        await sandboxes.stopAll();
        await Promise.all([sessions.stopAll(), engines.stopAll()]);
        await audit?.close();
        store.close();
      })();
      return closing;
    },
  };
}

/**
 * Keys made before each key got a tenant of its own sit in the master key's
 * tenant and see each other's (and the master key's) sessions. They keep
 * working; the operator is told which they are and how to move them.
 */
function reportSharedKeys(store: KeyStore, logger: ServerLogger): void {
  const shared = store.usable(DEFAULT_TENANT);
  if (shared.length === 0) return;
  const named = shared
    .map((key) => `${key.id} (${key.kind} ${JSON.stringify(key.name)})`)
    .join(", ");
  logger.warn(
    `${shared.length} key(s) share the tenant "${DEFAULT_TENANT}" with the master key and see each other's sessions: ${named}; move each to a tenant of its own with PATCH /auth/keys/<id> {"tenantId": ...}`,
  );
}
