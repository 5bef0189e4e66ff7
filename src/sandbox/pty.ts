import type { Isol8Pty } from "./api.js";
import { ProcessNotFoundError } from "./errors.js";
import { CommandHandle } from "./handle.js";
import type { ProcessHost } from "./host.js";
import type { SandboxProcess } from "./process.js";
import type { TerminalSize } from "./process-protocol.js";
import type { PtyOptions } from "./types.js";
import {
  commandArgv,
  environment,
  processEnvironment,
  processTimeout,
  ptyOptions,
  terminalSize,
  workingDirectory,
} from "./validate.js";

/** The program a terminal runs unless told otherwise. */
const INTERACTIVE_SHELL = ["/bin/bash", "-i"];

/**
 * Terminals in a sandbox (`sandbox.pty`): a process on a pseudo-terminal,
 * raw bytes both ways, resizable. Ctrl-C is the byte 0x03 in its input.
 */
export class Pty implements Isol8Pty {
  /** @internal made by `Sandbox` */
  constructor(private readonly host: ProcessHost) {}

  /** Starts a program (an interactive bash unless `cmd` says) on a new terminal of `cols` x `rows`. */
  async create(options: PtyOptions): Promise<CommandHandle> {
    const checked = ptyOptions(options);
    const size = terminalSize(checked);
    const args =
      checked.cmd === undefined ? [...INTERACTIVE_SHELL] : commandArgv("cmd", checked.cmd);
    const envs = environment("envs", checked.envs);
    const cwd = workingDirectory(checked.cwd);
    const timeoutMs = processTimeout(checked.timeoutMs);
    this.host.assertRunning();
    const process = await this.host.table.start(
      {
        argv: args,
        env: processEnvironment("envs", { TERM: "xterm-256color", ...this.host.env }, envs),
        cwd,
        timeoutMs,
        terminal: size,
      },
      {
        cmd: typeof checked.cmd === "string" ? checked.cmd : args.join(" "),
        args,
        cwd,
        envs,
        pty: true,
      },
    );
    const onData = checked.onData;
    return new CommandHandle(process, (p) =>
      // With replay: output that came with the start's answer is heard too.
      onData ? p.subscribe((chunk) => onData(new Uint8Array(chunk.data)), true) : () => false,
    );
  }

  /** Sends keystrokes (raw bytes) to a terminal. */
  sendInput(pid: number, data: string | Uint8Array): Promise<void> {
    return this.find(pid).write(Buffer.from(data));
  }

  /** Changes a terminal's size; its program gets SIGWINCH. */
  async resize(pid: number, size: TerminalSize): Promise<void> {
    const checked = terminalSize(size);
    this.find(pid).resize(checked);
  }

  /** Kills a terminal's program and its group; false if none runs with that pid. */
  async kill(pid: number): Promise<boolean> {
    this.host.assertRunning();
    const process = this.host.table.get(pid);
    if (!process?.description.pty) return false;
    return new CommandHandle(process, () => () => false).kill();
  }

  private find(pid: number): SandboxProcess {
    this.host.assertRunning();
    const process = this.host.table.get(pid);
    if (!process?.description.pty) throw new ProcessNotFoundError(pid);
    return process;
  }
}
