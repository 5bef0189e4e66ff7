import { type SandboxSignal, signalNumber } from "../engine/signals.js";
import type { Isol8CommandHandle } from "./api.js";
import type { SandboxProcess } from "./process.js";
import type { ProcessExit } from "./process-protocol.js";
import type { CommandResult } from "./types.js";

const SIGNAL_NAMES: Record<number, string> = {
  1: "SIGHUP",
  2: "SIGINT",
  3: "SIGQUIT",
  6: "SIGABRT",
  9: "SIGKILL",
  10: "SIGUSR1",
  11: "SIGSEGV",
  12: "SIGUSR2",
  13: "SIGPIPE",
  14: "SIGALRM",
  15: "SIGTERM",
};

/** A process's result from the supervisor's report and its kept output. */
function commandResult(process: SandboxProcess, exit: ProcessExit): CommandResult {
  return {
    exitCode: exit.exitCode,
    stdout: process.text("stdout"),
    stderr: process.text("stderr"),
    ...(exit.signal ? { signal: SIGNAL_NAMES[exit.signal] ?? `signal ${exit.signal}` } : {}),
    timedOut: exit.timedOut,
    cpuMs: Math.round(exit.cpuMicros / 1000),
  };
}

/**
 * A process running in a sandbox (a background command, a terminal, or
 * one reconnected to with `commands.connect`). Dropping the handle, or
 * `disconnect()`, leaves the process running; `kill()` ends it.
 */
export class CommandHandle implements Isol8CommandHandle {
  private stopListening: () => void;

  /** @internal made by `commands` and `pty` */
  constructor(
    private readonly process: SandboxProcess,
    subscribe: (process: SandboxProcess) => () => void,
  ) {
    this.stopListening = subscribe(process);
  }

  /** Its process id in the sandbox. */
  get pid(): number {
    return this.process.pid;
  }

  /** Its standard output so far (the last `maxOutputBytes` of it). */
  get stdout(): string {
    return this.process.text("stdout");
  }

  get stderr(): string {
    return this.process.text("stderr");
  }

  /** Its exit code once it has ended; undefined while it runs. */
  get exitCode(): number | undefined {
    return this.process.exit?.exitCode;
  }

  /** Resolves with its result once it has ended (a non-zero exit too). */
  async wait(): Promise<CommandResult> {
    const exit = await this.process.wait();
    return commandResult(this.process, exit);
  }

  /** Kills it and its process group (SIGKILL); resolves once it has ended, false if it already had. */
  async kill(): Promise<boolean> {
    if (!this.process.running) return false;
    this.process.signal(signalNumber("SIGKILL"));
    await this.process.wait();
    return true;
  }

  /** Sends a signal to its process group. */
  signal(signal: SandboxSignal): void {
    this.process.signal(signalNumber(signal));
  }

  /**
   * Writes to its standard input (a command started with `stdin: true`, or
   * a terminal: keystrokes). Resolves once the sandbox has room for it;
   * await each write before the next and at most one write waits here.
   */
  sendStdin(data: string | Uint8Array): Promise<void> {
    return this.process.write(Buffer.from(data));
  }

  /** Ends its standard input, after every write before it. */
  closeStdin(): Promise<void> {
    return this.process.endStdin();
  }

  /** Stops this handle's callbacks; the process runs on. */
  disconnect(): void {
    this.stopListening();
    this.stopListening = () => false;
  }
}
