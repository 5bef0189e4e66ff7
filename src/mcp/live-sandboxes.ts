/**
 * The long-lived sandboxes of one MCP client, for the process tools: a
 * server started in the background and read later, beside the commands
 * that test it. Each process's output waits in a bounded buffer until the
 * model reads it; what overflows is counted and said, never kept.
 */
import { randomBytes } from "node:crypto";
import { DockerIsol8 } from "../engine/docker-isol8.js";
import type { CommandHandle } from "../sandbox/handle.js";
import type { Sandbox } from "../sandbox/sandbox.js";
import type { CommandResult, ProcessInfo } from "../sandbox/types.js";
import type { DockerIsol8Options, Runtime } from "../types.js";
import { ToolError } from "./sandboxes.js";

/** Output of one process kept unread, at most; older unread bytes are dropped. */
const UNREAD_BYTES = 1024 * 1024;
/** How long a sandbox lives after its last use by a tool. */
export const LIVE_SANDBOX_IDLE_MS = 30 * 60_000;

/** What a read of a process's output returns. */
interface ProcessRead {
  output: string;
  /** Unread bytes dropped since the last read, because too much came between reads. */
  dropped: number;
  /** Undefined while it runs. */
  result: CommandResult | undefined;
}

/** One process started by a tool, and its output nobody has read yet. */
class ReadProcess {
  private unread = "";
  private dropped = 0;
  private readonly waiters: (() => void)[] = [];

  constructor(readonly handle: CommandHandle) {
    void handle.wait().finally(() => this.wake());
  }

  /** Output as it comes (both streams, in order). */
  readonly hear = (data: string): void => {
    this.unread += data;
    const over = this.unread.length - UNREAD_BYTES;
    if (over > 0) {
      this.unread = this.unread.slice(over);
      this.dropped += over;
    }
    this.wake();
  };

  private wake(): void {
    for (const wake of this.waiters.splice(0)) wake();
  }

  /** What came since the last read, waiting up to `waitMs` for something when there is nothing. */
  async read(waitMs: number, maxChars: number): Promise<ProcessRead> {
    if (!this.unread && this.handle.exitCode === undefined && waitMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    const output = this.unread.slice(0, maxChars);
    this.unread = this.unread.slice(output.length);
    const dropped = this.dropped;
    this.dropped = 0;
    const finished = this.handle.exitCode !== undefined && !this.unread;
    return { output, dropped, result: finished ? await this.handle.wait() : undefined };
  }
}

interface Live {
  runtime: Runtime;
  sandbox: Sandbox;
  processes: Map<number, ReadProcess>;
}

export class LiveSandboxes {
  private engine: DockerIsol8 | undefined;
  private readonly sandboxes = new Map<string, Live>();
  private starting = 0;

  constructor(
    private readonly options: DockerIsol8Options,
    private readonly maxSandboxes: number,
  ) {}

  async open(runtime: Runtime): Promise<string> {
    const open = this.sandboxes.size + this.starting;
    if (open >= this.maxSandboxes)
      throw new ToolError(
        `too many sandboxes (${open}, the limit is ${this.maxSandboxes}); close one with close_sandbox first`,
      );
    this.starting += 1;
    try {
      this.engine ??= new DockerIsol8({
        ...this.options,
        mode: "ephemeral",
        poolSize: { clean: 0, dirty: 0 },
      });
      const sandbox = await this.engine.createSandbox({ runtime, timeoutMs: LIVE_SANDBOX_IDLE_MS });
      const id = `sbx-${randomBytes(4).toString("hex")}`;
      this.sandboxes.set(id, { runtime, sandbox, processes: new Map() });
      return id;
    } finally {
      this.starting -= 1;
    }
  }

  /** Starts a process in the background. */
  async start(id: string, command: string, cwd?: string): Promise<number> {
    const live = await this.find(id);
    let reader: ReadProcess | undefined;
    const early: string[] = [];
    const hear = (data: string) => (reader ? reader.hear(data) : early.push(data));
    const handle = await live.sandbox.commands.run(command, {
      background: true,
      ...(cwd === undefined ? {} : { cwd }),
      onStdout: hear,
      onStderr: hear,
    });
    reader = new ReadProcess(handle);
    for (const data of early) reader.hear(data);
    live.processes.set(handle.pid, reader);
    return handle.pid;
  }

  /** Runs a command to its end (or its timeout). */
  async run(
    id: string,
    command: string,
    cwd: string | undefined,
    timeoutMs: number,
  ): Promise<CommandResult> {
    const live = await this.find(id);
    return live.sandbox.commands.run(command, { ...(cwd === undefined ? {} : { cwd }), timeoutMs });
  }

  async read(id: string, pid: number, waitMs: number, maxChars: number): Promise<ProcessRead> {
    return this.process(await this.find(id), id, pid).read(waitMs, maxChars);
  }

  async list(id: string): Promise<ProcessInfo[]> {
    return (await this.find(id)).sandbox.commands.list();
  }

  async kill(id: string, pid: number): Promise<boolean> {
    const live = await this.find(id);
    this.process(live, id, pid);
    return live.sandbox.commands.kill(pid);
  }

  async close(id: string): Promise<void> {
    const live = await this.find(id);
    this.sandboxes.delete(id);
    await live.sandbox.kill();
  }

  /** Ends every sandbox (the connection is closing). */
  async closeAll(): Promise<void> {
    this.sandboxes.clear();
    await this.engine?.stop();
    this.engine = undefined;
  }

  private process(live: Live, id: string, pid: number): ReadProcess {
    const process = live.processes.get(pid);
    if (!process)
      throw new ToolError(
        `no process ${pid} started with start_process in sandbox ${id}; list_processes shows what runs`,
      );
    return process;
  }

  /** A running sandbox, whose life each use extends. */
  private async find(id: string): Promise<Live> {
    const live = this.sandboxes.get(id);
    if (!live || !(await live.sandbox.isRunning())) {
      this.sandboxes.delete(id);
      throw new ToolError(
        `no running sandbox "${id}" (closed, idle for ${LIVE_SANDBOX_IDLE_MS / 60_000} minutes, or never started on this connection); start one with start_sandbox`,
      );
    }
    await live.sandbox.setTimeout(LIVE_SANDBOX_IDLE_MS);
    return live;
  }
}
