import { randomUUID } from "node:crypto";
import { disposableRun } from "../async-dispose.js";
import { InvalidOptionError } from "../engine/errors.js";
import type { Isol8Engine, Isol8StreamControl, Isol8StreamRun } from "../isol8-engine.js";
import type { CreateSandboxOptions, SandboxInfo } from "../sandbox/types.js";
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
import type { WireSandboxInfo } from "../wire/sandboxes.js";
import type {
  ExecuteBody,
  ExecutionOptions,
  PutFileBody,
  RemoteSignal,
  WireExecutionRequest,
} from "../wire/schemas.js";
import { type BusyRetryOptions, busyRetryOptions, retryWhileBusy } from "./busy-retry.js";
import { errorFromAnswer } from "./library-errors.js";
import { RemoteError } from "./remote-error.js";
import { RemoteSandbox, type SandboxTransport, sandboxInfo } from "./remote-sandbox.js";
import { sseStream } from "./sse-stream.js";
import { openWebSocketRun } from "./ws-stream.js";

/** Where an isol8 server is and how to authenticate to it. */
export interface RemoteIsol8Connection {
  /** Base URL, e.g. `http://localhost:3000`. */
  host: string;
  /** An API key, a login token, or the master key. */
  apiKey: string;
  /**
   * Run in this persistent session: the server's counterpart of a local
   * engine with `mode: "persistent"`, one container whose /sandbox keeps its
   * files between executions (and holds `putFile`/`getFile` files), until
   * `stop()` or the server's idle timeout. The id is the caller's choice:
   * any 1-128 letters, digits, `.`, `_`, `:` or `-`, starting with a letter
   * or digit; the server makes the session on first use and scopes it to
   * the key's tenant, so two tenants using the same id get two sessions
   * (an id it refuses is an InvalidRequestError naming the rule).
   * Reuse an id to come back to a session from another client or process.
   *
   * Not needed for code contexts: without it, contexts live in a session
   * this client makes for them (a random id) and ends on `stop()`, as a
   * local engine's contexts work in any mode.
   */
  sessionId?: string;
  /** How `executeStream` talks to the server; `auto` (default) tries WebSocket, then SSE. */
  transport?: "auto" | "websocket" | "sse";
  /** Retrying a busy server's 429 after its Retry-After: attempts and total wait (see BusyRetryOptions). */
  retry?: BusyRetryOptions;
}

/** What `RemoteIsol8.execute` accepts: the engine's request plus the wire's extra fields. */
export type RemoteExecutionRequest = WireExecutionRequest;

/** Engine options sent with every execution; the server's policy decides what is allowed. */
export type RemoteIsol8Options = ExecutionOptions;

/**
 * A streamed remote run: its events, and a way to signal the program
 * (WebSocket only; over SSE `kill` does nothing, end the run by aborting).
 */
export type RemoteStreamRun = Isol8StreamRun;

/**
 * Runs code on an isol8 server (`isol8 serve`): an Isol8Engine, like
 * DockerIsol8. A refusal a local engine makes too throws the same class
 * (InvalidRequestError, InvalidOptionError, SandboxFileError, ...; the
 * server sends its code); any other refusal or failure throws a RemoteError
 * carrying the server's message and HTTP status. A busy server's 429 is
 * retried after its Retry-After, within `connection.retry`.
 */
export class RemoteIsol8 implements Isol8Engine {
  private readonly host: string;
  private readonly headers: Record<string, string>;
  private readonly retry: Required<BusyRetryOptions>;
  /** The session this client made for its code contexts, when it was given no sessionId. */
  private contextSessionId: string | undefined;
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
    this.retry = busyRetryOptions(connection.retry);
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
   * makes the server kill the run. Aborting `control.signal` closes the
   * connection at once (the server kills the run) and the stream throws the
   * signal's reason, as a local engine's does; it also ends a wait for a
   * busy server.
   */
  executeStream(
    request: RemoteExecutionRequest,
    control: Isol8StreamControl = {},
  ): RemoteStreamRun {
    let kill: ((signal: RemoteSignal) => void) | undefined;
    const pending: RemoteSignal[] = [];
    const signal = control.signal;
    const self = this;
    /** One try at the run: the transport's stream, refused (429 included) at its first event. */
    async function* attempt(body: ExecuteBody): AsyncGenerator<StreamEvent> {
      const transport = self.connection.transport ?? "auto";
      if (transport !== "sse") {
        const ws = await openWebSocketRun(`${self.host}/execute/ws`, self.headers, body, signal);
        if (ws) {
          kill = ws.kill;
          for (const queued of pending.splice(0)) ws.kill(queued);
          yield* ws.events;
          self.sessionUsed = true;
          return;
        }
        if (transport === "websocket")
          throw new RemoteError(0, `${self.host} offers no WebSocket at /execute/ws`);
      }
      yield* sseStream(`${self.host}/execute/stream`, self.headers, body, signal);
      self.sessionUsed = true;
    }
    async function* events(): AsyncGenerator<StreamEvent> {
      let stream: AsyncGenerator<StreamEvent> | undefined;
      try {
        signal?.throwIfAborted();
        const body = self.body(request);
        // A busy server refuses before the run's first event; nothing ran, so it is tried again.
        const first = await retryWhileBusy(
          async () => {
            stream = attempt(body);
            return stream.next();
          },
          self.retry,
          signal,
        );
        // Events the transport had already buffered are not handed out once
        // the signal fired: like a local stream, this one ends at the abort.
        for (
          let next = first;
          !next.done;
          next = await (stream as AsyncGenerator<StreamEvent>).next()
        ) {
          signal?.throwIfAborted();
          yield next.value;
          signal?.throwIfAborted();
        }
      } catch (error) {
        throw signal?.aborted ? signal.reason : error;
      } finally {
        await stream?.return(undefined);
      }
      if (signal?.aborted) throw signal.reason;
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
    const sessionId = this.fileSession("putFile", options);
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
    const sessionId = this.fileSession("getFile", options);
    const query = new URLSearchParams({ sessionId, path });
    if (options.contextId !== undefined) query.set("contextId", options.contextId);
    const { content } = await this.request<FileContent>("GET", `/file?${query}`);
    return Buffer.from(content, "base64");
  }

  /**
   * Ends the session, if there is one (the one given, or the one this
   * client made for its contexts): the server removes its containers.
   */
  async stop(): Promise<void> {
    const sessionId = this.connection.sessionId ?? this.contextSessionId;
    if (!sessionId) return;
    try {
      await this.deleteSession(sessionId);
    } catch (error) {
      if (!(error instanceof RemoteError && error.status === 404)) throw error;
    }
    this.contextSessionId = undefined;
    this.sessionUsed = false;
  }

  /** For `await using`: ends the session, as `stop()` does. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /**
   * Starts a code context in the session (the one given, or without a
   * sessionId one this client makes for its contexts; the session is made
   * on first use, with this client's options). Run cells in it with
   * `execute({ runtime, code, contextId })`.
   */
  async createContext(options: CreateContextOptions): Promise<ContextInfo> {
    const sessionId = this.contextSession();
    return this.inSession(
      this.request<ContextInfo>("POST", this.contextPath(sessionId), {
        runtime: options.runtime,
        ...(this.options ? { options: this.options } : {}),
      }),
    );
  }

  /** The session's code contexts (none before this client made any, without a sessionId). */
  async listContexts(): Promise<ContextInfo[]> {
    const sessionId = this.connection.sessionId ?? this.contextSessionId;
    if (sessionId === undefined) return [];
    return (await this.request<ContextList>("GET", this.contextPath(sessionId))).contexts;
  }

  /** Gives a context a fresh interpreter and empty /sandbox and /tmp. */
  async resetContext(id: string): Promise<void> {
    await this.request("POST", `${this.contextPath(this.contextSession(), id)}/reset`);
  }

  /** Closes a context; the server removes its container. */
  async closeContext(id: string): Promise<void> {
    await this.request("DELETE", this.contextPath(this.contextSession(), id));
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
    // A cell runs in the session its context lives in.
    const sessionId =
      this.connection.sessionId ??
      (request?.contextId !== undefined ? this.contextSessionId : undefined);
    return {
      request,
      ...(this.options ? { options: this.options } : {}),
      ...(sessionId ? { sessionId } : {}),
    };
  }

  /** The session contexts live in: the one given, else this client's own, made on first use. */
  private contextSession(): string {
    this.contextSessionId ??= this.connection.sessionId ?? `contexts-${randomUUID()}`;
    return this.contextSessionId;
  }

  /** `answer`, noting once it succeeds that the session (if any) exists. */
  private async inSession<T>(answer: Promise<T>): Promise<T> {
    const value = await answer;
    if (this.connection.sessionId) this.sessionUsed = true;
    return value;
  }

  /**
   * Where a file operation acts: a context's session, or the session given;
   * without one refused as a local engine that is not persistent refuses it.
   */
  private fileSession(method: string, options: FileOptions): string {
    if (this.connection.sessionId) return this.connection.sessionId;
    if (options.contextId !== undefined) return this.contextSession();
    throw new InvalidOptionError(
      `sessionId: ${method} needs a session: pass sessionId to RemoteIsol8 (as a local engine needs mode: "persistent")`,
    );
  }

  /**
   * Starts a long-lived sandbox on the server (POST /sandboxes), with this
   * client's engine options under the server's policy. It lives until its
   * timeout, `kill()`, or the server's stop - not this client's: another
   * client of the same tenant can `connectSandbox` to it by id.
   */
  async createSandbox(options: CreateSandboxOptions = {}): Promise<RemoteSandbox> {
    const body = { ...options, ...(this.options ? { options: this.options } : {}) };
    const info = await this.request<WireSandboxInfo>("POST", "/sandboxes", body);
    return new RemoteSandbox(this.sandboxTransport, info.sandboxId);
  }

  /** The tenant's sandboxes on the server: running, then recently ended. */
  async listSandboxes(): Promise<SandboxInfo[]> {
    const { sandboxes } = await this.request<{ sandboxes: WireSandboxInfo[] }>("GET", "/sandboxes");
    return sandboxes.map(sandboxInfo);
  }

  /** A sandbox of the tenant by id (SandboxNotFoundError if the server has none). */
  async connectSandbox(sandboxId: string): Promise<RemoteSandbox> {
    await this.request("GET", `/sandboxes/${encodeURIComponent(sandboxId)}`);
    return new RemoteSandbox(this.sandboxTransport, sandboxId);
  }

  private get sandboxTransport(): SandboxTransport {
    return {
      request: (method, path, body) => this.request(method, path, body),
      url: (path) => `${this.host}${path}`,
      headers: this.headers,
    };
  }

  /** One call of the API, retried while the server is busy (429). */
  private request<T>(method: string, path: string, body?: unknown): Promise<T> {
    return retryWhileBusy(() => this.requestOnce<T>(method, path, body), this.retry);
  }

  private async requestOnce<T>(method: string, path: string, body?: unknown): Promise<T> {
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
    if (!response.ok) throw await errorFromAnswer(response);
    return (await response.json()) as T;
  }
}
