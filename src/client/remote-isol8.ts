import { disposableRun } from "../async-dispose.js";
import type {
  ContextInfo,
  CreateContextOptions,
  ExecutionResult,
  FileOptions,
  StreamEvent,
} from "../types.js";
import type {
  ContextList,
  FileContent,
  Health,
  SessionInfo,
  SessionList,
} from "../wire/responses.js";
import type {
  ExecuteBody,
  ExecutionOptions,
  PutFileBody,
  RemoteSignal,
  WireExecutionRequest,
} from "../wire/schemas.js";
import { RemoteError, remoteErrorFrom } from "./remote-error.js";
import { sseStream } from "./sse-stream.js";
import { openWebSocketRun } from "./ws-stream.js";

/** Where an isol8 server is and how to authenticate to it. */
export interface RemoteIsol8Connection {
  /** Base URL, e.g. `http://localhost:3000`. */
  host: string;
  /** An API key, a login token, or the master key. */
  apiKey: string;
  /** Run in this persistent session (created on first use, scoped to the key's tenant). */
  sessionId?: string;
  /** How `executeStream` talks to the server; `auto` (default) tries WebSocket, then SSE. */
  transport?: "auto" | "websocket" | "sse";
}

/** What `RemoteIsol8.execute` accepts: the engine's request plus the wire's extra fields. */
export type RemoteExecutionRequest = WireExecutionRequest;

/** Engine options sent with every execution; the server's policy decides what is allowed. */
export type RemoteIsol8Options = ExecutionOptions;

/** A streamed remote run: its events, and a way to signal the program (WebSocket only). */
export interface RemoteStreamRun extends AsyncGenerator<StreamEvent> {
  kill(signal: RemoteSignal): void;
  /** For `await using`: ends the iteration as an early `break` does, so the server kills the run. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Runs code on an isol8 server (`isol8 serve`) with the same methods as
 * DockerIsol8. Every refusal or failure throws a RemoteError carrying the
 * server's message and HTTP status.
 */
export class RemoteIsol8 {
  private readonly host: string;
  private readonly headers: Record<string, string>;
  /**
   * Whether a call of this client has used its session, so the session is
   * known to exist: until then `putFile` asks the server to make it (a first
   * call that uploads, as DockerIsol8's persistent engine allows); after,
   * a session that is gone (expired, deleted) is a 404 instead of a new,
   * empty one.
   */
  private sessionUsed = false;

  constructor(
    private readonly connection: RemoteIsol8Connection,
    private readonly options?: RemoteIsol8Options,
  ) {
    this.host = connection.host.replace(/\/+$/, "");
    this.headers = {
      Authorization: `Bearer ${connection.apiKey}`,
      "Content-Type": "application/json",
    };
  }

  /** Checks that the server answers /health. */
  async start(): Promise<void> {
    await this.request<Health>("GET", "/health");
  }

  /** Runs a program to completion on the server. */
  execute(request: RemoteExecutionRequest): Promise<ExecutionResult> {
    return this.inSession(this.request<ExecutionResult>("POST", "/execute", this.body(request)));
  }

  /**
   * Streams a program's output as it is produced (WebSocket, or SSE when the
   * server or a proxy offers no WebSocket). Stopping the iteration early
   * makes the server kill the run.
   */
  executeStream(request: RemoteExecutionRequest): RemoteStreamRun {
    let kill: ((signal: RemoteSignal) => void) | undefined;
    const pending: RemoteSignal[] = [];
    const self = this;
    async function* events(): AsyncGenerator<StreamEvent> {
      const body = self.body(request);
      const transport = self.connection.transport ?? "auto";
      if (transport !== "sse") {
        const ws = await openWebSocketRun(`${self.host}/execute/ws`, self.headers, body);
        if (ws) {
          kill = ws.kill;
          for (const signal of pending.splice(0)) ws.kill(signal);
          yield* ws.events;
          self.sessionUsed = true;
          return;
        }
        if (transport === "websocket")
          throw new RemoteError(0, `${self.host} offers no WebSocket at /execute/ws`);
      }
      yield* sseStream(`${self.host}/execute/stream`, self.headers, body);
      self.sessionUsed = true;
    }
    return disposableRun(
      Object.assign(events(), {
        kill(signal: RemoteSignal) {
          if (kill) kill(signal);
          else pending.push(signal);
        },
      }),
    );
  }

  /**
   * Writes a file into the session's /sandbox (needs a sessionId), or with
   * `contextId` into that code context's /sandbox. The session is made by
   * the upload when this client has not used it yet; once it has, a session
   * the server no longer has is a RemoteError with status 404.
   */
  async putFile(path: string, content: Buffer | string, options: FileOptions = {}): Promise<void> {
    const sessionId = this.session("putFile");
    const bytes = typeof content === "string" ? Buffer.from(content) : content;
    await this.inSession(
      this.request("POST", "/file", {
        sessionId,
        path,
        content: bytes.toString("base64"),
        ...(options.contextId !== undefined ? { contextId: options.contextId } : {}),
        ...(this.sessionUsed || options.contextId !== undefined ? {} : { createSession: true }),
      } satisfies PutFileBody),
    );
  }

  /**
   * Reads a file of the session's /sandbox (needs a sessionId), or with
   * `contextId` of that code context's /sandbox.
   */
  async getFile(path: string, options: FileOptions = {}): Promise<Buffer> {
    const sessionId = this.session("getFile");
    const query = new URLSearchParams({ sessionId, path });
    if (options.contextId !== undefined) query.set("contextId", options.contextId);
    const { content } = await this.request<FileContent>("GET", `/file?${query}`);
    return Buffer.from(content, "base64");
  }

  /** Ends the session, if there is one: the server removes its container. */
  async stop(): Promise<void> {
    if (!this.connection.sessionId) return;
    try {
      await this.deleteSession(this.connection.sessionId);
    } catch (error) {
      if (!(error instanceof RemoteError && error.status === 404)) throw error;
    }
    this.sessionUsed = false;
  }

  /** For `await using`: ends the session, as `stop()` does. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /**
   * Starts a code context in the session (needs a sessionId; the session is
   * made on first use, with this client's options). Run cells in it with
   * `execute({ runtime, code, contextId })`.
   */
  async createContext(options: CreateContextOptions): Promise<ContextInfo> {
    const sessionId = this.session("createContext");
    return this.inSession(
      this.request<ContextInfo>("POST", this.contextPath(sessionId), {
        runtime: options.runtime,
        ...(this.options ? { options: this.options } : {}),
      }),
    );
  }

  /** The session's code contexts. */
  async listContexts(): Promise<ContextInfo[]> {
    const path = this.contextPath(this.session("listContexts"));
    return (await this.request<ContextList>("GET", path)).contexts;
  }

  /** Gives a context a fresh interpreter and empty /sandbox and /tmp. */
  async resetContext(id: string): Promise<void> {
    const path = this.contextPath(this.session("resetContext"), id);
    await this.request("POST", `${path}/reset`);
  }

  /** Closes a context; the server removes its container. */
  async closeContext(id: string): Promise<void> {
    await this.request("DELETE", this.contextPath(this.session("closeContext"), id));
  }

  private contextPath(sessionId: string, id?: string): string {
    const base = `/session/${encodeURIComponent(sessionId)}/context`;
    return id === undefined ? base : `${base}/${encodeURIComponent(id)}`;
  }

  /** The sessions of this key's tenant. */
  async listSessions(): Promise<SessionInfo[]> {
    return (await this.request<SessionList>("GET", "/sessions")).sessions;
  }

  async deleteSession(id: string): Promise<void> {
    await this.request("DELETE", `/session/${encodeURIComponent(id)}`);
  }

  private body(request: RemoteExecutionRequest): ExecuteBody {
    return {
      request,
      ...(this.options ? { options: this.options } : {}),
      ...(this.connection.sessionId ? { sessionId: this.connection.sessionId } : {}),
    };
  }

  /** `answer`, noting once it succeeds that the session (if any) exists. */
  private async inSession<T>(answer: Promise<T>): Promise<T> {
    const value = await answer;
    if (this.connection.sessionId) this.sessionUsed = true;
    return value;
  }

  private session(method: string): string {
    if (!this.connection.sessionId)
      throw new RemoteError(0, `${method} needs a session: pass sessionId to RemoteIsol8`);
    return this.connection.sessionId;
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.host}${path}`, {
        method,
        headers: this.headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause;
      throw new RemoteError(
        0,
        `cannot reach ${this.host}: ${cause?.code ?? (error as Error).message}`,
      );
    }
    if (!response.ok) throw await remoteErrorFrom(response);
    return (await response.json()) as T;
  }
}
