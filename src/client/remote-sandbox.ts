/**
 * A long-lived sandbox on an isol8 server (`RemoteIsol8.createSandbox`),
 * with the same shape as a local one (src/sandbox/api.ts): every call is
 * one request to /sandboxes/..., and a process's output comes as an event
 * stream that any client can open, from its start (the server keeps what it
 * printed) to its result. Its files are in remote-files.ts.
 */
import { StringDecoder } from "node:string_decoder";
import { EventSourceParserStream } from "eventsource-parser/stream";
import { DEFAULTS } from "../engine/options.js";
import type {
  Isol8CommandHandle,
  Isol8Commands,
  Isol8Pty,
  Isol8Sandbox,
  OutputCallbacks,
} from "../sandbox/api.js";
import { OutputLog } from "../sandbox/output-log.js";
import type { TerminalSize } from "../sandbox/process-protocol.js";
import type {
  CommandOptions,
  CommandResult,
  ProcessInfo,
  PtyOptions,
  SandboxInfo,
  SandboxMetrics,
} from "../sandbox/types.js";
import type {
  WireProcessInfo,
  WireProcessOutputEvent,
  WireSandboxInfo,
  WireSandboxMetrics,
} from "../wire/sandboxes.js";
import { errorFromAnswer, libraryError } from "./library-errors.js";
import { RemoteError } from "./remote-error.js";
import { RemoteFiles } from "./remote-files.js";

/** The error event that ends an output stream whose reader fell behind (the server's READER_BEHIND). */
const READER_BEHIND = "OUTPUT_READER_BEHIND";

/** How a remote sandbox reaches its server. */
export interface SandboxTransport {
  /** One JSON call of the API. */
  request<T>(method: string, path: string, body?: unknown): Promise<T>;
  /** The full URL of a path, and the headers every call carries. */
  url(path: string): string;
  readonly headers: Record<string, string>;
}

export function sandboxInfo(wire: WireSandboxInfo): SandboxInfo {
  return { ...wire, startedAt: new Date(wire.startedAt), endAt: new Date(wire.endAt) };
}

function processInfo(wire: WireProcessInfo): ProcessInfo {
  return { ...wire, startedAt: new Date(wire.startedAt) };
}

/** The events of GET .../output until the stream ends or `signal` fires. */
async function* outputEvents(
  transport: SandboxTransport,
  path: string,
  signal: AbortSignal,
): AsyncGenerator<WireProcessOutputEvent> {
  let response: Response;
  try {
    response = await fetch(transport.url(path), {
      headers: { ...transport.headers, Accept: "text/event-stream" },
      signal,
    });
  } catch (error) {
    if (signal.aborted) return;
    throw new RemoteError(0, `cannot reach the server: ${(error as Error).message}`);
  }
  if (!response.ok) throw await errorFromAnswer(response);
  if (!response.body) throw new RemoteError(0, "the server sent no event stream");
  const messages = response.body
    .pipeThrough(new TextDecoderStream())
    .pipeThrough(new EventSourceParserStream());
  try {
    for await (const message of messages) yield JSON.parse(message.data) as WireProcessOutputEvent;
  } catch (error) {
    if (signal.aborted) return;
    throw new RemoteError(0, `the output stream broke off: ${(error as Error).message}`);
  }
}

type Listener = (stream: "stdout" | "stderr", data: Buffer) => void;

/** A process on the server, read through its output stream. */
class RemoteCommandHandle implements Isol8CommandHandle {
  private readonly log = new OutputLog(DEFAULTS.maxOutputSize);
  private result: CommandResult | undefined;
  private failure: Error | undefined;
  private readonly waiters: { resolve: (r: CommandResult) => void; reject: (e: Error) => void }[] =
    [];
  private listener: Listener | undefined;
  private abort = new AbortController();

  constructor(
    private readonly transport: SandboxTransport,
    private readonly path: string,
    readonly pid: number,
    listener: Listener | undefined,
  ) {
    this.listener = listener;
    void this.follow();
  }

  /**
   * Reads the stream from the process's start to its result. A stream the
   * server ended because this reader fell behind a fast process is opened
   * again from now on: what was missed is not in this handle's output (the
   * result still has what the server kept).
   */
  private async follow(): Promise<void> {
    try {
      let path = `${this.path}/output`;
      for (;;) {
        let behind = false;
        for await (const event of outputEvents(this.transport, path, this.abort.signal)) {
          if (event.type === "exit") return this.settle(event.result);
          if (event.type === "error" && event.code === READER_BEHIND) {
            behind = true;
            break;
          }
          if (event.type === "error") throw libraryError(409, event.data, event.code);
          const data = Buffer.from(event.data, "base64");
          this.log.append({ stream: event.type, data });
          this.listener?.(event.type, data);
        }
        if (this.abort.signal.aborted) return;
        if (!behind) throw new RemoteError(0, "the output stream ended before the process did");
        path = `${this.path}/output?history=false`;
      }
    } catch (error) {
      this.failure = error as Error;
      for (const waiter of this.waiters.splice(0)) waiter.reject(this.failure);
    }
  }

  private settle(result: CommandResult): void {
    this.result = result;
    for (const waiter of this.waiters.splice(0)) waiter.resolve(result);
  }

  get stdout(): string {
    return this.result?.stdout ?? this.log.text("stdout");
  }

  get stderr(): string {
    return this.result?.stderr ?? this.log.text("stderr");
  }

  get exitCode(): number | undefined {
    return this.result?.exitCode;
  }

  wait(): Promise<CommandResult> {
    if (this.result) return Promise.resolve(this.result);
    if (this.failure) return Promise.reject(this.failure);
    if (this.abort.signal.aborted) {
      // Disconnected: read the stream again, for its result only.
      this.abort = new AbortController();
      this.failure = undefined;
      void this.follow();
    }
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  async kill(): Promise<boolean> {
    const { killed } = await this.transport.request<{ killed: boolean }>("DELETE", this.path);
    if (killed) await this.wait();
    return killed;
  }

  sendStdin(data: string | Uint8Array): Promise<void> {
    return this.transport.request("POST", `${this.path}/stdin`, {
      data: Buffer.from(data).toString("base64"),
      encoding: "base64",
    });
  }

  closeStdin(): Promise<void> {
    return this.transport.request("POST", `${this.path}/stdin`, { eof: true });
  }

  disconnect(): void {
    this.listener = undefined;
    if (!this.result) this.abort.abort();
  }
}

/** Text callbacks fed from bytes, never splitting a character. */
function textListener(callbacks: OutputCallbacks): Listener | undefined {
  if (!callbacks.onStdout && !callbacks.onStderr) return undefined;
  const decoders = { stdout: new StringDecoder("utf8"), stderr: new StringDecoder("utf8") };
  return (stream, data) => {
    const text = decoders[stream].write(data);
    if (!text) return;
    (stream === "stdout" ? callbacks.onStdout : callbacks.onStderr)?.(text);
  };
}

class RemoteCommands implements Isol8Commands {
  constructor(
    private readonly transport: SandboxTransport,
    private readonly base: string,
  ) {}

  run(
    cmd: string | readonly string[],
    options: CommandOptions & { background: true },
  ): Promise<Isol8CommandHandle>;
  run(
    cmd: string | readonly string[],
    options?: CommandOptions & { background?: false },
  ): Promise<CommandResult>;
  run(
    cmd: string | readonly string[],
    options?: CommandOptions,
  ): Promise<Isol8CommandHandle | CommandResult>;
  async run(
    cmd: string | readonly string[],
    options: CommandOptions = {},
  ): Promise<Isol8CommandHandle | CommandResult> {
    const { background, onStdout, onStderr, ...rest } = options;
    const started = await this.transport.request<WireProcessInfo>(
      "POST",
      `${this.base}/processes`,
      {
        cmd,
        ...rest,
      },
    );
    const handle = this.handle(started.pid, textListener({ onStdout, onStderr }));
    if (background) return handle;
    return handle.wait();
  }

  async list(): Promise<ProcessInfo[]> {
    const { processes } = await this.transport.request<{ processes: WireProcessInfo[] }>(
      "GET",
      `${this.base}/processes`,
    );
    return processes.map(processInfo);
  }

  async connect(pid: number, callbacks: OutputCallbacks = {}): Promise<Isol8CommandHandle> {
    return this.handle(pid, textListener(callbacks));
  }

  async kill(pid: number): Promise<boolean> {
    const { killed } = await this.transport.request<{ killed: boolean }>(
      "DELETE",
      `${this.base}/processes/${pid}`,
    );
    return killed;
  }

  sendStdin(pid: number, data: string | Uint8Array): Promise<void> {
    return this.transport.request("POST", `${this.base}/processes/${pid}/stdin`, {
      data: Buffer.from(data).toString("base64"),
      encoding: "base64",
    });
  }

  closeStdin(pid: number): Promise<void> {
    return this.transport.request("POST", `${this.base}/processes/${pid}/stdin`, { eof: true });
  }

  /** @internal also for terminals */
  handle(pid: number, listener: Listener | undefined): RemoteCommandHandle {
    return new RemoteCommandHandle(this.transport, `${this.base}/processes/${pid}`, pid, listener);
  }
}

class RemotePty implements Isol8Pty {
  constructor(
    private readonly transport: SandboxTransport,
    private readonly base: string,
    private readonly commands: RemoteCommands,
  ) {}

  async create(options: PtyOptions): Promise<Isol8CommandHandle> {
    const { cols, rows, onData, cmd, ...rest } = options;
    const started = await this.transport.request<WireProcessInfo>(
      "POST",
      `${this.base}/processes`,
      {
        ...(cmd === undefined ? {} : { cmd }),
        ...rest,
        pty: { cols, rows },
      },
    );
    return this.commands.handle(
      started.pid,
      onData ? (_stream, data) => onData(new Uint8Array(data)) : undefined,
    );
  }

  sendInput(pid: number, data: string | Uint8Array): Promise<void> {
    return this.commands.sendStdin(pid, data);
  }

  resize(pid: number, size: TerminalSize): Promise<void> {
    return this.transport.request("POST", `${this.base}/processes/${pid}/resize`, size);
  }

  kill(pid: number): Promise<boolean> {
    return this.commands.kill(pid);
  }
}

/** A sandbox on the server. */
export class RemoteSandbox implements Isol8Sandbox {
  readonly commands: RemoteCommands;
  readonly pty: RemotePty;
  /** Its files in /sandbox and /tmp: read, write, list, move, remove, watch. */
  readonly files: RemoteFiles;
  private readonly base: string;

  /** @internal made by RemoteIsol8 */
  constructor(
    private readonly transport: SandboxTransport,
    readonly sandboxId: string,
  ) {
    this.base = `/sandboxes/${encodeURIComponent(sandboxId)}`;
    this.commands = new RemoteCommands(transport, this.base);
    this.pty = new RemotePty(transport, this.base, this.commands);
    this.files = new RemoteFiles(transport, this.base);
  }

  async setTimeout(timeoutMs: number): Promise<void> {
    await this.transport.request("POST", `${this.base}/timeout`, { timeoutMs });
  }

  async getInfo(): Promise<SandboxInfo> {
    return sandboxInfo(await this.transport.request<WireSandboxInfo>("GET", this.base));
  }

  async getMetrics(): Promise<SandboxMetrics> {
    const wire = await this.transport.request<WireSandboxMetrics>("GET", `${this.base}/metrics`);
    return { ...wire, timestamp: new Date(wire.timestamp) };
  }

  async isRunning(): Promise<boolean> {
    return (await this.getInfo()).state === "running";
  }

  async kill(): Promise<void> {
    await this.transport.request("DELETE", this.base);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.kill();
  }
}
