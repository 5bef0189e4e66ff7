/**
 * What a long-lived sandbox offers, whoever runs it: a local engine
 * (`DockerIsol8.createSandbox`: Sandbox, Commands, Pty, Files, CommandHandle) or a
 * server (`RemoteIsol8.createSandbox`). Code written against these types
 * runs on either.
 */
import type { TerminalSize } from "./process-protocol.js";
import type {
  CommandOptions,
  CommandResult,
  EntryInfo,
  FilesystemEvent,
  ListOptions,
  ProcessInfo,
  PtyOptions,
  ReadOptions,
  SandboxInfo,
  SandboxMetrics,
  WatchOptions,
  WriteData,
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

/** A running watch of `files.watchDir`. */
export interface Isol8WatchHandle {
  /** Stops the watch; no event is delivered after this returns. */
  stop(): Promise<void>;
}

/**
 * A sandbox's files beneath /sandbox and /tmp (a relative path is taken
 * from /sandbox). A path outside them, or that a symlink or `..` leads
 * out of, is refused with SandboxFileRefusedError, as is a FIFO, socket or
 * device to read or write; a missing path is SandboxFileNotFoundError.
 */
export interface Isol8Files {
  /** A file's content: text (UTF-8, the default), bytes, or a stream read as fast as its consumer reads. */
  read(path: string, options?: ReadOptions<"text">): Promise<string>;
  read(path: string, options: ReadOptions<"bytes">): Promise<Uint8Array>;
  read(path: string, options: ReadOptions<"stream">): Promise<ReadableStream<Uint8Array>>;
  /** Writes a file, making the folders it is in and replacing what it held; resolves with its entry. */
  write(path: string, data: WriteData): Promise<EntryInfo>;
  /** The entries of a folder, `depth` levels of folders down (default 1). */
  list(path: string, options?: ListOptions): Promise<EntryInfo[]>;
  /** What is at a path; a symlink is reported as itself. */
  getInfo(path: string): Promise<EntryInfo>;
  /** Whether anything (a dangling symlink too) is at a path. */
  exists(path: string): Promise<boolean>;
  /** Makes a folder and the folders above it; false if it was there already. */
  makeDir(path: string): Promise<boolean>;
  /** Moves a file or folder within its place (/sandbox or /tmp); resolves with its new entry. */
  rename(oldPath: string, newPath: string): Promise<EntryInfo>;
  /** Removes a file, a symlink, or a folder with everything in it. */
  remove(path: string): Promise<void>;
  /** Calls `onEvent` with each change in a folder, in order, from when this resolves until `stop()`. */
  watchDir(
    path: string,
    onEvent: (event: FilesystemEvent) => void,
    options?: WatchOptions,
  ): Promise<Isol8WatchHandle>;
}

/** A long-lived sandbox. */
export interface Isol8Sandbox {
  readonly sandboxId: string;
  readonly commands: Isol8Commands;
  readonly pty: Isol8Pty;
  readonly files: Isol8Files;
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
