import type { Runtime } from "../runtimes/index.js";

/** How to make a long-lived sandbox (`DockerIsol8.createSandbox`). */
export interface CreateSandboxOptions {
  /** The runtime whose image the sandbox runs (the engine's `image` wins when set). Default `python`. */
  runtime?: Runtime;
  /** Environment variables every process of the sandbox starts with (a command's own `envs` win). */
  env?: Record<string, string>;
  /** Your own labels for the sandbox, returned by `getInfo` and `listSandboxes`; strings only. */
  metadata?: Record<string, string>;
  /**
   * How long the sandbox lives, from now, unless `setTimeout` changes it;
   * then every process is killed and the container removed. Default
   * 300000 (5 minutes), from 1000 to 86400000 (24 hours).
   */
  timeoutMs?: number;
  /**
   * Processes and threads the sandbox may hold at once. Default 512: room
   * for a dev server, a test run and an `npm install` side by side (node
   * alone runs about ten threads). The engine's other limits (memory,
   * CPU, disk, network) apply as they are.
   */
  pidsLimit?: number;
}

/** Whether a sandbox still runs. */
export type SandboxState = "running" | "ended";

/** What a sandbox is, as `getInfo` and `listSandboxes` report it. */
export interface SandboxInfo {
  sandboxId: string;
  runtime: Runtime;
  image: string;
  metadata: Record<string, string>;
  state: SandboxState;
  startedAt: Date;
  /** When it ends unless `setTimeout` moves it; once ended, when it did. */
  endAt: Date;
  /** Why it ended: `timeout`, `killed`, `engine stopped`, or what went wrong. */
  endReason?: string;
  pidsLimit: number;
}

/** Options of `sandbox.commands.run`. */
export interface CommandOptions {
  /** Return a handle as soon as the process has started, instead of waiting for its result. */
  background?: boolean;
  /** Extra environment variables for this process. */
  envs?: Record<string, string>;
  /** Its working directory; default /sandbox. A missing folder under /sandbox is created. */
  cwd?: string;
  /** Kill the process (and its group) after this many ms; default 0: only the sandbox's end stops it. */
  timeoutMs?: number;
  /** Called with each piece of its standard output, as it comes. */
  onStdout?: (data: string) => void;
  /** Called with each piece of its standard error, as it comes. */
  onStderr?: (data: string) => void;
  /** Keep its standard input open for `sendStdin`; default false (it reads end-of-file at once). */
  stdin?: boolean;
}

/** How a command ended. A non-zero exit is a result, not an error. */
export interface CommandResult {
  exitCode: number;
  /** Its standard output: the last `maxOutputBytes` of it (the engine's option). */
  stdout: string;
  stderr: string;
  /** The signal that killed it, if one did (`SIGKILL` when its sandbox ended under it). */
  signal?: string;
  /** It ran past its own `timeoutMs` and was killed. */
  timedOut: boolean;
  /** CPU time it used, in ms (0 when its sandbox ended under it). */
  cpuMs: number;
}

/** A process of a sandbox, as `commands.list` reports it. */
export interface ProcessInfo {
  /** Its process id in the sandbox: what `connect`, `kill` and `sendStdin` take. */
  pid: number;
  /** The command line as given (a string command, or the argv joined by spaces). */
  cmd: string;
  /** The argv the sandbox ran. */
  args: string[];
  cwd: string;
  /** The variables given for this process only. */
  envs: Record<string, string>;
  /** Whether it runs on a terminal (`sandbox.pty`). */
  pty: boolean;
  startedAt: Date;
}

/** Options of `sandbox.pty.create`. */
export interface PtyOptions {
  cols: number;
  rows: number;
  /** Called with each piece of the terminal's output, raw bytes. */
  onData?: (data: Uint8Array) => void;
  /** The program on the terminal; default an interactive bash. */
  cmd?: string | readonly string[];
  envs?: Record<string, string>;
  cwd?: string;
  timeoutMs?: number;
}

/** A running sandbox's figures, read when asked. */
export interface SandboxMetrics {
  /** CPU in use over the last moment, in percent of one core. */
  cpuUsedPct: number;
  /** Cores the sandbox may use. */
  cpuCount: number;
  /** Memory in use and the limit, in bytes. */
  memUsed: number;
  memTotal: number;
  /** Bytes in /sandbox and /tmp, and what they may hold. */
  diskUsed: number;
  diskTotal: number;
  /** Bytes received and sent on the sandbox's network (0 without network). */
  networkRxBytes: number;
  networkTxBytes: number;
  timestamp: Date;
}

/** What kind of thing a file entry is. */
export type FileType =
  | "file"
  | "dir"
  | "symlink"
  | "fifo"
  | "socket"
  | "char-device"
  | "block-device"
  | "unknown";

/** A file, folder or other entry of a sandbox, as `sandbox.files` reports it. */
export interface EntryInfo {
  /** Its last path component. */
  name: string;
  /** Its absolute path in the sandbox. */
  path: string;
  /** What it is; a symlink is reported as itself, never as what it points to. */
  type: FileType;
  /** Size in bytes (of a symlink: its target's length). */
  size: number;
  /** Permission bits, with setuid, setgid and sticky (`0o644`). */
  mode: number;
  /** The same as `ls -l` shows them: `-rw-r--r--`, `drwxr-xr-x`, `lrwxrwxrwx`. */
  permissions: string;
  modifiedTime: Date;
  /** A symlink's target, as written in the link. */
  symlinkTarget?: string;
}

/** How `files.read` hands back a file: a string (UTF-8), bytes, or a stream of bytes. */
export type ReadFormat = "text" | "bytes" | "stream";

/** Options of `files.read`. */
export interface ReadOptions<F extends ReadFormat = ReadFormat> {
  /** Default `text`. */
  format?: F;
}

/**
 * What `files.write` takes: a string (written as UTF-8), bytes, or a
 * stream of them - a web `ReadableStream`, or any async iterable such as a
 * Node `Readable` - which is read only as fast as the sandbox writes it.
 */
export type WriteData =
  | string
  | Uint8Array
  | ArrayBuffer
  | ReadableStream<Uint8Array>
  | AsyncIterable<Uint8Array | string>;

/** Options of `files.list`. */
export interface ListOptions {
  /** Levels of folders to list: 1 (default) lists the folder's own entries, 2 those of its folders too; up to 64. */
  depth?: number;
}

/** What happened to an entry of a watched folder. A move within the folder is a `rename` of the old name and a `create` of the new. */
export type FilesystemEventType = "create" | "write" | "remove" | "rename" | "chmod";

/** One change in a watched folder. */
export interface FilesystemEvent {
  type: FilesystemEventType;
  /** The entry's path relative to the watched folder (`sub/file.txt` in a recursive watch). */
  name: string;
}

/** Options of `files.watchDir`. */
export interface WatchOptions {
  /** Watch every folder below too, those made after the watch began included. Default false. */
  recursive?: boolean;
  /**
   * Called once if the watch ends other than by `stop()`: the watched
   * folder was removed, events were lost, the callback threw, or the
   * sandbox ended; with the reason.
   */
  onExit?: (error: Error) => void;
}
