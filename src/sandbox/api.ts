/**
 * What a long-lived sandbox offers, whoever runs it: a local engine
 * (`DockerIsol8.createSandbox`: Sandbox, Commands, Pty, CommandHandle) or a
 * server (`RemoteIsol8.createSandbox`). Code written against these types
 * runs on either.
 */
import type { TerminalSize } from "./process-protocol.js";
import type {
  CommandOptions,
  CommandResult,
  ProcessInfo,
  PtyOptions,
  SandboxInfo,
  SandboxMetrics,
} from "./types.js";

/** A process of a sandbox: a background command, a terminal, or one reconnected to. */
export interface Isol8CommandHandle {
  /** Its process id in the sandbox. */
  readonly pid: number;
  /** Its standard output so far, as far as the engine keeps it. */
  readonly stdout: string;
  readonly stderr: string;
  /** Its exit code once it has ended. */
  readonly exitCode: number | undefined;
  /** Resolves with its result once it has ended (a non-zero exit too). */
  wait(): Promise<CommandResult>;
  /** Kills it and its group; resolves once it has ended, false if it already had. */
  kill(): Promise<boolean>;
  /** Writes to its standard input (keystrokes, for a terminal). */
  sendStdin(data: string | Uint8Array): Promise<void>;
  /** Ends its standard input after every write before it. */
  closeStdin(): Promise<void>;
  /** Stops this handle's callbacks; the process runs on. */
  disconnect(): void;
}

/** Output callbacks of `commands.connect`. */
export interface OutputCallbacks {
  onStdout?: (data: string) => void;
  onStderr?: (data: string) => void;
}

/** A sandbox's processes. */
export interface Isol8Commands {
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
  list(): Promise<ProcessInfo[]>;
  connect(pid: number, callbacks?: OutputCallbacks): Promise<Isol8CommandHandle>;
  kill(pid: number): Promise<boolean>;
  sendStdin(pid: number, data: string | Uint8Array): Promise<void>;
  closeStdin(pid: number): Promise<void>;
}

/** A sandbox's terminals. */
export interface Isol8Pty {
  create(options: PtyOptions): Promise<Isol8CommandHandle>;
  sendInput(pid: number, data: string | Uint8Array): Promise<void>;
  resize(pid: number, size: TerminalSize): Promise<void>;
  kill(pid: number): Promise<boolean>;
}

/** A long-lived sandbox. */
export interface Isol8Sandbox {
  readonly sandboxId: string;
  readonly commands: Isol8Commands;
  readonly pty: Isol8Pty;
  /** Makes it end `timeoutMs` from now (1 s to 24 h). */
  setTimeout(timeoutMs: number): Promise<void>;
  getInfo(): Promise<SandboxInfo>;
  /** What it uses now: CPU, memory, disk, network. */
  getMetrics(): Promise<SandboxMetrics>;
  isRunning(): Promise<boolean>;
  /** Kills every process and removes the container. */
  kill(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}
