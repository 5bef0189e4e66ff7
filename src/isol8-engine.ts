import type { Isol8Sandbox } from "./sandbox/api.js";
import type { CreateSandboxOptions, SandboxInfo } from "./sandbox/types.js";
import type {
  ContextInfo,
  CreateContextOptions,
  ExecutionRequest,
  ExecutionResult,
  FileOptions,
  StreamEvent,
} from "./types.js";
import type { RemoteSignal } from "./wire/schemas.js";

/** How a caller acts on a streamed run from outside it, on any engine. */
export interface Isol8StreamControl {
  /**
   * Aborting ends the run at once: the program is killed (locally its
   * container removed; remotely the connection closed, which makes the
   * server kill it), and the stream then throws the signal's reason.
   */
  signal?: AbortSignal;
}

/** A streamed run as every engine gives it: its events, a signal for the program, `await using`. */
export interface Isol8StreamRun extends AsyncGenerator<StreamEvent> {
  /** Sends `signal` to the program; a no-op once the run has ended. */
  kill(signal: RemoteSignal): void;
  /** For `await using`: ends the iteration as an early `break` does, killing the run if it is still going. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * What code that runs programs can rely on whether they run on this machine
 * (`DockerIsol8`) or on an isol8 server (`RemoteIsol8`): the same methods,
 * the same events, and the same error classes for the same refusal (an
 * invalid request is an `InvalidRequestError` on both; `RemoteError` is left
 * for what has no local counterpart: authentication, the server's policy,
 * a busy server, the connection).
 *
 * Files outside a code context need a persistent place to live: a
 * `DockerIsol8` with `mode: "persistent"`, or a `RemoteIsol8` with a
 * `sessionId`. Without one, `putFile` and `getFile` without `contextId`
 * throw `InvalidOptionError` on both.
 *
 * @example
 * ```ts
 * async function hello(engine: Isol8Engine): Promise<string> {
 *   const result = await engine.execute({ runtime: "python", code: "print('hi')" });
 *   return result.stdout;
 * }
 * await hello(new DockerIsol8());
 * await hello(new RemoteIsol8({ host: "http://localhost:3000", apiKey }));
 * ```
 */
export interface Isol8Engine {
  /** Checks that the engine can run programs: Docker answers, or the server does. */
  start(): Promise<void>;
  /** Runs a program to completion and returns its output and exit status. */
  execute(request: ExecutionRequest): Promise<ExecutionResult>;
  /**
   * Runs a program and yields its output as it is produced, then one `exit`
   * event; a refused or failed run throws. Stopping the iteration early, or
   * aborting `control.signal`, kills the run.
   */
  executeStream(request: ExecutionRequest, control?: Isol8StreamControl): Isol8StreamRun;
  /** Writes a file into /sandbox: the session's, or with `contextId` that code context's. */
  putFile(path: string, content: Buffer | string, options?: FileOptions): Promise<void>;
  /** Reads a file of /sandbox: the session's, or with `contextId` that code context's. */
  getFile(path: string, options?: FileOptions): Promise<Buffer>;
  /** Starts a code context; run cells in it with `execute({ runtime, code, contextId })`. */
  createContext(options: CreateContextOptions): Promise<ContextInfo>;
  /** The engine's code contexts. */
  listContexts(): Promise<ContextInfo[]>;
  /** Gives a context a fresh interpreter and empty /sandbox and /tmp. */
  resetContext(id: string): Promise<void>;
  /** Closes a context and removes its container. */
  closeContext(id: string): Promise<void>;
  /** Ends everything the engine holds: its containers, or its session on the server. */
  /** Starts a long-lived sandbox (many processes, terminals, a lifetime). */
  createSandbox(options?: CreateSandboxOptions): Promise<Isol8Sandbox>;
  /** The sandboxes this engine (or, remotely, the key's tenant) has: running, then recently ended. */
  listSandboxes(): Promise<SandboxInfo[]>;
  /** A sandbox by its id, from another process or client too (through the server). */
  connectSandbox(sandboxId: string): Promise<Isol8Sandbox>;
  stop(): Promise<void>;
  /** For `await using`: `stop()`. */
  [Symbol.asyncDispose](): Promise<void>;
}
