import { randomBytes } from "node:crypto";
import { ResultCollector } from "../engine/collect-result.js";
import { DockerIsol8 } from "../engine/docker-isol8.js";
import { Isol8Error } from "../errors.js";
import type {
  ContextInfo,
  DockerIsol8Options,
  ExecutionRequest,
  ExecutionResult,
  ExecutionSummary,
  Runtime,
  StreamEvent,
} from "../types.js";
import { LiveSandboxes } from "./live-sandboxes.js";

/** A refusal or failure reported to the model as a tool error (one line). */
export class ToolError extends Isol8Error {
  override readonly name = "ToolError";
  override readonly code = "TOOL";
}

/** What one run produced: the output shown, the engine's notices and the summary. */
export interface RunOutput {
  stdout: string;
  stderr: string;
  /** The engine's notices: timeout, out-of-memory kill, truncation, failed install or setup. */
  notices: string[];
  result: ExecutionSummary;
}

/** A persistent sandbox opened by an MCP client. */
export interface SessionInfo {
  id: string;
  runtime: Runtime;
}

/**
 * What the MCP tools need from isol8, for one MCP client: one-shot runs and
 * the client's persistent sessions. `close()` ends everything it made.
 */
export interface Sandboxes {
  /** `signal` aborted (the client cancelled the call) kills the run. */
  run(request: ExecutionRequest, signal?: AbortSignal): Promise<RunOutput>;
  openSession(runtime: Runtime): Promise<SessionInfo>;
  closeSession(id: string): Promise<void>;
  /** The session's runtime; a ToolError for an unknown id. */
  session(id: string): SessionInfo;
  runInSession(id: string, request: ExecutionRequest, signal?: AbortSignal): Promise<RunOutput>;
  /** With `contextId`, the file is that context's (its own /sandbox). */
  writeFile(id: string, path: string, content: Buffer, contextId?: string): Promise<void>;
  readFile(id: string, path: string, contextId?: string): Promise<Buffer>;
  /** A code context (a live interpreter, in a container of its own) owned by the session. */
  createContext(id: string, runtime: Runtime): Promise<ContextInfo>;
  closeContext(id: string, contextId: string): Promise<void>;
  /** A context of the session; a ToolError for an unknown id. */
  context(id: string, contextId: string): ContextInfo;
  /** Long-lived sandboxes for the process tools (start_sandbox, start_process, ...). */
  readonly live: LiveSandboxes;
  close(): Promise<void>;
}

interface Session extends SessionInfo {
  engine: DockerIsol8;
  /** The session's code contexts, by id. */
  contexts: Map<string, ContextInfo>;
}

/**
 * Sandboxes on the local Docker engine: a pooled ephemeral engine for
 * one-shot runs (made on first use) and one persistent engine per session,
 * all with the policy's options.
 */
export class EngineSandboxes implements Sandboxes {
  private oneShot: DockerIsol8 | undefined;
  private readonly sessions = new Map<string, Session>();
  /** Contexts being started, counted against the limit already. */
  private startingContexts = 0;
  private closed = false;
  readonly live: LiveSandboxes;

  constructor(
    private readonly options: DockerIsol8Options,
    private readonly maxSessions: number,
    /** Code contexts this client may have at once, over all its sessions. */
    private readonly maxContexts: number = maxSessions,
  ) {
    this.live = new LiveSandboxes(options, maxSessions);
  }

  run(request: ExecutionRequest, signal?: AbortSignal): Promise<RunOutput> {
    this.assertOpen();
    this.oneShot ??= new DockerIsol8({ ...this.options, mode: "ephemeral" });
    return collect(this.oneShot, request, signal);
  }

  async openSession(runtime: Runtime): Promise<SessionInfo> {
    this.assertOpen();
    if (this.sessions.size >= this.maxSessions) {
      throw new ToolError(
        `too many open sessions (${this.sessions.size}, the limit is ${this.maxSessions}); close one with close_session first`,
      );
    }
    const id = `s-${randomBytes(4).toString("hex")}`;
    const engine = new DockerIsol8({ ...this.options, mode: "persistent" });
    // Held before the container starts, so that close() stops it whatever happens next.
    this.sessions.set(id, { id, runtime, engine, contexts: new Map() });
    try {
      // Starts the session's container now: a missing image or an unreachable
      // Docker is this call's error, not the first run's.
      const started = await engine.execute({ runtime, cmd: "true" });
      if (started.exitCode !== 0)
        throw new ToolError(`the session's sandbox did not start (exit ${started.exitCode})`);
    } catch (error) {
      this.sessions.delete(id);
      await engine.stop().catch(() => undefined);
      throw error;
    }
    if (this.closed) {
      await engine.stop();
      throw new ToolError("the MCP connection is closing");
    }
    return { id, runtime };
  }

  async closeSession(id: string): Promise<void> {
    const session = this.find(id);
    this.sessions.delete(id);
    await session.engine.stop();
  }

  session(id: string): SessionInfo {
    const { runtime } = this.find(id);
    return { id, runtime };
  }

  runInSession(id: string, request: ExecutionRequest, signal?: AbortSignal): Promise<RunOutput> {
    return collect(this.find(id).engine, request, signal);
  }

  async writeFile(id: string, path: string, content: Buffer, contextId?: string): Promise<void> {
    if (contextId !== undefined) this.context(id, contextId);
    await this.find(id).engine.putFile(path, content, { contextId });
  }

  async readFile(id: string, path: string, contextId?: string): Promise<Buffer> {
    if (contextId !== undefined) this.context(id, contextId);
    return this.find(id).engine.getFile(path, { contextId });
  }

  async createContext(id: string, runtime: Runtime): Promise<ContextInfo> {
    const session = this.find(id);
    const open =
      [...this.sessions.values()].reduce((n, s) => n + s.contexts.size, 0) + this.startingContexts;
    if (open >= this.maxContexts) {
      throw new ToolError(
        `too many open contexts (${open}, the limit is ${this.maxContexts}); close one with close_context first`,
      );
    }
    this.startingContexts += 1;
    try {
      const context = await session.engine.createContext({ runtime });
      session.contexts.set(context.id, context);
      return context;
    } finally {
      this.startingContexts -= 1;
    }
  }

  async closeContext(id: string, contextId: string): Promise<void> {
    const session = this.find(id);
    this.context(id, contextId);
    session.contexts.delete(contextId);
    await session.engine.closeContext(contextId);
  }

  context(id: string, contextId: string): ContextInfo {
    const context = this.find(id).contexts.get(contextId);
    if (!context)
      throw new ToolError(
        `no context "${contextId}" in session ${id} (it was closed, or never created); create one with create_context`,
      );
    return context;
  }

  /** Stops every engine: each session's container and the one-shot pool are removed. */
  async close(): Promise<void> {
    this.closed = true;
    const engines = [...this.sessions.values()].map((s) => s.engine);
    this.sessions.clear();
    if (this.oneShot) engines.push(this.oneShot);
    this.oneShot = undefined;
    await Promise.all([
      ...engines.map((engine) => engine.stop().catch(() => undefined)),
      this.live.closeAll().catch(() => undefined),
    ]);
  }

  private find(id: string): Session {
    this.assertOpen();
    const session = this.sessions.get(id);
    if (!session)
      throw new ToolError(
        `no open session "${id}" (it was closed, or never opened on this connection); open one with open_session`,
      );
    return session;
  }

  private assertOpen(): void {
    if (this.closed) throw new ToolError("the MCP connection is closing");
  }
}

/**
 * Runs a request through `executeStream`, as `isol8 run` does: the notices
 * are the engine's own `error` events, and the output shown is the
 * program's, or a failed install's or setup's.
 */
async function collect(
  engine: DockerIsol8,
  request: ExecutionRequest,
  signal: AbortSignal | undefined,
): Promise<RunOutput> {
  const collector = new ResultCollector();
  for await (const event of engine.executeStream(
    request,
    signal ? { signal } : {},
  ) as AsyncIterable<StreamEvent>)
    collector.add(event);
  let result: ExecutionResult;
  try {
    result = collector.result();
  } catch {
    throw new ToolError("the run ended without an exit status");
  }
  const { stdout, stderr, ...summary } = result;
  return { stdout, stderr, notices: collector.notices, result: summary };
}
