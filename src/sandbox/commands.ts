import { StringDecoder } from "node:string_decoder";
import type { Isol8Commands, OutputCallbacks } from "./api.js";
import { ProcessNotFoundError } from "./errors.js";
import { CommandHandle } from "./handle.js";
import type { ProcessHost } from "./host.js";
import type { SandboxProcess } from "./process.js";
import type { CommandOptions, CommandResult, ProcessInfo } from "./types.js";
import {
  commandArgv,
  commandOptions,
  environment,
  processEnvironment,
  processTimeout,
  workingDirectory,
} from "./validate.js";

/** Hands a process's output to text callbacks, never splitting a character between two calls. */
function textListener(callbacks: OutputCallbacks, replay: boolean) {
  return (process: SandboxProcess) => {
    if (!callbacks.onStdout && !callbacks.onStderr) return () => false;
    const decoders = { stdout: new StringDecoder("utf8"), stderr: new StringDecoder("utf8") };
    return process.subscribe((chunk) => {
      const callback = chunk.stream === "stdout" ? callbacks.onStdout : callbacks.onStderr;
      const text = decoders[chunk.stream].write(chunk.data);
      if (text) callback?.(text);
    }, replay);
  };
}

/** What `commands.list` says of a process. */
export function describeProcess(process: SandboxProcess): ProcessInfo {
  const { cmd, args, cwd, envs, pty } = process.description;
  return {
    pid: process.pid,
    cmd,
    args: [...args],
    cwd,
    envs: { ...envs },
    pty,
    startedAt: process.startedAt,
  };
}

/**
 * A sandbox's processes (`sandbox.commands`): start commands in the
 * foreground or background, list them, reconnect to them, write to their
 * input and kill them. Every process runs as the sandbox user, under the
 * sandbox's limits, and ends with the sandbox at the latest.
 */
export class Commands implements Isol8Commands {
  /** @internal made by `Sandbox` */
  constructor(private readonly host: ProcessHost) {}

  /**
   * Runs a command - a string for bash (`bash -c`), or an argv array - and
   * resolves with its result, or with `background: true` returns a handle
   * as soon as it has started. A non-zero exit is a result, not an error;
   * a process the sandbox cannot start (its process limit) throws
   * ProcessStartError.
   */
  run(
    cmd: string | readonly string[],
    options: CommandOptions & { background: true },
  ): Promise<CommandHandle>;
  run(
    cmd: string | readonly string[],
    options?: CommandOptions & { background?: false },
  ): Promise<CommandResult>;
  run(
    cmd: string | readonly string[],
    options?: CommandOptions,
  ): Promise<CommandHandle | CommandResult>;
  async run(
    cmd: string | readonly string[],
    options?: CommandOptions,
  ): Promise<CommandHandle | CommandResult> {
    const checked = commandOptions(options);
    const args = commandArgv("cmd", cmd);
    const envs = environment("envs", checked.envs);
    const cwd = workingDirectory(checked.cwd);
    const timeoutMs = processTimeout(checked.timeoutMs);
    this.host.assertRunning();
    const process = await this.host.table.start(
      { argv: args, env: processEnvironment("envs", this.host.env, envs), cwd, timeoutMs },
      { cmd: typeof cmd === "string" ? cmd : args.join(" "), args, cwd, envs, pty: false },
    );
    if (!checked.stdin) void process.endStdin();
    // With replay: output that arrived with the start's answer, before this line ran, is heard too.
    const handle = new CommandHandle(process, textListener(checked, true));
    if (checked.background) return handle;
    const result = await handle.wait();
    handle.disconnect();
    return result;
  }

  /** The sandbox's running processes. */
  async list(): Promise<ProcessInfo[]> {
    this.host.assertRunning();
    return this.host.table.list().map(describeProcess);
  }

  /**
   * A handle to a running process, or one of the last that ended, from any
   * caller: the callbacks first hear what it printed so far (as far as the
   * engine keeps), then what it prints next.
   */
  async connect(pid: number, callbacks: OutputCallbacks = {}): Promise<CommandHandle> {
    this.host.assertRunning();
    const process = this.host.table.lookup(pid);
    if (!process) throw new ProcessNotFoundError(pid);
    return new CommandHandle(process, textListener(callbacks, true));
  }

  /** Kills a process and its group (SIGKILL); resolves once it has ended, false if none runs with that pid. */
  async kill(pid: number): Promise<boolean> {
    this.host.assertRunning();
    const process = this.host.table.get(pid);
    if (!process) return false;
    return new CommandHandle(process, () => () => false).kill();
  }

  /** Writes to a process's standard input (see `CommandHandle.sendStdin`). */
  sendStdin(pid: number, data: string | Uint8Array): Promise<void> {
    return this.find(pid).write(Buffer.from(data));
  }

  /** Ends a process's standard input. */
  closeStdin(pid: number): Promise<void> {
    return this.find(pid).endStdin();
  }

  private find(pid: number): SandboxProcess {
    this.host.assertRunning();
    const process = this.host.table.get(pid);
    if (!process) throw new ProcessNotFoundError(pid);
    return process;
  }
}
