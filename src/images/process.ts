import { spawn } from "node:child_process";
import { constants } from "node:fs";
import { access } from "node:fs/promises";
import { delimiter, join } from "node:path";
import type { Readable } from "node:stream";

/** Directories with administrator tools (debootstrap, chroot, mknod) that a user's PATH may lack. */
const SBIN_DIRS = ["/usr/local/sbin", "/usr/sbin", "/sbin"];

/** PATH plus the sbin directories, for commands that call administrator tools. */
export function pathWithSbin(): string {
  const dirs = (process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin").split(delimiter);
  for (const dir of SBIN_DIRS) if (!dirs.includes(dir)) dirs.push(dir);
  return dirs.filter((dir) => dir.length > 0).join(delimiter);
}

/** The absolute path of an executable found on PATH (or in an sbin directory), if any. */
export async function findExecutable(name: string): Promise<string | undefined> {
  for (const dir of pathWithSbin().split(delimiter)) {
    const candidate = join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last lines the command printed (stdout and stderr interleaved). */
  tail: string[];
  /** Everything printed on stdout (only kept when `captureStdout` is set). */
  stdout: string;
}

interface CommandOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Called with each non-empty output line (stdout and stderr), trimmed. */
  onLine?: (line: string) => void;
  captureStdout?: boolean;
  /** Receives the child's stdout stream instead of line splitting (for piping). */
  pipeStdout?: (stdout: Readable) => void;
  tailLines?: number;
}

/** Runs a command to completion; never rejects for a non-zero exit (check `code`). */
export function runCommand(
  file: string,
  args: readonly string[],
  options: CommandOptions = {},
): Promise<CommandResult> {
  const tailMax = options.tailLines ?? 20;
  const tail: string[] = [];
  let stdout = "";
  const remember = (line: string): void => {
    const trimmed = line.trim();
    if (trimmed.length === 0) return;
    tail.push(trimmed);
    if (tail.length > tailMax) tail.shift();
    options.onLine?.(trimmed);
  };
  const splitLines = (stream: Readable): void => {
    let buffered = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split(/\r?\n|\r/);
      buffered = lines.pop() ?? "";
      for (const line of lines) remember(line);
    });
    stream.on("end", () => remember(buffered));
  };

  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    if (options.pipeStdout) {
      options.pipeStdout(child.stdout);
    } else if (options.captureStdout) {
      child.stdout.setEncoding("utf8");
      child.stdout.on("data", (chunk: string) => {
        stdout += chunk;
      });
    } else {
      splitLines(child.stdout);
    }
    splitLines(child.stderr);
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, tail, stdout }));
  });
}

/** "exit code 2" / "signal SIGKILL", for messages. */
export function describeExit(result: CommandResult): string {
  return result.signal ? `signal ${result.signal}` : `exit code ${result.code}`;
}
