import { type SandboxContainer, SandboxFailure } from "../engine/sandbox-container.js";
import type { SecretSet } from "../output/secret-masker.js";
import type { Isol8Sandbox } from "./api.js";
import { Commands } from "./commands.js";
import { SandboxEndedError } from "./errors.js";
import { FileChannel } from "./file-channel.js";
import { isFileFrame } from "./file-protocol.js";
import { Files, type FilesHost } from "./files.js";
import type { ProcessHost } from "./host.js";
import { ProcessTable } from "./process-table.js";
import { Pty } from "./pty.js";
import type { SandboxInfo, SandboxMetrics, SandboxState } from "./types.js";
import type { SandboxSettings } from "./validate.js";
import { sandboxTimeout } from "./validate.js";

/** What a sandbox is made of; the manager assembles it. */
interface SandboxParts {
  sandboxId: string;
  container: SandboxContainer;
  image: string;
  settings: SandboxSettings;
  /** The environment every process starts from. */
  env: Record<string, string>;
  /** Output kept per process for reconnecting callers. */
  historyBytes: number;
  /** Cores it may use. */
  cpuLimit: number;
  secrets: SecretSet;
  /** Called once, when it has ended. */
  onEnd: (sandbox: Sandbox) => void;
}

/**
 * A long-lived sandbox: a container that runs any number of processes and
 * terminals at once until its timeout, `kill()`, or the end of the engine
 * that holds it. `await using sandbox = await engine.createSandbox()`
 * kills it at the end of the block.
 */
export class Sandbox implements ProcessHost, FilesHost, Isol8Sandbox {
  readonly sandboxId: string;
  /** Its processes: run, list, connect, kill, stdin. */
  readonly commands: Commands;
  /** Its terminals. */
  readonly pty: Pty;
  /** Its files in /sandbox and /tmp: read, write, list, move, remove, watch. */
  readonly files: Files;
  /** @internal */
  readonly table: ProcessTable;
  /** @internal */
  readonly fileChannel: FileChannel;
  /** @internal */
  readonly env: Readonly<Record<string, string>>;
  private readonly container: SandboxContainer;
  private readonly parts: SandboxParts;
  private readonly startedAt = new Date();
  private endAt: Date;
  private timer: NodeJS.Timeout | undefined;
  private endReason: string | undefined;
  private removal: Promise<void> | undefined;
  /** The CPU time at the last getMetrics (or at start), for the CPU in use since. */
  private cpuReading = { at: performance.now(), nanos: 0 };
  private readonly endListeners: (() => void)[] = [];

  /** @internal made by `DockerIsol8.createSandbox` */
  constructor(parts: SandboxParts) {
    this.parts = parts;
    this.sandboxId = parts.sandboxId;
    this.container = parts.container;
    this.env = parts.env;
    this.table = new ProcessTable(
      { send: (frame) => this.container.send(frame) },
      parts.historyBytes,
      parts.secrets,
      parts.settings.pidsLimit,
    );
    this.fileChannel = new FileChannel({ send: (frame) => this.container.send(frame) });
    this.commands = new Commands(this);
    this.pty = new Pty(this);
    this.files = new Files(this);
    this.container.routeProcessFrames((type, payload) =>
      isFileFrame(type) ? this.fileChannel.frame(type, payload) : this.table.frame(type, payload),
    );
    this.container.onGone(() => void this.end("its container stopped"));
    this.endAt = new Date();
    this.schedule(parts.settings.timeoutMs);
  }

  get state(): SandboxState {
    return this.endReason === undefined ? "running" : "ended";
  }

  async isRunning(): Promise<boolean> {
    return this.state === "running";
  }

  /** Makes it end `timeoutMs` from now (1 s to 24 h), instead of when it was to. */
  async setTimeout(timeoutMs: number): Promise<void> {
    const checked = sandboxTimeout("timeoutMs", timeoutMs);
    this.assertRunning();
    this.schedule(checked);
  }

  private schedule(timeoutMs: number): void {
    clearTimeout(this.timer);
    this.endAt = new Date(Date.now() + timeoutMs);
    // Unref'd: the sandbox's channel is what keeps a process alive, not its deadline.
    this.timer = setTimeout(() => void this.end("timeout"), timeoutMs).unref();
  }

  /**
   * What it uses now: CPU (over the time since the last call, or since it
   * started), memory and its limit, the bytes in /sandbox and /tmp and
   * their sizes, and network bytes. Reading the disk runs `df` in it.
   */
  async getMetrics(): Promise<SandboxMetrics> {
    this.assertRunning();
    const [usage, disk] = await Promise.all([this.container.usage(), this.diskUsage()]);
    const now = performance.now();
    const elapsedNs = (now - this.cpuReading.at) * 1e6;
    const cpuUsedPct =
      elapsedNs > 0 ? Math.max(0, ((usage.cpuNanos - this.cpuReading.nanos) / elapsedNs) * 100) : 0;
    this.cpuReading = { at: now, nanos: usage.cpuNanos };
    return {
      cpuUsedPct: Math.round(cpuUsedPct * 10) / 10,
      cpuCount: this.parts.cpuLimit,
      memUsed: usage.memoryBytes,
      memTotal: usage.memoryLimitBytes,
      diskUsed: disk.used,
      diskTotal: disk.size,
      networkRxBytes: usage.networkRxBytes,
      networkTxBytes: usage.networkTxBytes,
      timestamp: new Date(),
    };
  }

  /** Bytes used in /sandbox and /tmp and what they may hold, as `df` sees them in the sandbox. */
  private async diskUsage(): Promise<{ used: number; size: number }> {
    const df = await this.commands.run(["df", "-B1", "--output=used,size", "/sandbox", "/tmp"], {
      timeoutMs: 10_000,
    });
    const rows = df.stdout
      .trim()
      .split("\n")
      .slice(1)
      .map((line) => line.trim().split(/\s+/).map(Number));
    if (df.exitCode !== 0 || rows.length !== 2 || rows.flat().some((n) => !Number.isFinite(n)))
      throw new SandboxFailure(
        `reading the sandbox's disk use failed: ${df.stderr.trim() || df.stdout.trim()}`,
      );
    return {
      used: rows.reduce((sum, row) => sum + (row[0] ?? 0), 0),
      size: rows.reduce((sum, row) => sum + (row[1] ?? 0), 0),
    };
  }

  async getInfo(): Promise<SandboxInfo> {
    return this.info();
  }

  /** @internal also for `listSandboxes` */
  info(): SandboxInfo {
    const { settings, image } = this.parts;
    return {
      sandboxId: this.sandboxId,
      runtime: settings.runtime,
      image,
      metadata: { ...settings.metadata },
      state: this.state,
      startedAt: this.startedAt,
      endAt: this.endAt,
      ...(this.endReason === undefined ? {} : { endReason: this.endReason }),
      pidsLimit: settings.pidsLimit,
    };
  }

  /** Kills every process and removes the container; resolves once it is gone. */
  kill(): Promise<void> {
    return this.end("killed");
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.kill();
  }

  /** @internal ends it (once): every process is reported killed, the container removed. */
  end(reason: string): Promise<void> {
    if (this.removal) return this.removal;
    this.endReason = reason;
    this.endAt = new Date();
    clearTimeout(this.timer);
    this.table.endAll(reason);
    this.fileChannel.endAll(reason);
    this.removal = this.container.remove().catch(() => undefined);
    this.parts.onEnd(this);
    for (const listener of this.endListeners.splice(0)) listener();
    return this.removal;
  }

  /** @internal calls `listener` once it has ended (at once if it has) */
  onEnded(listener: () => void): void {
    if (this.endReason !== undefined) listener();
    else this.endListeners.push(listener);
  }

  /** @internal */
  assertRunning(): void {
    if (this.endReason !== undefined)
      throw new SandboxEndedError(`sandbox ${this.sandboxId} has ended (${this.endReason})`);
  }
}
